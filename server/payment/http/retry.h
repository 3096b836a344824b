// The transport's retry rules on top of the common primitive (server/common/retry.h): RetryPolicy
// says whether an HTTP outcome may be tried again; the backoff math, the attempt count and the
// deadline check are retry::Backoff's. Pure (time and randomness come in as arguments or injected
// functions) so tests drive it without sleeping; RetryingTransport turns a decision into a timer.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_RETRY_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_RETRY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/common/retry.h"
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

struct RetryDecision {
  bool retry = false;
  absl::Duration delay = absl::ZeroDuration();
  // Why not, when retry is false (for logs): "not idempotent", "attempts exhausted", ...
  std::string reason;
};

class RetryPolicy {
 public:
  // Backoff with equal jitter (a retry never fires at once); `random` as retry::Backoff's.
  explicit RetryPolicy(RetryOptions options, retry::UniformRandom random = nullptr);

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
  retry::Backoff backoff_;
};

// The backoff part of the options, as the common primitive takes it.
retry::BackoffPolicy BackoffPolicyOf(const RetryOptions& options);

// Parses a Retry-After header given in delta-seconds; false for anything else (HTTP dates are
// not used by the providers we call).
bool ParseRetryAfterSeconds(absl::string_view value, absl::Duration* out);

}  // namespace orderquery::payment::http

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_RETRY_H_
