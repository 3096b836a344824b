// Decorator: the upstream metrics (orderquery_upstream_*, upstream_metrics.h) and the stack's
// counters (transport_stats.h), recorded as answers pass through. It sits twice in the stack:
//   kCalls     above the retries: one record per call with its final outcome
//              (orderquery_upstream_requests_total; TransportStats::requests);
//   kAttempts  right above the curl transport: one record per exchange that went out
//              (orderquery_upstream_latency_seconds, orderquery_upstream_rate_limited_total,
//              and for attempts after the first orderquery_upstream_retries_total and
//              TransportStats::retries).
// Answers of a shutdown (CANCELLED) are not recorded, nor attempts that were never sent.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_MEASURING_TRANSPORT_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_MEASURING_TRANSPORT_H_

#include <memory>

#include "server/payment/http/transport.h"
#include "server/payment/http/transport_stats.h"
#include "server/payment/http/upstream_metrics.h"

namespace orderquery::payment::http {

class MeasuringTransport final : public Transport {
 public:
  enum class Level { kCalls, kAttempts };

  // `metrics` and `counters` may be null (nothing recorded there).
  MeasuringTransport(std::unique_ptr<Transport> inner, Level level,
                     std::shared_ptr<internal::UpstreamMetrics> metrics,
                     std::shared_ptr<TransportCounters> counters = nullptr);

  void Send(Request request, Callback done) override;
  void Shutdown() override { inner_->Shutdown(); }

 private:
  const std::unique_ptr<Transport> inner_;
  const Level level_;
  const std::shared_ptr<internal::UpstreamMetrics> metrics_;
  const std::shared_ptr<TransportCounters> counters_;
};

}  // namespace orderquery::payment::http

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_MEASURING_TRANSPORT_H_
