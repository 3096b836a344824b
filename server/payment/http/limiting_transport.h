// Decorator: the per-merchant in-flight cap (limiter.h) in front of another Transport. A request
// with a non-empty limiter_key runs when its key has a free slot, else waits in the key's FIFO
// queue; a full queue refuses it (RESOURCE_EXHAUSTED), a queued request whose deadline passes
// fails DEADLINE_EXCEEDED at that moment (a timer), and a retry (Request::attempt > 1) goes to
// the head of the queue past its bound: it already waited its turn once. The slot is held
// while the inner transport works on the request and handed straight to the next in line.
//
// Send may be called from any thread: the KeyedLimiter is guarded by a mutex, never held while
// calling out (inner Send, timers, callbacks). Refusals and queue deadlines are answered on the
// timers' (loop) thread, never inside Send.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_LIMITING_TRANSPORT_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_LIMITING_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "server/payment/http/limiter.h"
#include "server/payment/http/timers.h"
#include "server/payment/http/transport.h"
#include "server/payment/http/transport_stats.h"
#include "server/payment/http/upstream_metrics.h"

namespace orderquery::payment::http {

class LimitingTransport final : public Transport {
 public:
  struct Options {
    int max_inflight_per_key = 32;  // 0 = no cap
    size_t max_queue_per_key = 1024;
  };

  // `timers` must outlive this object (in the stack it is the curl transport, owned below
  // `inner`). `counters` (rejected) and `metrics` (limiter waits) may be null.
  LimitingTransport(std::unique_ptr<Transport> inner, Timers* timers, Options options,
                    std::shared_ptr<TransportCounters> counters = nullptr,
                    std::shared_ptr<internal::UpstreamMetrics> metrics = nullptr);
  ~LimitingTransport() override;

  void Send(Request request, Callback done) override;
  // Fails every queued request (CANCELLED) on the calling thread, then shuts the inner one.
  void Shutdown() override;

 private:
  struct Waiting {
    Request request;
    Callback done;
    Timers::TimerId deadline_timer = 0;
  };

  // Sends with a slot held; the answer gives it back.
  void Dispatch(Request request, Callback done);
  // Gives back a slot of `key` and runs whoever it passes to.
  void Release(const std::string& key);
  void OnQueueDeadline(uint64_t id, const absl::Status& timer);

  const std::unique_ptr<Transport> inner_;
  Timers* const timers_;
  const Options options_;
  const std::shared_ptr<TransportCounters> counters_;
  const std::shared_ptr<internal::UpstreamMetrics> metrics_;

  std::mutex mu_;
  bool shut_ = false;                              // guarded by mu_
  uint64_t next_id_ = 1;                           // guarded by mu_
  KeyedLimiter limiter_;                           // guarded by mu_
  std::unordered_map<uint64_t, Waiting> waiting_;  // guarded by mu_; the limiter's queued ids
};

}  // namespace orderquery::payment::http

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_LIMITING_TRANSPORT_H_
