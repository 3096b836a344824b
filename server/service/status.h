// What every handler needs from gRPC at the edge: statuses and the caller's deadline.
#ifndef ORDERQUERY_SERVER_SERVICE_STATUS_H_
#define ORDERQUERY_SERVER_SERVICE_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace orderquery::service {

// Trailing metadata key of a failed call's correlation id (also in its message).
inline constexpr char kCorrelationIdKey[] = "x-correlation-id";

// The payment provider a method's messages name: a fixed one (the vehicle RPC is WeChat's API,
// GetTradeOrder the merchant API's), or kAnswering: the provider whose call failed, as the
// status names it (usecase::UpstreamProviderOf, the registered provider's display name), else
// "the payment provider" (QueryRechargeOrder, whose orders any registered provider may serve).
enum class Upstream { kWechat, kMerchantApi, kAnswering };

// absl::Status -> the grpc::Status the caller gets. The lower layers write messages for
// operators: database host, user and name, MySQL's own text, configured merchant ids and key
// serials. So only the messages written for the caller pass unchanged (INVALID_ARGUMENT,
// NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED: bad input, no such order, no access); every
// other code gets a stable message of ours (built only from the provider's own code, message
// and HTTP status where the status carries them) ending in a correlation id, which is also sent
// as trailing metadata `x-correlation-id` and logged with the full details (`event=rpc_failed`; for
// a failed upstream call, its `upstream_log_id` instead of the message, which its `upstream_failed`
// line holds). `ctx` gets the trailer; `method` is the full method name, for the log.
grpc::Status ToCallerStatus(const absl::Status& s, grpc::CallbackServerContext* ctx,
                            absl::string_view method, Upstream upstream);

// The caller's message for a status whose code hides details, without the correlation id
// (exposed for tests).
std::string CallerMessage(const absl::Status& s, Upstream upstream);

// The caller's deadline as an absl::Time (InfiniteFuture when the call has none), so use cases
// can cap upstream calls by it.
inline absl::Time DeadlineOf(const grpc::CallbackServerContext* ctx) {
  const auto d = ctx->deadline();
  if (d == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(d);
}

}  // namespace orderquery::service

#endif  // ORDERQUERY_SERVER_SERVICE_STATUS_H_
