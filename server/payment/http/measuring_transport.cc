#include "server/payment/http/measuring_transport.h"

#include <utility>

#include "server/payment/http/attempt_marks.h"

namespace orderquery::payment::http {
namespace {

// What the metrics read of a request (its labels), without its body; the attempt number is set
// by the caller, with or without metrics.
Request LabelsOf(const Request& r) {
  Request labels;
  labels.limiter_key = r.limiter_key;
  labels.metric_provider = r.metric_provider;
  labels.metric_merchant = r.metric_merchant;
  labels.metric_endpoint = r.metric_endpoint;
  return labels;
}

bool Cancelled(const absl::StatusOr<Response>& outcome) {
  return !outcome.ok() && absl::IsCancelled(outcome.status());
}

}  // namespace

MeasuringTransport::MeasuringTransport(std::unique_ptr<Transport> inner, Level level,
                                       std::shared_ptr<internal::UpstreamMetrics> metrics,
                                       std::shared_ptr<TransportCounters> counters)
    : inner_(std::move(inner)),
      level_(level),
      metrics_(std::move(metrics)),
      counters_(std::move(counters)) {}

void MeasuringTransport::Send(Request request, Callback done) {
  // The callbacks hold what they record into, not `this`.
  auto metrics = metrics_;
  auto counters = counters_;
  // The labels are copied only when there is a registry to record them into.
  Request labels = metrics ? LabelsOf(request) : Request();
  labels.attempt = request.attempt;
  if (level_ == Level::kCalls) {
    if (counters) counters->requests.fetch_add(1, std::memory_order_relaxed);
    inner_->Send(std::move(request), [metrics, labels = std::move(labels),
                                      done = std::move(done)](absl::StatusOr<Response> outcome) {
      if (metrics && !Cancelled(outcome)) metrics->Finished(labels, outcome);
      done(std::move(outcome));
    });
    return;
  }
  inner_->Send(std::move(request), [metrics, counters, labels = std::move(labels),
                                    done = std::move(done)](absl::StatusOr<Response> outcome) {
    const bool sent = outcome.ok() || !internal::IsNotSent(outcome.status());
    if (sent && !Cancelled(outcome)) {
      if (labels.attempt > 1) {
        if (counters) counters->retries.fetch_add(1, std::memory_order_relaxed);
        if (metrics) metrics->Retry(labels);
      }
      if (metrics) metrics->AttemptDone(labels, internal::ElapsedOf(outcome), outcome);
    }
    done(std::move(outcome));
  });
}

}  // namespace orderquery::payment::http
