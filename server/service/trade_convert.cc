#include "server/service/trade_convert.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/payment/tradeapi/decoder.h"

namespace orderquery::service {
namespace {

std::string TimeText(const std::optional<absl::Time>& t) {
  return t ? payment::tradeapi::FormatRfc3339Utc(*t) : std::string();
}

absl::Status ReadTime(const std::string& text, absl::string_view field,
                      std::optional<absl::Time>* out) {
  out->reset();
  if (text.empty()) return absl::OkStatus();
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat(field, " \"", text, "\" is not RFC 3339"));
  }
  *out = t;
  return absl::OkStatus();
}

}  // namespace

orderquery::v1::TradeOrder ToProto(const domain::TradeOrderRecord& r) {
  orderquery::v1::TradeOrder o;
  o.set_trade_order_id(r.trade_order_id);
  o.set_trade_type(static_cast<orderquery::v1::TradeType>(r.trade_type));
  o.set_deposit_mode(static_cast<orderquery::v1::DepositMode>(r.deposit_mode));
  o.set_mch_id(r.mch_id);
  o.set_app_id(r.app_id);
  o.set_client_ip(r.client_ip);
  o.set_device(r.device);
  o.set_goods_id(r.goods_id);
  o.set_subject(r.subject);
  o.set_body(r.body);
  o.set_order_amount(r.order_amount);
  o.set_discount_amount(r.discount_amount);
  o.set_amount(r.amount);
  o.set_mch_income(r.mch_income);
  o.set_user_id(r.user_id);
  o.set_channel_user_id(r.channel_user_id);
  o.set_status(static_cast<orderquery::v1::TradeStatus>(r.status));
  o.set_pay_order_id(r.pay_order_id);
  o.set_product_id(r.product_id);
  o.set_product_type(static_cast<orderquery::v1::ProductType>(r.product_type));
  o.set_coupon_id(r.coupon_id);
  o.set_store_no(r.store_no);
  o.set_store_name(r.store_name);
  o.set_operator_id(r.operator_id);
  o.set_operator_name(r.operator_name);
  o.set_member_id(r.member_id);
  o.set_member_tel(r.member_tel);
  o.set_give_points(r.give_points);
  o.set_refund_total_amount(r.refund_total_amount);
  o.set_trade_succ_time(TimeText(r.trade_succ_time));
  for (const auto& g : r.goods) {
    auto* item = o.add_goods_desc();
    item->set_cell_price(g.cell_price);
    item->set_current_price(g.current_price);
    item->set_discount_amount(g.discount_amount);
    item->set_goods_id(g.goods_id);
    item->set_goods_name(g.goods_name);
    item->set_goods_num(g.goods_num);
    item->set_goods_props(g.goods_props);
  }
  o.set_create_time(TimeText(r.create_time));
  o.set_update_time(TimeText(r.update_time));
  return o;
}

absl::StatusOr<domain::TradeOrderRecord> FromProto(const orderquery::v1::TradeOrder& o,
                                                   absl::string_view merchant) {
  domain::TradeOrderRecord r;
  r.merchant = std::string(merchant);
  r.trade_order_id = o.trade_order_id();
  r.trade_type = o.trade_type();
  r.deposit_mode = o.deposit_mode();
  r.mch_id = o.mch_id();
  r.app_id = o.app_id();
  r.client_ip = o.client_ip();
  r.device = o.device();
  r.goods_id = o.goods_id();
  r.subject = o.subject();
  r.body = o.body();
  r.order_amount = o.order_amount();
  r.discount_amount = o.discount_amount();
  r.amount = o.amount();
  r.mch_income = o.mch_income();
  r.user_id = o.user_id();
  r.channel_user_id = o.channel_user_id();
  r.status = o.status();
  r.pay_order_id = o.pay_order_id();
  r.product_id = o.product_id();
  r.product_type = o.product_type();
  r.coupon_id = o.coupon_id();
  r.store_no = o.store_no();
  r.store_name = o.store_name();
  r.operator_id = o.operator_id();
  r.operator_name = o.operator_name();
  r.member_id = o.member_id();
  r.member_tel = o.member_tel();
  r.give_points = o.give_points();
  r.refund_total_amount = o.refund_total_amount();
  // proto3 open enums keep unknown numbers; refuse them here as the decoder does upstream.
  if (!orderquery::v1::TradeStatus_IsValid(r.status)) {
    return absl::InvalidArgumentError(absl::StrCat("status ", r.status, " is unknown"));
  }
  if (!orderquery::v1::TradeType_IsValid(r.trade_type)) {
    return absl::InvalidArgumentError(absl::StrCat("trade_type ", r.trade_type, " is unknown"));
  }
  if (!orderquery::v1::DepositMode_IsValid(r.deposit_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("deposit_mode ", r.deposit_mode, " is unknown"));
  }
  if (!orderquery::v1::ProductType_IsValid(r.product_type)) {
    return absl::InvalidArgumentError(absl::StrCat("product_type ", r.product_type, " is unknown"));
  }
  for (const auto& item : o.goods_desc()) {
    domain::TradeGoods g;
    g.cell_price = item.cell_price();
    g.current_price = item.current_price();
    g.discount_amount = item.discount_amount();
    g.goods_id = item.goods_id();
    g.goods_name = item.goods_name();
    g.goods_num = item.goods_num();
    g.goods_props = item.goods_props();
    r.goods.push_back(std::move(g));
  }
  absl::Status s;
  if (!(s = ReadTime(o.trade_succ_time(), "trade_succ_time", &r.trade_succ_time)).ok()) return s;
  if (!(s = ReadTime(o.create_time(), "create_time", &r.create_time)).ok()) return s;
  if (!(s = ReadTime(o.update_time(), "update_time", &r.update_time)).ok()) return s;
  return r;
}

}  // namespace orderquery::service
