#include "server/common/log.h"

#include "gtest/gtest.h"

namespace orderquery::log {
namespace {

TEST(LogFormat, OneLineWithQuotedValues) {
  std::string line = Format(Level::kWarn, "upstream_retry",
                            {{"attempt", 2}, {"reason", "HTTP 503\nbody"}, {"order_no", "A1"}});
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_NE(line.find(" level=warn event=upstream_retry attempt=2 reason=\"HTTP 503\\nbody\" "
                      "order_no=A1"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.rfind("ts=", 0), 0u);
}

TEST(LogFormat, EmptyAndEqualsAreQuoted) {
  std::string line = Format(Level::kInfo, "e", {{"a", ""}, {"b", "x=y"}});
  EXPECT_NE(line.find("a=\"\" b=\"x=y\""), std::string::npos) << line;
}

TEST(LogLevel, Parse) {
  Level l;
  ASSERT_TRUE(ParseLevel("debug", &l));
  EXPECT_EQ(l, Level::kDebug);
  EXPECT_FALSE(ParseLevel("verbose", &l));
}

}  // namespace
}  // namespace orderquery::log
