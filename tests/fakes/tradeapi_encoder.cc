#include "tests/fakes/tradeapi_encoder.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/payment/tradeapi/decoder.h"

namespace orderquery::payment::tradeapi {
namespace {

using Json = nlohmann::json;

// Serialises without throwing: a record built by hand (the sandbox's scenarios) may hold bytes
// that are not UTF-8, and those must not abort a reply.
std::string Dump(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json Integer(int64_t v, const EncodeOptions& o) {
  return o.numbers_as_strings ? Json(absl::StrCat(v)) : Json(v);
}

// productType and tradeType 0 mean "not given".
Json OptionalCode(int v, const EncodeOptions& o) { return v == 0 ? Json(nullptr) : Integer(v, o); }

Json Time(const std::optional<absl::Time>& t, const EncodeOptions& o) {
  if (!t) return Json(nullptr);
  return o.rfc3339_times ? FormatRfc3339Utc(*t)
                         : absl::FormatTime("%Y-%m-%dT%H:%M:%E3S%z", *t, absl::UTCTimeZone());
}

}  // namespace

std::string EncodeTradeOrderData(const domain::TradeOrderRecord& r, const EncodeOptions& o) {
  Json goods = Json::array();
  for (const auto& g : r.goods) {
    goods.push_back({{"cellPrice", Integer(g.cell_price, o)},
                     {"currentPrice", Integer(g.current_price, o)},
                     {"discountAmount", Integer(g.discount_amount, o)},
                     {"goodsId", Integer(g.goods_id, o)},
                     {"goodsName", g.goods_name},
                     {"goodsNum", Integer(g.goods_num, o)},
                     {"goodsProps", g.goods_props}});
  }
  Json data = {
      {"tradeOrderId", r.trade_order_id},
      {o.capitalized_trade_type ? "TradeType" : "tradeType", OptionalCode(r.trade_type, o)},
      {"depositMode", Integer(r.deposit_mode, o)},
      {"mchId", r.mch_id},
      {"appId", r.app_id},
      {"clientIp", r.client_ip},
      {"device", r.device},
      {"goodsId", r.goods_id},
      {"subject", r.subject},
      {"body", r.body},
      {"orderAmount", Integer(r.order_amount, o)},
      {"discountAmount", Integer(r.discount_amount, o)},
      {"amount", Integer(r.amount, o)},
      {"mchIncome", Integer(r.mch_income, o)},
      {"userId", r.user_id},
      {"channelUserId", r.channel_user_id},
      {"status", Integer(r.status, o)},
      {"payOrderId", r.pay_order_id},
      {"productId", r.product_id},
      {"productType", OptionalCode(r.product_type, o)},
      {"goodsDesc", o.goods_desc_as_string ? Json(Dump(goods)) : goods},
      {"couponId", r.coupon_id},
      {"storeNo", r.store_no},
      {"storeName", r.store_name},
      {"operatorId", r.operator_id},
      {"operatorName", r.operator_name},
      {"memberId", r.member_id},
      {"memberTel", r.member_tel},
      {"givePoints", Integer(r.give_points, o)},
      {"refundTotalAmount", Integer(r.refund_total_amount, o)},
      {"tradeSuccTime", Time(r.trade_succ_time, o)},
      {"createTime", Time(r.create_time, o)},
      {"updateTime", Time(r.update_time, o)},
  };
  return Dump(data);
}

std::string EncodeTradeOrderReply(const domain::TradeOrderRecord& r, const EncodeOptions& o) {
  return absl::StrCat(R"({"code":0,"msg":"success","data":)", EncodeTradeOrderData(r, o), "}");
}

std::string EncodeErrorReply(int64_t code, absl::string_view msg) {
  Json reply = {{"code", code}, {"msg", std::string(msg)}, {"data", nullptr}};
  return Dump(reply);
}

}  // namespace orderquery::payment::tradeapi
