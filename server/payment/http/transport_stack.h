// The one factory of the HTTP transport port: the curl transport wrapped in its decorators, as
// google-cloud-cpp stacks its stubs. From the caller down:
//
//   MeasuringTransport(kCalls)     one record per call, with the final outcome; counts requests
//   RetryingTransport              retries on the loop's timers; sets x-oq-attempts / payload
//   LimitingTransport              per-merchant cap, per ATTEMPT: a backoff holds no slot, and a
//                                  retry re-acquires one at the head of the queue
//   MeasuringTransport(kAttempts)  latency and 429s per exchange that went out; counts retries
//   CurlTransport                  one exchange per Send: moves bytes, owns the loop and timers
//
// Why this order: the call-level record must see the outcome after retries; retrying above the
// limiter keeps waits between attempts from holding a merchant's slot; attempt metrics sit
// under the limiter so they time the exchange, not the queue. Logging: upstream failures are
// logged once at the port (server/usecase), so there is no logging layer here; the retry layer
// logs each retry at debug level.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_TRANSPORT_STACK_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_TRANSPORT_STACK_H_

#include <memory>

#include "absl/status/statusor.h"
#include "server/payment/http/transport.h"
#include "server/payment/http/transport_options.h"
#include "server/payment/http/transport_stats.h"

namespace orderquery::payment::http {

// The stack as one Transport, with its counters.
class TransportStack final : public Transport {
 public:
  // Fails on invalid options or when curl cannot be set up (starts the loop thread).
  static absl::StatusOr<std::unique_ptr<TransportStack>> Create(TransportOptions options);

  // Shuts down (see Shutdown). Must not be called from a callback.
  ~TransportStack() override;

  // Thread-safe and non-blocking; `done` runs exactly once, on the loop thread (or on the
  // calling thread once the stack is shut down).
  void Send(Request request, Callback done) override;
  // Fails everything not yet answered (CANCELLED: in flight, queued for a limiter slot, waiting
  // out a backoff) and returns after those callbacks ran; a later Send fails at once on the
  // caller's thread; stats() keeps the last figures. Idempotent; never from a callback.
  void Shutdown() override;

  // Counters since creation, read without stopping anything (each field consistent alone).
  TransportStats stats() const { return counters_->Read(); }

 private:
  TransportStack(std::unique_ptr<Transport> top, std::shared_ptr<TransportCounters> counters);
  std::unique_ptr<Transport> top_;
  std::shared_ptr<TransportCounters> counters_;
};

// The factory the wiring uses: the whole stack above.
absl::StatusOr<std::unique_ptr<Transport>> MakeTransport(TransportOptions options);

}  // namespace orderquery::payment::http

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_TRANSPORT_STACK_H_
