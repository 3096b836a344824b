// Seed 001's 返回示例, verbatim but for the comma missing after the goodsDesc array (the real
// upstream sends valid JSON), and the record it must decode to, field for field.
#ifndef ORDERQUERY_TESTS_UNIT_MERCHANT_SEED_EXAMPLE_H_
#define ORDERQUERY_TESTS_UNIT_MERCHANT_SEED_EXAMPLE_H_

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/domain/snapshots.h"
#include "tests/fakes/seed_examples.h"

namespace orderquery::payment::tradeapi::seed001 {

// The one copy is in tests/fakes/seed_examples.h: the payment sandbox serves it too.
inline constexpr const auto& kSeedExampleReply = ::orderquery::fakes::kSeed001ExampleReply;

inline absl::Time Utc(int y, int mo, int d, int h, int mi, int s) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

inline domain::TradeOrderRecord SeedExampleRecord() {
  domain::TradeOrderRecord r;
  r.trade_order_id = "E01201908230414433510006";
  r.trade_type = 1;
  r.deposit_mode = 0;
  r.mch_id = "20000000";
  r.client_ip = "0:0:0:0:0:0:0:1";
  r.subject = "被扫支付";
  r.body = "被扫支付";
  r.order_amount = 1;
  r.discount_amount = 0;
  r.amount = 1;
  r.mch_income = 1;
  r.user_id = "134713461986047502";
  r.status = 1;
  r.pay_order_id = "P01201908230414452700006";
  r.product_id = "8020";
  r.product_type = 0;
  r.operator_id = "null";  // the upstream's own string, kept verbatim
  r.operator_name = "123";
  r.refund_total_amount = 0;
  r.trade_succ_time = Utc(2019, 8, 23, 11, 12, 21);
  r.create_time = Utc(2019, 8, 23, 16, 14, 42);
  r.update_time = Utc(2019, 8, 23, 19, 13, 22);
  r.goods.push_back({12000, 10400, 400, 100093, "奥尔良鸡腿堡", 1, ""});
  r.goods.push_back({0, 10000, 0, -1, "茉莉花茶", 1, ""});
  return r;
}

// Names of the fields where `a` and `b` differ with both values ("" when equal). merchant and
// fetched_at are compared only when `with_bookkeeping`.
inline std::string RecordDiff(const domain::TradeOrderRecord& a, const domain::TradeOrderRecord& b,
                              bool with_bookkeeping = false) {
  std::string out;
  auto cmp = [&out](const char* name, const auto& x, const auto& y) {
    if (!(x == y))
      absl::StrAppend(&out, name, ": ", absl::StrCat(x), " vs ", absl::StrCat(y), "; ");
  };
  auto time = [&out](const char* name, const std::optional<absl::Time>& x,
                     const std::optional<absl::Time>& y) {
    if (x != y) {
      absl::StrAppend(&out, name, ": ", x ? absl::FormatTime(*x) : "unset", " vs ",
                      y ? absl::FormatTime(*y) : "unset", "; ");
    }
  };
  if (with_bookkeeping) {
    cmp("merchant", a.merchant, b.merchant);
    if (a.fetched_at != b.fetched_at) absl::StrAppend(&out, "fetched_at differs; ");
  }
  cmp("trade_order_id", a.trade_order_id, b.trade_order_id);
  cmp("trade_type", a.trade_type, b.trade_type);
  cmp("deposit_mode", a.deposit_mode, b.deposit_mode);
  cmp("mch_id", a.mch_id, b.mch_id);
  cmp("app_id", a.app_id, b.app_id);
  cmp("client_ip", a.client_ip, b.client_ip);
  cmp("device", a.device, b.device);
  cmp("goods_id", a.goods_id, b.goods_id);
  cmp("subject", a.subject, b.subject);
  cmp("body", a.body, b.body);
  cmp("order_amount", a.order_amount, b.order_amount);
  cmp("discount_amount", a.discount_amount, b.discount_amount);
  cmp("amount", a.amount, b.amount);
  cmp("mch_income", a.mch_income, b.mch_income);
  cmp("user_id", a.user_id, b.user_id);
  cmp("channel_user_id", a.channel_user_id, b.channel_user_id);
  cmp("status", a.status, b.status);
  cmp("pay_order_id", a.pay_order_id, b.pay_order_id);
  cmp("product_id", a.product_id, b.product_id);
  cmp("product_type", a.product_type, b.product_type);
  cmp("coupon_id", a.coupon_id, b.coupon_id);
  cmp("store_no", a.store_no, b.store_no);
  cmp("store_name", a.store_name, b.store_name);
  cmp("operator_id", a.operator_id, b.operator_id);
  cmp("operator_name", a.operator_name, b.operator_name);
  cmp("member_id", a.member_id, b.member_id);
  cmp("member_tel", a.member_tel, b.member_tel);
  cmp("give_points", a.give_points, b.give_points);
  cmp("refund_total_amount", a.refund_total_amount, b.refund_total_amount);
  time("trade_succ_time", a.trade_succ_time, b.trade_succ_time);
  time("create_time", a.create_time, b.create_time);
  time("update_time", a.update_time, b.update_time);
  cmp("goods.size", a.goods.size(), b.goods.size());
  for (size_t i = 0; i < a.goods.size() && i < b.goods.size(); ++i) {
    const auto& x = a.goods[i];
    const auto& y = b.goods[i];
    const std::string at = absl::StrCat("goods[", i, "].");
    cmp((at + "cell_price").c_str(), x.cell_price, y.cell_price);
    cmp((at + "current_price").c_str(), x.current_price, y.current_price);
    cmp((at + "discount_amount").c_str(), x.discount_amount, y.discount_amount);
    cmp((at + "goods_id").c_str(), x.goods_id, y.goods_id);
    cmp((at + "goods_name").c_str(), x.goods_name, y.goods_name);
    cmp((at + "goods_num").c_str(), x.goods_num, y.goods_num);
    cmp((at + "goods_props").c_str(), x.goods_props, y.goods_props);
  }
  return out;
}

}  // namespace orderquery::payment::tradeapi::seed001

#endif  // ORDERQUERY_TESTS_UNIT_MERCHANT_SEED_EXAMPLE_H_
