#include "server/service/rpc_metrics.h"

#include <utility>

namespace orderquery::service {

const char* GrpcCodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? kNames[i] : "UNKNOWN";
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
