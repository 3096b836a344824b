// absl::Status -> grpc::Status. The codes are numerically identical; the message is kept, as
// every layer below writes messages a caller can act on (and never a secret).
#ifndef ORDERQUERY_SERVER_SERVICE_STATUS_H_
#define ORDERQUERY_SERVER_SERVICE_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace orderquery::service {

inline grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace orderquery::service

#endif  // ORDERQUERY_SERVER_SERVICE_STATUS_H_
