// C++ client for orderqueryd.
//
//   #include "client/orderquery_client.h"
//
//   orderquery::client::ClientOptions opts;
//   opts.target = "orderquery.internal:50051";
//   opts.deadline = absl::Seconds(3);
//   auto client = orderquery::client::OrderQueryClient::Create(opts);
//   if (!client.ok()) { /* bad options: client.status() says which */ }
//   auto r = (*client)->QueryRechargeOrder("wxd678efh567hg6787", user_token, "3003762019...");
//   if (!r.ok()) { /* an RPC failure: r.status().code() is the gRPC code */ }
//   else if (r->code() == orderquery::v1::RECHARGE_RESULT_CODE_SUCCESS) { /* paid + credited */ }
//
// Every call has a deadline, carries `appid`/`token` as metadata where the API wants them, and
// retries UNAVAILABLE with jittered exponential backoff (all methods are safe to repeat:
// crediting is exactly-once on the server). Thread-safe: share one client.
#ifndef ORDERQUERY_CLIENT_ORDERQUERY_CLIENT_H_
#define ORDERQUERY_CLIENT_ORDERQUERY_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "orderquery/v1/service.grpc.pb.h"

namespace orderquery::client {

struct ClientOptions {
  std::string target = "127.0.0.1:50051";  // host:port
  bool tls = false;
  std::string ca_file;                         // TLS: CA bundle PEM (empty = system roots)
  std::string cert_file;                       // mTLS: client certificate PEM
  std::string key_file;                        // mTLS: client key PEM
  absl::Duration deadline = absl::Seconds(5);  // per call, retries included
  int max_attempts = 3;                        // UNAVAILABLE is retried up to this many tries
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(1);
  // The caller's API key, sent as metadata x-api-key on every call: GetVehicleTransaction and
  // GetTradeOrder need one (unless the server has no callers configured), force_refresh an
  // operator's. Empty = none.
  std::string api_key;
};

class OrderQueryClient {
 public:
  // INVALID_ARGUMENT when a TLS file cannot be read.
  static absl::StatusOr<std::unique_ptr<OrderQueryClient>> Create(const ClientOptions& options);

  // Seed 000: the recharge order's state; business outcomes are in the response's code.
  absl::StatusOr<v1::QueryRechargeOrderResponse> QueryRechargeOrder(const std::string& appid,
                                                                    const std::string& token,
                                                                    const std::string& order_no,
                                                                    bool force_refresh = false);
  // Seed 002: a parking transaction (partner mode).
  absl::StatusOr<v1::VehicleTransaction> GetVehicleTransaction(const std::string& out_trade_no,
                                                               const std::string& sub_mchid,
                                                               bool force_refresh = false);
  // Seed 001: a merchant trade order; empty merchant = the server's default.
  absl::StatusOr<v1::GetTradeOrderResponse> GetTradeOrder(const std::string& trade_order_id,
                                                          const std::string& merchant = "",
                                                          bool force_refresh = false);
  // grpc.health.v1 status of `service` ("" = the whole server): "SERVING", "NOT_SERVING", ...
  absl::StatusOr<std::string> Health(const std::string& service = "");

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

 private:
  OrderQueryClient(ClientOptions options, std::shared_ptr<grpc::Channel> channel);
  template <typename Call>
  absl::Status WithRetries(Call call);

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::OrderQueryService::Stub> orders_;
  std::unique_ptr<v1::TradeOrderService::Stub> trades_;
};

}  // namespace orderquery::client

#endif  // ORDERQUERY_CLIENT_ORDERQUERY_CLIENT_H_
