#include "server/service/rpc_metrics.h"

#include <utility>

#include "absl/status/status.h"

namespace orderquery::service {

std::string GrpcCodeName(grpc::StatusCode code) {
  // absl::StatusCode has gRPC's codes, value for value.
  std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? "UNKNOWN" : name;
}

RpcMetrics::RpcMetrics(metrics::Registry* registry, std::string method)
    : method_(std::move(method)) {
  if (registry == nullptr) return;
  requests_ = &registry->Counters("orderquery_rpc_requests_total",
                                  "gRPC calls by full method and status code", {"method", "code"});
  latency_ = registry
                 ->Histograms("orderquery_rpc_latency_seconds",
                              "gRPC call latency (handler entry to Finish)", {"method"})
                 .WithLabels({method_});
}

void RpcMetrics::Record(Clock::time_point started, grpc::StatusCode code) {
  if (requests_ == nullptr) return;
  latency_->Observe(std::chrono::duration<double>(Clock::now() - started).count());
  int i = static_cast<int>(code);
  if (i < 0 || i >= kCodes) i = static_cast<int>(grpc::StatusCode::UNKNOWN);
  metrics::Counter* c = by_code_[i].load(std::memory_order_acquire);
  if (c == nullptr) {
    // Two threads may both look it up: WithLabels returns the same child to both.
    c = requests_->WithLabels({method_, GrpcCodeName(static_cast<grpc::StatusCode>(i))});
    by_code_[i].store(c, std::memory_order_release);
  }
  c->Inc();
}

}  // namespace orderquery::service
