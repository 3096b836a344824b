#include "server/payment/http/transport_stack.h"

#include <utility>

#include "server/payment/http/curl_transport.h"
#include "server/payment/http/limiting_transport.h"
#include "server/payment/http/measuring_transport.h"
#include "server/payment/http/retrying_transport.h"
#include "server/payment/http/upstream_metrics.h"

namespace orderquery::payment::http {

absl::StatusOr<std::unique_ptr<TransportStack>> TransportStack::Create(TransportOptions options) {
  auto counters = std::make_shared<TransportCounters>();
  // One registration of the families, shared by the layers that record into them; none without
  // a registry (the layers then only count).
  std::shared_ptr<internal::UpstreamMetrics> metrics;
  if (options.metrics != nullptr) {
    metrics = std::make_shared<internal::UpstreamMetrics>(options.metrics);
  }
  absl::StatusOr<std::unique_ptr<CurlTransport>> curl = CurlTransport::Create(options, counters);
  if (!curl.ok()) return curl.status();
  // The decorators wait on the curl transport's loop; it lives at the bottom of what they own.
  Timers* timers = curl->get();

  std::unique_ptr<Transport> t = std::move(*curl);
  t = std::make_unique<MeasuringTransport>(std::move(t), MeasuringTransport::Level::kAttempts,
                                           metrics, counters);
  t = std::make_unique<LimitingTransport>(
      std::move(t), timers,
      LimitingTransport::Options{options.max_inflight_per_key, options.max_queue_per_key}, counters,
      metrics);
  t = std::make_unique<RetryingTransport>(std::move(t), timers, options.retry,
                                          options.jitter_random);
  t = std::make_unique<MeasuringTransport>(std::move(t), MeasuringTransport::Level::kCalls, metrics,
                                           counters);
  return std::unique_ptr<TransportStack>(new TransportStack(std::move(t), std::move(counters)));
}

TransportStack::TransportStack(std::unique_ptr<Transport> top,
                               std::shared_ptr<TransportCounters> counters)
    : top_(std::move(top)), counters_(std::move(counters)) {}

TransportStack::~TransportStack() { Shutdown(); }

void TransportStack::Send(Request request, Callback done) {
  top_->Send(std::move(request), std::move(done));
}

void TransportStack::Shutdown() { top_->Shutdown(); }

absl::StatusOr<std::unique_ptr<Transport>> MakeTransport(TransportOptions options) {
  absl::StatusOr<std::unique_ptr<TransportStack>> t = TransportStack::Create(std::move(options));
  if (!t.ok()) return t.status();
  return std::unique_ptr<Transport>(std::move(*t));
}

}  // namespace orderquery::payment::http
