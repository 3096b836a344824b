#include "server/common/log.h"

#include <string>

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

TEST(ShownPath, PathsAreShownKeyTextIsNot) {
  EXPECT_EQ(ShownPath("/secrets/apiclient_key.pem"), "/secrets/apiclient_key.pem");
  EXPECT_EQ(ShownPath("env:OQ_KEY"), "env:OQ_KEY");
  const std::string pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n";
  for (const std::string& secret :
       {pem, "\n" + pem, std::string("-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0B"),
        std::string("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nAQEAxyz"), std::string(600, 'A')}) {
    const std::string shown = ShownPath(secret);
    EXPECT_EQ(shown.find("MIIE"), std::string::npos) << shown;
    EXPECT_EQ(shown.find("AAAAAAAA"), std::string::npos) << shown;
    EXPECT_NE(shown.find("bytes that are not a path, not shown"), std::string::npos) << shown;
  }
}

TEST(LogLevel, Parse) {
  Level l;
  ASSERT_TRUE(ParseLevel("debug", &l));
  EXPECT_EQ(l, Level::kDebug);
  EXPECT_FALSE(ParseLevel("verbose", &l));
}

}  // namespace
}  // namespace orderquery::log
