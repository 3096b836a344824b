#include "server/common/text.h"

#include <string>

#include "gtest/gtest.h"

namespace orderquery::text {
namespace {

// wechat's endpoints_test covers the character classes; here what a query value needs.
TEST(PercentEncodeTest, QueryValuesSurviveFormDecoding) {
  EXPECT_EQ(PercentEncode("a+b c"), "a%2Bb%20c");  // '+' would read back as a space
  EXPECT_EQ(PercentEncode("k=v&x"), "k%3Dv%26x");
}

TEST(TruncateUtf8Test, CutsOnlyAtCharacterStarts) {
  EXPECT_EQ(TruncateUtf8("abc", 5), "abc");
  EXPECT_EQ(TruncateUtf8("abcdef", 3), "abc");
  EXPECT_EQ(TruncateUtf8("a中中", 4), "a中");
  EXPECT_EQ(TruncateUtf8("a中中", 3), "a");
  EXPECT_EQ(TruncateUtf8("中", 0), "");
}

TEST(CleanUtf8Test, ControlsBecomeSpacesAndStrayBytesQuestionMarks) {
  EXPECT_EQ(CleanUtf8("a\nb\tc\x7f", 100), "a b c ");
  EXPECT_EQ(CleanUtf8("订单不存在", 100), "订单不存在");
  EXPECT_EQ(CleanUtf8(std::string("x\x80y"), 100), "x?y");
}

TEST(CleanUtf8Test, BoundedAtACharacterBoundaryWithTheEllipsis) {
  EXPECT_EQ(CleanUtf8("订单不存在", 4), "订...");
  EXPECT_EQ(CleanUtf8("订单不存在", 4, "…"), "订…");
  EXPECT_EQ(CleanUtf8("abc", 3), "abc");
  EXPECT_EQ(CleanUtf8("abcd", 3, ""), "abc");
  // A sequence cut short by the end of the input is not copied half.
  EXPECT_EQ(CleanUtf8(std::string("ab\xe4\xb8"), 100), "ab...");
}

}  // namespace
}  // namespace orderquery::text
