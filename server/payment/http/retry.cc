#include "server/payment/http/retry.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace orderquery::payment::http {

retry::BackoffPolicy BackoffPolicyOf(const RetryOptions& options) {
  retry::BackoffPolicy p;
  p.max_attempts = options.max_attempts;
  p.initial_backoff = options.initial_backoff;
  p.max_backoff = options.max_backoff;
  p.multiplier = options.multiplier;
  p.jitter = retry::Jitter::kEqual;
  return p;
}

RetryPolicy::RetryPolicy(RetryOptions options, retry::UniformRandom random)
    : options_(options), backoff_(BackoffPolicyOf(options), std::move(random)) {}

bool RetryPolicy::IsRetryableHttpStatus(int status) { return status == 429 || status >= 500; }

bool RetryPolicy::IsRetryableFailure(const absl::Status& status,
                                     bool attempt_timed_out_before_deadline) const {
  if (absl::IsUnavailable(status)) {
    // A certificate the CA file does not vouch for stays that way; retrying only delays the
    // error the operator must fix.
    return !absl::StartsWith(status.message(), "tls: certificate");
  }
  if (absl::IsDeadlineExceeded(status)) {
    return options_.retry_on_timeout && attempt_timed_out_before_deadline;
  }
  return false;
}

RetryDecision RetryPolicy::Decide(bool idempotent, const absl::StatusOr<Response>& outcome,
                                  bool attempt_timed_out_before_deadline, int attempts_made,
                                  absl::Time now, absl::Time deadline,
                                  absl::Duration last_attempt) const {
  RetryDecision d;
  if (outcome.ok()) {
    if (!IsRetryableHttpStatus(outcome->status)) {
      d.reason = "final response";
      return d;
    }
  } else if (!IsRetryableFailure(outcome.status(), attempt_timed_out_before_deadline)) {
    d.reason = "permanent failure";
    return d;
  }
  if (!idempotent) {
    d.reason = "not idempotent";
    return d;
  }
  absl::Duration retry_after = absl::ZeroDuration();
  if (outcome.ok() && options_.honour_retry_after) {
    if (const std::string* ra = outcome->Header("retry-after")) {
      ParseRetryAfterSeconds(*ra, &retry_after);  // left at zero when unparsable
    }
  }
  const absl::Duration needed = std::max(options_.min_attempt_time, last_attempt);
  const retry::NextAttempt next = backoff_.Next(attempts_made, now, deadline, needed, retry_after);
  if (next.verdict == retry::NextAttempt::Verdict::kAttemptsExhausted) {
    d.reason = "attempts exhausted";
    return d;
  }
  if (!next.retry()) {
    d.reason = absl::StrCat("no time for another attempt before the deadline (backoff ",
                            absl::FormatDuration(next.delay), ", attempt needs ~",
                            absl::FormatDuration(needed), ")");
    return d;
  }
  d.retry = true;
  d.delay = next.delay;
  return d;
}

bool ParseRetryAfterSeconds(absl::string_view value, absl::Duration* out) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty() || value.size() > 9) return false;
  for (char c : value) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  int64_t seconds = 0;
  if (!absl::SimpleAtoi(value, &seconds)) return false;
  *out = absl::Seconds(seconds);
  return true;
}

}  // namespace orderquery::payment::http
