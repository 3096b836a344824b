#include "server/common/validation.h"

#include <string>

#include "gtest/gtest.h"

namespace orderquery {
namespace {

struct Case {
  std::string input;
  bool ok;
};

TEST(ValidateOutTradeNo, TableOfInputs) {
  const Case cases[] = {
      {"20150806125346", true},
      {"A-b_c*9", true},
      {std::string(32, '7'), true},
      {"", false},
      {std::string(33, '7'), false},
      {"'; DROP TABLE t_user; --", false},
      {"订单123", false},
      {"abc def", false},
      {"abc/../x", false},
      {"abc%20", false},
  };
  for (const auto& c : cases) {
    absl::Status s = ValidateOutTradeNo(c.input);
    EXPECT_EQ(s.ok(), c.ok) << "input=" << c.input << " status=" << s;
    if (!c.ok) {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(ValidateOutTradeNo, MessageNamesFieldAndRule) {
  absl::Status s = ValidateOutTradeNo(std::string(33, 'a'), "order_no");
  EXPECT_EQ(s.message(), "order_no is 33 bytes; at most 32 allowed");
  EXPECT_EQ(ValidateOutTradeNo("", "order_no").message(), "order_no is required");
}

TEST(ValidateMchId, DigitsOnly) {
  EXPECT_TRUE(ValidateMchId("1900000109").ok());
  EXPECT_FALSE(ValidateMchId("19000x0109").ok());
  EXPECT_FALSE(ValidateMchId("").ok());
  EXPECT_FALSE(ValidateMchId(std::string(33, '1')).ok());
}

TEST(ValidateTradeOrderId, AllowsSeedExampleRejectsStar) {
  EXPECT_TRUE(ValidateTradeOrderId("E01201908230414433510006").ok());
  EXPECT_TRUE(ValidateTradeOrderId(std::string(64, 'E')).ok());
  EXPECT_FALSE(ValidateTradeOrderId(std::string(65, 'E')).ok());
  EXPECT_FALSE(ValidateTradeOrderId("E0*1").ok());
}

}  // namespace
}  // namespace orderquery
