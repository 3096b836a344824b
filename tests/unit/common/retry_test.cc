// The retry primitive with a fake clock and fixed randomness: nothing sleeps, and every duration
// asserted is computed by the policy, never measured.
#include "server/common/retry.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace orderquery::retry {
namespace {

using ::testing::ElementsAre;

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

// Now() starts at kStart; SleepFor only moves it on and records the wait.
class FakeClock final : public Clock {
 public:
  absl::Time Now() override { return now_; }
  void SleepFor(absl::Duration d) override {
    sleeps.push_back(d);
    now_ += d;
  }
  std::vector<absl::Duration> sleeps;

 private:
  absl::Time now_ = kStart;
};

BackoffPolicy Policy(int max_attempts, Jitter jitter = Jitter::kNone) {
  BackoffPolicy p;
  p.max_attempts = max_attempts;
  p.initial_backoff = absl::Milliseconds(100);
  p.max_backoff = absl::Milliseconds(1000);
  p.multiplier = 2.0;
  p.jitter = jitter;
  return p;
}

bool AnyUnavailable(const absl::Status& s) { return absl::IsUnavailable(s); }

TEST(BackoffTest, BaseGrowsByTheMultiplierUpToTheCap) {
  Backoff b(Policy(10));
  EXPECT_EQ(b.Base(0), absl::Milliseconds(100));
  EXPECT_EQ(b.Base(1), absl::Milliseconds(100));
  EXPECT_EQ(b.Base(2), absl::Milliseconds(200));
  EXPECT_EQ(b.Base(4), absl::Milliseconds(800));
  EXPECT_EQ(b.Base(5), absl::Milliseconds(1000));
  EXPECT_EQ(b.Base(1 << 30), absl::Milliseconds(1000));
}

TEST(BackoffTest, JitterModesStayWithinTheirRanges) {
  for (double u : {0.0, 0.25, 0.5, 0.999}) {
    const absl::Duration base = absl::Milliseconds(400);
    EXPECT_EQ(Backoff(Policy(5, Jitter::kNone), [u] { return u; }).Delay(3), base);
    const absl::Duration equal = Backoff(Policy(5, Jitter::kEqual), [u] { return u; }).Delay(3);
    EXPECT_GE(equal, base / 2) << u;
    EXPECT_LE(equal, base) << u;
    const absl::Duration full = Backoff(Policy(5, Jitter::kFull), [u] { return u; }).Delay(3);
    EXPECT_GE(full, absl::ZeroDuration()) << u;
    EXPECT_LE(full, base) << u;
  }
  EXPECT_EQ(Backoff(Policy(5, Jitter::kEqual), [] { return 0.5; }).Delay(3),
            absl::Milliseconds(300));
  EXPECT_EQ(Backoff(Policy(5, Jitter::kFull), [] { return 0.5; }).Delay(3),
            absl::Milliseconds(200));
}

TEST(BackoffTest, MisbehavingRandomSourceIsClamped) {
  EXPECT_EQ(Backoff(Policy(5, Jitter::kFull), [] { return -3.0; }).Delay(1), absl::ZeroDuration());
  EXPECT_EQ(Backoff(Policy(5, Jitter::kFull), [] { return 7.0; }).Delay(1),
            absl::Milliseconds(100));
  EXPECT_EQ(Backoff(Policy(5, Jitter::kEqual), [] { return std::nan(""); }).Delay(1),
            absl::Milliseconds(50));
}

TEST(BackoffTest, DefaultRandomStaysInRange) {
  Backoff b(Policy(5, Jitter::kEqual));
  for (int i = 0; i < 200; ++i) {
    const absl::Duration d = b.Delay(2);
    EXPECT_GE(d, absl::Milliseconds(100));
    EXPECT_LE(d, absl::Milliseconds(200));
  }
}

TEST(BackoffTest, NextStopsWhenAttemptsAreExhausted) {
  Backoff b(Policy(3));
  const absl::Time far = kStart + absl::Hours(1);
  EXPECT_TRUE(b.Next(1, kStart, far).retry());
  EXPECT_TRUE(b.Next(2, kStart, far).retry());
  EXPECT_EQ(b.Next(3, kStart, far).verdict, NextAttempt::Verdict::kAttemptsExhausted);
}

TEST(BackoffTest, NextRespectsTheDeadline) {
  Backoff b(Policy(5));
  // The second retry waits 200 ms; with 50 ms for the attempt it needs 250 ms.
  EXPECT_TRUE(b.Next(2, kStart, kStart + absl::Milliseconds(250), absl::Milliseconds(50)).retry());
  NextAttempt late = b.Next(2, kStart, kStart + absl::Milliseconds(249), absl::Milliseconds(50));
  EXPECT_EQ(late.verdict, NextAttempt::Verdict::kNoTimeLeft);
  EXPECT_EQ(late.delay, absl::Milliseconds(200));
}

TEST(BackoffTest, NextWaitsAtLeastWhatTheCallerAsks) {
  Backoff b(Policy(5));
  const absl::Time far = kStart + absl::Hours(1);
  EXPECT_EQ(b.Next(1, kStart, far, absl::ZeroDuration(), absl::Seconds(3)).delay, absl::Seconds(3));
  EXPECT_EQ(b.Next(1, kStart, far, absl::ZeroDuration(), absl::Milliseconds(1)).delay,
            absl::Milliseconds(100));
}

TEST(RetryTest, RetriesUntilSuccessWithGrowingBoundedWaits) {
  FakeClock clock;
  int calls = 0;
  std::vector<int> retried_attempts;
  absl::StatusOr<int> r = Retry(
      Backoff(Policy(10)), clock, absl::InfiniteFuture(),
      [&]() -> absl::StatusOr<int> {
        if (++calls < 6) return absl::UnavailableError("down");
        return 42;
      },
      AnyUnavailable, [&](const RetryEvent& e) { retried_attempts.push_back(e.attempt); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(calls, 6);
  EXPECT_THAT(retried_attempts, ElementsAre(1, 2, 3, 4, 5));
  EXPECT_THAT(clock.sleeps,
              ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200), absl::Milliseconds(400),
                          absl::Milliseconds(800), absl::Milliseconds(1000)));
}

TEST(RetryTest, GivesUpAfterMaxAttemptsWithTheLastError) {
  FakeClock clock;
  int calls = 0;
  absl::Status s = Retry(
      Backoff(Policy(4)), clock, absl::InfiniteFuture(),
      [&] { return absl::UnavailableError(absl::StrCat("down ", ++calls)); }, AnyUnavailable);
  EXPECT_EQ(s, absl::UnavailableError("down 4"));
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(clock.sleeps.size(), 3u);
}

// Retry over a function that always returns `result`: what came back, how often it ran, and the
// waits on the fake clock.
struct ConstantRun {
  absl::Status status;
  int calls = 0;
  FakeClock clock;
};

template <typename Retryable>
void RunConstant(ConstantRun& run, const absl::Status& result, int max_attempts,
                 absl::Duration deadline_in, Retryable retryable) {
  const absl::Time deadline =
      deadline_in == absl::InfiniteDuration() ? absl::InfiniteFuture() : kStart + deadline_in;
  run.status = Retry(
      Backoff(Policy(max_attempts)), run.clock, deadline,
      [&] {
        ++run.calls;
        return result;
      },
      retryable);
}

TEST(RetryTest, NonRetryableFailureStopsAtOnce) {
  ConstantRun run;
  RunConstant(run, absl::InvalidArgumentError("bad"), 5, absl::InfiniteDuration(), AnyUnavailable);
  EXPECT_EQ(run.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(run.calls, 1);
  EXPECT_TRUE(run.clock.sleeps.empty());
}

TEST(RetryTest, SuccessIsNotRetried) {
  ConstantRun run;
  RunConstant(run, absl::OkStatus(), 5, absl::InfiniteDuration(),
              [](const absl::Status&) { return true; });
  EXPECT_TRUE(run.status.ok());
  EXPECT_EQ(run.calls, 1);
  EXPECT_TRUE(run.clock.sleeps.empty());
}

TEST(RetryTest, NoWaitEndsAfterTheDeadline) {
  ConstantRun run;
  // Waits of 100 + 200 fit in 350 ms; the third (400) would end at 700 ms: given up.
  RunConstant(run, absl::UnavailableError("down"), 10, absl::Milliseconds(350), AnyUnavailable);
  EXPECT_TRUE(absl::IsUnavailable(run.status));
  EXPECT_EQ(run.calls, 3);
  EXPECT_THAT(run.clock.sleeps, ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200)));
  EXPECT_LE(run.clock.Now(), kStart + absl::Milliseconds(350));
}

TEST(ValidateBackoffPolicyTest, NamesTheBadField) {
  EXPECT_TRUE(ValidateBackoffPolicy(BackoffPolicy(), "x").ok());
  BackoffPolicy p;
  p.max_attempts = 0;
  EXPECT_EQ(ValidateBackoffPolicy(p, "client").message(), "client.max_attempts must be >= 1");
  p = BackoffPolicy();
  p.max_backoff = p.initial_backoff / 2;
  EXPECT_EQ(ValidateBackoffPolicy(p, "db").code(), absl::StatusCode::kInvalidArgument);
  p = BackoffPolicy();
  p.multiplier = 0.5;
  EXPECT_EQ(ValidateBackoffPolicy(p, "db").message(), "db.multiplier must be in [1, 100]");
}

}  // namespace
}  // namespace orderquery::retry
