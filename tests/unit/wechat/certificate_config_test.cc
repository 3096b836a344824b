// The configuration keys of platform-certificate downloads (issue 14): download_certificates
// may stand in for a configured key but needs the APIv3 key; the refresh interval defaults to
// 12 h and may not be shorter than the minimum gap. (Here rather than in tests/unit/config, which
// another engineer owns; it links oq_config only.)
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config/config.h"
#include "server/payment/wechat/settings.h"

namespace orderquery::config {
namespace {

// The wechat provider's section of a loaded configuration.
const std::map<std::string, payment::wechat::MerchantSettings>& WechatMerchants(
    const config::Config& c) {
  return c.provider<payment::wechat::Settings>("wechat")->merchants;
}

using ::testing::HasSubstr;

Env Merchant(std::map<std::string, std::string> extra) {
  Env env = {{"ORDERQUERY_WECHAT_MERCHANTS", "app"},
             {"ORDERQUERY_WECHAT_MERCHANTS_APP_APPIDS", "wxa"},
             {"ORDERQUERY_WECHAT_MERCHANTS_APP_MCHID", "1230000109"},
             {"ORDERQUERY_WECHAT_MERCHANTS_APP_SERIAL_NO", "S"},
             {"ORDERQUERY_WECHAT_MERCHANTS_APP_PRIVATE_KEY_PEM", "-----BEGIN PRIVATE KEY-----"}};
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

TEST(CertificateConfigTest, DownloadStandsInForAConfiguredKeyWithTheApiV3Key) {
  auto c = Load("", Merchant({{"ORDERQUERY_WECHAT_MERCHANTS_APP_DOWNLOAD_CERTIFICATES", "true"},
                              {"ORDERQUERY_WECHAT_MERCHANTS_APP_APIV3_KEY",
                               "0123456789abcdefghijABCDEFGHIJ01"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(WechatMerchants(*c).at("app").download_certificates);
  EXPECT_EQ(c->upstream.certificate_refresh_ms, 12 * 3600 * 1000);
  EXPECT_EQ(c->upstream.certificate_min_refresh_ms, 60 * 1000);
}

TEST(CertificateConfigTest, RefusalsNameTheKey) {
  struct Case {
    Env env;
    std::string expect;
  } cases[] = {
      {Merchant({{"ORDERQUERY_WECHAT_MERCHANTS_APP_DOWNLOAD_CERTIFICATES", "true"}}),
       "wechat.merchants.app.download_certificates"},
      {Merchant({}), "platform_cert_files or download_certificates is required"},
      {Merchant({{"ORDERQUERY_WECHAT_MERCHANTS_APP_DOWNLOAD_CERTIFICATES", "maybe"}}),
       "must be true or false"},
      {{{"ORDERQUERY_UPSTREAM_CERTIFICATE_REFRESH_MS", "60000"},
        {"ORDERQUERY_UPSTREAM_CERTIFICATE_MIN_REFRESH_MS", "120000"}},
       "upstream.certificate_refresh_ms"},
      {{{"ORDERQUERY_UPSTREAM_CERTIFICATE_MIN_REFRESH_MS", "10"}},
       "upstream.certificate_min_refresh_ms"},
      {Merchant({{"ORDERQUERY_WECHAT_MERCHANTS_APP_DOWNLOAD_CERTIFICATES", "true"},
                 {"ORDERQUERY_WECHAT_MERCHANTS_APP_APIV3_KEY", "0123456789abcdefghijABCDEFGHIJ01"},
                 {"ORDERQUERY_WECHAT_MERCHANTS_APP_MERCHANT_CERT_FILE", "/nonexistent/cert.pem"}}),
       "merchant_cert_file"},
  };
  for (const Case& c : cases) {
    auto loaded = Load("", c.env);
    ASSERT_FALSE(loaded.ok()) << c.expect;
    EXPECT_THAT(loaded.status().message(), HasSubstr(c.expect));
  }
}

}  // namespace
}  // namespace orderquery::config
