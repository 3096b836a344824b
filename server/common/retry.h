// The one retry primitive: a backoff policy (attempts, exponential growth, jitter), the decision
// whether another attempt is due and after what wait, and a synchronous retry loop. Time and
// randomness are injected (Clock, UniformRandom), so tests drive every path without sleeping.
//
// Users: the curl transport (asynchronous: it asks Backoff::Next after each attempt and arms a
// timer of its event loop), the database transaction retry, the start-up connect, and the C++
// client library (synchronous: Retry below). Header-only because the installed client library
// compiles it in, and it should not drag another library into the installed package.
#ifndef ORDERQUERY_SERVER_COMMON_RETRY_H_
#define ORDERQUERY_SERVER_COMMON_RETRY_H_

#include <algorithm>
#include <functional>
#include <random>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace orderquery::retry {

// How the wait before a retry is spread around the exponential base.
enum class Jitter {
  kNone,   // exactly the base
  kEqual,  // uniform in [base/2, base]: never immediate, still spreads clients that failed together
  kFull,   // uniform in [0, base]: spreads the most, may retry at once
};

struct BackoffPolicy {
  // Attempts in total, the first included; 1 disables retries.
  int max_attempts = 3;
  // The base of the n-th retry is min(max_backoff, initial_backoff * multiplier^(n-1)).
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
  double multiplier = 2.0;
  Jitter jitter = Jitter::kEqual;
};

// Checks the ranges: max_attempts >= 1, 0 < initial_backoff <= max_backoff, multiplier in
// [1, 100]. `what` prefixes the field names in the message, e.g. "http transport: retry".
inline absl::Status ValidateBackoffPolicy(const BackoffPolicy& p, absl::string_view what) {
  if (p.max_attempts < 1) {
    return absl::InvalidArgumentError(absl::StrCat(what, ".max_attempts must be >= 1"));
  }
  if (p.initial_backoff <= absl::ZeroDuration() || p.max_backoff < p.initial_backoff) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": backoff needs 0 < initial_backoff <= max_backoff"));
  }
  if (!(p.multiplier >= 1.0) || p.multiplier > 100.0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ".multiplier must be in [1, 100]"));
  }
  return absl::OkStatus();
}

// Returns a uniformly distributed value in [0, 1).
using UniformRandom = std::function<double()>;

// A thread-local PRNG seeded from std::random_device: threads never share (or lock) a generator.
inline double DefaultUniformRandom() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

// Time as the retry loop sees it. Real() reads the wall clock and really sleeps; tests pass a
// fake whose SleepFor only advances its Now.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  virtual void SleepFor(absl::Duration d) = 0;

  static Clock& Real();
};

namespace internal {
class RealClock final : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  void SleepFor(absl::Duration d) override { absl::SleepFor(d); }
};
}  // namespace internal

inline Clock& Clock::Real() {
  static internal::RealClock clock;
  return clock;
}

// What to do after an attempt failed in a retryable way.
struct NextAttempt {
  enum class Verdict {
    kRetry,              // wait `delay`, then try again
    kAttemptsExhausted,  // max_attempts reached
    kNoTimeLeft,         // the wait plus another attempt would end after the deadline
  };
  Verdict verdict = Verdict::kAttemptsExhausted;
  // The wait before the next attempt (also set for kNoTimeLeft: the wait that did not fit).
  absl::Duration delay = absl::ZeroDuration();

  bool retry() const { return verdict == Verdict::kRetry; }
};

class Backoff {
 public:
  // `random` defaults to DefaultUniformRandom.
  explicit Backoff(BackoffPolicy policy, UniformRandom random = nullptr)
      : policy_(policy),
        random_(random ? std::move(random) : UniformRandom(DefaultUniformRandom)) {}

  // The un-jittered wait before retry number `retry` (1 for the wait after the first attempt).
  absl::Duration Base(int retry) const {
    if (retry < 1) retry = 1;
    // Grow step by step and stop at the cap, so a large retry number cannot overflow a double or
    // the Duration arithmetic.
    absl::Duration base = policy_.initial_backoff;
    for (int i = 1; i < retry && base < policy_.max_backoff; ++i) base = base * policy_.multiplier;
    return std::min(base, policy_.max_backoff);
  }

  // The jittered wait before retry number `retry`, within [0, Base(retry)].
  absl::Duration Delay(int retry) const {
    const absl::Duration base = Base(retry);
    if (policy_.jitter == Jitter::kNone) return base;
    double u = random_();
    if (!(u >= 0.0)) u = 0.0;  // also catches NaN from a misbehaving injected source
    if (u >= 1.0) u = 1.0;
    if (policy_.jitter == Jitter::kFull) return base * u;
    return base / 2 + (base / 2) * u;
  }

  // Decides after attempt number `attempts_made` (1-based) failed retryably at `now`: another
  // attempt is due if attempts remain and now + wait + `attempt_needs` (what an attempt takes at
  // the least) ends no later than `deadline`. The wait is Delay(attempts_made), or `at_least`
  // when that is longer (e.g. a server's Retry-After).
  NextAttempt Next(int attempts_made, absl::Time now, absl::Time deadline,
                   absl::Duration attempt_needs = absl::ZeroDuration(),
                   absl::Duration at_least = absl::ZeroDuration()) const {
    NextAttempt next;
    if (attempts_made >= policy_.max_attempts) {
      next.verdict = NextAttempt::Verdict::kAttemptsExhausted;
      return next;
    }
    next.delay = std::max(Delay(attempts_made), at_least);
    next.verdict = now + next.delay + attempt_needs > deadline ? NextAttempt::Verdict::kNoTimeLeft
                                                               : NextAttempt::Verdict::kRetry;
    return next;
  }

  const BackoffPolicy& policy() const { return policy_; }

 private:
  BackoffPolicy policy_;
  UniformRandom random_;
};

// A retry about to happen, for logs.
struct RetryEvent {
  int attempt;                 // the attempt that failed (1-based)
  const absl::Status& status;  // how it failed
  absl::Duration delay;        // the wait before the next one
};

namespace internal {
inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace internal

// Calls fn() until it succeeds, fails in a way `retryable(status)` rejects, attempts run out, or
// the next wait would end after `deadline`; sleeps on `clock` between attempts, and calls
// on_retry(RetryEvent) before each wait. Returns the last result. fn returns absl::Status or
// absl::StatusOr<T>.
template <typename Fn, typename Retryable, typename OnRetry>
std::invoke_result_t<Fn&> Retry(const Backoff& backoff, Clock& clock, absl::Time deadline, Fn fn,
                                Retryable retryable, OnRetry on_retry) {
  for (int attempt = 1;; ++attempt) {
    std::invoke_result_t<Fn&> result = fn();
    const absl::Status& status = internal::StatusOf(result);
    if (status.ok() || !retryable(status)) return result;
    const NextAttempt next = backoff.Next(attempt, clock.Now(), deadline);
    if (!next.retry()) return result;
    on_retry(RetryEvent{attempt, status, next.delay});
    clock.SleepFor(next.delay);
  }
}

template <typename Fn, typename Retryable>
std::invoke_result_t<Fn&> Retry(const Backoff& backoff, Clock& clock, absl::Time deadline, Fn fn,
                                Retryable retryable) {
  return Retry(backoff, clock, deadline, std::move(fn), std::move(retryable),
               [](const RetryEvent&) {});
}

}  // namespace orderquery::retry

#endif  // ORDERQUERY_SERVER_COMMON_RETRY_H_
