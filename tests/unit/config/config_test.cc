#include "server/config/config.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/payment/wechat/settings.h"

namespace orderquery::config {
namespace {

// The wechat provider's section of a loaded configuration.
const std::map<std::string, payment::wechat::MerchantSettings>& WechatMerchants(
    const config::Config& c) {
  return c.provider<payment::wechat::Settings>("wechat")->merchants;
}

using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = ::testing::TempDir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
};

TEST_F(ConfigTest, DefaultsWithoutFileOrEnv) {
  auto c = Load("", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "127.0.0.1:50051");
  EXPECT_TRUE(c->reflection);
  EXPECT_EQ(c->db.pool_size, 8);
  EXPECT_TRUE(WechatMerchants(*c).empty());
}

TEST_F(ConfigTest, FileThenEnvOverrides) {
  std::string key = Write("k.pem", "x");
  std::string path = Write("c.json", R"({
    "listen": "0.0.0.0:7000",
    "db": {"host": "db1", "port": 3307, "password": "from-file", "pool_size": 4},
    "recharge": {"refresh_interval_ms": 500},
    "wechat": {"merchants": {"demo": {
      "appids": ["wx1", "wx2"], "mchid": "1900000001", "serial_no": "ABC",
      "private_key_file": ")" + key + R"(", "public_key_id": "PUB_KEY_ID_1",
      "public_key_file": ")" + key + R"(", "base_url": "http://127.0.0.1:1"}}}
  })");
  auto c = Load(path, {{"ORDERQUERY_DB_PASSWORD", "from-env"},
                       {"ORDERQUERY_DB_POOL_SIZE", "16"},
                       {"ORDERQUERY_WECHAT_MERCHANTS_DEMO_MODE", "partner"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "0.0.0.0:7000");
  EXPECT_EQ(c->db.host, "db1");
  EXPECT_EQ(c->db.port, 3307);
  EXPECT_EQ(c->db.password, "from-env");
  EXPECT_EQ(c->db.pool_size, 16);
  EXPECT_EQ(c->recharge_refresh_interval_ms, 500);
  ASSERT_EQ(WechatMerchants(*c).count("demo"), 1u);
  const auto& m = WechatMerchants(*c).at("demo");
  EXPECT_EQ(m.mode, "partner");
  EXPECT_THAT(m.appids, ::testing::ElementsAre("wx1", "wx2"));
}

TEST_F(ConfigTest, MerchantDeclaredFromEnvAlone) {
  std::string key = Write("k2.pem", "x");
  Env env = {{"ORDERQUERY_WECHAT_MERCHANTS", "m1"},
             {"ORDERQUERY_WECHAT_MERCHANTS_M1_APPIDS", "wxa"},
             {"ORDERQUERY_WECHAT_MERCHANTS_M1_MCHID", "123"},
             {"ORDERQUERY_WECHAT_MERCHANTS_M1_SERIAL_NO", "S"},
             {"ORDERQUERY_WECHAT_MERCHANTS_M1_PRIVATE_KEY_PEM", "-----BEGIN PRIVATE KEY-----"},
             {"ORDERQUERY_WECHAT_MERCHANTS_M1_PLATFORM_CERT_FILES", key}};
  auto c = Load("", env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(WechatMerchants(*c).at("m1").private_key_pem, "-----BEGIN PRIVATE KEY-----");
}

struct BadCase {
  std::string json;
  Env env;
  std::string expect;  // substring of the one-line error
};

TEST_F(ConfigTest, BadValuesNameTheKey) {
  const BadCase cases[] = {
      {R"({"db": {"pool_size": 0}})",
       {},
       "db.pool_size (ORDERQUERY_DB_POOL_SIZE): must be between 1 and 256 (got 0)"},
      {"{}", {{"ORDERQUERY_DB_PORT", "abc"}}, "db.port (ORDERQUERY_DB_PORT): not an integer"},
      {R"({"reflection": "yes"})", {}, "reflection (ORDERQUERY_REFLECTION): must be true or false"},
      {R"({"listne": "x"})", {}, "listne (ORDERQUERY_LISTNE): unknown key"},
      {R"({"log_level": "loud"})", {}, "log_level"},
      {R"({"tls": {"cert_file": "/nonexistent.pem"}})",
       {},
       "tls.cert_file and tls.key_file go together"},
      {R"({"upstream": {"initial_backoff_ms": 500, "max_backoff_ms": 100}})",
       {},
       "upstream.max_backoff_ms"},
      {R"({"wechat": {"merchants": {"d": {"appids": ["wx"], "mchid": "1", "serial_no": "S",
          "private_key_file": "/no/such/key.pem", "platform_cert_files": ["/x"]}}}})",
       {},
       "wechat.merchants.d.private_key_file (ORDERQUERY_WECHAT_MERCHANTS_D_PRIVATE_KEY_FILE): "
       "cannot read file /no/such/key.pem"},
      {R"({"wechat": {"merchants": {"d": {"mchid": "abc"}}}})", {}, "wechat.merchants.d.mchid"},
      {R"({"wechat": {"merchants": {"d": {"colour": "red"}}}})", {}, "wechat.merchants.d.colour"},
      {R"({"trade": {"default_merchant": "nope"}})", {}, "trade.default_merchant"},
      {"[1,2]", {}, "not a JSON object"},
  };
  int i = 0;
  for (const auto& c : cases) {
    std::string path = Write("bad" + std::to_string(i++) + ".json", c.json);
    auto r = Load(path, c.env);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.expect)) << c.json;
    EXPECT_EQ(std::string(r.status().message()).find('\n'), std::string::npos);
  }
}

TEST_F(ConfigTest, SecretsNeverShownInHelp) {
  std::string help = KeysHelp();
  EXPECT_THAT(help, HasSubstr("ORDERQUERY_DB_PASSWORD"));
  EXPECT_THAT(help, HasSubstr("ORDERQUERY_WECHAT_MERCHANTS_NAME_PRIVATE_KEY_PEM"));
  EXPECT_THAT(help, HasSubstr("db.pool_size  [ORDERQUERY_DB_POOL_SIZE]"));
}

// Issue 15, finding 12: a production config must not talk to a provider in clear text.
TEST_F(ConfigTest, ProductionRefusesHttpProviderUrls) {
  std::string key = Write("pk.pem", "x");
  std::string pub = Write("pub.pem", "x");
  auto config = [&](const std::string& env, const std::string& url) {
    return Write("prod.json", R"({"env": ")" + env + R"(", "wechat": {"merchants": {"app": {
      "appids": ["wx1"], "mchid": "1900000001", "serial_no": "ABC",
      "private_key_file": ")" + key +
                                  R"(", "public_key_id": "PUB_KEY_ID_1",
      "public_key_file": ")" + pub +
                                  R"(", "base_url": ")" + url + R"("}}}})");
  };
  auto dev = Load(config("development", "http://127.0.0.1:9"), {});
  EXPECT_TRUE(dev.ok()) << dev.status();
  auto prod = Load(config("production", "http://127.0.0.1:9"), {});
  ASSERT_FALSE(prod.ok());
  EXPECT_THAT(prod.status().message(), HasSubstr("wechat.merchants.app.base_url"));
  EXPECT_THAT(prod.status().message(), HasSubstr("https://"));
  EXPECT_TRUE(Load(config("production", "https://api.mch.weixin.qq.com"), {}).ok());
  auto trade = Load("", {{"ORDERQUERY_ENV", "production"},
                         {"ORDERQUERY_TRADE_MERCHANTS", "shop"},
                         {"ORDERQUERY_TRADE_MERCHANTS_SHOP_BASE_URL", "http://pay.example.com"},
                         {"ORDERQUERY_TRADE_MERCHANTS_SHOP_MCH_ID", "1"},
                         {"ORDERQUERY_TRADE_MERCHANTS_SHOP_KEY", "k"}});
  ASSERT_FALSE(trade.ok());
  EXPECT_THAT(trade.status().message(), HasSubstr("trade.merchants.shop.base_url"));
  auto bad = Load("", {{"ORDERQUERY_ENV", "staging"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("env (ORDERQUERY_ENV)"));
}

}  // namespace
}  // namespace orderquery::config
