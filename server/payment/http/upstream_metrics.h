// The transport's upstream metrics (orderquery_upstream_*), recorded by MeasuringTransport (and
// the limiter waits by LimitingTransport) from any thread. Internal to the transport.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_UPSTREAM_METRICS_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_UPSTREAM_METRICS_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/common/metrics.h"
#include "server/payment/http/transport.h"

namespace orderquery::payment::http::internal {

class UpstreamMetrics {
 public:
  // Registers the families in `registry`; null records nothing.
  explicit UpstreamMetrics(metrics::Registry* registry);

  // A call waited for the per-merchant in-flight cap.
  void LimiterWait(const Request& r);
  // An attempt after the first started.
  void Retry(const Request& r);
  // An attempt ended after `took` with `outcome` (latency; 429s).
  void AttemptDone(const Request& r, absl::Duration took, const absl::StatusOr<Response>& outcome);
  // A call ended with its final outcome: the HTTP status, or transport_error.
  void Finished(const Request& r, const absl::StatusOr<Response>& outcome);

 private:
  metrics::CounterFamily* requests_ = nullptr;
  metrics::HistogramFamily* latency_ = nullptr;
  metrics::CounterFamily* retries_ = nullptr;
  metrics::CounterFamily* rate_limited_ = nullptr;
  metrics::CounterFamily* limiter_waits_ = nullptr;
};

}  // namespace orderquery::payment::http::internal

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_UPSTREAM_METRICS_H_
