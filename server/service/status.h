// What every handler needs from gRPC at the edge: statuses and the caller's deadline.
#ifndef ORDERQUERY_SERVER_SERVICE_STATUS_H_
#define ORDERQUERY_SERVER_SERVICE_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace orderquery::service {

// absl::Status -> grpc::Status. The codes are numerically identical; the message is kept, as
// every layer below writes messages a caller can act on (and never a secret).
inline grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

// The caller's deadline as an absl::Time (InfiniteFuture when the call has none), so use cases
// can cap upstream calls by it.
inline absl::Time DeadlineOf(const grpc::CallbackServerContext* ctx) {
  const auto d = ctx->deadline();
  if (d == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(d);
}

}  // namespace orderquery::service

#endif  // ORDERQUERY_SERVER_SERVICE_STATUS_H_
