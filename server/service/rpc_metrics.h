// Per-method RPC metrics: orderquery_rpc_requests_total{method, code} and
// orderquery_rpc_latency_seconds{method}. Handlers take the time when the call arrives and
// Record() it just before Finish; the labelled children are looked up once and cached, so a call
// costs two atomic increments and a histogram observation.
#ifndef ORDERQUERY_SERVER_SERVICE_RPC_METRICS_H_
#define ORDERQUERY_SERVER_SERVICE_RPC_METRICS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <string>

#include "grpcpp/support/status.h"
#include "server/common/metrics.h"

namespace orderquery::service {

// The canonical name of a gRPC status code ("OK", "UNAVAILABLE", ...).
std::string GrpcCodeName(grpc::StatusCode code);

class RpcMetrics {
 public:
  using Clock = std::chrono::steady_clock;

  // `registry` may be null (records nothing). `method` is the full name,
  // "/orderquery.v1.OrderQueryService/QueryRechargeOrder".
  RpcMetrics(metrics::Registry* registry, std::string method);

  void Record(Clock::time_point started, grpc::StatusCode code);

 private:
  static constexpr int kCodes = 17;
  std::string method_;
  metrics::CounterFamily* requests_ = nullptr;
  metrics::Histogram* latency_ = nullptr;
  std::array<std::atomic<metrics::Counter*>, kCodes> by_code_{};
};

}  // namespace orderquery::service

#endif  // ORDERQUERY_SERVER_SERVICE_RPC_METRICS_H_
