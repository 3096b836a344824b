#include "server/payment/wechat/model.h"

#include <string>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/service/vehicle_convert.h"
#include "tests/fakes/seed_examples.h"

namespace orderquery::payment::wechat {
namespace {

using ::orderquery::v1::ParkingInfo;
using ::orderquery::v1::VehicleTransaction;
using ::testing::HasSubstr;

// Seed 002's 200 OK example, byte for byte (tests/fakes/seed_examples.h: the sandbox serves it).
constexpr const auto& kSeedVehicleReply = ::orderquery::fakes::kSeed002VehicleReply;

std::string Replace(const std::string& text, const std::string& from, const std::string& to) {
  EXPECT_NE(text.find(from), std::string::npos) << from;
  return absl::StrReplaceAll(text, {{from, to}});
}

// The reply as the API answers it: this decoder, then the service layer's mapping (the same
// function the RPC uses), so the proto assertions below check both together.
absl::StatusOr<VehicleTransaction> DecodeToApi(absl::string_view body) {
  absl::StatusOr<domain::VehicleTransaction> t = DecodeVehicleTransaction(body);
  if (!t.ok()) return t.status();
  return service::ToProto(*t);
}

TEST(DecodeVehicleTest, SeedExampleFieldForField) {
  absl::StatusOr<VehicleTransaction> t = DecodeToApi(kSeedVehicleReply);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->appid(), "wxcbda96de0b165486");
  EXPECT_EQ(t->sub_appid(), "wxcbda96de0b165489");
  EXPECT_EQ(t->sp_mchid(), "1230000109");
  EXPECT_EQ(t->sub_mchid(), "1900000109");
  EXPECT_EQ(t->description(), "停车场扣费");
  EXPECT_EQ(t->create_time(), "2017-08-26T10:43:39+08:00");
  EXPECT_EQ(t->out_trade_no(), "20150806125346");
  EXPECT_EQ(t->transaction_id(), "1009660380201506130728806387");
  EXPECT_EQ(t->trade_state(), VehicleTransaction::SUCCESS);
  EXPECT_EQ(t->trade_state_description(), "支付失败,请重新下单支付");
  EXPECT_EQ(t->success_time(), "2017-08-26T10:43:39+08:00");
  EXPECT_EQ(t->bank_type(), "CMC");
  EXPECT_EQ(t->user_repaid(), "Y");
  EXPECT_EQ(t->attach(), "深圳分店");
  EXPECT_EQ(t->trade_scene(), "PARKING");

  ASSERT_TRUE(t->has_parking_info());
  const ParkingInfo& p = t->parking_info();
  EXPECT_EQ(p.parking_id(), "5K8264ILTKCH16CQ250");
  EXPECT_EQ(p.plate_number(), "粤B888888");
  EXPECT_EQ(p.plate_color(), ParkingInfo::BLUE);
  EXPECT_EQ(p.start_time(), "2017-08-26T10:43:39+08:00");
  EXPECT_EQ(p.end_time(), "2017-08-26T10:43:39+08:00");
  EXPECT_EQ(p.parking_name(), "欢乐海岸停车场");
  EXPECT_EQ(p.charging_duration(), 3600);
  EXPECT_EQ(p.device_id(), "12313");

  ASSERT_TRUE(t->has_payer());
  EXPECT_EQ(t->payer().openid(), "oUpF8uMuAJOM2pxb1Q");
  EXPECT_EQ(t->payer().sub_openid(), "oUpF8uMuAJOM2pxb1Q");

  ASSERT_TRUE(t->has_amount());
  EXPECT_EQ(t->amount().total(), 888);
  EXPECT_EQ(t->amount().currency(), "CNY");
  EXPECT_EQ(t->amount().payer_total(), 100);
  EXPECT_EQ(t->amount().discount_total(), 100);

  ASSERT_EQ(t->promotion_detail_size(), 1);
  const orderquery::v1::PromotionDetail& d = t->promotion_detail(0);
  EXPECT_EQ(d.coupon_id(), "109519");
  EXPECT_EQ(d.name(), "单品惠-6");
  EXPECT_EQ(d.scope(), "SINGLE");
  EXPECT_EQ(d.type(), "CASH");
  EXPECT_EQ(d.stock_id(), "931386");
  EXPECT_EQ(d.amount(), 5);
  EXPECT_EQ(d.wechatpay_contribute(), 1);
  EXPECT_EQ(d.merchant_contribute(), 1);
  EXPECT_EQ(d.other_contribute(), 1);
  EXPECT_EQ(d.currency(), "CNY");
}

TEST(DecodeVehicleTest, EveryTradeStateAndPlateColour) {
  const std::pair<const char*, VehicleTransaction::TradeState> states[] = {
      {"SUCCESS", VehicleTransaction::SUCCESS},
      {"ACCEPTED", VehicleTransaction::ACCEPTED},
      {"PAY_FAIL", VehicleTransaction::PAY_FAIL},
      {"REFUND", VehicleTransaction::REFUND},
      {"SOMETHING_NEW", VehicleTransaction::TRADE_STATE_UNSPECIFIED},
  };
  for (const auto& [name, want] : states) {
    absl::StatusOr<VehicleTransaction> t =
        DecodeToApi(Replace(kSeedVehicleReply, "\"trade_state\" : \"SUCCESS\"",
                            std::string("\"trade_state\" : \"") + name + "\""));
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->trade_state(), want) << name;
  }
  const std::pair<const char*, ParkingInfo::PlateColor> colours[] = {
      {"BLUE", ParkingInfo::BLUE},
      {"GREEN", ParkingInfo::GREEN},
      {"YELLOW", ParkingInfo::YELLOW},
      {"BLACK", ParkingInfo::BLACK},
      {"WHITE", ParkingInfo::WHITE},
      {"LIMEGREEN", ParkingInfo::LIMEGREEN},
      {"PURPLE", ParkingInfo::PLATE_COLOR_UNSPECIFIED},
      {"blue", ParkingInfo::PLATE_COLOR_UNSPECIFIED},
  };
  for (const auto& [name, want] : colours) {
    absl::StatusOr<VehicleTransaction> t =
        DecodeToApi(Replace(kSeedVehicleReply, "\"plate_color\" : \"BLUE\"",
                            std::string("\"plate_color\" : \"") + name + "\""));
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->parking_info().plate_color(), want) << name;
  }
}

TEST(DecodeVehicleTest, OptionalPartsMayBeAbsent) {
  const std::string minimal = R"({"appid":"wx1","sp_mchid":"1230000109","sub_mchid":"1900000109",
    "out_trade_no":"A1","trade_state":"ACCEPTED","amount":{"total":1}})";
  absl::StatusOr<VehicleTransaction> t = DecodeToApi(minimal);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_FALSE(t->has_parking_info());
  EXPECT_FALSE(t->has_payer());
  EXPECT_EQ(t->promotion_detail_size(), 0);
  EXPECT_EQ(t->amount().total(), 1);
  EXPECT_EQ(t->success_time(), "");
  // null is absent
  EXPECT_TRUE(DecodeVehicleTransaction(
                  Replace(kSeedVehicleReply, "\"bank_type\" : \"CMC\"", "\"bank_type\" : null"))
                  .ok());
}

TEST(DecodeVehicleTest, RejectsWhatWeCannotTrust) {
  constexpr char kMinimalHead[] = R"({"appid":"wx1","sp_mchid":"1","sub_mchid":"2",)"
                                  R"("out_trade_no":"A","trade_state":"SUCCESS",)";
  struct Case {
    std::string body;
    std::string why;
  } cases[] = {
      {"", "empty"},
      {"<html>", "not JSON"},
      {std::string(kSeedVehicleReply).substr(0, 300), "not JSON"},  // truncated
      {"[1,2]", "array, not an object"},
      {Replace(kSeedVehicleReply, "\"total\" : 888", "\"total\" : 888.0"),
       "amount.total must be an integer"},
      {Replace(kSeedVehicleReply, "\"total\" : 888", "\"total\" : 8.88e2"),
       "amount.total must be an integer"},
      {Replace(kSeedVehicleReply, "\"total\" : 888", "\"total\" : \"888\""),
       "amount.total must be an integer, got string"},
      {Replace(kSeedVehicleReply, "\"total\" : 888", "\"total\" : -888"),
       "amount.total must not be negative"},
      {Replace(kSeedVehicleReply, "\"total\" : 888", "\"total\" : 18446744073709551615"),
       "out of range"},
      {Replace(kSeedVehicleReply, "\"total\" : 888,", ""), "amount.total is missing"},
      {Replace(kSeedVehicleReply, "\"payer_total\" : 100", "\"payer_total\" : 99.9"),
       "amount.payer_total"},
      {Replace(kSeedVehicleReply, "\"amount\" : 5", "\"amount\" : 5.5"),
       "promotion_detail[0].amount"},
      {Replace(kSeedVehicleReply, "\"charging_duration\" : 3600",
               "\"charging_duration\" : \"3600\""),
       "parking_info.charging_duration"},
      {Replace(kSeedVehicleReply, "\"trade_state\" : \"SUCCESS\",", ""), "trade_state is missing"},
      {Replace(kSeedVehicleReply, "\"out_trade_no\" : \"20150806125346\",", ""),
       "out_trade_no is missing"},
      {Replace(kSeedVehicleReply, "\"sp_mchid\" : \"1230000109\",", ""), "sp_mchid is missing"},
      {Replace(kSeedVehicleReply, "\"sub_mchid\" : \"1900000109\",", ""), "sub_mchid is missing"},
      {Replace(kSeedVehicleReply, "\"appid\" : \"wxcbda96de0b165486\",", ""), "appid is missing"},
      {Replace(kSeedVehicleReply, "\"appid\" : \"wxcbda96de0b165486\"", "\"appid\" : 1"),
       "appid must be a string"},
      {Replace(kSeedVehicleReply, "\"success_time\" : \"2017-08-26T10:43:39+08:00\"",
               "\"success_time\" : \"yesterday\""),
       "success_time is not an RFC 3339 time"},
      {Replace(kSeedVehicleReply, "\"payer\" : {", "\"payer\" : [ {"), "not JSON"},
      {std::string(kMinimalHead) + R"("amount":7})", "amount must be an object"},
      {std::string(kMinimalHead) + R"("amount":{"total":1},"promotion_detail":{}})",
       "promotion_detail must be an array"},
      {std::string(kMinimalHead) + R"("amount":{"total":1},"promotion_detail":[1]})",
       "promotion_detail[0] must be an object"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<VehicleTransaction> t = DecodeToApi(c.body);
    ASSERT_FALSE(t.ok()) << c.why;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(t.status().message()), HasSubstr(c.why));
  }
}

constexpr char kDirectReply[] =
    R"({"amount":{"currency":"CNY","payer_currency":"CNY","payer_total":1,"total":1},
"appid":"wxdace645e0bc2cXXX","attach":"","bank_type":"OTHERS","mchid":"1900006XXX",
"out_trade_no":"44_2126281063_5504","payer":{"openid":"o4GgauJP_mgWEWictzA15WT15XXX"},
"promotion_detail":[],"success_time":"2021-03-22T10:29:05+08:00","trade_state":"SUCCESS",
"trade_state_desc":"支付成功","trade_type":"JSAPI","transaction_id":"4200000891202103228088184743"})";

TEST(DecodeTransactionTest, DirectReply) {
  absl::StatusOr<Transaction> t = DecodeTransaction(kDirectReply, ApiMode::kDirect);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->appid, "wxdace645e0bc2cXXX");
  EXPECT_EQ(t->mchid, "1900006XXX");
  EXPECT_EQ(t->out_trade_no, "44_2126281063_5504");
  EXPECT_EQ(t->transaction_id, "4200000891202103228088184743");
  EXPECT_EQ(t->trade_state, TradeState::kSuccess);
  EXPECT_EQ(t->trade_state_name, "SUCCESS");
  EXPECT_EQ(t->trade_state_desc, "支付成功");
  EXPECT_EQ(t->trade_type, "JSAPI");
  EXPECT_EQ(t->bank_type, "OTHERS");
  EXPECT_EQ(t->payer_openid, "o4GgauJP_mgWEWictzA15WT15XXX");
  EXPECT_EQ(t->success_time, "2021-03-22T10:29:05+08:00");
  ASSERT_TRUE(t->success_at.has_value());
  EXPECT_EQ(*t->success_at, absl::FromUnixSeconds(1616380145));  // 02:29:05 UTC
  ASSERT_TRUE(t->amount.has_value());
  EXPECT_EQ(t->amount->total, 1);
  EXPECT_EQ(t->amount->payer_total, 1);
  EXPECT_EQ(t->amount->currency, "CNY");
  EXPECT_EQ(t->amount->payer_currency, "CNY");
  EXPECT_TRUE(t->sp_mchid.empty());
}

TEST(DecodeTransactionTest, PartnerReply) {
  const std::string body = R"({"sp_appid":"wx8888888888888888","sp_mchid":"1230000109",
    "sub_appid":"wxd678efh567hg6999","sub_mchid":"1900000109",
    "out_trade_no":"1217752501201407033233368018",
    "transaction_id":"1217752501201407033233368018","trade_type":"JSAPI","trade_state":"REFUND",
    "trade_state_desc":"转入退款","success_time":"2018-06-08T10:34:56+08:00",
    "payer":{"sp_openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
             "sub_openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6p"},
    "amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}})";
  absl::StatusOr<Transaction> t = DecodeTransaction(body, ApiMode::kPartner);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->mode, ApiMode::kPartner);
  EXPECT_EQ(t->sp_appid, "wx8888888888888888");
  EXPECT_EQ(t->sp_mchid, "1230000109");
  EXPECT_EQ(t->sub_appid, "wxd678efh567hg6999");
  EXPECT_EQ(t->sub_mchid, "1900000109");
  EXPECT_EQ(t->trade_state, TradeState::kRefund);
  EXPECT_EQ(t->payer_openid, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
  EXPECT_EQ(t->payer_sub_openid, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6p");
  EXPECT_EQ(t->amount->total, 100);
  EXPECT_TRUE(t->appid.empty());
  // A direct reply is not a partner reply.
  EXPECT_THAT(std::string(DecodeTransaction(kDirectReply, ApiMode::kPartner).status().message()),
              HasSubstr("sp_appid is missing"));
}

TEST(DecodeTransactionTest, EveryTradeState) {
  for (const char* name :
       {"SUCCESS", "REFUND", "NOTPAY", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR"}) {
    EXPECT_EQ(TradeStateName(ParseTradeState(name)), name);
  }
  EXPECT_EQ(ParseTradeState("ACCEPTED"), TradeState::kUnknown);
  EXPECT_EQ(ParseTradeState("success"), TradeState::kUnknown);

  const std::string notpay = R"({"appid":"wx1","mchid":"1900","out_trade_no":"A1",
    "trade_state":"NOTPAY","trade_state_desc":"订单未支付"})";
  absl::StatusOr<Transaction> t = DecodeTransaction(notpay, ApiMode::kDirect);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->trade_state, TradeState::kNotPay);
  EXPECT_FALSE(t->amount.has_value());
  EXPECT_FALSE(t->success_at.has_value());

  absl::StatusOr<Transaction> odd =
      DecodeTransaction(Replace(notpay, "\"NOTPAY\"", "\"SOMETHING_NEW\""), ApiMode::kDirect);
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->trade_state, TradeState::kUnknown);
  EXPECT_EQ(odd->trade_state_name, "SOMETHING_NEW");
}

TEST(DecodeTransactionTest, PaidNeedsMoneyAndTransactionId) {
  struct Case {
    std::string body;
    std::string why;
  } cases[] = {
      {Replace(kDirectReply, "\"total\":1}", "\"total\":1.0}"), "amount.total must be an integer"},
      {Replace(kDirectReply, "\"total\":1}", "\"total\":\"1\"}"),
       "amount.total must be an integer"},
      {Replace(kDirectReply, ",\"total\":1}", "}"), "amount.total is missing"},
      {Replace(kDirectReply, "\"payer_total\":1,", "\"payer_total\":0.99,"), "amount.payer_total"},
      {Replace(kDirectReply, "\"transaction_id\":\"4200000891202103228088184743\"", "\"x\":1"),
       "transaction_id is missing"},
      {Replace(kDirectReply,
               "\"amount\":{\"currency\":\"CNY\",\"payer_currency\":\"CNY\",\"payer_total\":1,"
               "\"total\":1},",
               ""),
       "amount is missing"},
      {Replace(kDirectReply, "\"mchid\":\"1900006XXX\",", ""), "mchid is missing"},
      {Replace(kDirectReply, "\"trade_state\":\"SUCCESS\"", "\"trade_state\":1"),
       "trade_state must be a string"},
      {Replace(kDirectReply, "\"success_time\":\"2021-03-22T10:29:05+08:00\"",
               "\"success_time\":\"2021-03-22 10:29:05\""),
       "RFC 3339"},
      {"{\"appid\":", "not JSON"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Transaction> t = DecodeTransaction(c.body, ApiMode::kDirect);
    ASSERT_FALSE(t.ok()) << c.why;
    EXPECT_THAT(std::string(t.status().message()), HasSubstr(c.why));
  }
}

}  // namespace
}  // namespace orderquery::payment::wechat
