#include "server/payment/http/retry.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace orderquery::payment::http {
namespace {

double DefaultUniformRandom() {
  // Thread-local so the event loop and any test thread never share (or lock) a generator.
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

}  // namespace

ExponentialBackoff::ExponentialBackoff(absl::Duration initial, absl::Duration max,
                                       double multiplier, UniformRandom random)
    : initial_(initial),
      max_(max),
      multiplier_(multiplier),
      random_(random ? std::move(random) : UniformRandom(DefaultUniformRandom)) {}

absl::Duration ExponentialBackoff::Base(int retry) const {
  if (retry < 1) retry = 1;
  // Grow step by step and stop at the cap, so a large retry number cannot overflow a double or
  // the Duration arithmetic.
  absl::Duration base = initial_;
  for (int i = 1; i < retry && base < max_; ++i) base = base * multiplier_;
  return std::min(base, max_);
}

absl::Duration ExponentialBackoff::Delay(int retry) const {
  const absl::Duration base = Base(retry);
  double u = random_();
  if (!(u >= 0.0)) u = 0.0;  // also catches NaN from a misbehaving injected source
  if (u >= 1.0) u = 1.0;
  return base / 2 + (base / 2) * u;
}

RetryPolicy::RetryPolicy(RetryOptions options, ExponentialBackoff::UniformRandom random)
    : options_(options),
      backoff_(options.initial_backoff, options.max_backoff, options.multiplier,
               std::move(random)) {}

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
  if (attempts_made >= options_.max_attempts) {
    d.reason = "attempts exhausted";
    return d;
  }
  absl::Duration delay = backoff_.Delay(attempts_made);
  if (outcome.ok() && options_.honour_retry_after) {
    if (const std::string* ra = outcome->Header("retry-after")) {
      absl::Duration asked;
      if (ParseRetryAfterSeconds(*ra, &asked)) delay = std::max(delay, asked);
    }
  }
  const absl::Duration needed = std::max(options_.min_attempt_time, last_attempt);
  if (now + delay + needed > deadline) {
    d.reason = absl::StrCat("no time for another attempt before the deadline (backoff ",
                            absl::FormatDuration(delay), ", attempt needs ~",
                            absl::FormatDuration(needed), ")");
    return d;
  }
  d.retry = true;
  d.delay = delay;
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
