// Issue 15, finding 6: callers that share one upstream query each keep their own deadline.
// TradeQuery and VehicleQuery against in-memory repositories, an injected clock, a fake timer
// that fires deadlines when the test says, and fake upstreams that behave like the transport (a
// request whose deadline has passed on the injected clock fails with DEADLINE_EXCEEDED).
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/usecase/trade_query.h"
#include "server/usecase/vehicle_query.h"
#include "tests/fakes/repositories.h"
#include "tests/unit/usecase/fake_timer.h"

namespace orderquery::usecase {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z

// A clock the test moves by hand.
struct FakeClock {
  std::mutex mu;
  absl::Time now = kT0;
  FakeDeadlineTimer timer;
  absl::Time Now() {
    std::lock_guard<std::mutex> l(mu);
    return now;
  }
  // Moves the clock on and fires the deadlines it passed.
  void Advance(absl::Duration d) {
    absl::Time t;
    {
      std::lock_guard<std::mutex> l(mu);
      now += d;
      t = now;
    }
    timer.FireDue(t);
  }
};

// Waits (bounded) until `pred` holds; the bound only guards against a hang.
template <typename Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 5000; ++i) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return pred();
}

// Holds requests until the test finishes them, at the fake clock's time.
class FakeTradeClient : public TradeStatusProvider {
 public:
  explicit FakeTradeClient(FakeClock* clock) : clock_(clock) {}
  bool HasMerchant(absl::string_view m) const override { return m == "m1"; }
  void GetTradeOrder(absl::string_view, absl::string_view id, absl::Time deadline,
                     Callback done) override {
    std::lock_guard<std::mutex> l(mu);
    pending.push_back({std::string(id), deadline, std::move(done)});
  }
  size_t Pending() {
    std::lock_guard<std::mutex> l(mu);
    return pending.size();
  }
  // Answers every request as the transport would now: DEADLINE_EXCEEDED once its deadline has
  // passed, else the order with `status`.
  void FinishAll(int status) {
    std::vector<Req> reqs;
    {
      std::lock_guard<std::mutex> l(mu);
      reqs.swap(pending);
    }
    const absl::Time now = clock_->Now();
    for (Req& r : reqs) {
      if (now >= r.deadline) {
        r.done(absl::DeadlineExceededError("deadline exceeded waiting for the merchant API"));
        continue;
      }
      domain::TradeOrderRecord rec;
      rec.merchant = "m1";
      rec.trade_order_id = r.id;
      rec.status = status;
      r.done(rec);
    }
  }
  struct Req {
    std::string id;
    absl::Time deadline;
    Callback done;
  };
  std::mutex mu;
  std::vector<Req> pending;

 private:
  FakeClock* clock_;
};

TEST(CoalescedTradeDeadline, FollowerWithLongerDeadlineOutlivesTheLeaders) {
  FakeClock clock;
  fakes::InMemoryTradeOrderRepository repo;
  FakeTradeClient client(&clock);
  BlockingExecutor executor(2, 64);
  TradeQuery q(
      &repo, &client, &executor, "m1", absl::Minutes(1), [&] { return clock.Now(); }, &clock.timer);
  q.SetUpstreamBudget(absl::Seconds(40));

  std::promise<absl::StatusOr<TradeQueryResult>> leader_p, follower_p;
  TradeQueryRequest leader{"m1", "T1", false, kT0 + absl::Seconds(1)};
  q.Run(leader, [&](absl::StatusOr<TradeQueryResult> r) { leader_p.set_value(std::move(r)); });
  ASSERT_TRUE(Eventually([&] { return client.Pending() == 1; }));
  TradeQueryRequest follower{"m1", "T1", false, kT0 + absl::Seconds(30)};
  q.Run(follower, [&](absl::StatusOr<TradeQueryResult> r) { follower_p.set_value(std::move(r)); });
  ASSERT_TRUE(Eventually([&] { return q.coalesced_joins() == 1; }));

  // The request is bounded by the budget, not by the leader's deadline.
  {
    std::lock_guard<std::mutex> l(client.mu);
    ASSERT_EQ(client.pending.size(), 1u);
    EXPECT_EQ(client.pending[0].deadline, kT0 + absl::Seconds(40));
  }
  // The merchant API answers after 5 s: past the leader's deadline, well within the follower's.
  // The leader is answered at its own deadline, before the reply.
  clock.Advance(absl::Seconds(5));
  auto leader_f = leader_p.get_future();
  ASSERT_EQ(leader_f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  client.FinishAll(/*status=*/1);

  absl::StatusOr<TradeQueryResult> f = follower_p.get_future().get();
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->order.status, 1);
  EXPECT_TRUE(f->asked_upstream);
  absl::StatusOr<TradeQueryResult> l = leader_f.get();
  EXPECT_TRUE(absl::IsDeadlineExceeded(l.status())) << l.status();
  // The answer was stored for the next caller.
  auto stored = repo.Get("m1", "T1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->status, 1);
}

TEST(CoalescedTradeDeadline, LeaderWithoutADeadlineDoesNotHoldAFollowerThroughItsRetries) {
  FakeClock clock;
  fakes::InMemoryTradeOrderRepository repo;
  FakeTradeClient client(&clock);
  BlockingExecutor executor(2, 64);
  TradeQuery q(
      &repo, &client, &executor, "m1", absl::Minutes(1), [&] { return clock.Now(); }, &clock.timer);
  q.SetUpstreamBudget(absl::Seconds(40));

  std::promise<absl::StatusOr<TradeQueryResult>> leader_p, follower_p;
  q.Run({"m1", "T2", false, absl::InfiniteFuture()},
        [&](absl::StatusOr<TradeQueryResult> r) { leader_p.set_value(std::move(r)); });
  ASSERT_TRUE(Eventually([&] { return client.Pending() == 1; }));
  q.Run({"m1", "T2", false, kT0 + absl::Seconds(2)},
        [&](absl::StatusOr<TradeQueryResult> r) { follower_p.set_value(std::move(r)); });
  ASSERT_TRUE(Eventually([&] { return q.coalesced_joins() == 1; }));
  {
    std::lock_guard<std::mutex> l(client.mu);
    EXPECT_EQ(client.pending[0].deadline, kT0 + absl::Seconds(40)) << "bounded by config";
  }

  // The upstream is still retrying when the follower's deadline passes: it leaves then.
  clock.Advance(absl::Seconds(3));
  auto follower_f = follower_p.get_future();
  ASSERT_EQ(follower_f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_TRUE(absl::IsDeadlineExceeded(follower_f.get().status()));
  EXPECT_EQ(client.Pending(), 1u);

  clock.Advance(absl::Seconds(10));
  client.FinishAll(/*status=*/2);
  absl::StatusOr<TradeQueryResult> l = leader_p.get_future().get();
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->order.status, 2);
}

class FakeVehicleQuerier : public VehicleStatusProvider {
 public:
  explicit FakeVehicleQuerier(FakeClock* clock) : clock_(clock) {}
  void Query(const std::string& no, const std::string&, absl::Time deadline,
             std::function<void(absl::StatusOr<VehicleAnswer>)> done) override {
    std::lock_guard<std::mutex> l(mu);
    pending.push_back({no, deadline, std::move(done)});
  }
  absl::StatusOr<domain::VehicleTransaction> Decode(const std::string&) const override {
    return domain::VehicleTransaction();
  }
  size_t Pending() {
    std::lock_guard<std::mutex> l(mu);
    return pending.size();
  }
  void FinishAll() {
    std::vector<Req> reqs;
    {
      std::lock_guard<std::mutex> l(mu);
      reqs.swap(pending);
    }
    const absl::Time now = clock_->Now();
    for (Req& r : reqs) {
      if (now >= r.deadline) {
        r.done(absl::DeadlineExceededError("deadline exceeded waiting for WeChat Pay"));
        continue;
      }
      VehicleAnswer a;
      a.transaction.out_trade_no = r.no;
      a.transaction.trade_state = domain::VehicleTradeState::kSuccess;
      a.body_json = "{}";
      r.done(a);
    }
  }
  struct Req {
    std::string no;
    absl::Time deadline;
    std::function<void(absl::StatusOr<VehicleAnswer>)> done;
  };
  std::mutex mu;
  std::vector<Req> pending;

 private:
  FakeClock* clock_;
};

TEST(CoalescedVehicleDeadline, FollowerWithLongerDeadlineOutlivesTheLeaders) {
  FakeClock clock;
  fakes::InMemoryVehicleRepository repo;
  FakeVehicleQuerier upstream(&clock);
  BlockingExecutor executor(2, 64);
  VehicleQuery q(
      &repo, &upstream, &executor, absl::Minutes(1), [&] { return clock.Now(); }, &clock.timer);

  std::promise<absl::StatusOr<domain::VehicleTransaction>> leader_p, follower_p;
  VehicleQueryRequest leader{"P1", "1900000109", false, kT0 + absl::Seconds(1)};
  q.Run(leader,
        [&](absl::StatusOr<domain::VehicleTransaction> r) { leader_p.set_value(std::move(r)); });
  ASSERT_TRUE(Eventually([&] { return upstream.Pending() == 1; }));
  VehicleQueryRequest follower{"P1", "1900000109", false, kT0 + absl::Seconds(30)};
  q.Run(follower,
        [&](absl::StatusOr<domain::VehicleTransaction> r) { follower_p.set_value(std::move(r)); });
  ASSERT_TRUE(Eventually([&] { return q.coalesced_joins() == 1; }));

  clock.Advance(absl::Seconds(5));
  auto leader_f = leader_p.get_future();
  ASSERT_EQ(leader_f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  upstream.FinishAll();

  absl::StatusOr<domain::VehicleTransaction> f = follower_p.get_future().get();
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->trade_state, domain::VehicleTradeState::kSuccess);
  absl::StatusOr<domain::VehicleTransaction> l = leader_f.get();
  EXPECT_TRUE(absl::IsDeadlineExceeded(l.status())) << l.status();
}

}  // namespace
}  // namespace orderquery::usecase
