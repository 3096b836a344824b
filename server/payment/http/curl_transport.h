// The libcurl transport: it only moves bytes. One event-loop thread drives a curl multi handle,
// so any number of exchanges are in flight on that one thread; connections are kept alive in the
// multi handle's cache and reused (HTTP/1.1).
//
// Each Send is ONE exchange, with connect timeout = min(connect_timeout, time left) and total
// timeout = min(request_timeout, time left). No limiting, no retries, no metrics: those are the
// decorators transport_stack.h stacks on top (MakeTransport builds the whole
// stack, which is what the wiring and the tests use). The transport also offers the timers of
// its loop (timers.h) so the decorators wait on the loop thread.
//
// Failure statuses carry marks for the decorators (attempt_marks.h): not sent, per-attempt
// timeout (vs the caller's deadline), and the exchange's duration.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_CURL_TRANSPORT_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_CURL_TRANSPORT_H_

#include <memory>
#include <mutex>

#include "absl/status/statusor.h"
#include "server/payment/http/timers.h"
#include "server/payment/http/transport.h"
#include "server/payment/http/transport_options.h"
#include "server/payment/http/transport_stats.h"

namespace orderquery::payment::http {

class CurlTransport final : public Transport, public Timers {
 public:
  // Starts the event-loop thread. Fails on invalid options or when curl cannot be set up.
  // `counters` (may be null) receives attempts, connections_opened and inflight.
  static absl::StatusOr<std::unique_ptr<CurlTransport>> Create(
      TransportOptions options, std::shared_ptr<TransportCounters> counters = nullptr);

  // Fails every exchange not yet answered and every pending timer (CANCELLED, "transport shut
  // down") on the loop thread, then joins it. Must not be called from a callback.
  ~CurlTransport() override;
  // The same, while the object stays: a later Send or RunAt fails at once (CANCELLED, on the
  // caller's thread). Must not be called from a callback.
  void Shutdown() override;

  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  // Thread-safe and non-blocking: queues the exchange and wakes the loop. `done` runs exactly
  // once on the loop thread (or on the calling thread once the transport is shut down).
  void Send(Request request, Callback done) override;

  TimerId RunAt(absl::Time when, TimerFn fn) override;
  bool Cancel(TimerId id) override;

 private:
  class Loop;
  explicit CurlTransport(std::unique_ptr<Loop> loop);
  std::mutex mu_;
  std::unique_ptr<Loop> loop_;  // guarded by mu_; null once shut down
};

}  // namespace orderquery::payment::http

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_CURL_TRANSPORT_H_
