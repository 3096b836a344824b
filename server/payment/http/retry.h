// Retry and backoff as two separate policies: RetryPolicy says whether an outcome may be tried
// again and whether another attempt still fits before the deadline; ExponentialBackoff says how
// long to wait. Both are pure (time and randomness come in as arguments or injected functions) so
// tests drive them without sleeping, and the transport's event loop turns a decision into a timer.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_RETRY_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_RETRY_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/payment/http/transport.h"

namespace orderquery::payment::http {

struct RetryOptions {
  // Attempts in total, the first included; 1 disables retries.
  int max_attempts = 3;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
  double multiplier = 2.0;
  // No attempt is started with less than this left before the deadline: an attempt that cannot
  // finish only wastes an upstream call. The transport also uses the previous attempt's duration
  // when that is longer (see RetryPolicy::Decide).
  absl::Duration min_attempt_time = absl::Milliseconds(50);
  // Whether an attempt that hit the per-attempt request timeout (not the caller's deadline) may
  // be retried. Off by default: a provider that is slow is usually slow for the next attempt too.
  bool retry_on_timeout = false;
  // Honour a `Retry-After: <seconds>` header on 429/503 when it asks for a longer wait.
  bool honour_retry_after = true;
};

// Jittered exponential backoff: the n-th retry waits a uniformly random time in [base/2, base]
// where base = min(max_backoff, initial_backoff * multiplier^(n-1)). Half the base is kept so a
// retry never fires immediately, the other half spreads clients that failed together.
class ExponentialBackoff {
 public:
  // Returns a uniformly distributed value in [0, 1).
  using UniformRandom = std::function<double()>;

  // `random` defaults to a thread-local PRNG seeded from std::random_device.
  ExponentialBackoff(absl::Duration initial, absl::Duration max, double multiplier,
                     UniformRandom random = nullptr);

  // The wait before retry number `retry` (1 for the wait after the first attempt).
  absl::Duration Delay(int retry) const;
  // The un-jittered upper bound of Delay(retry).
  absl::Duration Base(int retry) const;

 private:
  absl::Duration initial_;
  absl::Duration max_;
  double multiplier_;
  UniformRandom random_;
};

struct RetryDecision {
  bool retry = false;
  absl::Duration delay = absl::ZeroDuration();
  // Why not, when retry is false (for logs): "not idempotent", "attempts exhausted", ...
  std::string reason;
};

class RetryPolicy {
 public:
  explicit RetryPolicy(RetryOptions options, ExponentialBackoff::UniformRandom random = nullptr);

  // 429 and every 5xx: the provider asked us to come back or failed on its side.
  static bool IsRetryableHttpStatus(int status);
  // UNAVAILABLE transport failures (connect, DNS, reset), except TLS certificate verification
  // which fails again the same way; DEADLINE_EXCEEDED from the per-attempt timeout when
  // retry_on_timeout is set (`attempt_timed_out_before_deadline` tells the two timeouts apart).
  bool IsRetryableFailure(const absl::Status& status, bool attempt_timed_out_before_deadline) const;

  // Decides after attempt number `attempts_made` (1-based) ended with `outcome` at `now`.
  // A retry is granted only if the request is idempotent, the outcome is retryable, attempts
  // remain, and now + delay + max(min_attempt_time, last_attempt) still ends before `deadline`.
  RetryDecision Decide(bool idempotent, const absl::StatusOr<Response>& outcome,
                       bool attempt_timed_out_before_deadline, int attempts_made, absl::Time now,
                       absl::Time deadline, absl::Duration last_attempt) const;

  const RetryOptions& options() const { return options_; }

 private:
  RetryOptions options_;
  ExponentialBackoff backoff_;
};

// Parses a Retry-After header given in delta-seconds; false for anything else (HTTP dates are
// not used by the providers we call).
bool ParseRetryAfterSeconds(absl::string_view value, absl::Duration* out);

}  // namespace orderquery::payment::http

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_RETRY_H_
