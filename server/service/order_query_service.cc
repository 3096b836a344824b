#include "server/service/order_query_service.h"

#include <string>

#include "server/service/status.h"
#include "server/service/vehicle_convert.h"

namespace orderquery::service {
namespace {

v1::RechargeOrderState ToProto(domain::RechargeState s) {
  switch (s) {
    case domain::RechargeState::kNotPay:
      return v1::RECHARGE_ORDER_STATE_NOTPAY;
    case domain::RechargeState::kSuccess:
      return v1::RECHARGE_ORDER_STATE_SUCCESS;
    case domain::RechargeState::kRefund:
      return v1::RECHARGE_ORDER_STATE_REFUND;
    case domain::RechargeState::kClosed:
      return v1::RECHARGE_ORDER_STATE_CLOSED;
    case domain::RechargeState::kRevoked:
      return v1::RECHARGE_ORDER_STATE_REVOKED;
    case domain::RechargeState::kUserPaying:
      return v1::RECHARGE_ORDER_STATE_USERPAYING;
    case domain::RechargeState::kPayError:
      return v1::RECHARGE_ORDER_STATE_PAYERROR;
  }
  return v1::RECHARGE_ORDER_STATE_UNSPECIFIED;
}

}  // namespace

void FillRechargeResponse(const usecase::RechargeQueryResult& r,
                          v1::QueryRechargeOrderResponse* resp) {
  resp->set_code(static_cast<v1::RechargeResultCode>(static_cast<int>(r.code)));
  resp->set_msg(domain::ResultMessage(r.code));
  if (!r.order) return;  // data: null, as the seed answers for a missing order
  auto* d = resp->mutable_data();
  d->set_order_no(r.order->order_no);
  d->set_amount(r.order->amount_fen);
  d->set_state(ToProto(r.order->state));
  d->set_trade_state(r.order->trade_state);
  d->set_transaction_id(r.order->transaction_id);
  if (r.order->paid_at) {
    d->set_paid_time(absl::FormatTime("%Y-%m-%dT%H:%M:%E3S%Ez", *r.order->paid_at,
                                      absl::FixedTimeZone(8 * 3600)));
  }
  d->set_balance(r.balance_fen);
}

grpc::ServerUnaryReactor* OrderQueryServiceImpl::QueryRechargeOrder(
    grpc::CallbackServerContext* ctx, const v1::QueryRechargeOrderRequest* req,
    v1::QueryRechargeOrderResponse* resp) {
  const auto started = RpcMetrics::Clock::now();
  auto* reactor = ctx->DefaultReactor();
  // The app's route: the user's token, and an operator's key only to force a refresh.
  if (absl::Status a = auth_->Authorize(ctx, kQueryRechargeOrderMethod, /*internal=*/false,
                                        req->force_refresh());
      !a.ok()) {
    grpc::Status s = ToCallerStatus(a, ctx, kQueryRechargeOrderMethod, Upstream::kAnswering);
    recharge_metrics_.Record(started, s.error_code());
    reactor->Finish(s);
    return reactor;
  }
  usecase::RechargeQueryRequest r;
  r.appid = MetadataValue(ctx, "appid");
  r.token = req->token().empty() ? MetadataValue(ctx, "token") : req->token();
  r.order_no = req->order_no();
  r.force_refresh = req->force_refresh();
  r.deadline = DeadlineOf(ctx);
  recharge_->Run(std::move(r), [ctx, reactor, resp, started, m = &recharge_metrics_](
                                   absl::StatusOr<usecase::RechargeQueryResult> result) {
    if (!result.ok()) {
      grpc::Status s =
          ToCallerStatus(result.status(), ctx, kQueryRechargeOrderMethod, Upstream::kAnswering);
      m->Record(started, s.error_code());
      return reactor->Finish(s);
    }
    FillRechargeResponse(*result, resp);
    m->Record(started, grpc::StatusCode::OK);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* OrderQueryServiceImpl::GetVehicleTransaction(
    grpc::CallbackServerContext* ctx, const v1::GetVehicleTransactionRequest* req,
    v1::VehicleTransaction* resp) {
  const auto started = RpcMetrics::Clock::now();
  auto* reactor = ctx->DefaultReactor();
  if (absl::Status a = auth_->Authorize(ctx, kGetVehicleTransactionMethod, /*internal=*/true,
                                        req->force_refresh());
      !a.ok()) {
    grpc::Status s = ToCallerStatus(a, ctx, kGetVehicleTransactionMethod, Upstream::kWechat);
    vehicle_metrics_.Record(started, s.error_code());
    reactor->Finish(s);
    return reactor;
  }
  usecase::VehicleQueryRequest r;
  r.out_trade_no = req->out_trade_no();
  r.sub_mchid = req->sub_mchid();
  r.force_refresh = req->force_refresh();
  r.deadline = DeadlineOf(ctx);
  vehicle_->Run(std::move(r), [ctx, reactor, resp, started, m = &vehicle_metrics_](
                                  absl::StatusOr<domain::VehicleTransaction> result) {
    if (!result.ok()) {
      grpc::Status s =
          ToCallerStatus(result.status(), ctx, kGetVehicleTransactionMethod, Upstream::kWechat);
      m->Record(started, s.error_code());
      return reactor->Finish(s);
    }
    *resp = ToProto(*result);
    m->Record(started, grpc::StatusCode::OK);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace orderquery::service
