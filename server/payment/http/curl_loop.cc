// The event loop: one thread drives the curl multi handle; requests come in through Submit(),
// wait for a limiter slot, run as attempts (curl_attempt.cc), and end in curl_outcome.cc.
#include "server/payment/http/curl_loop.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace orderquery::payment::http {

CurlTransport::Loop::Loop(TransportOptions options, CURLM* multi)
    : options_(std::move(options)),
      multi_(multi),
      policy_(options_.retry, options_.jitter_random),
      limiter_(options_.max_inflight_per_key, options_.max_queue_per_key),
      metrics_(options_.metrics) {}

CurlTransport::Loop::~Loop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    // Under the lock so no Submit() can wake a multi handle that is being cleaned up.
    curl_multi_wakeup(multi_);
  }
  if (thread_.joinable()) thread_.join();
  curl_multi_cleanup(multi_);
}

void CurlTransport::Loop::StartThread() {
  thread_ = std::thread([this] { Run(); });
}

void CurlTransport::Loop::Submit(Request request, Callback done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      incoming_.push_back(Pending{std::move(request), std::move(done)});
      curl_multi_wakeup(multi_);
      return;
    }
  }
  done(absl::CancelledError("http transport shut down"));
}

CurlTransport::Stats CurlTransport::Loop::stats() const {
  CurlTransport::Stats s;
  s.requests = requests_.load(std::memory_order_relaxed);
  s.attempts = attempts_.load(std::memory_order_relaxed);
  s.retries = retries_.load(std::memory_order_relaxed);
  s.connections_opened = connections_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.inflight = inflight_.load(std::memory_order_relaxed);
  return s;
}

void CurlTransport::Loop::Run() {
  for (;;) {
    std::vector<Pending> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
      batch.swap(incoming_);
    }
    for (Pending& p : batch) Accept(std::move(p));
    StartReady();
    FireDueTimers(absl::Now());
    StartReady();
    int running = 0;
    curl_multi_perform(multi_, &running);
    ReapCompleted();
    StartReady();
    curl_multi_poll(multi_, nullptr, 0, WaitMillis(), nullptr);
  }
  FailEverything();
}

int CurlTransport::Loop::WaitMillis() const {
  long curl_ms = -1;  // NOLINT(runtime/int): curl's type
  curl_multi_timeout(multi_, &curl_ms);
  int64_t wait = curl_ms < 0 ? 1000 : curl_ms;
  if (!timers_.empty()) {
    absl::Duration until = timers_.begin()->first - absl::Now();
    wait = std::min(
        wait,
        std::max<int64_t>(0, absl::ToInt64Milliseconds(absl::Ceil(until, absl::Milliseconds(1)))));
  }
  return static_cast<int>(std::clamp<int64_t>(wait, 0, 1000));
}

void CurlTransport::Loop::Accept(Pending p) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  auto call = std::make_unique<Call>();
  const uint64_t id = next_id_++;
  call->id = id;
  call->request = std::move(p.request);
  call->done = std::move(p.done);
  Call& c = *call;
  calls_.emplace(id, std::move(call));

  if (c.request.deadline <= absl::Now()) {
    Finish(id, absl::DeadlineExceededError("deadline passed before the request was sent"));
    return;
  }
  switch (limiter_.Acquire(c.request.limiter_key, id)) {
    case KeyedLimiter::Admission::kRun:
      c.holds_slot = true;
      StartAttempt(c);
      return;
    case KeyedLimiter::Admission::kQueued:
      metrics_.LimiterWait(c.request);
      Queue(c);
      return;
    case KeyedLimiter::Admission::kRejected:
      rejected_.fetch_add(1, std::memory_order_relaxed);
      Finish(id, absl::ResourceExhaustedError(absl::StrCat(
                     "http transport: more than ", options_.max_queue_per_key,
                     " requests waiting for limiter key '", c.request.limiter_key, "'")));
      return;
  }
}

void CurlTransport::Loop::Queue(Call& c) {
  c.phase = Phase::kQueued;
  if (c.request.deadline != absl::InfiniteFuture()) {
    timers_.emplace(c.request.deadline, Timer{c.id, TimerKind::kQueueDeadline});
  }
}

// Runs the calls that were handed a limiter slot, iteratively: starting one may finish it at
// once and hand its slot on again.
void CurlTransport::Loop::StartReady() {
  while (!ready_.empty()) {
    const uint64_t id = ready_.front();
    ready_.pop_front();
    auto it = calls_.find(id);
    // Finished meanwhile (its Finish passed the slot on already).
    if (it == calls_.end() || it->second->phase != Phase::kNew) continue;
    StartAttempt(*it->second);
  }
}

// Gives the slot back; the limiter may hand it to the next queued call, which holds it from
// this moment (so finishing it before it starts still passes the slot on).
void CurlTransport::Loop::ReleaseSlot(Call& c) {
  if (!c.holds_slot) return;
  c.holds_slot = false;
  std::optional<uint64_t> next = limiter_.Release(c.request.limiter_key);
  while (next.has_value()) {
    auto it = calls_.find(*next);
    if (it != calls_.end()) {
      it->second->holds_slot = true;
      it->second->phase = Phase::kNew;
      ready_.push_back(*next);
      return;
    }
    // Queued calls leave the queue when they finish, so this is only a safety net.
    next = limiter_.Release(c.request.limiter_key);
  }
}

void CurlTransport::Loop::ReapCompleted() {
  std::vector<std::pair<Call*, CURLcode>> done;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Call* c = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &c);
    done.emplace_back(c, msg->data.result);
  }
  for (auto& [c, code] : done) OnAttemptDone(*c, code);
}

void CurlTransport::Loop::FailEverything() {
  std::vector<Callback> callbacks;
  for (auto& [id, c] : calls_) {
    if (c->easy != nullptr) inflight_.fetch_sub(1, std::memory_order_relaxed);
    CleanupEasy(*c);
    callbacks.push_back(std::move(c->done));
  }
  calls_.clear();
  timers_.clear();
  ready_.clear();
  std::vector<Pending> late;
  {
    std::lock_guard<std::mutex> lock(mu_);
    late.swap(incoming_);
  }
  for (Pending& p : late) callbacks.push_back(std::move(p.done));
  for (Callback& cb : callbacks) cb(absl::CancelledError("http transport shut down"));
}

}  // namespace orderquery::payment::http
