#include "server/common/log.h"

#include <chrono>
#include <string>
#include <vector>

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

// Issue 15, finding 10: a failure every call meets while the database is down is one line per
// interval, not one per call.
class FakeSteadyClock {
 public:
  std::chrono::steady_clock::time_point Now() const { return now_; }
  void Advance(std::chrono::milliseconds d) { now_ += d; }
  RateLimiter::Clock AsClock() {
    return [this] { return now_; };
  }

 private:
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1000)};
};

TEST(RateLimiter, FirstThenOnePerIntervalWithTheCountDropped) {
  FakeSteadyClock clock;
  RateLimiter limiter(std::chrono::seconds(10), clock.AsClock());
  int64_t suppressed = -1;
  EXPECT_TRUE(limiter.Allow("mysql.connect_failed", &suppressed));
  EXPECT_EQ(suppressed, 0);
  for (int i = 0; i < 1400; ++i) {
    EXPECT_FALSE(limiter.Allow("mysql.connect_failed", &suppressed)) << i;
    if (i % 100 == 0) clock.Advance(std::chrono::milliseconds(7));  // still within 10 s
  }
  // Another key is counted apart.
  EXPECT_TRUE(limiter.Allow("mysql.connect_failed127.0.0.1:1", &suppressed));
  EXPECT_EQ(suppressed, 0);
  clock.Advance(std::chrono::seconds(10));
  EXPECT_TRUE(limiter.Allow("mysql.connect_failed", &suppressed));
  EXPECT_EQ(suppressed, 1400);
  EXPECT_FALSE(limiter.Allow("mysql.connect_failed", &suppressed));
  // However late the next one comes, it carries the count of what was dropped meanwhile.
  clock.Advance(std::chrono::hours(5));
  EXPECT_TRUE(limiter.Allow("mysql.connect_failed", &suppressed));
  EXPECT_EQ(suppressed, 1);
  // After a quiet interval the next one is emitted at once, with nothing to report.
  clock.Advance(std::chrono::seconds(11));
  EXPECT_TRUE(limiter.Allow("mysql.connect_failed", &suppressed));
  EXPECT_EQ(suppressed, 0);
}

TEST(RateLimiter, EmitsTheSuppressedCountAsAField) {
  FakeSteadyClock clock;
  RateLimiter limiter(std::chrono::seconds(10), clock.AsClock());
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 50; ++i) {
    limiter.Emit(Level::kWarn, "mysql.connect_failed", {{"endpoint", "db:3306"}}, "db:3306");
  }
  clock.Advance(std::chrono::seconds(10));
  limiter.Emit(Level::kWarn, "mysql.connect_failed", {{"endpoint", "db:3306"}}, "db:3306");
  // Below the minimum level: neither emitted nor counted.
  limiter.Emit(Level::kDebug, "mysql.connect_failed", {{"endpoint", "db:3306"}}, "db:3306");
  const std::string out = ::testing::internal::GetCapturedStderr();
  std::vector<std::string> lines;
  for (size_t start = 0, end; (end = out.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(out.substr(start, end - start));
  }
  ASSERT_EQ(lines.size(), 2u) << out;
  EXPECT_NE(lines[0].find("event=mysql.connect_failed endpoint=db:3306"), std::string::npos);
  EXPECT_EQ(lines[0].find("suppressed="), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("event=mysql.connect_failed endpoint=db:3306 suppressed=49"),
            std::string::npos)
      << lines[1];
}

TEST(LogLevel, Parse) {
  Level l;
  ASSERT_TRUE(ParseLevel("debug", &l));
  EXPECT_EQ(l, Level::kDebug);
  EXPECT_FALSE(ParseLevel("verbose", &l));
}

}  // namespace
}  // namespace orderquery::log
