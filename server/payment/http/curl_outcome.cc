// The end of an attempt and of a call: curl's result mapped to a Response or a Status, the retry
// decision (retry.h) turned into a timer of the loop, and the final answer handed to the caller
// with its attempt count.
#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/payment/http/curl_errors.h"
#include "server/payment/http/curl_loop.h"

namespace orderquery::payment::http {
namespace {

// Appends the attempt count: a header of a Response, a payload (and a note in the message) of a
// failure.
void Annotate(int attempts, absl::StatusOr<Response>& outcome) {
  if (outcome.ok()) {
    outcome->headers.emplace_back(kAttemptsHeader, absl::StrCat(attempts));
    return;
  }
  absl::Status s = outcome.status();
  if (attempts > 1) {
    absl::Status annotated(s.code(), absl::StrCat(s.message(), " (after ", attempts, " attempts)"));
    s = annotated;
  }
  s.SetPayload(kAttemptsPayloadUrl, absl::Cord(absl::StrCat(attempts)));
  outcome = s;
}

}  // namespace

void CurlTransport::Loop::OnAttemptDone(Call& c, CURLcode code) {
  const absl::Time now = absl::Now();
  long connects = 0;     // NOLINT(runtime/int): curl's type
  long http_status = 0;  // NOLINT(runtime/int)
  curl_off_t connect_us = 0;
  curl_easy_getinfo(c.easy, CURLINFO_NUM_CONNECTS, &connects);
  curl_easy_getinfo(c.easy, CURLINFO_RESPONSE_CODE, &http_status);
  curl_easy_getinfo(c.easy, CURLINFO_CONNECT_TIME_T, &connect_us);
  // A reused keep-alive connection reports connect time 0; bytes sent prove we were connected.
  long request_bytes = 0;  // NOLINT(runtime/int)
  curl_easy_getinfo(c.easy, CURLINFO_REQUEST_SIZE, &request_bytes);
  connections_.fetch_add(static_cast<uint64_t>(std::max(0L, connects)), std::memory_order_relaxed);
  inflight_.fetch_sub(1, std::memory_order_relaxed);
  CleanupEasy(c);

  bool attempt_timeout = false;
  absl::StatusOr<Response> outcome;
  if (code == CURLE_OK) {
    Response response = std::move(c.response);
    response.status = static_cast<int>(http_status);
    outcome = std::move(response);
  } else {
    internal::CurlFailure f;
    f.code = code;
    f.url = c.request.url;
    f.error_buffer = c.error;
    f.connected = connect_us > 0 || request_bytes > 0;
    f.connect_capped_by_deadline = c.connect_capped_by_deadline;
    f.total_capped_by_deadline = c.total_capped_by_deadline;
    f.body_too_large = c.body_too_large;
    f.attempt = c.attempts;
    outcome = internal::MapCurlError(f, options_, &attempt_timeout);
  }
  ReleaseSlot(c);

  const absl::Duration took = now - c.attempt_start;
  metrics_.AttemptDone(c.request, took, outcome);
  RetryDecision d = policy_.Decide(c.request.idempotent, outcome, attempt_timeout, c.attempts, now,
                                   c.request.deadline, took);
  if (!d.retry) {
    Finish(c.id, std::move(outcome));
    return;
  }
  log::Debug("http_retry", {{"host", internal::HostOf(c.request.url)},
                            {"attempt", c.attempts},
                            {"outcome", outcome.ok() ? absl::StrCat("http ", outcome->status)
                                                     : outcome.status().ToString()},
                            {"backoff_ms", absl::ToInt64Milliseconds(d.delay)}});
  c.last_outcome = std::move(outcome);
  c.phase = Phase::kBackoff;
  timers_.emplace(now + d.delay, Timer{c.id, TimerKind::kRetry});
}

void CurlTransport::Loop::FireDueTimers(absl::Time now) {
  while (!timers_.empty() && timers_.begin()->first <= now) {
    Timer t = timers_.begin()->second;
    timers_.erase(timers_.begin());
    auto it = calls_.find(t.call_id);
    if (it == calls_.end()) continue;
    Call& c = *it->second;
    if (t.kind == TimerKind::kRetry && c.phase == Phase::kBackoff) {
      // A retry already waited its turn once: it goes to the head of the queue.
      if (limiter_.Acquire(c.request.limiter_key, c.id, /*priority=*/true) ==
          KeyedLimiter::Admission::kRun) {
        c.holds_slot = true;
        StartAttempt(c);
      } else {
        Queue(c);
      }
    } else if (t.kind == TimerKind::kQueueDeadline && c.phase == Phase::kQueued) {
      limiter_.Cancel(c.request.limiter_key, c.id);
      FinishWithLastOr(c.id, absl::DeadlineExceededError(absl::StrCat(
                                 "deadline passed while waiting for a slot of limiter key '",
                                 c.request.limiter_key, "'")));
    }
  }
}

// After a retry was granted, a later failure that is not an upstream answer (deadline passed
// in the queue) reports the last real outcome instead: it says more about the upstream.
void CurlTransport::Loop::FinishWithLastOr(uint64_t id, absl::Status status) {
  auto it = calls_.find(id);
  if (it != calls_.end() && it->second->last_outcome.has_value()) {
    absl::StatusOr<Response> last = std::move(*it->second->last_outcome);
    Finish(id, std::move(last));
    return;
  }
  Finish(id, std::move(status));
}

void CurlTransport::Loop::Finish(uint64_t id, absl::StatusOr<Response> outcome) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  std::unique_ptr<Call> c = std::move(it->second);
  calls_.erase(it);
  if (c->phase == Phase::kQueued) limiter_.Cancel(c->request.limiter_key, c->id);
  ReleaseSlot(*c);
  CleanupEasy(*c);
  metrics_.Finished(c->request, outcome);
  Annotate(c->attempts, outcome);
  Callback done = std::move(c->done);
  c.reset();
  done(std::move(outcome));
}

}  // namespace orderquery::payment::http
