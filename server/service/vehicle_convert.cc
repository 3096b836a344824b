#include "server/service/vehicle_convert.h"

namespace orderquery::service {
namespace {

namespace v1 = ::orderquery::v1;

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

v1::VehicleTransaction ToProto(const domain::VehicleTransaction& tx) {
  v1::VehicleTransaction out;
  out.set_appid(tx.appid);
  out.set_sub_appid(tx.sub_appid);
  out.set_sp_mchid(tx.sp_mchid);
  out.set_sub_mchid(tx.sub_mchid);
  out.set_description(tx.description);
  out.set_create_time(tx.create_time);
  out.set_out_trade_no(tx.out_trade_no);
  out.set_transaction_id(tx.transaction_id);
  out.set_trade_state(ToProto(tx.trade_state));
  out.set_trade_state_description(tx.trade_state_description);
  out.set_success_time(tx.success_time);
  out.set_bank_type(tx.bank_type);
  out.set_user_repaid(tx.user_repaid);
  out.set_attach(tx.attach);
  out.set_trade_scene(tx.trade_scene);
  if (tx.parking_info) {
    const domain::ParkingInfo& p = *tx.parking_info;
    v1::ParkingInfo* info = out.mutable_parking_info();
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
    out.mutable_payer()->set_openid(tx.payer->openid);
    out.mutable_payer()->set_sub_openid(tx.payer->sub_openid);
  }
  if (tx.amount) {
    v1::OrderAmount* amount = out.mutable_amount();
    amount->set_total(tx.amount->total_fen);
    amount->set_currency(tx.amount->currency);
    amount->set_payer_total(tx.amount->payer_total_fen);
    amount->set_discount_total(tx.amount->discount_total_fen);
  }
  for (const domain::VehiclePromotion& p : tx.promotion_detail) {
    v1::PromotionDetail* d = out.add_promotion_detail();
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
  return out;
}

}  // namespace orderquery::service
