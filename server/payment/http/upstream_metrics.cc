#include "server/payment/http/upstream_metrics.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace orderquery::payment::http::internal {
namespace {

// Labels; few values each (never an order number).
std::string Provider(const Request& r) {
  return r.metric_provider.empty() ? "unknown" : r.metric_provider;
}
std::string Merchant(const Request& r) {
  return r.metric_merchant.empty() ? r.limiter_key : r.metric_merchant;
}
std::string Endpoint(const Request& r) {
  return r.metric_endpoint.empty() ? "other" : r.metric_endpoint;
}

}  // namespace

UpstreamMetrics::UpstreamMetrics(metrics::Registry* r) {
  if (r == nullptr) return;
  requests_ = &r->Counters("orderquery_upstream_requests_total",
                           "Provider calls by final outcome: the HTTP status, or "
                           "transport_error when no HTTP answer came",
                           {"provider", "merchant", "endpoint", "outcome"});
  latency_ = &r->Histograms("orderquery_upstream_latency_seconds",
                            "Provider call latency, per attempt", {"provider", "endpoint"});
  retries_ = &r->Counters("orderquery_upstream_retries_total", "Attempts after the first (retries)",
                          {"provider", "merchant"});
  rate_limited_ = &r->Counters("orderquery_upstream_rate_limited_total",
                               "HTTP 429 replies (per attempt)", {"provider", "merchant"});
  limiter_waits_ = &r->Counters("orderquery_upstream_limiter_waits_total",
                                "Calls that waited for the per-merchant in-flight cap",
                                {"provider", "merchant"});
}

void UpstreamMetrics::LimiterWait(const Request& r) {
  if (limiter_waits_ != nullptr) limiter_waits_->WithLabels({Provider(r), Merchant(r)})->Inc();
}

void UpstreamMetrics::Retry(const Request& r) {
  if (retries_ != nullptr) retries_->WithLabels({Provider(r), Merchant(r)})->Inc();
}

void UpstreamMetrics::AttemptDone(const Request& r, absl::Duration took,
                                  const absl::StatusOr<Response>& outcome) {
  if (latency_ == nullptr) return;
  latency_->WithLabels({Provider(r), Endpoint(r)})->Observe(absl::ToDoubleSeconds(took));
  if (outcome.ok() && outcome->status == 429) {
    rate_limited_->WithLabels({Provider(r), Merchant(r)})->Inc();
  }
}

void UpstreamMetrics::Finished(const Request& r, const absl::StatusOr<Response>& outcome) {
  if (requests_ == nullptr) return;
  requests_
      ->WithLabels({Provider(r), Merchant(r), Endpoint(r),
                    outcome.ok() ? absl::StrCat(outcome->status) : "transport_error"})
      ->Inc();
}

}  // namespace orderquery::payment::http::internal
