// RetryingTransport over a scripted inner transport and hand-fired timers: the retry decisions,
// the attempt annotations, the marks of the layers below, and shutdown during a backoff.
#include "server/payment/http/retrying_transport.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/payment/http/attempt_marks.h"
#include "tests/unit/http/fake_transport.h"

namespace orderquery::payment::http {
namespace {

using ::testing::HasSubstr;
using testing::ManualTimers;
using testing::ScriptedTransport;
using testing::WithStatus;

RetryOptions FourAttempts() {
  RetryOptions o;
  o.max_attempts = 4;
  o.initial_backoff = absl::Milliseconds(100);
  o.max_backoff = absl::Seconds(1);
  o.min_attempt_time = absl::Milliseconds(50);
  return o;
}

class RetryingTransportTest : public ::testing::Test {
 protected:
  void Make(RetryOptions o) {
    auto inner = std::make_unique<ScriptedTransport>();
    inner_ = inner.get();
    // Jitter 0: the wait is half the exponential base (equal jitter).
    t_ = std::make_unique<RetryingTransport>(std::move(inner), &timers_, o, [] { return 0.0; });
  }

  void Send(Request r) {
    t_->Send(std::move(r), [this](absl::StatusOr<Response> o) {
      ++answers_;
      result_ = std::move(o);
    });
  }

  // Before the members its callbacks write to go.
  void TearDown() override { t_.reset(); }

  static Request Idempotent() {
    Request r;
    r.url = "http://upstream.test/v3/x";
    r.idempotent = true;
    r.deadline = absl::Now() + absl::Seconds(30);
    return r;
  }

  // Fires the backoff timer now, whatever its due time.
  void EndBackoff() { ASSERT_EQ(timers_.FireDue(absl::InfiniteFuture()), 1); }

  ManualTimers timers_;
  ScriptedTransport* inner_ = nullptr;
  std::unique_ptr<RetryingTransport> t_;
  int answers_ = 0;
  std::optional<absl::StatusOr<Response>> result_;
};

TEST_F(RetryingTransportTest, RetriesA500AfterABackoffAndCountsAttempts) {
  Make(FourAttempts());
  Send(Idempotent());
  ASSERT_EQ(inner_->sent(), 1u);
  EXPECT_EQ(inner_->request(0).attempt, 1);
  const absl::Time before = absl::Now();
  inner_->Answer(0, WithStatus(500));
  const absl::Time after = absl::Now();
  EXPECT_EQ(answers_, 0);
  ASSERT_TRUE(timers_.only_due().has_value());
  EXPECT_GE(*timers_.only_due(), before + absl::Milliseconds(50));
  EXPECT_LE(*timers_.only_due(), after + absl::Milliseconds(50));
  EXPECT_EQ(inner_->sent(), 1u) << "nothing goes out before the backoff ends";

  EndBackoff();
  ASSERT_EQ(inner_->sent(), 2u);
  EXPECT_EQ(inner_->request(1).attempt, 2);
  EXPECT_EQ(inner_->request(1).url, inner_->request(0).url);
  inner_->Answer(1, WithStatus(200, {{"content-type", "application/json"}}));
  ASSERT_EQ(answers_, 1);
  ASSERT_TRUE(result_->ok());
  EXPECT_EQ((*result_)->status, 200);
  EXPECT_EQ((*result_)->headers.back().first, kAttemptsHeader);
  EXPECT_EQ((*result_)->headers.back().second, "2");
  EXPECT_EQ(AttemptsOf(*result_), 2);
}

TEST_F(RetryingTransportTest, GivesTheLastAnswerWhenAttemptsRunOut) {
  Make(FourAttempts());
  Send(Idempotent());
  for (size_t i = 0; i < 3; ++i) {
    inner_->Answer(i, absl::UnavailableError("connect to upstream.test failed"));
    EndBackoff();
  }
  inner_->Answer(3, absl::UnavailableError("connect to upstream.test failed"));
  ASSERT_EQ(answers_, 1);
  EXPECT_EQ(inner_->sent(), 4u);
  EXPECT_TRUE(absl::IsUnavailable(result_->status()));
  EXPECT_THAT(std::string(result_->status().message()), HasSubstr("after 4 attempts"));
  EXPECT_EQ(AttemptsOf(*result_), 4);
}

TEST_F(RetryingTransportTest, NonIdempotentAndFinalAnswersAreNotRetried) {
  Make(FourAttempts());
  Request r = Idempotent();
  r.idempotent = false;
  Send(r);
  inner_->Answer(0, WithStatus(503));
  ASSERT_EQ(answers_, 1);
  EXPECT_EQ((*result_)->status, 503);
  EXPECT_EQ(AttemptsOf(*result_), 1);

  Send(Idempotent());
  inner_->Answer(1, WithStatus(404));
  ASSERT_EQ(answers_, 2);
  EXPECT_EQ((*result_)->status, 404);
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_EQ(inner_->sent(), 2u);
}

TEST_F(RetryingTransportTest, WaitsAsLongAsRetryAfterAsks) {
  Make(FourAttempts());
  Send(Idempotent());
  const absl::Time before = absl::Now();
  inner_->Answer(0, WithStatus(429, {{"retry-after", "2"}}));
  ASSERT_TRUE(timers_.only_due().has_value());
  EXPECT_GE(*timers_.only_due(), before + absl::Seconds(2));
}

TEST_F(RetryingTransportTest, ASlowAttemptLeavesNoRoomForAnother) {
  Make(FourAttempts());
  Request r = Idempotent();
  r.deadline = absl::Now() + absl::Milliseconds(800);
  Send(r);
  // 50 ms backoff + the 1 s the last exchange took: no attempt fits before the deadline.
  Response slow = WithStatus(500);
  slow.elapsed = absl::Seconds(1);
  inner_->Answer(0, slow);
  ASSERT_EQ(answers_, 1);
  EXPECT_EQ((*result_)->status, 500);
  EXPECT_EQ(AttemptsOf(*result_), 1);
}

TEST_F(RetryingTransportTest, OnlyThePerAttemptTimeoutIsRetriedAndOnlyWhenAllowed) {
  RetryOptions o = FourAttempts();
  o.retry_on_timeout = true;
  Make(o);
  Send(Idempotent());
  inner_->Answer(0, internal::MarkAttemptTimeout(
                        absl::DeadlineExceededError("request timeout (1s) waiting for x")));
  EXPECT_EQ(timers_.pending(), 1u) << "the per-attempt timeout is retried";
  EndBackoff();
  // The caller's deadline (no mark) is final.
  inner_->Answer(1, absl::DeadlineExceededError("deadline exceeded waiting for x (attempt 2)"));
  ASSERT_EQ(answers_, 1);
  EXPECT_TRUE(absl::IsDeadlineExceeded(result_->status()));
  EXPECT_EQ(AttemptsOf(*result_), 2);

  Make(FourAttempts());  // retry_on_timeout off
  Send(Idempotent());
  inner_->Answer(0, internal::MarkAttemptTimeout(absl::DeadlineExceededError("request timeout")));
  ASSERT_EQ(answers_, 2);
  EXPECT_EQ(timers_.pending(), 0u);
}

TEST_F(RetryingTransportTest, TheMarksOfTheLayersBelowNeverReachTheCaller) {
  Make(FourAttempts());
  Send(Idempotent());
  absl::Status marked = internal::MarkElapsed(
      internal::MarkAttemptTimeout(absl::DeadlineExceededError("request timeout")),
      absl::Milliseconds(7));
  inner_->Answer(0, marked);
  ASSERT_EQ(answers_, 1);
  int payloads = 0;
  std::string url;
  result_->status().ForEachPayload([&](absl::string_view u, const absl::Cord&) {
    ++payloads;
    url = std::string(u);
  });
  EXPECT_EQ(payloads, 1);
  EXPECT_EQ(url, kAttemptsPayloadUrl);
}

TEST_F(RetryingTransportTest, NotSentIsNoAttemptAndYieldsToThePreviousAnswer) {
  Make(FourAttempts());
  Send(Idempotent());
  inner_->Answer(0, internal::MarkNotSent(absl::ResourceExhaustedError("queue full")));
  ASSERT_EQ(answers_, 1);
  EXPECT_TRUE(absl::IsResourceExhausted(result_->status()));
  EXPECT_EQ(AttemptsOf(*result_), 0);

  Send(Idempotent());
  inner_->Answer(1, WithStatus(502));
  EndBackoff();
  // The retry found no time left in the limiter queue: the 502 says more than that.
  inner_->Answer(2, internal::MarkNotSent(
                        absl::DeadlineExceededError("deadline passed while waiting for a slot")));
  ASSERT_EQ(answers_, 2);
  ASSERT_TRUE(result_->ok()) << result_->status();
  EXPECT_EQ((*result_)->status, 502);
  EXPECT_EQ(AttemptsOf(*result_), 1);
}

TEST_F(RetryingTransportTest, ShutdownFailsACallWaitingOutItsBackoff) {
  Make(FourAttempts());
  Send(Idempotent());
  inner_->Answer(0, WithStatus(503));
  EXPECT_EQ(answers_, 0);
  t_->Shutdown();
  ASSERT_EQ(answers_, 1);
  EXPECT_TRUE(absl::IsCancelled(result_->status())) << result_->status();
  EXPECT_EQ(inner_->shutdowns(), 1);
  // Its timer finds nothing to do.
  timers_.FireDue(absl::InfiniteFuture());
  EXPECT_EQ(answers_, 1);
  EXPECT_EQ(inner_->sent(), 1u);
  // Later sends fail at once.
  Send(Idempotent());
  EXPECT_EQ(answers_, 2);
  EXPECT_TRUE(absl::IsCancelled(result_->status()));
}

TEST_F(RetryingTransportTest, ABackoffCancelledByTheLoopFailsTheCall) {
  Make(FourAttempts());
  Send(Idempotent());
  inner_->Answer(0, WithStatus(500));
  timers_.Shutdown();
  ASSERT_EQ(answers_, 1);
  EXPECT_TRUE(absl::IsCancelled(result_->status()));
}

}  // namespace
}  // namespace orderquery::payment::http
