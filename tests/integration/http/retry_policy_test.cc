// Pure policy tests for the transport's retry/backoff decisions and the per-key limiter: time and
// randomness are injected, nothing sleeps, nothing touches the network.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/payment/http/curl_transport.h"
#include "server/payment/http/limiter.h"
#include "server/payment/http/retry.h"

namespace orderquery::payment::http {
namespace {

using ::testing::HasSubstr;

Response WithStatus(int status, Headers headers = {}) {
  Response r;
  r.status = status;
  r.headers = std::move(headers);
  return r;
}

RetryOptions Options() {
  RetryOptions o;
  o.max_attempts = 4;
  o.initial_backoff = absl::Milliseconds(100);
  o.max_backoff = absl::Milliseconds(1000);
  o.multiplier = 2.0;
  o.min_attempt_time = absl::Milliseconds(50);
  return o;
}

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

// The transport's backoff: the common primitive with equal jitter.
retry::Backoff TransportBackoff(absl::Duration initial, absl::Duration max, double multiplier,
                                retry::UniformRandom random = nullptr) {
  RetryOptions o;
  o.initial_backoff = initial;
  o.max_backoff = max;
  o.multiplier = multiplier;
  return retry::Backoff(BackoffPolicyOf(o), std::move(random));
}

TEST(ExponentialBackoffTest, GrowsByMultiplierAndStopsAtTheCap) {
  retry::Backoff b =
      TransportBackoff(absl::Milliseconds(100), absl::Milliseconds(1000), 2.0, [] { return 0.0; });
  EXPECT_EQ(b.Base(1), absl::Milliseconds(100));
  EXPECT_EQ(b.Base(2), absl::Milliseconds(200));
  EXPECT_EQ(b.Base(3), absl::Milliseconds(400));
  EXPECT_EQ(b.Base(4), absl::Milliseconds(800));
  EXPECT_EQ(b.Base(5), absl::Milliseconds(1000));
  EXPECT_EQ(b.Base(1000), absl::Milliseconds(1000));
}

TEST(ExponentialBackoffTest, JitterSpansTheUpperHalfOfTheBase) {
  retry::Backoff low =
      TransportBackoff(absl::Milliseconds(100), absl::Seconds(1), 2.0, [] { return 0.0; });
  retry::Backoff high =
      TransportBackoff(absl::Milliseconds(100), absl::Seconds(1), 2.0, [] { return 0.999; });
  retry::Backoff mid =
      TransportBackoff(absl::Milliseconds(100), absl::Seconds(1), 2.0, [] { return 0.5; });
  EXPECT_EQ(low.Delay(3), absl::Milliseconds(200));
  EXPECT_EQ(mid.Delay(3), absl::Milliseconds(300));
  EXPECT_GT(high.Delay(3), absl::Milliseconds(399));
  EXPECT_LE(high.Delay(3), absl::Milliseconds(400));
}

TEST(ExponentialBackoffTest, DefaultRandomStaysInRange) {
  retry::Backoff b = TransportBackoff(absl::Milliseconds(100), absl::Seconds(1), 2.0);
  for (int i = 0; i < 200; ++i) {
    absl::Duration d = b.Delay(2);
    EXPECT_GE(d, absl::Milliseconds(100));
    EXPECT_LE(d, absl::Milliseconds(200));
  }
}

TEST(RetryPolicyTest, RetryableHttpStatuses) {
  EXPECT_TRUE(RetryPolicy::IsRetryableHttpStatus(429));
  EXPECT_TRUE(RetryPolicy::IsRetryableHttpStatus(500));
  EXPECT_TRUE(RetryPolicy::IsRetryableHttpStatus(503));
  EXPECT_FALSE(RetryPolicy::IsRetryableHttpStatus(200));
  EXPECT_FALSE(RetryPolicy::IsRetryableHttpStatus(400));
  EXPECT_FALSE(RetryPolicy::IsRetryableHttpStatus(401));
  EXPECT_FALSE(RetryPolicy::IsRetryableHttpStatus(404));
}

TEST(RetryPolicyTest, RetriesIdempotent5xxWithBackoff) {
  RetryPolicy p(Options(), [] { return 0.0; });
  RetryDecision d = p.Decide(true, WithStatus(500), false, 1, kNow, kNow + absl::Seconds(10),
                             absl::Milliseconds(20));
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.delay, absl::Milliseconds(50));
  d = p.Decide(true, WithStatus(429), false, 2, kNow, kNow + absl::Seconds(10),
               absl::Milliseconds(20));
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.delay, absl::Milliseconds(100));
}

TEST(RetryPolicyTest, NeverRetriesNonIdempotent) {
  RetryPolicy p(Options(), [] { return 0.0; });
  RetryDecision d = p.Decide(false, WithStatus(503), false, 1, kNow, absl::InfiniteFuture(),
                             absl::Milliseconds(1));
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.reason, "not idempotent");
  d = p.Decide(false, absl::UnavailableError("connect failed"), false, 1, kNow,
               absl::InfiniteFuture(), absl::Milliseconds(1));
  EXPECT_FALSE(d.retry);
}

TEST(RetryPolicyTest, FinalResponsesAreNotRetried) {
  RetryPolicy p(Options(), [] { return 0.0; });
  for (int status : {200, 204, 400, 401, 403, 404}) {
    RetryDecision d = p.Decide(true, WithStatus(status), false, 1, kNow, absl::InfiniteFuture(),
                               absl::Milliseconds(1));
    EXPECT_FALSE(d.retry) << status;
    EXPECT_EQ(d.reason, "final response");
  }
}

TEST(RetryPolicyTest, StopsWhenAttemptsAreExhausted) {
  RetryPolicy p(Options(), [] { return 0.0; });
  EXPECT_TRUE(
      p.Decide(true, WithStatus(500), false, 3, kNow, absl::InfiniteFuture(), absl::Milliseconds(1))
          .retry);
  RetryDecision d = p.Decide(true, WithStatus(500), false, 4, kNow, absl::InfiniteFuture(),
                             absl::Milliseconds(1));
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.reason, "attempts exhausted");
}

TEST(RetryPolicyTest, NoAttemptThatCannotFinishBeforeTheDeadline) {
  RetryPolicy p(Options(), [] { return 0.0; });
  // Backoff 50 ms + at least 50 ms for the attempt: 100 ms needed.
  EXPECT_TRUE(p.Decide(true, WithStatus(500), false, 1, kNow, kNow + absl::Milliseconds(100),
                       absl::Milliseconds(10))
                  .retry);
  RetryDecision d = p.Decide(true, WithStatus(500), false, 1, kNow, kNow + absl::Milliseconds(99),
                             absl::Milliseconds(10));
  EXPECT_FALSE(d.retry);
  EXPECT_THAT(d.reason, HasSubstr("deadline"));
  // A slow previous attempt predicts a slow next one.
  d = p.Decide(true, WithStatus(500), false, 1, kNow, kNow + absl::Milliseconds(500),
               absl::Milliseconds(600));
  EXPECT_FALSE(d.retry);
}

TEST(RetryPolicyTest, TransportFailures) {
  RetryPolicy p(Options(), [] { return 0.0; });
  auto decide = [&](absl::Status s, bool attempt_timeout) {
    return p
        .Decide(true, s, attempt_timeout, 1, kNow, absl::InfiniteFuture(), absl::Milliseconds(1))
        .retry;
  };
  EXPECT_TRUE(decide(absl::UnavailableError("connect to x failed"), false));
  EXPECT_TRUE(decide(absl::UnavailableError("tls: handshake with x failed: reset"), false));
  EXPECT_FALSE(decide(absl::UnavailableError("tls: certificate verification failed for x"), false));
  EXPECT_FALSE(decide(absl::DeadlineExceededError("deadline exceeded"), false));
  EXPECT_FALSE(decide(absl::DeadlineExceededError("request timeout"), true));
  EXPECT_FALSE(decide(absl::InvalidArgumentError("bad url"), false));
  EXPECT_FALSE(decide(absl::ResourceExhaustedError("queue full"), false));

  RetryOptions o = Options();
  o.retry_on_timeout = true;
  RetryPolicy with_timeouts(o, [] { return 0.0; });
  EXPECT_TRUE(with_timeouts
                  .Decide(true, absl::DeadlineExceededError("request timeout"), true, 1, kNow,
                          absl::InfiniteFuture(), absl::Milliseconds(1))
                  .retry);
  // The caller's own deadline is never retried.
  EXPECT_FALSE(with_timeouts
                   .Decide(true, absl::DeadlineExceededError("deadline"), false, 1, kNow,
                           absl::InfiniteFuture(), absl::Milliseconds(1))
                   .retry);
}

TEST(RetryPolicyTest, HonoursRetryAfterWhenLonger) {
  RetryPolicy p(Options(), [] { return 0.0; });
  RetryDecision d = p.Decide(true, WithStatus(429, {{"retry-after", "2"}}), false, 1, kNow,
                             kNow + absl::Seconds(10), absl::Milliseconds(1));
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.delay, absl::Seconds(2));
  // ...and gives up when the wait it asks for does not fit.
  d = p.Decide(true, WithStatus(429, {{"retry-after", "30"}}), false, 1, kNow,
               kNow + absl::Seconds(10), absl::Milliseconds(1));
  EXPECT_FALSE(d.retry);
  // Shorter than our backoff or unparsable: our backoff stands.
  d = p.Decide(true, WithStatus(503, {{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}}), false, 1,
               kNow, kNow + absl::Seconds(10), absl::Milliseconds(1));
  EXPECT_EQ(d.delay, absl::Milliseconds(50));
}

TEST(RetryPolicyTest, ParseRetryAfter) {
  absl::Duration d;
  EXPECT_TRUE(ParseRetryAfterSeconds(" 7 ", &d));
  EXPECT_EQ(d, absl::Seconds(7));
  EXPECT_FALSE(ParseRetryAfterSeconds("", &d));
  EXPECT_FALSE(ParseRetryAfterSeconds("-1", &d));
  EXPECT_FALSE(ParseRetryAfterSeconds("1.5", &d));
  EXPECT_FALSE(ParseRetryAfterSeconds("9999999999", &d));
}

TEST(KeyedLimiterTest, CapsPerKeyAndQueuesFifo) {
  KeyedLimiter l(2, 10);
  EXPECT_EQ(l.Acquire("m1", 1), KeyedLimiter::Admission::kRun);
  EXPECT_EQ(l.Acquire("m1", 2), KeyedLimiter::Admission::kRun);
  EXPECT_EQ(l.Acquire("m1", 3), KeyedLimiter::Admission::kQueued);
  EXPECT_EQ(l.Acquire("m1", 4), KeyedLimiter::Admission::kQueued);
  // Another key is not affected.
  EXPECT_EQ(l.Acquire("m2", 5), KeyedLimiter::Admission::kRun);
  EXPECT_EQ(l.inflight("m1"), 2);
  EXPECT_EQ(l.queued("m1"), 2u);
  EXPECT_EQ(l.Release("m1"), std::optional<uint64_t>(3));
  EXPECT_EQ(l.Release("m1"), std::optional<uint64_t>(4));
  EXPECT_EQ(l.inflight("m1"), 2);
  EXPECT_EQ(l.Release("m1"), std::nullopt);
  EXPECT_EQ(l.Release("m1"), std::nullopt);
  EXPECT_EQ(l.inflight("m1"), 0);
  EXPECT_EQ(l.Acquire("m1", 6), KeyedLimiter::Admission::kRun);
}

TEST(KeyedLimiterTest, RejectsWhenTheQueueIsFullButNotPriority) {
  KeyedLimiter l(1, 1);
  EXPECT_EQ(l.Acquire("m", 1), KeyedLimiter::Admission::kRun);
  EXPECT_EQ(l.Acquire("m", 2), KeyedLimiter::Admission::kQueued);
  EXPECT_EQ(l.Acquire("m", 3), KeyedLimiter::Admission::kRejected);
  EXPECT_EQ(l.Acquire("m", 4, /*priority=*/true), KeyedLimiter::Admission::kQueued);
  // The retry (priority) goes first.
  EXPECT_EQ(l.Release("m"), std::optional<uint64_t>(4));
  EXPECT_EQ(l.Release("m"), std::optional<uint64_t>(2));
}

TEST(KeyedLimiterTest, CancelRemovesAQueuedEntry) {
  KeyedLimiter l(1, 5);
  l.Acquire("m", 1);
  l.Acquire("m", 2);
  l.Acquire("m", 3);
  EXPECT_TRUE(l.Cancel("m", 2));
  EXPECT_FALSE(l.Cancel("m", 2));
  EXPECT_EQ(l.Release("m"), std::optional<uint64_t>(3));
}

TEST(KeyedLimiterTest, EmptyKeyOrZeroCapIsUnlimited) {
  KeyedLimiter l(1, 0);
  for (uint64_t i = 0; i < 100; ++i) EXPECT_EQ(l.Acquire("", i), KeyedLimiter::Admission::kRun);
  KeyedLimiter unlimited(0, 0);
  for (uint64_t i = 0; i < 100; ++i) {
    EXPECT_EQ(unlimited.Acquire("m", i), KeyedLimiter::Admission::kRun);
  }
}

TEST(TransportOptionsTest, Validation) {
  EXPECT_TRUE(ValidateTransportOptions(TransportOptions()).ok());
  TransportOptions o;
  o.connect_timeout = absl::ZeroDuration();
  EXPECT_FALSE(ValidateTransportOptions(o).ok());
  o = TransportOptions();
  o.retry.max_attempts = 0;
  EXPECT_FALSE(ValidateTransportOptions(o).ok());
  o = TransportOptions();
  o.retry.multiplier = 0.5;
  EXPECT_FALSE(ValidateTransportOptions(o).ok());
  o = TransportOptions();
  o.retry.max_backoff = absl::Milliseconds(1);
  EXPECT_FALSE(ValidateTransportOptions(o).ok());
  EXPECT_FALSE(CurlTransport::Create(o).ok());
}

TEST(AttemptsOfTest, ReadsHeaderOrPayload) {
  Response r = WithStatus(200, {{"x-oq-attempts", "3"}});
  EXPECT_EQ(AttemptsOf(r), 3);
  absl::Status s = absl::UnavailableError("x");
  s.SetPayload(kAttemptsPayloadUrl, absl::Cord("2"));
  EXPECT_EQ(AttemptsOf(s), 2);
  EXPECT_EQ(AttemptsOf(absl::UnavailableError("y")), 0);
}

TEST(ResponseTest, HeaderLookupIgnoresCase) {
  Response r = WithStatus(200, {{"wechatpay-serial", "A"}, {"x", "1"}, {"X", "2"}});
  ASSERT_NE(r.Header("Wechatpay-Serial"), nullptr);
  EXPECT_EQ(*r.Header("Wechatpay-Serial"), "A");
  EXPECT_EQ(*r.Header("x"), "1");
  EXPECT_EQ(r.Header("missing"), nullptr);
}

}  // namespace
}  // namespace orderquery::payment::http
