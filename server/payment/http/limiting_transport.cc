#include "server/payment/http/limiting_transport.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/payment/http/attempt_marks.h"

namespace orderquery::payment::http {
namespace {

using internal::ShutDownError;

}  // namespace

LimitingTransport::LimitingTransport(std::unique_ptr<Transport> inner, Timers* timers,
                                     Options options, std::shared_ptr<TransportCounters> counters,
                                     std::shared_ptr<internal::UpstreamMetrics> metrics)
    : inner_(std::move(inner)),
      timers_(timers),
      options_(options),
      counters_(std::move(counters)),
      metrics_(std::move(metrics)),
      limiter_(options.max_inflight_per_key, options.max_queue_per_key) {}

LimitingTransport::~LimitingTransport() { Shutdown(); }

void LimitingTransport::Send(Request request, Callback done) {
  // Not limited: no key, no cap, or too late to wait (the inner transport answers
  // DEADLINE_EXCEEDED without sending, as it does for any late request).
  if (request.limiter_key.empty() || options_.max_inflight_per_key <= 0 ||
      request.deadline <= absl::Now()) {
    inner_->Send(std::move(request), std::move(done));
    return;
  }
  const bool retry = request.attempt > 1;
  const absl::Time deadline = request.deadline;
  uint64_t id = 0;
  KeyedLimiter::Admission admission = KeyedLimiter::Admission::kRejected;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!shut_) {
      id = next_id_++;
      admission = limiter_.Acquire(request.limiter_key, id, /*priority=*/retry);
      if (admission == KeyedLimiter::Admission::kQueued) {
        if (!retry && metrics_) metrics_->LimiterWait(request);
        waiting_.emplace(id, Waiting{std::move(request), std::move(done)});
      }
    }
  }
  if (id == 0) {
    done(ShutDownError());
    return;
  }
  switch (admission) {
    case KeyedLimiter::Admission::kRun:
      Dispatch(std::move(request), std::move(done));
      return;
    case KeyedLimiter::Admission::kRejected: {
      if (counters_) counters_->rejected.fetch_add(1, std::memory_order_relaxed);
      absl::Status refused = internal::MarkNotSent(absl::ResourceExhaustedError(
          absl::StrCat("http transport: more than ", options_.max_queue_per_key,
                       " requests waiting for limiter key '", request.limiter_key, "'")));
      // Answered on the loop thread, as every other answer: never inside the caller's Send.
      timers_->RunAt(absl::InfinitePast(), [done = std::move(done), refused](absl::Status timer) {
        done(timer.ok() ? refused : timer);
      });
      return;
    }
    case KeyedLimiter::Admission::kQueued:
      break;
  }
  if (deadline == absl::InfiniteFuture()) return;
  const Timers::TimerId timer =
      timers_->RunAt(deadline, [this, id](absl::Status s) { OnQueueDeadline(id, s); });
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiting_.find(id);
    if (it != waiting_.end()) {
      it->second.deadline_timer = timer;
      return;
    }
  }
  timers_->Cancel(timer);  // it got its slot already
}

void LimitingTransport::Dispatch(Request request, Callback done) {
  std::string key = request.limiter_key;
  inner_->Send(std::move(request),
               [this, key = std::move(key), done = std::move(done)](absl::StatusOr<Response> r) {
                 Release(key);
                 done(std::move(r));
               });
}

void LimitingTransport::Release(const std::string& key) {
  std::vector<Waiting> expired;
  std::optional<Waiting> next_up;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = absl::Now();
    // The slot passes to the first in line; one whose deadline passed hands it on at once.
    for (std::optional<uint64_t> next = limiter_.Release(key); next.has_value();
         next = limiter_.Release(key)) {
      auto it = waiting_.find(*next);
      if (it == waiting_.end()) continue;  // queued ids are always in waiting_: a safety net
      Waiting w = std::move(it->second);
      waiting_.erase(it);
      if (w.request.deadline <= now) {
        expired.push_back(std::move(w));
        continue;
      }
      next_up = std::move(w);
      break;
    }
  }
  for (Waiting& w : expired) {
    if (w.deadline_timer != 0) timers_->Cancel(w.deadline_timer);
    w.done(internal::MarkNotSent(
        absl::DeadlineExceededError("deadline passed while waiting for a limiter slot")));
  }
  if (next_up.has_value()) {
    if (next_up->deadline_timer != 0) timers_->Cancel(next_up->deadline_timer);
    Dispatch(std::move(next_up->request), std::move(next_up->done));
  }
}

void LimitingTransport::OnQueueDeadline(uint64_t id, const absl::Status& timer) {
  Waiting w;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiting_.find(id);
    if (it == waiting_.end()) return;  // got its slot, or shut down
    w = std::move(it->second);
    waiting_.erase(it);
    limiter_.Cancel(w.request.limiter_key, id);
  }
  if (!timer.ok()) {
    w.done(ShutDownError());
    return;
  }
  w.done(internal::MarkNotSent(absl::DeadlineExceededError(absl::StrCat(
      "deadline passed while waiting for a slot of limiter key '", w.request.limiter_key, "'"))));
}

void LimitingTransport::Shutdown() {
  std::vector<Waiting> cancelled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut_ = true;
    for (auto& [id, w] : waiting_) {
      limiter_.Cancel(w.request.limiter_key, id);
      cancelled.push_back(std::move(w));
    }
    waiting_.clear();
  }
  for (Waiting& w : cancelled) {
    if (w.deadline_timer != 0) timers_->Cancel(w.deadline_timer);
    w.done(ShutDownError());
  }
  inner_->Shutdown();
}

}  // namespace orderquery::payment::http
