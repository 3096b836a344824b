#include "server/service/order_query_service.h"

#include <string>

#include "server/service/status.h"

namespace orderquery::service {
namespace {

constexpr const char* kRechargeMethod = kQueryRechargeOrderMethod;
constexpr const char* kVehicleMethod = kGetVehicleTransactionMethod;

std::string Metadata(const grpc::CallbackServerContext* ctx, const char* key) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

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

v1::VehicleTransaction::TradeState ToProto(domain::VehicleTradeState s) {
  switch (s) {
    case domain::VehicleTradeState::kSuccess:
      return v1::VehicleTransaction::SUCCESS;
    case domain::VehicleTradeState::kAccepted:
      return v1::VehicleTransaction::ACCEPTED;
    case domain::VehicleTradeState::kPayFail:
      return v1::VehicleTransaction::PAY_FAIL;
    case domain::VehicleTradeState::kRefund:
      return v1::VehicleTransaction::REFUND;
    case domain::VehicleTradeState::kUnspecified:
      break;
  }
  return v1::VehicleTransaction::TRADE_STATE_UNSPECIFIED;
}

v1::ParkingInfo::PlateColor ToProto(domain::PlateColor c) {
  switch (c) {
    case domain::PlateColor::kBlue:
      return v1::ParkingInfo::BLUE;
    case domain::PlateColor::kGreen:
      return v1::ParkingInfo::GREEN;
    case domain::PlateColor::kYellow:
      return v1::ParkingInfo::YELLOW;
    case domain::PlateColor::kBlack:
      return v1::ParkingInfo::BLACK;
    case domain::PlateColor::kWhite:
      return v1::ParkingInfo::WHITE;
    case domain::PlateColor::kLimeGreen:
      return v1::ParkingInfo::LIMEGREEN;
    case domain::PlateColor::kUnspecified:
      break;
  }
  return v1::ParkingInfo::PLATE_COLOR_UNSPECIFIED;
}

}  // namespace

void FillVehicleResponse(const domain::VehicleTransaction& tx, v1::VehicleTransaction* resp) {
  resp->set_appid(tx.appid);
  resp->set_sub_appid(tx.sub_appid);
  resp->set_sp_mchid(tx.sp_mchid);
  resp->set_sub_mchid(tx.sub_mchid);
  resp->set_description(tx.description);
  resp->set_create_time(tx.create_time);
  resp->set_out_trade_no(tx.out_trade_no);
  resp->set_transaction_id(tx.transaction_id);
  resp->set_trade_state(ToProto(tx.trade_state));
  resp->set_trade_state_description(tx.trade_state_description);
  resp->set_success_time(tx.success_time);
  resp->set_bank_type(tx.bank_type);
  resp->set_user_repaid(tx.user_repaid);
  resp->set_attach(tx.attach);
  resp->set_trade_scene(tx.trade_scene);
  if (tx.parking_info) {
    const domain::ParkingInfo& p = *tx.parking_info;
    v1::ParkingInfo* info = resp->mutable_parking_info();
    info->set_parking_id(p.parking_id);
    info->set_plate_number(p.plate_number);
    info->set_plate_color(ToProto(p.plate_color));
    info->set_start_time(p.start_time);
    info->set_end_time(p.end_time);
    info->set_parking_name(p.parking_name);
    info->set_charging_duration(p.charging_duration_seconds);
    info->set_device_id(p.device_id);
  }
  if (tx.payer) {
    resp->mutable_payer()->set_openid(tx.payer->openid);
    resp->mutable_payer()->set_sub_openid(tx.payer->sub_openid);
  }
  if (tx.amount) {
    v1::OrderAmount* amount = resp->mutable_amount();
    amount->set_total(tx.amount->total_fen);
    amount->set_currency(tx.amount->currency);
    amount->set_payer_total(tx.amount->payer_total_fen);
    amount->set_discount_total(tx.amount->discount_total_fen);
  }
  for (const domain::VehiclePromotion& p : tx.promotion_detail) {
    v1::PromotionDetail* d = resp->add_promotion_detail();
    d->set_coupon_id(p.coupon_id);
    d->set_name(p.name);
    d->set_scope(p.scope);
    d->set_type(p.type);
    d->set_stock_id(p.stock_id);
    d->set_amount(p.amount_fen);
    d->set_wechatpay_contribute(p.wechatpay_contribute_fen);
    d->set_merchant_contribute(p.merchant_contribute_fen);
    d->set_other_contribute(p.other_contribute_fen);
    d->set_currency(p.currency);
  }
}

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
  if (absl::Status a =
          auth_->Authorize(ctx, kRechargeMethod, /*internal=*/false, req->force_refresh());
      !a.ok()) {
    grpc::Status s = ToCallerStatus(a, ctx, kRechargeMethod, Upstream::kAnswering);
    recharge_metrics_.Record(started, s.error_code());
    reactor->Finish(s);
    return reactor;
  }
  usecase::RechargeQueryRequest r;
  r.appid = Metadata(ctx, "appid");
  r.token = req->token().empty() ? Metadata(ctx, "token") : req->token();
  r.order_no = req->order_no();
  r.force_refresh = req->force_refresh();
  r.deadline = DeadlineOf(ctx);
  recharge_->Run(std::move(r), [ctx, reactor, resp, started, m = &recharge_metrics_](
                                   absl::StatusOr<usecase::RechargeQueryResult> result) {
    if (!result.ok()) {
      grpc::Status s = ToCallerStatus(result.status(), ctx, kRechargeMethod, Upstream::kAnswering);
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
  if (absl::Status a =
          auth_->Authorize(ctx, kVehicleMethod, /*internal=*/true, req->force_refresh());
      !a.ok()) {
    grpc::Status s = ToCallerStatus(a, ctx, kVehicleMethod, Upstream::kWechat);
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
      grpc::Status s = ToCallerStatus(result.status(), ctx, kVehicleMethod, Upstream::kWechat);
      m->Record(started, s.error_code());
      return reactor->Finish(s);
    }
    FillVehicleResponse(*result, resp);
    m->Record(started, grpc::StatusCode::OK);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace orderquery::service
