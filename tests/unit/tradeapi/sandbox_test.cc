// The adapter against the payment sandbox over loopback HTTP (curl transport, real signing):
// proves the sandbox's merchant module and the client agree on the contract, and that each
// sandbox behaviour lands on the documented status. No database involved.
#include <unistd.h>

#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/payment/http/transport_stack.h"
#include "server/payment/tradeapi/http_client.h"
#include "tests/fakes/sandbox_process.h"
#include "tests/unit/tradeapi/seed_example.h"

namespace orderquery::payment::tradeapi {
namespace {

using seed001::RecordDiff;
using seed001::SeedExampleRecord;

constexpr char kSeedId[] = "E01201908230414433510006";

nlohmann::json Scenario() {
  return nlohmann::json::parse(R"json({
    "trade_orders": [
      {"tradeOrderId": "T_VARIANTS", "status": 5, "productType": 3, "depositMode": 1,
       "orderAmount": 1990, "amount": 1990, "mchIncome": 1980, "refundTotalAmount": 1990,
       "createTime": "2024-01-02T03:04:05.000+0000",
       "goodsDesc": [{"cellPrice": 1990, "currentPrice": 1990, "goodsId": 7, "goodsName": "茶",
                      "goodsNum": 1}],
       "variant": {"numbers_as_strings": true, "capitalized_trade_type": true,
                   "goods_desc_as_string": true, "rfc3339_times": true}},
      {"tradeOrderId": "T_MOVES", "status": 0,
       "transitions": [{"to": 1, "after_queries": 1}, {"to": 2, "after_queries": 1}]},
      {"tradeOrderId": "T_BAD_JSON", "faults": ["invalid_json"]},
      {"tradeOrderId": "T_FRACTION", "faults": ["non_integer_amount"]},
      {"tradeOrderId": "T_UNKNOWN_STATUS", "faults": ["unknown_status"]},
      {"tradeOrderId": "T_429", "faults": ["http_429"]},
      {"tradeOrderId": "T_500_ONCE", "faults": [{"type": "http_500", "first": 1}]},
      {"tradeOrderId": "T_SYSTEM", "faults": ["system_error"]},
      {"tradeOrderId": "T_OTHER_MCH", "mchId": "30000000", "appId": "app01"}
    ]
  })json");
}

payment::tradeapi::MerchantSettings Merchant(const std::string& base_url, const std::string& mch_id,
                                             const std::string& app_id, const std::string& key,
                                             const std::string& sign_type) {
  payment::tradeapi::MerchantSettings c;
  c.base_url = base_url;
  c.mch_id = mch_id;
  c.app_id = app_id;
  c.key = key;
  c.sign_type = sign_type;
  return c;
}

class MerchantSandboxTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = absl::StrCat(::testing::TempDir(), "/merchant_sandbox_", getpid());
    auto keys = fakes::MakeTestKeys(dir);
    ASSERT_TRUE(keys.ok()) << keys.status();
    auto options = fakes::SandboxProcess::Options::FromKeys(*keys);
    options.scenario = Scenario();
    options.extra_args = {"--trade-merchant-key",
                          "20000000=TESTKEY123",
                          "--trade-merchant-key",
                          "30000000=OTHERKEY",
                          "--seed",
                          "7"};
    auto sandbox = fakes::SandboxProcess::Start(options);
    ASSERT_TRUE(sandbox.ok()) << sandbox.status();
    sandbox_ = sandbox->release();

    http::TransportOptions t;
    t.connect_timeout = absl::Seconds(2);
    t.request_timeout = absl::Seconds(5);
    t.retry.initial_backoff = absl::Milliseconds(10);
    t.retry.max_backoff = absl::Milliseconds(50);
    auto transport = http::TransportStack::Create(t);
    ASSERT_TRUE(transport.ok()) << transport.status();
    transport_ = transport->release();

    const std::string url = sandbox_->base_url();
    std::map<std::string, payment::tradeapi::MerchantSettings> merchants = {
        {"m1", Merchant(url, "20000000", "", "TESTKEY123", "MD5")},
        {"m2", Merchant(url, "30000000", "app01", "OTHERKEY", "HMAC-SHA256")},
        {"wrongkey", Merchant(url, "20000000", "", "NOT-THE-KEY", "MD5")},
        {"down", Merchant("http://127.0.0.1:1", "20000000", "", "TESTKEY123", "MD5")},
    };
    auto client = HttpMerchantTradeClient::Create(merchants, transport_);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = client->release();
  }

  static void TearDownTestSuite() {
    delete client_;
    delete transport_;
    delete sandbox_;
  }

  static absl::StatusOr<domain::TradeOrderRecord> Get(const std::string& merchant,
                                                      const std::string& id) {
    std::promise<absl::StatusOr<domain::TradeOrderRecord>> p;
    client_->GetTradeOrder(
        merchant, id, absl::Now() + absl::Seconds(10),
        [&p](absl::StatusOr<domain::TradeOrderRecord> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  static int64_t Requests(const std::string& id) {
    auto stats = sandbox_->Call("GET", "/__sandbox/stats?trade_order_id=" + id);
    if (!stats.ok() || stats->first != 200) return -1;
    return nlohmann::json::parse(stats->second).at("requests").get<int64_t>();
  }

  static void ExpectError(const absl::StatusOr<domain::TradeOrderRecord>& r, absl::StatusCode code,
                          absl::string_view message_has) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), code) << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(), message_has)) << r.status();
  }

  static fakes::SandboxProcess* sandbox_;
  static http::TransportStack* transport_;
  static HttpMerchantTradeClient* client_;
};

fakes::SandboxProcess* MerchantSandboxTest::sandbox_ = nullptr;
http::TransportStack* MerchantSandboxTest::transport_ = nullptr;
HttpMerchantTradeClient* MerchantSandboxTest::client_ = nullptr;

TEST_F(MerchantSandboxTest, SeedExampleRoundTripsFieldForField) {
  const int64_t before = Requests(kSeedId);
  auto r = Get("m1", kSeedId);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->merchant, "m1");
  EXPECT_EQ(RecordDiff(*r, SeedExampleRecord()), "");
  EXPECT_EQ(Requests(kSeedId), before + 1);
}

TEST_F(MerchantSandboxTest, WrongKeyIsOurSignatureRejected) {
  ExpectError(Get("wrongkey", kSeedId), absl::StatusCode::kInternal,
              "merchant API rejected our signature");
}

TEST_F(MerchantSandboxTest, HmacMerchantAndOwnership) {
  auto r = Get("m2", "T_OTHER_MCH");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->mch_id, "30000000");
  EXPECT_EQ(r->app_id, "app01");
  // Another merchant's order looks like a missing one.
  ExpectError(Get("m1", "T_OTHER_MCH"), absl::StatusCode::kNotFound, "订单不存在");
  ExpectError(Get("m1", "NO_SUCH_ORDER"), absl::StatusCode::kNotFound, "no such trade order");
}

TEST_F(MerchantSandboxTest, EveryTolerantVariantAtOnce) {
  auto r = Get("m1", "T_VARIANTS");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 5);
  EXPECT_EQ(r->trade_type, 1);
  EXPECT_EQ(r->product_type, 3);
  EXPECT_EQ(r->deposit_mode, 1);
  EXPECT_EQ(r->order_amount, 1990);
  EXPECT_EQ(r->mch_income, 1980);
  EXPECT_EQ(r->refund_total_amount, 1990);
  EXPECT_EQ(r->create_time, seed001::Utc(2024, 1, 2, 3, 4, 5));
  ASSERT_EQ(r->goods.size(), 1u);
  EXPECT_EQ(r->goods[0].goods_name, "茶");
  EXPECT_EQ(r->goods[0].current_price, 1990);
  // The sandbox really wrote the variants (not just the decoder accepting the plain form).
  auto view = sandbox_->Call("GET", "/__sandbox/trade_orders/T_VARIANTS");
  ASSERT_TRUE(view.ok());
  const auto data = nlohmann::json::parse(view->second).at("reply").at("data");
  EXPECT_TRUE(data.at("orderAmount").is_string());
  EXPECT_TRUE(data.contains("TradeType"));
  EXPECT_TRUE(data.at("goodsDesc").is_string());
  EXPECT_EQ(data.at("createTime"), "2024-01-02T03:04:05Z");
}

TEST_F(MerchantSandboxTest, StatusChangesOverTime) {
  std::vector<int> seen;
  for (int i = 0; i < 3; ++i) {
    auto r = Get("m1", "T_MOVES");
    ASSERT_TRUE(r.ok()) << r.status();
    seen.push_back(r->status);
  }
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
}

TEST_F(MerchantSandboxTest, DecodingFaults) {
  ExpectError(Get("m1", "T_BAD_JSON"), absl::StatusCode::kUnavailable,
              "unreadable reply from merchant API: reply is not JSON");
  ExpectError(Get("m1", "T_FRACTION"), absl::StatusCode::kUnavailable,
              "unreadable reply from merchant API: amount must be an integer number of fen, got "
              "\"1.5\"");
  ExpectError(Get("m1", "T_UNKNOWN_STATUS"), absl::StatusCode::kUnavailable, "status 3");
}

TEST_F(MerchantSandboxTest, HttpFaultsAndRetries) {
  const int64_t before_429 = Requests("T_429");
  ExpectError(Get("m1", "T_429"), absl::StatusCode::kResourceExhausted, "HTTP 429");
  EXPECT_EQ(Requests("T_429") - before_429, 3);  // the transport's 3 attempts, then the answer

  const int64_t before_500 = Requests("T_500_ONCE");
  auto r = Get("m1", "T_500_ONCE");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Requests("T_500_ONCE") - before_500, 2);

  ExpectError(Get("m1", "T_SYSTEM"), absl::StatusCode::kUnavailable, "(code 10: 系统异常)");
}

TEST_F(MerchantSandboxTest, UpstreamDownIsUnavailable) {
  auto r = Get("down", kSeedId);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
}

}  // namespace
}  // namespace orderquery::payment::tradeapi
