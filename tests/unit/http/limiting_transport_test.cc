// LimitingTransport over a scripted inner transport and hand-fired timers: the per-key cap and
// FIFO queue, refusals, queue deadlines, retries first, shutdown, and Send from many threads.
#include "server/payment/http/limiting_transport.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/payment/http/attempt_marks.h"
#include "tests/unit/http/fake_transport.h"

namespace orderquery::payment::http {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ManualTimers;
using testing::ScriptedTransport;
using testing::WithStatus;

class LimitingTransportTest : public ::testing::Test {
 protected:
  void Make(int cap, size_t queue) {
    auto inner = std::make_unique<ScriptedTransport>();
    inner_ = inner.get();
    t_ = std::make_unique<LimitingTransport>(std::move(inner), &timers_,
                                             LimitingTransport::Options{cap, queue}, counters_);
  }

  // Sends request `tag` for `key`; its answer lands in answers_[tag].
  void Send(int tag, const std::string& key, int attempt = 0,
            absl::Time deadline = absl::InfiniteFuture()) {
    Request r;
    r.url = "http://upstream.test/" + std::to_string(tag);
    r.limiter_key = key;
    r.attempt = attempt;
    r.deadline = deadline;
    t_->Send(std::move(r), [this, tag](absl::StatusOr<Response> o) {
      answered_.push_back(tag);
      answers_[tag] = std::move(o);
    });
  }

  // Before the members its callbacks write to go.
  void TearDown() override { t_.reset(); }

  std::vector<std::string> SentUrls() const {
    std::vector<std::string> urls;
    for (size_t i = 0; i < inner_->sent(); ++i) urls.push_back(inner_->request(i).url);
    return urls;
  }

  ManualTimers timers_;
  std::shared_ptr<TransportCounters> counters_ = std::make_shared<TransportCounters>();
  ScriptedTransport* inner_ = nullptr;
  std::unique_ptr<LimitingTransport> t_;
  std::vector<int> answered_;
  std::map<int, absl::StatusOr<Response>> answers_;
};

TEST_F(LimitingTransportTest, CapsAKeyAndHandsTheSlotOnInOrder) {
  Make(2, 10);
  for (int i = 1; i <= 4; ++i) Send(i, "m1");
  Send(5, "m2");  // another key is not held up
  EXPECT_THAT(SentUrls(), ElementsAre("http://upstream.test/1", "http://upstream.test/2",
                                      "http://upstream.test/5"));
  inner_->Answer(0, WithStatus(200));
  EXPECT_THAT(answered_, ElementsAre(1));
  ASSERT_EQ(inner_->sent(), 4u);
  EXPECT_EQ(inner_->request(3).url, "http://upstream.test/3");
  inner_->Answer(1, WithStatus(200));
  ASSERT_EQ(inner_->sent(), 5u);
  EXPECT_EQ(inner_->request(4).url, "http://upstream.test/4");
}

TEST_F(LimitingTransportTest, NoKeyOrNoCapIsNotLimited) {
  Make(1, 0);
  for (int i = 0; i < 5; ++i) Send(i, "");
  EXPECT_EQ(inner_->sent(), 5u);
  Make(0, 0);
  for (int i = 0; i < 5; ++i) Send(i, "m");
  EXPECT_EQ(inner_->sent(), 5u);
}

TEST_F(LimitingTransportTest, AFullQueueRefusesOnTheLoopNotInsideSend) {
  Make(1, 1);
  Send(1, "m");
  Send(2, "m");
  Send(3, "m");
  EXPECT_TRUE(answered_.empty()) << "the refusal is not answered inside Send";
  EXPECT_EQ(counters_->rejected.load(), 1u);
  EXPECT_EQ(timers_.FireDue(absl::Now()), 1);
  ASSERT_THAT(answered_, ElementsAre(3));
  EXPECT_TRUE(absl::IsResourceExhausted(answers_.at(3).status())) << answers_.at(3).status();
  EXPECT_THAT(std::string(answers_.at(3).status().message()), HasSubstr("limiter key 'm'"));
  EXPECT_TRUE(internal::IsNotSent(answers_.at(3).status()));
  EXPECT_EQ(inner_->sent(), 1u);
}

TEST_F(LimitingTransportTest, AQueuedRequestFailsAtItsDeadlineWithoutBeingSent) {
  Make(1, 10);
  Send(1, "m");
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  Send(2, "m", 0, deadline);
  ASSERT_EQ(timers_.only_due(), std::optional<absl::Time>(deadline));
  EXPECT_EQ(timers_.FireDue(deadline), 1);
  ASSERT_THAT(answered_, ElementsAre(2));
  EXPECT_TRUE(absl::IsDeadlineExceeded(answers_.at(2).status())) << answers_.at(2).status();
  EXPECT_TRUE(internal::IsNotSent(answers_.at(2).status()));
  // The slot, when it frees, has nobody to pass to.
  inner_->Answer(0, WithStatus(200));
  EXPECT_EQ(inner_->sent(), 1u);
  Send(3, "m");
  EXPECT_EQ(inner_->sent(), 2u);
}

TEST_F(LimitingTransportTest, GettingTheSlotDisarmsTheDeadline) {
  Make(1, 10);
  Send(1, "m");
  Send(2, "m", 0, absl::Now() + absl::Seconds(30));
  EXPECT_EQ(timers_.pending(), 1u);
  inner_->Answer(0, WithStatus(200));
  EXPECT_EQ(inner_->sent(), 2u);
  EXPECT_EQ(timers_.pending(), 0u);
}

TEST_F(LimitingTransportTest, ARetryGoesFirstAndPastTheQueueBound) {
  Make(1, 1);
  Send(1, "m");
  Send(2, "m");                 // queued
  Send(3, "m", /*attempt=*/2);  // a retry: ahead of 2, although the queue is full
  EXPECT_EQ(counters_->rejected.load(), 0u);
  inner_->Answer(0, WithStatus(200));
  ASSERT_EQ(inner_->sent(), 2u);
  EXPECT_EQ(inner_->request(1).url, "http://upstream.test/3");
  inner_->Answer(1, WithStatus(200));
  ASSERT_EQ(inner_->sent(), 3u);
  EXPECT_EQ(inner_->request(2).url, "http://upstream.test/2");
}

TEST_F(LimitingTransportTest, ShutdownFailsTheQueueAndShutsTheInnerTransport) {
  Make(1, 10);
  Send(1, "m");
  Send(2, "m", 0, absl::Now() + absl::Seconds(30));
  Send(3, "m");
  t_->Shutdown();
  EXPECT_EQ(inner_->shutdowns(), 1);
  ASSERT_EQ(answered_.size(), 3u);
  for (int tag : {1, 2, 3}) {
    EXPECT_TRUE(absl::IsCancelled(answers_.at(tag).status())) << tag;
  }
  EXPECT_EQ(inner_->sent(), 1u) << "no queued request went out on the way down";
  EXPECT_EQ(timers_.pending(), 0u);
  Send(4, "m");
  EXPECT_EQ(answered_.size(), 4u) << "a later Send fails at once";
  EXPECT_TRUE(absl::IsCancelled(answers_.at(4).status()));
}

// An inner transport that answers on its own thread, counting requests in flight per key.
class WorkerTransport final : public Transport {
 public:
  WorkerTransport() : worker_([this] { Run(); }) {}
  ~WorkerTransport() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  void Send(Request, Callback done) override {
    std::lock_guard<std::mutex> lock(mu_);
    max_inflight_ = std::max(max_inflight_, ++inflight_);
    queue_.push_back(std::move(done));
    cv_.notify_all();
  }
  int max_inflight() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_inflight_;
  }

 private:
  void Run() {
    for (;;) {
      Callback done;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        done = std::move(queue_.front());
        queue_.pop_front();
        --inflight_;
      }
      done(WithStatus(200));
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Callback> queue_;
  int inflight_ = 0, max_inflight_ = 0;
  bool stop_ = false;
  std::thread worker_;
};

TEST(LimitingTransportThreadsTest, SendFromManyThreadsKeepsTheCap) {
  ManualTimers timers;
  auto inner = std::make_unique<WorkerTransport>();
  WorkerTransport* worker = inner.get();
  LimitingTransport t(std::move(inner), &timers, LimitingTransport::Options{3, 100000});
  constexpr int kThreads = 8, kEach = 500;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < kEach; ++j) {
        Request r;
        r.limiter_key = "m";
        t.Send(r, [&](absl::StatusOr<Response> o) {
          if (o.ok()) ok.fetch_add(1);
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  // Every request is answered: the worker drains what the slots let through.
  while (ok.load() < kThreads * kEach) std::this_thread::yield();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  EXPECT_LE(worker->max_inflight(), 3);
  EXPECT_EQ(timers.pending(), 0u);
}

}  // namespace
}  // namespace orderquery::payment::http
