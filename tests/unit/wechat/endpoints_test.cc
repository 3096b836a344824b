#include "server/payment/wechat/endpoints.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace orderquery::payment::wechat {
namespace {

using ::testing::HasSubstr;

TEST(PercentEncodeTest, KeepsOnlyUnreserved) {
  EXPECT_EQ(PercentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(PercentEncode("a*b"), "a%2Ab");
  EXPECT_EQ(PercentEncode("a b/c?d&e=f#g%"), "a%20b%2Fc%3Fd%26e%3Df%23g%25");
  EXPECT_EQ(PercentEncode("粤"), "%E7%B2%A4");
  EXPECT_EQ(PercentEncode(std::string("\0\xff", 2)), "%00%FF");
  EXPECT_EQ(PercentEncode(""), "");
}

TEST(PathTest, TheThreeEndpoints) {
  EXPECT_EQ(*DirectQueryPath("1217752501201407033233368018", "1230000109"),
            "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109");
  EXPECT_EQ(*PartnerQueryPath("1217752501201407033233368018", "1230000109", "1900000109"),
            "/v3/pay/partner/transactions/out-trade-no/1217752501201407033233368018"
            "?sp_mchid=1230000109&sub_mchid=1900000109");
  // Seed 002's example request.
  EXPECT_EQ(*VehicleQueryPath("20150806125346", "1900000109"),
            "/v3/vehicle/transactions/out-trade-no/20150806125346?sub_mchid=1900000109");
}

TEST(PathTest, TheCloseEndpoints) {
  EXPECT_EQ(*DirectClosePath("1217752501201407033233368018"),
            "/v3/pay/transactions/out-trade-no/1217752501201407033233368018/close");
  EXPECT_EQ(*PartnerClosePath("A*1"), "/v3/pay/partner/transactions/out-trade-no/A%2A1/close");
}

TEST(PathTest, EncodesTheOrderNumber) {
  EXPECT_EQ(*VehicleQueryPath("A-b_c*9", "1900000109"),
            "/v3/vehicle/transactions/out-trade-no/A-b_c%2A9?sub_mchid=1900000109");
  EXPECT_EQ(
      *DirectQueryPath(std::string(32, '*'), "1"),
      "/v3/pay/transactions/out-trade-no/" + std::string() +
          "%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A"
          "%2A%2A%2A%2A?mchid=1");
}

TEST(PathTest, RejectsBadOrderNumbersBeforeAnyIo) {
  const std::string bad[] = {
      "",                       // empty
      std::string(33, '1'),     // 33 characters
      "'; DROP TABLE t_user;",  // SQL
      "a/b",                    // path traversal
      "../admin",
      "a?b=c",
      "a b",
      "订单1",  // non-ASCII
      std::string("a\0b", 3),
      "a%2Fb",
  };
  for (const std::string& no : bad) {
    for (const absl::StatusOr<std::string>& path :
         {DirectQueryPath(no, "1230000109"), PartnerQueryPath(no, "1230000109", "1900000109"),
          VehicleQueryPath(no, "1900000109"), DirectClosePath(no), PartnerClosePath(no)}) {
      ASSERT_FALSE(path.ok()) << no;
      EXPECT_EQ(path.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(std::string(path.status().message()), HasSubstr("out_trade_no"));
    }
  }
  EXPECT_TRUE(VehicleQueryPath(std::string(32, 'Z'), "1900000109").ok());
}

TEST(PathTest, RejectsBadMerchantIds) {
  EXPECT_THAT(std::string(VehicleQueryPath("A1", "19000x").status().message()),
              HasSubstr("sub_mchid"));
  EXPECT_THAT(std::string(VehicleQueryPath("A1", "").status().message()), HasSubstr("sub_mchid"));
  EXPECT_THAT(std::string(DirectQueryPath("A1", "1&x=1").status().message()), HasSubstr("mchid"));
  EXPECT_THAT(std::string(PartnerQueryPath("A1", "123", "").status().message()),
              HasSubstr("sub_mchid"));
  EXPECT_THAT(std::string(PartnerQueryPath("A1", "", "123").status().message()),
              HasSubstr("sp_mchid"));
}

}  // namespace
}  // namespace orderquery::payment::wechat
