// The event loop: one thread drives the curl multi handle (curl_sockets.cc); exchanges come in
// through Submit() and run at once (curl_attempt.cc), end in curl_outcome.cc; timers (RunAt) run
// between two turns of the multi handle.
#include "server/payment/http/curl_loop.h"

#include <algorithm>
#include <utility>

#include "server/payment/http/attempt_marks.h"

namespace orderquery::payment::http {
namespace {

using internal::ShutDownError;

}  // namespace

CurlTransport::Loop::Loop(TransportOptions options, CURLM* multi,
                          std::shared_ptr<TransportCounters> counters)
    : options_(std::move(options)), multi_(multi), counters_(std::move(counters)) {}

CurlTransport::Loop::~Loop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    // Under the lock so no Submit() can wake a loop whose fds are being closed.
    Wake();
  }
  if (thread_.joinable()) thread_.join();
  FreeSpareEasy();
  curl_multi_cleanup(multi_);  // may still tell OnSocket to drop sockets: fds close after
  CloseFds();
}

void CurlTransport::Loop::StartThread() {
  thread_ = std::thread([this] { Run(); });
}

void CurlTransport::Loop::Submit(Request request, Callback done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      incoming_.push_back(Pending{std::move(request), std::move(done)});
      Wake();
      return;
    }
  }
  done(ShutDownError());
}

Timers::TimerId CurlTransport::Loop::RunAt(absl::Time when, TimerFn fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      const TimerId id = next_timer_++;
      timers_.emplace(id, TimerEntry{when, std::move(fn)});
      timer_order_.emplace(when, id);
      // The loop may be sleeping past `when`; waking it costs one more turn.
      Wake();
      return id;
    }
  }
  fn(ShutDownError());
  return 0;
}

bool CurlTransport::Loop::Cancel(TimerId id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = timers_.find(id);
  if (it == timers_.end()) return false;
  timer_order_.erase({it->second.when, id});
  timers_.erase(it);
  return true;
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
    RunDueTimers();
    DriveCurl(WaitMillis());
  }
  FailEverything();
}

int CurlTransport::Loop::WaitMillis() {
  const absl::Time now = absl::Now();
  auto millis_until = [now](absl::Time t) {
    if (t == absl::InfiniteFuture()) return int64_t{1000};
    return std::max<int64_t>(0,
                             absl::ToInt64Milliseconds(absl::Ceil(t - now, absl::Milliseconds(1))));
  };
  int64_t wait = millis_until(curl_due_);
  std::lock_guard<std::mutex> lock(mu_);
  if (!incoming_.empty()) return 0;
  if (!timer_order_.empty()) wait = std::min(wait, millis_until(timer_order_.begin()->first));
  return static_cast<int>(std::clamp<int64_t>(wait, 0, 1000));
}

// Runs the timers due now, one at a time and without the lock: a timer may arm another one or
// cancel one that is due too.
void CurlTransport::Loop::RunDueTimers() {
  const absl::Time now = absl::Now();
  for (;;) {
    TimerFn fn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (timer_order_.empty() || timer_order_.begin()->first > now) return;
      const TimerId id = timer_order_.begin()->second;
      timer_order_.erase(timer_order_.begin());
      auto it = timers_.find(id);
      fn = std::move(it->second.fn);
      timers_.erase(it);
    }
    fn(absl::OkStatus());
  }
}

void CurlTransport::Loop::ReapCompleted() {
  std::vector<std::pair<Exchange*, CURLcode>> done;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Exchange* x = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &x);
    done.emplace_back(x, msg->data.result);
  }
  for (auto& [x, code] : done) OnExchangeDone(x, code);
}

// On the loop thread once stopping_ is set: every exchange in flight, every pending timer and
// every exchange submitted but not accepted is answered CANCELLED. What those callbacks submit or
// arm meanwhile fails at once (stopping_).
void CurlTransport::Loop::FailEverything() {
  std::vector<Callback> callbacks;
  for (auto& [ptr, x] : running_) {
    counters_->inflight.fetch_sub(1, std::memory_order_relaxed);
    CleanupEasy(*x);
    callbacks.push_back(std::move(x->done));
  }
  running_.clear();
  std::vector<Pending> late;
  std::vector<TimerFn> timers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    late.swap(incoming_);
    for (auto& [id, t] : timers_) timers.push_back(std::move(t.fn));
    timers_.clear();
    timer_order_.clear();
  }
  for (Pending& p : late) callbacks.push_back(std::move(p.done));
  for (Callback& cb : callbacks) cb(ShutDownError());
  for (TimerFn& fn : timers) fn(ShutDownError());
}

}  // namespace orderquery::payment::http
