// Coalescer (issue 15, finding 6): callers share one piece of work, each with its own deadline.
#include "server/usecase/coalescer.h"

#include <future>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/usecase/fake_timer.h"

namespace orderquery::usecase {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1767225600);

// Every result a caller received, in order.
struct Caller {
  std::vector<absl::StatusOr<int>> got;
  Coalescer<int>::Done Done() {
    return [this](const absl::StatusOr<int>& r) { got.push_back(r); };
  }
};

TEST(CoalescerTest, FollowerWithALongerDeadlineGetsTheResultAfterTheLeaderLeft) {
  FakeDeadlineTimer timer;
  Coalescer<int> c(&timer);
  Caller leader, follower;
  ASSERT_TRUE(c.Join("k", kT0 + absl::Seconds(1), leader.Done()));
  ASSERT_FALSE(c.Join("k", kT0 + absl::Seconds(30), follower.Done()));
  EXPECT_EQ(c.joins(), 1);

  EXPECT_EQ(timer.FireDue(kT0 + absl::Seconds(5)), 1);
  ASSERT_EQ(leader.got.size(), 1u);
  EXPECT_TRUE(absl::IsDeadlineExceeded(leader.got[0].status())) << leader.got[0].status();
  EXPECT_TRUE(follower.got.empty()) << "the follower's deadline has not passed";

  c.Complete("k", 7);
  ASSERT_EQ(follower.got.size(), 1u);
  EXPECT_EQ(*follower.got[0], 7);
  EXPECT_EQ(leader.got.size(), 1u) << "a caller is answered once";
  EXPECT_EQ(c.expired(), 1);
  EXPECT_EQ(timer.Armed(), 0u) << "the follower's timer is cancelled";
}

TEST(CoalescerTest, LeaderWithoutADeadlineDoesNotHoldAFollowerPastItsOwn) {
  FakeDeadlineTimer timer;
  Coalescer<int> c(&timer);
  Caller leader, follower;
  ASSERT_TRUE(c.Join("k", absl::InfiniteFuture(), leader.Done()));
  EXPECT_EQ(timer.Armed(), 0u) << "no deadline, no timer";
  ASSERT_FALSE(c.Join("k", kT0 + absl::Seconds(2), follower.Done()));

  // The work retries on and on; the follower leaves at its deadline.
  EXPECT_EQ(timer.FireDue(kT0 + absl::Seconds(2)), 1);
  ASSERT_EQ(follower.got.size(), 1u);
  EXPECT_TRUE(absl::IsDeadlineExceeded(follower.got[0].status()));
  EXPECT_TRUE(leader.got.empty());

  c.Complete("k", absl::UnavailableError("upstream down"));
  ASSERT_EQ(leader.got.size(), 1u);
  EXPECT_TRUE(absl::IsUnavailable(leader.got[0].status()));
  EXPECT_EQ(follower.got.size(), 1u);
}

TEST(CoalescerTest, WorkOutlivesItsCallersAndLateComersJoinIt) {
  FakeDeadlineTimer timer;
  Coalescer<int> c(&timer);
  Caller a, b, late, next;
  ASSERT_TRUE(c.Join("k", kT0 + absl::Seconds(1), a.Done()));
  ASSERT_FALSE(c.Join("k", kT0 + absl::Seconds(1), b.Done()));
  EXPECT_EQ(timer.FireDue(kT0 + absl::Seconds(1)), 2);
  ASSERT_EQ(a.got.size(), 1u);
  ASSERT_EQ(b.got.size(), 1u);

  // Nobody waits, the work is still under way: a new caller joins it instead of starting more.
  EXPECT_FALSE(c.Join("k", kT0 + absl::Seconds(60), late.Done()));
  c.Complete("k", 3);
  ASSERT_EQ(late.got.size(), 1u);
  EXPECT_EQ(*late.got[0], 3);
  EXPECT_EQ(a.got.size(), 1u);

  // Done: the next caller leads new work.
  EXPECT_TRUE(c.Join("k", absl::InfiniteFuture(), next.Done()));
  c.Complete("k", 4);
  ASSERT_EQ(next.got.size(), 1u);
  EXPECT_EQ(*next.got[0], 4);
}

TEST(CoalescerTest, KeysAreIndependent) {
  FakeDeadlineTimer timer;
  Coalescer<int> c(&timer);
  Caller x, y;
  ASSERT_TRUE(c.Join("x", kT0 + absl::Seconds(1), x.Done()));
  ASSERT_TRUE(c.Join("y", kT0 + absl::Seconds(9), y.Done()));
  timer.FireDue(kT0 + absl::Seconds(1));
  c.Complete("y", 2);
  ASSERT_EQ(x.got.size(), 1u);
  EXPECT_TRUE(absl::IsDeadlineExceeded(x.got[0].status()));
  ASSERT_EQ(y.got.size(), 1u);
  EXPECT_EQ(*y.got[0], 2);
}

// The real timer: a deadline already passed is answered without the work finishing.
TEST(CoalescerTest, OwnTimerAnswersAPassedDeadline) {
  Coalescer<int> c;
  auto p = std::make_shared<std::promise<absl::Status>>();
  ASSERT_TRUE(c.Join("k", absl::Now() - absl::Seconds(1),
                     [p](const absl::StatusOr<int>& r) { p->set_value(r.status()); }));
  auto f = p->get_future();
  // Bounded only against a hang; the answer does not depend on how long it takes.
  ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_TRUE(absl::IsDeadlineExceeded(f.get()));
  c.Complete("k", 1);  // the work ends later; nobody is answered twice
}

}  // namespace
}  // namespace orderquery::usecase
