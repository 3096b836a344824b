// TradeOrderRecord <-> orderquery.v1.TradeOrder (server/service/trade_convert.h).
#include "server/service/trade_convert.h"

#include "gtest/gtest.h"
#include "tests/unit/tradeapi/seed_example.h"

namespace orderquery::service {
namespace {

using payment::tradeapi::seed001::RecordDiff;
using payment::tradeapi::seed001::SeedExampleRecord;

TEST(MerchantConvertTest, SeedExampleToProto) {
  const v1::TradeOrder o = ToProto(SeedExampleRecord());
  EXPECT_EQ(o.trade_order_id(), "E01201908230414433510006");
  EXPECT_EQ(o.trade_type(), v1::TRADE_TYPE_COLLECTION);
  EXPECT_EQ(o.deposit_mode(), v1::DEPOSIT_MODE_NORMAL);
  EXPECT_EQ(o.mch_id(), "20000000");
  EXPECT_EQ(o.client_ip(), "0:0:0:0:0:0:0:1");
  EXPECT_EQ(o.subject(), "被扫支付");
  EXPECT_EQ(o.order_amount(), 1);
  EXPECT_EQ(o.amount(), 1);
  EXPECT_EQ(o.mch_income(), 1);
  EXPECT_EQ(o.user_id(), "134713461986047502");
  EXPECT_EQ(o.status(), v1::TRADE_STATUS_PROCESSING);
  EXPECT_EQ(o.pay_order_id(), "P01201908230414452700006");
  EXPECT_EQ(o.product_id(), "8020");
  EXPECT_EQ(o.product_type(), v1::PRODUCT_TYPE_UNSPECIFIED);
  EXPECT_EQ(o.operator_id(), "null");
  EXPECT_EQ(o.operator_name(), "123");
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
  EXPECT_EQ(o.goods_desc(1).goods_id(), -1);
  EXPECT_EQ(o.goods_desc(1).goods_name(), "茉莉花茶");
}

TEST(MerchantConvertTest, RoundTrip) {
  domain::TradeOrderRecord r = SeedExampleRecord();
  r.status = -1;
  r.product_type = 5;
  r.deposit_mode = 1;
  r.update_time = *r.update_time + absl::Milliseconds(123);
  r.create_time.reset();
  const v1::TradeOrder o = ToProto(r);
  EXPECT_EQ(o.status(), v1::TRADE_STATUS_FAILED);
  EXPECT_EQ(o.update_time(), "2019-08-23T19:13:22.123Z");
  EXPECT_EQ(o.create_time(), "");
  auto back = FromProto(o, "m1");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->merchant, "m1");
  EXPECT_EQ(RecordDiff(*back, r), "");
}

TEST(MerchantConvertTest, FromProtoRefusesWhatTheDecoderWould) {
  v1::TradeOrder o = ToProto(SeedExampleRecord());
  o.set_create_time("yesterday");
  EXPECT_TRUE(absl::IsInvalidArgument(FromProto(o, "m").status()));
  o = ToProto(SeedExampleRecord());
  o.set_status(static_cast<v1::TradeStatus>(3));
  EXPECT_TRUE(absl::IsInvalidArgument(FromProto(o, "m").status()));
}

}  // namespace
}  // namespace orderquery::service
