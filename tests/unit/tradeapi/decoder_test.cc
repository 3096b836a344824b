// The tolerant-but-strict decoder against the seed's example and each variant the issue lists.
#include "server/payment/tradeapi/decoder.h"

#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "server/payment/tradeapi/errors.h"
#include "tests/fakes/tradeapi_encoder.h"
#include "tests/unit/tradeapi/seed_example.h"

namespace orderquery::payment::tradeapi {
namespace {

using Json = nlohmann::json;
using seed001::kSeedExampleReply;
using seed001::RecordDiff;
using seed001::SeedExampleRecord;
using seed001::Utc;

// The seed's reply with `edit` applied to its data object.
template <typename Edit>
std::string SeedWith(Edit edit) {
  Json reply = Json::parse(kSeedExampleReply);
  edit(reply["data"]);
  return reply.dump();
}

absl::StatusOr<domain::TradeOrderRecord> DecodeSeedWith(const char* field, const Json& value) {
  return DecodeTradeOrderReply(SeedWith([&](Json& d) { d[field] = value; }));
}

void ExpectUnreadable(const absl::StatusOr<domain::TradeOrderRecord>& r,
                      absl::string_view message_has) {
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_TRUE(absl::StartsWith(r.status().message(), kUnreadablePrefix)) << r.status();
  EXPECT_NE(r.status().message().find(message_has), absl::string_view::npos) << r.status();
}

TEST(MerchantDecoderTest, SeedExampleFieldForField) {
  auto r = DecodeTradeOrderReply(kSeedExampleReply);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(RecordDiff(*r, SeedExampleRecord()), "");
  // Spelled out too, so the expectation does not rest on the helper alone.
  EXPECT_EQ(r->mch_id, "20000000");
  EXPECT_EQ(r->operator_id, "null");
  EXPECT_EQ(r->channel_user_id, "");
  ASSERT_EQ(r->goods.size(), 2u);
  EXPECT_EQ(r->goods[0].goods_name, "奥尔良鸡腿堡");
  EXPECT_EQ(r->goods[0].cell_price, 12000);
  EXPECT_EQ(r->goods[1].goods_id, -1);
  EXPECT_EQ(r->goods[1].cell_price, 0);
  EXPECT_EQ(r->trade_succ_time, Utc(2019, 8, 23, 11, 12, 21));
}

TEST(MerchantDecoderTest, SeedExampleAsPublishedIsNotJson) {
  // The seed's text lacks the comma after goodsDesc; that must be a clear error, not a guess.
  const std::string as_published =
      absl::StrReplaceAll(kSeedExampleReply, {{"}\n],\n\"couponId\"", "}\n]\n\"couponId\""}});
  ASSERT_NE(as_published, kSeedExampleReply);
  ExpectUnreadable(DecodeTradeOrderReply(as_published), "reply is not JSON: parse error at line");
}

TEST(MerchantDecoderTest, NotJsonAtAll) {
  ExpectUnreadable(DecodeTradeOrderReply(""), "reply is not JSON");
  ExpectUnreadable(DecodeTradeOrderReply("<html>502 Bad Gateway</html>"), "reply is not JSON");
  ExpectUnreadable(DecodeTradeOrderReply(R"({"code":0,"msg":"success","data":{"tradeOrderId")"),
                   "reply is not JSON");
  ExpectUnreadable(DecodeTradeOrderReply("[1,2]"), "reply must be a {code, msg, data} object");
  ExpectUnreadable(DecodeTradeOrderReply(R"({"msg":"success"})"), "code is missing");
  ExpectUnreadable(DecodeTradeOrderReply(R"({"code":0,"msg":"success"})"), "code 0 without data");
  ExpectUnreadable(DecodeTradeOrderReply(R"({"code":0,"data":null})"), "code 0 without data");
  ExpectUnreadable(DecodeTradeOrderReply(R"({"code":0,"data":"x"})"), "data must be an object");
  ExpectUnreadable(DecodeTradeOrderReply(R"({"code":1.5,"data":{}})"), "code must be an integer");
}

TEST(MerchantDecoderTest, EnvelopeErrorsUseTheTable) {
  auto r = DecodeTradeOrderReply(R"({"code":9999,"msg":"订单不存在","data":null})");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
  r = DecodeTradeOrderReply(R"({"code":"9999","msg":"验签失败"})");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsInternal(r.status())) << r.status();
  EXPECT_TRUE(absl::StartsWith(r.status().message(), "merchant API rejected our signature"));
  // A code in a string is still the code.
  EXPECT_TRUE(DecodeTradeOrderReply(SeedWith([](Json&) {})).ok());
  Json reply = Json::parse(kSeedExampleReply);
  reply["code"] = "0";
  EXPECT_TRUE(DecodeTradeOrderReply(reply.dump()).ok());
}

TEST(MerchantDecoderTest, EveryStatusValue) {
  for (int status : {0, 1, 2, -1, 4, 5, 6, 7}) {
    SCOPED_TRACE(status);
    auto r = DecodeSeedWith("status", status);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, status);
    EXPECT_TRUE(IsKnownTradeStatus(status));
    auto as_string = DecodeSeedWith("status", std::to_string(status));
    ASSERT_TRUE(as_string.ok()) << as_string.status();
    EXPECT_EQ(as_string->status, status);
  }
}

TEST(MerchantDecoderTest, FinalStatuses) {
  for (int s : {2, -1, 5, 7}) EXPECT_TRUE(IsFinalTradeStatus(s)) << s;
  for (int s : {0, 1, 4, 6}) EXPECT_FALSE(IsFinalTradeStatus(s)) << s;
}

TEST(MerchantDecoderTest, EveryProductTypeValue) {
  for (int p : {1, 2, 3, 4, 5}) {
    auto r = DecodeSeedWith("productType", p);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->product_type, p);
  }
  auto absent = DecodeTradeOrderReply(SeedWith([](Json& d) { d.erase("productType"); }));
  ASSERT_TRUE(absent.ok());
  EXPECT_EQ(absent->product_type, 0);
}

TEST(MerchantDecoderTest, EnumValuesOutsideTheSeedNameTheField) {
  struct Row {
    const char* field;
    Json value;
    const char* message_has;
  };
  const Row rows[] = {
      {"status", 3, "status 3 is not one of the seed's values (0,1,2,-1,4,5,6,7)"},
      {"status", 8, "status 8"},
      {"status", -2, "status -2"},
      {"status", "paid", "status must be an integer"},
      {"productType", 0, "productType 0 is not one of the seed's values (1..5)"},
      {"productType", 6, "productType 6"},
      {"tradeType", 3, "tradeType 3 is not one of the seed's values (1,2)"},
      {"TradeType", 0, "TradeType 0"},
      {"depositMode", 2, "depositMode 2 is not one of the seed's values (0,1)"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.field);
    ExpectUnreadable(DecodeSeedWith(row.field, row.value), row.message_has);
  }
}

TEST(MerchantDecoderTest, RequiredFields) {
  ExpectUnreadable(DecodeTradeOrderReply(SeedWith([](Json& d) { d.erase("status"); })),
                   "data.status is missing");
  ExpectUnreadable(DecodeSeedWith("status", nullptr), "data.status is missing");
  ExpectUnreadable(DecodeSeedWith("tradeOrderId", nullptr), "data.tradeOrderId is missing");
  ExpectUnreadable(DecodeSeedWith("tradeOrderId", ""), "data.tradeOrderId is missing");
}

TEST(MerchantDecoderTest, NumbersAsStrings) {
  const std::string body = SeedWith([](Json& d) {
    for (const char* f : {"tradeType", "orderAmount", "discountAmount", "amount", "mchIncome",
                          "status", "refundTotalAmount"}) {
      d[f] = d[f].dump();
    }
    d["depositMode"] = "1";
    d["productType"] = "3";
    d["givePoints"] = "15";
    d["mchId"] = "20000000";
    for (Json& g : d["goodsDesc"]) {
      for (auto it = g.begin(); it != g.end(); ++it) {
        if (it->is_number()) *it = it->dump();
      }
    }
  });
  auto r = DecodeTradeOrderReply(body);
  ASSERT_TRUE(r.ok()) << r.status();
  domain::TradeOrderRecord want = SeedExampleRecord();
  want.deposit_mode = 1;
  want.product_type = 3;
  want.give_points = 15;
  EXPECT_EQ(RecordDiff(*r, want), "");
}

TEST(MerchantDecoderTest, LargeAndNegativeIntegers) {
  auto r = DecodeSeedWith("orderAmount", "9007199254740993");  // beyond double precision
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->order_amount, 9007199254740993);
  ExpectUnreadable(DecodeSeedWith("orderAmount", "9223372036854775808"), "orderAmount");
  ExpectUnreadable(DecodeSeedWith("amount", 18446744073709551615ull), "amount");
  auto negative = DecodeSeedWith("givePoints", "-3");
  ASSERT_TRUE(negative.ok());
  EXPECT_EQ(negative->give_points, -3);
}

TEST(MerchantDecoderTest, TradeTypeEitherCasing) {
  auto upper = DecodeTradeOrderReply(SeedWith([](Json& d) {
    d.erase("tradeType");
    d["TradeType"] = "2";
  }));
  ASSERT_TRUE(upper.ok()) << upper.status();
  EXPECT_EQ(upper->trade_type, 2);

  auto both_agree = DecodeTradeOrderReply(SeedWith([](Json& d) { d["TradeType"] = 1; }));
  ASSERT_TRUE(both_agree.ok());
  EXPECT_EQ(both_agree->trade_type, 1);

  ExpectUnreadable(DecodeTradeOrderReply(SeedWith([](Json& d) { d["TradeType"] = 2; })),
                   "tradeType 1 and TradeType 2 disagree");

  auto neither = DecodeTradeOrderReply(SeedWith([](Json& d) { d.erase("tradeType"); }));
  ASSERT_TRUE(neither.ok());
  EXPECT_EQ(neither->trade_type, 0);
}

TEST(MerchantDecoderTest, GoodsDescAsString) {
  auto r = DecodeTradeOrderReply(SeedWith([](Json& d) { d["goodsDesc"] = d["goodsDesc"].dump(); }));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(RecordDiff(*r, SeedExampleRecord()), "");

  for (const Json& empty : {Json(""), Json("[]"), Json("null"), Json(nullptr), Json::array()}) {
    auto e = DecodeSeedWith("goodsDesc", empty);
    ASSERT_TRUE(e.ok()) << empty.dump() << " " << e.status();
    EXPECT_TRUE(e->goods.empty());
  }
  ExpectUnreadable(DecodeSeedWith("goodsDesc", "[{\"goodsId\":1,"),
                   "goodsDesc (a string) is not JSON");
  ExpectUnreadable(DecodeSeedWith("goodsDesc", "{}"), "goodsDesc must be an array");
  ExpectUnreadable(DecodeSeedWith("goodsDesc", Json::array({1})), "goodsDesc[0] must be an object");
}

TEST(MerchantDecoderTest, NullsAndAbsenceMeanEmpty) {
  const std::string body = SeedWith([](Json& d) {
    for (auto it = d.begin(); it != d.end(); ++it) {
      if (it.key() != "tradeOrderId" && it.key() != "status") *it = nullptr;
    }
  });
  auto r = DecodeTradeOrderReply(body);
  ASSERT_TRUE(r.ok()) << r.status();
  domain::TradeOrderRecord want;
  want.trade_order_id = "E01201908230414433510006";
  want.status = 1;
  EXPECT_EQ(RecordDiff(*r, want), "");

  auto minimal = DecodeTradeOrderReply(
      R"({"code":0,"data":{"tradeOrderId":"T1","status":2,"orderAmount":"","givePoints":"null"}})");
  ASSERT_TRUE(minimal.ok()) << minimal.status();
  want.trade_order_id = "T1";
  want.status = 2;
  EXPECT_EQ(RecordDiff(*minimal, want), "");
}

TEST(MerchantDecoderTest, BothTimeForms) {
  const absl::Time want = Utc(2019, 8, 23, 11, 12, 21);
  for (const char* text :
       {"2019-08-23T11:12:21.000+0000", "2019-08-23T19:12:21.000+0800", "2019-08-23T11:12:21Z",
        "2019-08-23T19:12:21+08:00", "2019-08-23T11:12:21.000Z", "2019-08-23T06:12:21-05:00"}) {
    SCOPED_TRACE(text);
    auto r = DecodeSeedWith("createTime", text);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->create_time, want);
  }
  auto fraction = ParseTradeTime("2019-08-23T11:12:21.250+0000");
  ASSERT_TRUE(fraction.ok());
  EXPECT_EQ(*fraction, want + absl::Milliseconds(250));

  for (const char* bad : {"2019-08-23 11:12:21", "2019-08-23T11:12:21", "1566558741000",
                          "23/08/2019", "2019-08-23T11:12:21 +0000"}) {
    SCOPED_TRACE(bad);
    ExpectUnreadable(DecodeSeedWith("updateTime", bad), "updateTime: ");
  }
  ExpectUnreadable(DecodeSeedWith("tradeSuccTime", 1566558741000), "tradeSuccTime must be a time");
  auto empty = DecodeSeedWith("tradeSuccTime", "");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->trade_succ_time.has_value());
}

TEST(MerchantDecoderTest, MoneyMustBeIntegerFen) {
  for (const char* field :
       {"orderAmount", "discountAmount", "amount", "mchIncome", "refundTotalAmount"}) {
    SCOPED_TRACE(field);
    for (const Json& bad : {Json("1.5"), Json(1.5), Json(1.0), Json("1e2"), Json(" 1"), Json("+1"),
                            Json("0x10"), Json("一"), Json(true), Json::array()}) {
      ExpectUnreadable(DecodeSeedWith(field, bad),
                       std::string(field) + " must be an integer number of fen, got ");
    }
  }
  auto r = DecodeSeedWith("orderAmount", "1.5");
  EXPECT_EQ(r.status().message(),
            "unreadable reply from merchant API: orderAmount must be an integer number of fen, "
            "got \"1.5\"");
}

TEST(MerchantDecoderTest, GoodsMoneyMustBeIntegerFen) {
  auto r =
      DecodeTradeOrderReply(SeedWith([](Json& d) { d["goodsDesc"][0]["currentPrice"] = 104.0; }));
  ExpectUnreadable(r, "goodsDesc[0].currentPrice must be an integer number of fen, got 104.0");
  r = DecodeTradeOrderReply(SeedWith([](Json& d) { d["goodsDesc"][1]["goodsNum"] = "0.5"; }));
  ExpectUnreadable(r, "goodsDesc[1].goodsNum must be an integer");
  r = DecodeTradeOrderReply(SeedWith([](Json& d) { d["goodsDesc"][1]["goodsName"] = 7; }));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->goods[1].goods_name, "7");
  r = DecodeTradeOrderReply(SeedWith([](Json& d) { d["goodsDesc"][1]["goodsName"] = {1}; }));
  ExpectUnreadable(r, "goodsDesc[1].goodsName must be a string");
}

TEST(MerchantDecoderTest, StringFieldsRefuseWhatIsNotTextOrInteger) {
  ExpectUnreadable(DecodeSeedWith("mchId", 2.5), "mchId must be a string, got 2.5");
  ExpectUnreadable(DecodeSeedWith("userId", true), "userId must be a string");
  ExpectUnreadable(DecodeSeedWith("subject", Json::object()), "subject must be a string");
  auto big = DecodeSeedWith("userId", 134713461986047502ull);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->user_id, "134713461986047502");
}

TEST(MerchantDecoderTest, UnknownKeysIgnored) {
  auto r = DecodeTradeOrderReply(SeedWith([](Json& d) {
    d["newField"] = {{"a", 1}};
    d["sign"] = "ABC";
  }));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(RecordDiff(*r, SeedExampleRecord()), "");
}

TEST(MerchantDecoderTest, EncodeDecodeEveryVariant) {
  domain::TradeOrderRecord full = SeedExampleRecord();
  full.deposit_mode = 1;
  full.product_type = 4;
  full.trade_type = 2;
  full.coupon_id = "C1";
  full.give_points = 12;
  full.create_time = *full.create_time + absl::Milliseconds(5);
  for (int mask = 0; mask < 16; ++mask) {
    EncodeOptions o;
    o.numbers_as_strings = mask & 1;
    o.capitalized_trade_type = mask & 2;
    o.goods_desc_as_string = mask & 4;
    o.rfc3339_times = mask & 8;
    SCOPED_TRACE(mask);
    const std::string body = EncodeTradeOrderReply(full, o);
    EXPECT_EQ(body.find("TradeType") != std::string::npos, o.capitalized_trade_type);
    auto r = DecodeTradeOrderReply(body);
    ASSERT_TRUE(r.ok()) << r.status() << "\n" << body;
    EXPECT_EQ(RecordDiff(*r, full), "");
  }
  const std::string seed_form = EncodeTradeOrderData(SeedExampleRecord());
  EXPECT_NE(seed_form.find(R"("tradeSuccTime":"2019-08-23T11:12:21.000+0000")"), std::string::npos);
  EXPECT_NE(seed_form.find(R"("productType":null)"), std::string::npos);
  EXPECT_NE(seed_form.find(R"("orderAmount":1,)"), std::string::npos);
  EncodeOptions strings;
  strings.numbers_as_strings = true;
  EXPECT_NE(EncodeTradeOrderData(SeedExampleRecord(), strings).find(R"("orderAmount":"1",)"),
            std::string::npos);
}

TEST(MerchantDecoderTest, ErrorReplyEncodes) {
  auto r = DecodeTradeOrderReply(EncodeErrorReply(5003, "记录不存在"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
}

TEST(MerchantDecoderTest, HugeReplyRefused) {
  std::string body = R"({"code":0,"msg":")";
  body.append(5 * 1024 * 1024, 'x');
  body += R"("})";
  ExpectUnreadable(DecodeTradeOrderReply(body), "more than");
}

}  // namespace
}  // namespace orderquery::payment::tradeapi
