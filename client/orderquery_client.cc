#include "client/orderquery_client.h"

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/common/files.h"
#include "server/common/retry.h"

namespace orderquery::client {
namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace

absl::StatusOr<std::unique_ptr<OrderQueryClient>> OrderQueryClient::Create(
    const ClientOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      auto ca = files::ReadFile("ca_file", options.ca_file);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    if (!options.cert_file.empty()) {
      auto cert = files::ReadFile("cert_file", options.cert_file);
      if (!cert.ok()) return cert.status();
      auto key = files::ReadFile("key_file", options.key_file);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    creds = grpc::SslCredentials(ssl);
  }
  if (options.max_attempts < 1) return absl::InvalidArgumentError("max_attempts must be >= 1");
  auto channel = grpc::CreateChannel(options.target, creds);
  return std::unique_ptr<OrderQueryClient>(new OrderQueryClient(options, std::move(channel)));
}

OrderQueryClient::OrderQueryClient(ClientOptions options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      orders_(v1::OrderQueryService::NewStub(channel_)),
      trades_(v1::TradeOrderService::NewStub(channel_)) {}

template <typename Call>
absl::Status OrderQueryClient::WithRetries(Call call) {
  // One deadline for the whole call, retries included.
  const absl::Time deadline = absl::Now() + options_.deadline;
  retry::BackoffPolicy policy;
  policy.max_attempts = options_.max_attempts;
  policy.initial_backoff = options_.initial_backoff;
  policy.max_backoff = options_.max_backoff;
  policy.multiplier = 2.0;
  policy.jitter = retry::Jitter::kEqual;
  return retry::Retry(
      retry::Backoff(policy), retry::Clock::Real(), deadline,
      [&] {
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(deadline));
        if (!options_.api_key.empty()) ctx.AddMetadata("x-api-key", options_.api_key);
        return FromGrpc(call(&ctx));
      },
      [](const absl::Status& s) { return absl::IsUnavailable(s); });
}

absl::StatusOr<v1::QueryRechargeOrderResponse> OrderQueryClient::QueryRechargeOrder(
    const std::string& appid, const std::string& token, const std::string& order_no,
    bool force_refresh) {
  v1::QueryRechargeOrderRequest req;
  req.set_order_no(order_no);
  req.set_force_refresh(force_refresh);
  v1::QueryRechargeOrderResponse resp;
  absl::Status s = WithRetries([&](grpc::ClientContext* ctx) {
    ctx->AddMetadata("appid", appid);
    ctx->AddMetadata("token", token);
    resp.Clear();
    return orders_->QueryRechargeOrder(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<v1::VehicleTransaction> OrderQueryClient::GetVehicleTransaction(
    const std::string& out_trade_no, const std::string& sub_mchid, bool force_refresh) {
  v1::GetVehicleTransactionRequest req;
  req.set_out_trade_no(out_trade_no);
  req.set_sub_mchid(sub_mchid);
  req.set_force_refresh(force_refresh);
  v1::VehicleTransaction resp;
  absl::Status s = WithRetries([&](grpc::ClientContext* ctx) {
    resp.Clear();
    return orders_->GetVehicleTransaction(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<v1::GetTradeOrderResponse> OrderQueryClient::GetTradeOrder(
    const std::string& trade_order_id, const std::string& merchant, bool force_refresh) {
  v1::GetTradeOrderRequest req;
  req.set_trade_order_id(trade_order_id);
  req.set_merchant(merchant);
  req.set_force_refresh(force_refresh);
  v1::GetTradeOrderResponse resp;
  absl::Status s = WithRetries([&](grpc::ClientContext* ctx) {
    resp.Clear();
    return trades_->GetTradeOrder(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<std::string> OrderQueryClient::Health(const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  absl::Status s =
      WithRetries([&](grpc::ClientContext* ctx) { return stub->Check(ctx, req, &resp); });
  if (!s.ok()) return s;
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
}

}  // namespace orderquery::client
