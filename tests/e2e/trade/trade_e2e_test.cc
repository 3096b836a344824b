// TradeOrderService.GetTradeOrder end to end (issue 6, seed 001): orderqueryd as a process, the
// payment sandbox playing the aggregated-payment merchant API over loopback, MariaDB storing the
// latest trade order and its goods.
#include <cppconn/prepared_statement.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "storage/mysql_pool.h"
#include "storage/snapshot_repositories.h"
#include "tests/e2e/harness/calls.h"
#include "tests/e2e/harness/stack.h"
#include "tests/e2e/harness/suite.h"

namespace orderquery::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kSeedId[] = "E01201908230414433510006";
// Long enough that no round of calls on a busy machine outlasts it: the interval passes only
// when a test says so (TradeE2E::LetTheIntervalPass), never by the wall clock.
constexpr absl::Duration kInterval = absl::Minutes(10);

absl::Time Utc(int y, int mo, int d, int h, int mi, int s) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

// A trade order with every field set (seed 001's names), two goods lines.
json FullOrder(const std::string& id) {
  return {{"tradeOrderId", id},
          {"tradeType", 2},
          {"depositMode", 1},
          {"mchId", kTradeMchId},
          {"appId", "app-0001"},
          {"clientIp", "10.1.2.3"},
          {"device", "POS-7"},
          {"goodsId", "G-1"},
          {"subject", "会员充值"},
          {"body", "储值卡充值 50 元"},
          {"orderAmount", 5000},
          {"discountAmount", 300},
          {"amount", 4700},
          {"mchIncome", 4650},
          {"userId", "u-42"},
          {"channelUserId", "oChannelUser42"},
          {"status", 2},
          {"payOrderId", "P01202603010430450000001"},
          {"productId", "8021"},
          {"productType", 3},
          {"couponId", "CPN-9"},
          {"storeNo", "S01"},
          {"storeName", "一号店"},
          {"operatorId", "op-7"},
          {"operatorName", "张三"},
          {"memberId", "m-1"},
          {"memberTel", "13800000000"},
          {"givePoints", 47},
          {"refundTotalAmount", 120},
          {"tradeSuccTime", "2026-03-01T04:30:45.000+0000"},
          {"createTime", "2026-03-01T04:30:00.000+0000"},
          {"updateTime", "2026-03-01T04:31:00.000+0000"},
          {"goodsDesc",
           {{{"cellPrice", 5000},
             {"currentPrice", 4700},
             {"discountAmount", 300},
             {"goodsId", 7},
             {"goodsName", "储值卡"},
             {"goodsNum", 1},
             {"goodsProps", "50元"}},
            {{"currentPrice", 0}, {"goodsId", -1}, {"goodsName", "赠品"}, {"goodsNum", 2}}}}};
}

void ExpectFullOrder(const v1::TradeOrder& o, const std::string& id) {
  EXPECT_EQ(o.trade_order_id(), id);
  EXPECT_EQ(o.trade_type(), v1::TRADE_TYPE_RECHARGE);
  EXPECT_EQ(o.deposit_mode(), v1::DEPOSIT_MODE_DEPOSIT);
  EXPECT_EQ(o.mch_id(), kTradeMchId);
  EXPECT_EQ(o.app_id(), "app-0001");
  EXPECT_EQ(o.client_ip(), "10.1.2.3");
  EXPECT_EQ(o.device(), "POS-7");
  EXPECT_EQ(o.goods_id(), "G-1");
  EXPECT_EQ(o.subject(), "会员充值");
  EXPECT_EQ(o.body(), "储值卡充值 50 元");
  EXPECT_EQ(o.order_amount(), 5000);
  EXPECT_EQ(o.discount_amount(), 300);
  EXPECT_EQ(o.amount(), 4700);
  EXPECT_EQ(o.mch_income(), 4650);
  EXPECT_EQ(o.user_id(), "u-42");
  EXPECT_EQ(o.channel_user_id(), "oChannelUser42");
  EXPECT_EQ(o.status(), v1::TRADE_STATUS_PAID);
  EXPECT_EQ(o.pay_order_id(), "P01202603010430450000001");
  EXPECT_EQ(o.product_id(), "8021");
  EXPECT_EQ(o.product_type(), v1::PRODUCT_TYPE_WECHAT);
  EXPECT_EQ(o.coupon_id(), "CPN-9");
  EXPECT_EQ(o.store_no(), "S01");
  EXPECT_EQ(o.store_name(), "一号店");
  EXPECT_EQ(o.operator_id(), "op-7");
  EXPECT_EQ(o.operator_name(), "张三");
  EXPECT_EQ(o.member_id(), "m-1");
  EXPECT_EQ(o.member_tel(), "13800000000");
  EXPECT_EQ(o.give_points(), 47);
  EXPECT_EQ(o.refund_total_amount(), 120);
  EXPECT_EQ(o.trade_succ_time(), "2026-03-01T04:30:45Z");
  EXPECT_EQ(o.create_time(), "2026-03-01T04:30:00Z");
  EXPECT_EQ(o.update_time(), "2026-03-01T04:31:00Z");
  ASSERT_EQ(o.goods_desc_size(), 2);
  EXPECT_EQ(o.goods_desc(0).cell_price(), 5000);
  EXPECT_EQ(o.goods_desc(0).current_price(), 4700);
  EXPECT_EQ(o.goods_desc(0).discount_amount(), 300);
  EXPECT_EQ(o.goods_desc(0).goods_id(), 7);
  EXPECT_EQ(o.goods_desc(0).goods_name(), "储值卡");
  EXPECT_EQ(o.goods_desc(0).goods_num(), 1);
  EXPECT_EQ(o.goods_desc(0).goods_props(), "50元");
  EXPECT_EQ(o.goods_desc(1).cell_price(), 0);
  EXPECT_EQ(o.goods_desc(1).current_price(), 0);
  EXPECT_EQ(o.goods_desc(1).goods_id(), -1);
  EXPECT_EQ(o.goods_desc(1).goods_name(), "赠品");
  EXPECT_EQ(o.goods_desc(1).goods_num(), 2);
  EXPECT_EQ(o.goods_desc(1).goods_props(), "");
}

class TradeE2E : public StackSuite<TradeE2E> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "trade";
    o.trade_refresh_interval_ms = static_cast<int>(absl::ToInt64Milliseconds(kInterval));
    return o;
  }

 protected:
  static absl::StatusOr<std::optional<domain::TradeOrderRecord>> Stored(const std::string& id) {
    storage::MysqlTradeOrderRepository repo(stack().pool());
    return repo.Get(kTradeMerchant, id);
  }
  // The refresh interval passes for every stored trade order: its fetched_at moves back by more
  // than the interval, which is what the clock moving on looks like to orderqueryd (no sleep
  // that load could stretch or shrink).
  static void LetTheIntervalPass() {
    absl::Status st = storage::WithConnection(stack().pool(), [](storage::Connection& c) {
      auto& stmt = c.Prepare(
          "UPDATE t_trade_order SET fetched_at = fetched_at - INTERVAL ? SECOND WHERE merchant = "
          "?");
      stmt.setInt64(1, absl::ToInt64Seconds(kInterval + absl::Minutes(1)));
      stmt.setString(2, kTradeMerchant);
      stmt.executeUpdate();
      return absl::OkStatus();
    });
    ASSERT_TRUE(st.ok()) << st;
  }
};

TEST_F(TradeE2E, SeedExampleRoundTripsFieldForField) {
  Stack& s = stack();
  const int64_t total_before = s.TotalSandboxRequests();
  auto before = s.CountTables();
  ASSERT_TRUE(before.ok());
  TradeResult r = GetTrade(s.trades(), kSeedId);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(r.response.code(), 0);
  EXPECT_EQ(r.response.msg(), "success");
  const v1::TradeOrder& o = r.response.data();
  EXPECT_EQ(o.trade_order_id(), kSeedId);
  EXPECT_EQ(o.trade_type(), v1::TRADE_TYPE_COLLECTION);
  EXPECT_EQ(o.deposit_mode(), v1::DEPOSIT_MODE_NORMAL);
  EXPECT_EQ(o.mch_id(), "20000000");
  EXPECT_EQ(o.app_id(), "");
  EXPECT_EQ(o.client_ip(), "0:0:0:0:0:0:0:1");
  EXPECT_EQ(o.device(), "");
  EXPECT_EQ(o.goods_id(), "");
  EXPECT_EQ(o.subject(), "被扫支付");
  EXPECT_EQ(o.body(), "被扫支付");
  EXPECT_EQ(o.order_amount(), 1);
  EXPECT_EQ(o.discount_amount(), 0);
  EXPECT_EQ(o.amount(), 1);
  EXPECT_EQ(o.mch_income(), 1);
  EXPECT_EQ(o.user_id(), "134713461986047502");
  EXPECT_EQ(o.channel_user_id(), "");
  EXPECT_EQ(o.status(), v1::TRADE_STATUS_PROCESSING);
  EXPECT_EQ(o.pay_order_id(), "P01201908230414452700006");
  EXPECT_EQ(o.product_id(), "8020");
  EXPECT_EQ(o.product_type(), v1::PRODUCT_TYPE_UNSPECIFIED);
  EXPECT_EQ(o.coupon_id(), "");
  EXPECT_EQ(o.store_no(), "");
  EXPECT_EQ(o.store_name(), "");
  EXPECT_EQ(o.operator_id(), "null");  // the string "null", as the seed sends it
  EXPECT_EQ(o.operator_name(), "123");
  EXPECT_EQ(o.member_id(), "");
  EXPECT_EQ(o.member_tel(), "");
  EXPECT_EQ(o.give_points(), 0);
  EXPECT_EQ(o.refund_total_amount(), 0);
  EXPECT_EQ(o.trade_succ_time(), "2019-08-23T11:12:21Z");
  EXPECT_EQ(o.create_time(), "2019-08-23T16:14:42Z");
  EXPECT_EQ(o.update_time(), "2019-08-23T19:13:22Z");
  ASSERT_EQ(o.goods_desc_size(), 2);
  EXPECT_EQ(o.goods_desc(0).cell_price(), 12000);
  EXPECT_EQ(o.goods_desc(0).current_price(), 10400);
  EXPECT_EQ(o.goods_desc(0).discount_amount(), 400);
  EXPECT_EQ(o.goods_desc(0).goods_id(), 100093);
  EXPECT_EQ(o.goods_desc(0).goods_name(), "奥尔良鸡腿堡");
  EXPECT_EQ(o.goods_desc(0).goods_num(), 1);
  EXPECT_EQ(o.goods_desc(0).goods_props(), "");
  EXPECT_EQ(o.goods_desc(1).cell_price(), 0);
  EXPECT_EQ(o.goods_desc(1).current_price(), 10000);
  EXPECT_EQ(o.goods_desc(1).discount_amount(), 0);
  EXPECT_EQ(o.goods_desc(1).goods_id(), -1);
  EXPECT_EQ(o.goods_desc(1).goods_name(), "茉莉花茶");
  EXPECT_EQ(o.goods_desc(1).goods_num(), 1);
  EXPECT_EQ(s.TradeRequests(kSeedId), 1);
  EXPECT_EQ(s.TotalSandboxRequests(), total_before + 1);

  // Stored: the order row and its two goods rows.
  auto after = s.CountTables();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->trade_order, before->trade_order + 1);
  EXPECT_EQ(after->trade_goods, before->trade_goods + 2);
  auto stored = Stored(kSeedId);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_TRUE(stored->has_value());
  const domain::TradeOrderRecord& rec = **stored;
  EXPECT_EQ(rec.merchant, kTradeMerchant);
  EXPECT_EQ(rec.trade_type, 1);
  EXPECT_EQ(rec.mch_id, "20000000");
  EXPECT_EQ(rec.client_ip, "0:0:0:0:0:0:0:1");
  EXPECT_EQ(rec.subject, "被扫支付");
  EXPECT_EQ(rec.order_amount, 1);
  EXPECT_EQ(rec.amount, 1);
  EXPECT_EQ(rec.mch_income, 1);
  EXPECT_EQ(rec.user_id, "134713461986047502");
  EXPECT_EQ(rec.status, 1);
  EXPECT_EQ(rec.pay_order_id, "P01201908230414452700006");
  EXPECT_EQ(rec.product_id, "8020");
  EXPECT_EQ(rec.product_type, 0);
  EXPECT_EQ(rec.operator_id, "null");
  EXPECT_EQ(rec.operator_name, "123");
  EXPECT_EQ(rec.trade_succ_time, Utc(2019, 8, 23, 11, 12, 21));
  EXPECT_EQ(rec.create_time, Utc(2019, 8, 23, 16, 14, 42));
  EXPECT_EQ(rec.update_time, Utc(2019, 8, 23, 19, 13, 22));
  ASSERT_EQ(rec.goods.size(), 2u);
  EXPECT_EQ(rec.goods[0].cell_price, 12000);
  EXPECT_EQ(rec.goods[0].current_price, 10400);
  EXPECT_EQ(rec.goods[0].discount_amount, 400);
  EXPECT_EQ(rec.goods[0].goods_id, 100093);
  EXPECT_EQ(rec.goods[0].goods_name, "奥尔良鸡腿堡");
  EXPECT_EQ(rec.goods[1].current_price, 10000);
  EXPECT_EQ(rec.goods[1].goods_id, -1);
  EXPECT_EQ(rec.goods[1].goods_name, "茉莉花茶");
  EXPECT_EQ(rec.goods[1].goods_num, 1);

  // Within the refresh interval the stored order answers, identically.
  TradeResult again = GetTrade(s.trades(), kSeedId);
  ASSERT_TRUE(again.status.ok()) << Describe(again.status);
  EXPECT_EQ(again.response.SerializeAsString(), r.response.SerializeAsString());
  EXPECT_EQ(s.TradeRequests(kSeedId), 1);
}

TEST_F(TradeE2E, EveryFieldOfAFullOrderRoundTripsAndIsStored) {
  Stack& s = stack();
  ASSERT_TRUE(s.UpsertTradeOrder(FullOrder("TFULL")).ok());
  TradeResult r = GetTrade(s.trades(), "TFULL");
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  ExpectFullOrder(r.response.data(), "TFULL");
  auto stored = Stored("TFULL");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  const domain::TradeOrderRecord& rec = **stored;
  EXPECT_EQ(rec.trade_type, 2);
  EXPECT_EQ(rec.deposit_mode, 1);
  EXPECT_EQ(rec.app_id, "app-0001");
  EXPECT_EQ(rec.device, "POS-7");
  EXPECT_EQ(rec.goods_id, "G-1");
  EXPECT_EQ(rec.body, "储值卡充值 50 元");
  EXPECT_EQ(rec.order_amount, 5000);
  EXPECT_EQ(rec.discount_amount, 300);
  EXPECT_EQ(rec.amount, 4700);
  EXPECT_EQ(rec.mch_income, 4650);
  EXPECT_EQ(rec.channel_user_id, "oChannelUser42");
  EXPECT_EQ(rec.status, 2);
  EXPECT_EQ(rec.product_type, 3);
  EXPECT_EQ(rec.coupon_id, "CPN-9");
  EXPECT_EQ(rec.store_no, "S01");
  EXPECT_EQ(rec.store_name, "一号店");
  EXPECT_EQ(rec.operator_id, "op-7");
  EXPECT_EQ(rec.operator_name, "张三");
  EXPECT_EQ(rec.member_id, "m-1");
  EXPECT_EQ(rec.member_tel, "13800000000");
  EXPECT_EQ(rec.give_points, 47);
  EXPECT_EQ(rec.refund_total_amount, 120);
  EXPECT_EQ(rec.trade_succ_time, Utc(2026, 3, 1, 4, 30, 45));
  ASSERT_EQ(rec.goods.size(), 2u);
  EXPECT_EQ(rec.goods[0].goods_props, "50元");
  EXPECT_EQ(rec.goods[0].discount_amount, 300);
  EXPECT_EQ(rec.goods[1].goods_num, 2);
  EXPECT_EQ(rec.goods[1].goods_id, -1);
  // Paid (2) is final: answered from storage, same answer, no request, even after the interval.
  LetTheIntervalPass();
  TradeResult again = GetTrade(s.trades(), "TFULL");
  EXPECT_EQ(again.response.SerializeAsString(), r.response.SerializeAsString());
  EXPECT_EQ(s.TradeRequests("TFULL"), 1);
}

TEST_F(TradeE2E, EveryStatusValueAndFinalOnesFromStorage) {
  Stack& s = stack();
  struct Case {
    int status;
    v1::TradeStatus proto;
    bool final;
  };
  const std::vector<Case> cases = {{0, v1::TRADE_STATUS_CREATED, false},
                                   {1, v1::TRADE_STATUS_PROCESSING, false},
                                   {2, v1::TRADE_STATUS_PAID, true},
                                   {-1, v1::TRADE_STATUS_FAILED, true},
                                   {4, v1::TRADE_STATUS_PARTIALLY_REFUNDED, false},
                                   {5, v1::TRADE_STATUS_FULLY_REFUNDED, true},
                                   {6, v1::TRADE_STATUS_DEPOSIT_UNSETTLED, false},
                                   {7, v1::TRADE_STATUS_DEPOSIT_RETURNED, true}};
  auto id = [](int status) { return "TSTATUS_" + std::to_string(status + 1); };
  for (const Case& c : cases) {
    ASSERT_TRUE(s.UpsertTradeOrder({{"tradeOrderId", id(c.status)}, {"status", c.status}}).ok());
  }
  for (int round = 0; round < 2; ++round) {
    for (const Case& c : cases) {
      TradeResult r = GetTrade(s.trades(), id(c.status));
      ASSERT_TRUE(r.status.ok()) << Describe(r.status);
      EXPECT_EQ(r.response.data().status(), c.proto) << id(c.status);
      EXPECT_EQ(s.TradeRequests(id(c.status)), 1) << id(c.status) << " round " << round;
      auto stored = Stored(id(c.status));
      ASSERT_TRUE(stored.ok() && stored->has_value());
      EXPECT_EQ((*stored)->status, c.status);
    }
  }
  LetTheIntervalPass();
  for (const Case& c : cases) {
    TradeResult r = GetTrade(s.trades(), id(c.status));
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    EXPECT_EQ(r.response.data().status(), c.proto);
    EXPECT_EQ(s.TradeRequests(id(c.status)), c.final ? 1 : 2)
        << "status " << c.status << (c.final ? " is final" : " is refreshed after the interval");
  }
}

TEST_F(TradeE2E, EveryProductTypeValue) {
  Stack& s = stack();
  const std::vector<std::pair<json, v1::ProductType>> cases = {
      {json(), v1::PRODUCT_TYPE_UNSPECIFIED}, {1, v1::PRODUCT_TYPE_CASH},
      {2, v1::PRODUCT_TYPE_MEMBER_ACCOUNT},   {3, v1::PRODUCT_TYPE_WECHAT},
      {4, v1::PRODUCT_TYPE_ALIPAY},           {5, v1::PRODUCT_TYPE_UNIONPAY}};
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string id = "TPRODUCT_" + std::to_string(i);
    ASSERT_TRUE(s.UpsertTradeOrder({{"tradeOrderId", id}, {"productType", cases[i].first}}).ok());
    TradeResult r = GetTrade(s.trades(), id);
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    EXPECT_EQ(r.response.data().product_type(), cases[i].second) << cases[i].first.dump();
    EXPECT_EQ((*Stored(id))->product_type, static_cast<int>(cases[i].second));
  }
}

TEST_F(TradeE2E, TolerantDecodingVariantsAllReadTheSame) {
  Stack& s = stack();
  const std::vector<std::pair<std::string, json>> variants = {
      {"TVAR_PLAIN", json::object()},
      {"TVAR_STRINGNUM", {{"numbers_as_strings", true}}},
      {"TVAR_CAPTYPE", {{"capitalized_trade_type", true}}},
      {"TVAR_GOODSSTR", {{"goods_desc_as_string", true}}},
      {"TVAR_RFC3339", {{"rfc3339_times", true}}},
      {"TVAR_ALL",
       {{"numbers_as_strings", true},
        {"capitalized_trade_type", true},
        {"goods_desc_as_string", true},
        {"rfc3339_times", true}}}};
  for (const auto& [id, variant] : variants) {
    SCOPED_TRACE(id);
    json order = FullOrder(id);
    order["variant"] = variant;
    ASSERT_TRUE(s.UpsertTradeOrder(order).ok());
    // The sandbox really writes the variant.
    auto view = s.sandbox().Call("GET", "/__sandbox/trade_orders/" + id);
    ASSERT_TRUE(view.ok() && view->first == 200);
    const json data = json::parse(view->second)["reply"]["data"];
    EXPECT_EQ(data["orderAmount"].is_string(), variant.value("numbers_as_strings", false));
    EXPECT_EQ(data.contains("TradeType"), variant.value("capitalized_trade_type", false));
    EXPECT_EQ(data["goodsDesc"].is_string(), variant.value("goods_desc_as_string", false));

    TradeResult r = GetTrade(s.trades(), id);
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    ExpectFullOrder(r.response.data(), id);
    auto stored = Stored(id);
    ASSERT_TRUE(stored.ok() && stored->has_value());
    EXPECT_EQ((*stored)->amount, 4700);
    EXPECT_EQ((*stored)->goods.size(), 2u);
  }
  // What real upstreams also send: a type under TradeType as a string, "null" in a number
  // field, numbers as strings inside a goodsDesc string, RFC 3339 times with an offset.
  json raw = {
      {"tradeOrderId", "TVAR_RAW"},
      {"TradeType", "2"},
      {"mchId", 20000000},
      {"status", "2"},
      {"orderAmount", "150"},
      {"amount", 150},
      {"mchIncome", "150"},
      {"givePoints", "null"},
      {"channelUserId", nullptr},
      {"productType", "4"},
      {"goodsDesc", R"([{"goodsId":"-1","goodsName":"散装","currentPrice":"150","goodsNum":"1"}])"},
      {"createTime", "2026-03-01T12:30:00+08:00"},
      {"tradeSuccTime", "2026-03-01T12:30:45.5+08:00"}};
  ASSERT_TRUE(s.UpsertTradeOrder({{"tradeOrderId", "TVAR_RAW"}, {"raw_data", raw}}).ok());
  TradeResult r = GetTrade(s.trades(), "TVAR_RAW");
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  const v1::TradeOrder& o = r.response.data();
  EXPECT_EQ(o.trade_type(), v1::TRADE_TYPE_RECHARGE);
  EXPECT_EQ(o.mch_id(), "20000000");
  EXPECT_EQ(o.status(), v1::TRADE_STATUS_PAID);
  EXPECT_EQ(o.order_amount(), 150);
  EXPECT_EQ(o.mch_income(), 150);
  EXPECT_EQ(o.give_points(), 0);
  EXPECT_EQ(o.channel_user_id(), "");
  EXPECT_EQ(o.product_type(), v1::PRODUCT_TYPE_ALIPAY);
  ASSERT_EQ(o.goods_desc_size(), 1);
  EXPECT_EQ(o.goods_desc(0).goods_id(), -1);
  EXPECT_EQ(o.goods_desc(0).current_price(), 150);
  EXPECT_EQ(o.create_time(), "2026-03-01T04:30:00Z");
  EXPECT_EQ(o.trade_succ_time(), "2026-03-01T04:30:45.5Z");
}

// Replies that cannot be read: an upstream error naming what is wrong, and nothing stored (nor
// an older stored version overwritten).
TEST_F(TradeE2E, UnreadableRepliesStoreNothing) {
  Stack& s = stack();
  struct Case {
    std::string id;
    json order_extra;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"TBAD_JSON", {{"faults", {{{"type", "invalid_json"}}}}}, "JSON"},
      {"TBAD_CUT", {{"faults", {{{"type", "invalid_json"}, {"cut_at", 40}}}}}, "JSON"},
      {"TBAD_HTML", {{"faults", {{{"type", "non_json_body"}}}}}, "JSON"},
      {"TBAD_AMOUNT_STR", {{"faults", {{{"type", "non_integer_amount"}}}}}, "amount"},
      {"TBAD_AMOUNT_NUM",
       {{"faults", {{{"type", "non_integer_amount"}, {"value", "1.5"}}}}},
       "amount"},
      {"TBAD_AMOUNT_ONE",
       {{"faults", {{{"type", "non_integer_amount"}, {"value", "1.0"}}}}},
       "amount"},
      {"TBAD_STATUS", {{"faults", {{{"type", "unknown_status"}}}}}, "status"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.id);
    json order = {{"tradeOrderId", c.id}};
    order.update(c.order_extra);
    ASSERT_TRUE(s.UpsertTradeOrder(order).ok());
    auto before = s.CountTables();
    ASSERT_TRUE(before.ok());
    TradeResult r = GetTrade(s.trades(), c.id);
    // payment/tradeapi/errors.h: an unreadable 2xx reply is UNAVAILABLE ("ask again").
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(r.status);
    EXPECT_THAT(r.status.error_message(), HasSubstr("unreadable reply from merchant API"));
    // What is wrong with the reply is for operators: in the log, under the call's correlation id.
    EXPECT_THAT(LoggedDetails(s.ServerLog(), r.status), HasSubstr(c.message_part))
        << Describe(r.status);
    EXPECT_EQ(s.TradeRequests(c.id), 1) << "an unreadable reply is not retried";
    EXPECT_EQ(*s.CountTables(), *before);
    auto stored = Stored(c.id);
    ASSERT_TRUE(stored.ok());
    EXPECT_FALSE(stored->has_value());
  }

  // A stored order survives a later unreadable reply.
  ASSERT_TRUE(
      s.UpsertTradeOrder({{"tradeOrderId", "TBAD_LATER"}, {"status", 1}, {"amount", 300}}).ok());
  TradeResult good = GetTrade(s.trades(), "TBAD_LATER");
  ASSERT_TRUE(good.status.ok()) << Describe(good.status);
  ASSERT_TRUE(s.UpsertTradeOrder({{"tradeOrderId", "TBAD_LATER"},
                                  {"status", 2},
                                  {"faults", {{{"type", "non_integer_amount"}}}}})
                  .ok());
  TradeResult bad = GetTrade(s.trades(), "TBAD_LATER", "", /*force_refresh=*/true);
  EXPECT_EQ(bad.status.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(bad.status);
  auto stored = Stored("TBAD_LATER");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->status, 1);
  EXPECT_EQ((*stored)->amount, 300);
}

TEST_F(TradeE2E, UpstreamFailuresMapToPreciseStatuses) {
  Stack& s = stack();
  struct Case {
    std::string id;
    std::string merchant;
    json faults;
    bool define;  // the sandbox knows the order
    grpc::StatusCode code;
    std::string message_part;
    int64_t requests;
  };
  const std::vector<Case> cases = {
      // The merchant "wrongkey" signs with a key the platform does not know.
      {"TFAIL_KEY", kTradeMerchantWrongKey, json::array(), true, grpc::StatusCode::INTERNAL,
       "signature", 1},
      {"TFAIL_NOTFOUND", "", json::array(), false, grpc::StatusCode::NOT_FOUND,
       "no such trade order", 1},
      {"TFAIL_429",
       "",
       {{{"type", "http_429"}}},
       true,
       grpc::StatusCode::RESOURCE_EXHAUSTED,
       "429",
       3},
      {"TFAIL_500", "", {{{"type", "http_500"}}}, true, grpc::StatusCode::UNAVAILABLE, "500", 3},
      {"TFAIL_SYSTEM",
       "",
       {{{"type", "system_error"}}},
       true,
       grpc::StatusCode::UNAVAILABLE,
       "merchant API is unavailable",
       1},
      {"TFAIL_SIGNREPLY",
       "",
       {{{"type", "sign_error"}}},
       true,
       grpc::StatusCode::INTERNAL,
       "signature",
       1},
      {"TFAIL_TIMEOUT",
       "",
       {{{"type", "timeout"}, {"sleep_ms", 2500}}},
       true,
       grpc::StatusCode::DEADLINE_EXCEEDED,
       "request timeout",
       1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.id);
    if (c.define) {
      ASSERT_TRUE(s.UpsertTradeOrder({{"tradeOrderId", c.id}, {"faults", c.faults}}).ok());
    }
    auto before = s.CountTables();
    TradeResult r = GetTrade(s.trades(), c.id, c.merchant);
    EXPECT_EQ(r.status.error_code(), c.code) << Describe(r.status);
    EXPECT_THAT(r.status.error_message(), HasSubstr(c.message_part)) << Describe(r.status);
    EXPECT_EQ(s.TradeRequests(c.id), c.requests);
    EXPECT_EQ(*s.CountTables(), *before);
  }
  auto stats = s.sandbox().Call("GET", "/__sandbox/stats?trade_order_id=TFAIL_KEY");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(json::parse(stats->second)["sign_errors"], 1);
}

TEST_F(TradeE2E, UpstreamDownIsUnavailable) {
  Stack& s = stack();
  auto before = s.CountTables();
  const absl::Time start = absl::Now();
  TradeResult r = GetTrade(s.trades(), kSeedId, kTradeMerchantDown, /*force_refresh=*/true);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(r.status);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "connection refused is fast, retries too";
  EXPECT_EQ(*s.CountTables(), *before);
  storage::MysqlTradeOrderRepository repo(s.pool());
  auto stored = repo.Get(kTradeMerchantDown, kSeedId);
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->has_value());
}

TEST_F(TradeE2E, InvalidRequestsAreRefusedBeforeAnyRequest) {
  Stack& s = stack();
  const int64_t requests = s.TotalSandboxRequests();
  auto before = s.CountTables();
  for (const std::string& id :
       {std::string(""), std::string(65, 'E'), std::string("E012/../x"), std::string("E01*2"),
        std::string("订单E01"), std::string("E01'; DROP TABLE t_trade_order; --")}) {
    TradeResult r = GetTrade(s.trades(), id);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << Describe(r.status) << " for \"" << id << "\"";
  }
  TradeResult unknown = GetTrade(s.trades(), kSeedId, "nosuchmerchant");
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << Describe(unknown.status);
  EXPECT_EQ(s.TotalSandboxRequests(), requests);
  EXPECT_EQ(*s.CountTables(), *before);
  // 64 characters are fine (unknown upstream: NOT_FOUND).
  TradeResult longest = GetTrade(s.trades(), std::string(64, 'E'));
  EXPECT_EQ(longest.status.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(longest.status);
}

TEST_F(TradeE2E, ConcurrentRefreshesShareOneRequest) {
  Stack& s = stack();
  ASSERT_TRUE(
      s.UpsertTradeOrder({{"tradeOrderId", "TCOALESCE"}, {"status", 1}, {"latency_ms", 300}}).ok());
  std::vector<TradeResult> results = GetTradeConcurrently(s.trades(), 60, "TCOALESCE");
  for (const TradeResult& r : results) {
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    EXPECT_EQ(r.response.data().status(), v1::TRADE_STATUS_PROCESSING);
  }
  EXPECT_EQ(s.TradeRequests("TCOALESCE"), 1);
  // Forced refreshes (bypassing the interval) coalesce as well.
  results = GetTradeConcurrently(s.trades(), 40, "TCOALESCE", /*force_refresh=*/true);
  for (const TradeResult& r : results) ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(s.TradeRequests("TCOALESCE"), 2);
  auto stats = s.sandbox().Call("GET", "/__sandbox/stats?trade_order_id=TCOALESCE");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(json::parse(stats->second)["max_inflight"], 1);
}

TEST_F(TradeE2E, StatusChangeIsPickedUpAfterTheIntervalThenFinal) {
  Stack& s = stack();
  ASSERT_TRUE(s.UpsertTradeOrder({{"tradeOrderId", "TCHANGE"},
                                  {"status", 1},
                                  {"transitions", {{{"to", 2}, {"after_queries", 1}}}}})
                  .ok());
  TradeResult first = GetTrade(s.trades(), "TCHANGE");
  ASSERT_TRUE(first.status.ok()) << Describe(first.status);
  EXPECT_EQ(first.response.data().status(), v1::TRADE_STATUS_PROCESSING);
  EXPECT_EQ(first.response.data().trade_succ_time(), "");
  TradeResult cached = GetTrade(s.trades(), "TCHANGE");
  EXPECT_EQ(cached.response.data().status(), v1::TRADE_STATUS_PROCESSING);
  EXPECT_EQ(s.TradeRequests("TCHANGE"), 1);

  LetTheIntervalPass();
  TradeResult paid = GetTrade(s.trades(), "TCHANGE");
  ASSERT_TRUE(paid.status.ok()) << Describe(paid.status);
  EXPECT_EQ(paid.response.data().status(), v1::TRADE_STATUS_PAID);
  EXPECT_NE(paid.response.data().trade_succ_time(), "");
  EXPECT_EQ(s.TradeRequests("TCHANGE"), 2);
  auto stored = Stored("TCHANGE");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->status, 2);
  EXPECT_TRUE((*stored)->trade_succ_time.has_value());

  LetTheIntervalPass();
  TradeResult final_answer = GetTrade(s.trades(), "TCHANGE");
  EXPECT_EQ(final_answer.response.data().status(), v1::TRADE_STATUS_PAID);
  EXPECT_EQ(s.TradeRequests("TCHANGE"), 2);
}

}  // namespace
}  // namespace orderquery::e2e
