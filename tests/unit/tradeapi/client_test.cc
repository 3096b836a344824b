// HttpMerchantTradeClient over a fake Transport: the request it sends (URL, sign, policy
// fields), and how each kind of reply comes back.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "server/payment/tradeapi/decoder.h"
#include "server/payment/tradeapi/errors.h"
#include "server/payment/tradeapi/http_client.h"
#include "server/usecase/port_logging.h"
#include "tests/fakes/tradeapi_encoder.h"
#include "tests/unit/tradeapi/seed_example.h"

namespace orderquery::payment::tradeapi {
namespace {

using seed001::kSeedExampleReply;
using seed001::RecordDiff;
using seed001::SeedExampleRecord;

constexpr char kSeedId[] = "E01201908230414433510006";
constexpr char kKey[] = "TESTKEY123";
const absl::Time kNow = absl::FromUnixMillis(1566533541000);

// Answers every request at once with `next`, and keeps what was sent.
class FakeTransport : public http::Transport {
 public:
  void Send(http::Request request, http::Callback done) override {
    sent.push_back(request);
    done(next);
  }
  void Reply(int status, std::string body) {
    http::Response r;
    r.status = status;
    r.body = std::move(body);
    next = r;
  }
  std::vector<http::Request> sent;
  absl::StatusOr<http::Response> next = absl::UnavailableError("no reply set");
};

payment::tradeapi::MerchantSettings Merchant(const std::string& base_url, const std::string& mch_id,
                                             const std::string& app_id, const std::string& key,
                                             const std::string& sign_type = "MD5") {
  payment::tradeapi::MerchantSettings c;
  c.base_url = base_url;
  c.mch_id = mch_id;
  c.app_id = app_id;
  c.key = key;
  c.sign_type = sign_type;
  return c;
}

class MerchantClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::map<std::string, payment::tradeapi::MerchantSettings> merchants;
    merchants["m1"] = Merchant("http://127.0.0.1:8080/", "20000000", "", kKey);
    merchants["m2"] =
        Merchant("https://pay.example.com/base", "30000000", "app01", "OTHERKEY", "HMAC-SHA256");
    auto client = HttpMerchantTradeClient::Create(merchants, &transport_, [] { return kNow; });
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
  }

  absl::StatusOr<domain::TradeOrderRecord> Get(const std::string& merchant = "m1",
                                               const std::string& id = kSeedId) {
    std::optional<absl::StatusOr<domain::TradeOrderRecord>> got;
    client_->GetTradeOrder(
        merchant, id, kNow + absl::Seconds(3),
        [&got](absl::StatusOr<domain::TradeOrderRecord> r) { got = std::move(r); });
    EXPECT_TRUE(got.has_value()) << "callback did not run";
    return got.value_or(absl::InternalError("no callback"));
  }

  FakeTransport transport_;
  std::unique_ptr<HttpMerchantTradeClient> client_;
};

TEST_F(MerchantClientTest, RequestIsSignedAndShapedAsDocumented) {
  transport_.Reply(200, kSeedExampleReply);
  ASSERT_TRUE(Get().ok());
  ASSERT_EQ(transport_.sent.size(), 1u);
  const http::Request& r = transport_.sent[0];
  // Sign vector from signer_test (md5sum over the documented string).
  EXPECT_EQ(r.url,
            "http://127.0.0.1:8080/api/trade_order/get?tradeOrderId=E01201908230414433510006"
            "&mchId=20000000&signType=MD5&reqTime=1566533541000"
            "&sign=2C9408177748F34B088D4BA3FC8E02BF");
  EXPECT_EQ(r.method, "GET");
  EXPECT_TRUE(r.body.empty());
  EXPECT_TRUE(r.idempotent);
  EXPECT_EQ(r.limiter_key, "m1");
  EXPECT_EQ(r.deadline, kNow + absl::Seconds(3));
}

TEST_F(MerchantClientTest, SecondMerchantUsesItsOwnUrlIdsAndHmac) {
  (void)Get("m2");
  ASSERT_EQ(transport_.sent.size(), 1u);
  const http::Request& r = transport_.sent[0];
  EXPECT_EQ(r.url,
            "https://pay.example.com/base/api/trade_order/get?tradeOrderId="
            "E01201908230414433510006&mchId=30000000&appId=app01&signType=HMAC-SHA256"
            "&reqTime=1566533541000&sign=" +
                Sign({{"tradeOrderId", kSeedId},
                      {"mchId", "30000000"},
                      {"appId", "app01"},
                      {"signType", "HMAC-SHA256"},
                      {"reqTime", "1566533541000"}},
                     "OTHERKEY", SignType::kHmacSha256));
  EXPECT_EQ(r.limiter_key, "m2");
}

TEST_F(MerchantClientTest, PlatformSideVerifiesWhatWeSend) {
  (void)Get("m2", "id_with-odd_chars");
  ASSERT_EQ(transport_.sent.size(), 1u);
  const std::string& url = transport_.sent[0].url;
  auto params = ParseQuery(url.substr(url.find('?') + 1));
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_EQ(params->at("tradeOrderId"), "id_with-odd_chars");
  EXPECT_TRUE(Verify(*params, "OTHERKEY", SignType::kHmacSha256).ok());
  EXPECT_FALSE(Verify(*params, kKey, SignType::kHmacSha256).ok());
  EXPECT_TRUE(CheckReqTime(*params, kNow, absl::Minutes(5)).ok());
}

TEST_F(MerchantClientTest, ValuesArePercentEncodedAndSignedUnencoded) {
  auto request = client_->BuildRequest("m1", "a b&c=d/被", absl::InfiniteFuture());
  ASSERT_TRUE(request.ok());
  EXPECT_TRUE(absl::StrContains(request->url, "tradeOrderId=a%20b%26c%3Dd%2F%E8%A2%AB&"))
      << request->url;
  auto params = ParseQuery(request->url.substr(request->url.find('?') + 1));
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->at("tradeOrderId"), "a b&c=d/被");
  EXPECT_TRUE(Verify(*params, kKey, SignType::kMd5).ok());
}

TEST(MerchantParseQueryTest, Edges) {
  auto p = ParseQuery("a=1&b=&c&d=x+y%2B");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->at("a"), "1");
  EXPECT_EQ(p->at("b"), "");
  EXPECT_EQ(p->at("c"), "");
  EXPECT_EQ(p->at("d"), "x y+");
  EXPECT_FALSE(ParseQuery("a=%G1").ok());
  EXPECT_FALSE(ParseQuery("a=%2").ok());
  EXPECT_FALSE(ParseQuery("a=1&a=2").ok());
}

TEST_F(MerchantClientTest, SeedReplyDecodedWithMerchantSet) {
  transport_.Reply(200, kSeedExampleReply);
  auto r = Get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->merchant, "m1");
  EXPECT_EQ(RecordDiff(*r, SeedExampleRecord()), "");
}

TEST_F(MerchantClientTest, ReplyMapping) {
  struct Row {
    const char* name;
    absl::StatusOr<http::Response> reply;
    absl::StatusCode want;
    const char* message_has;
  };
  auto reply = [](int status, std::string body) {
    http::Response r;
    r.status = status;
    r.body = std::move(body);
    return absl::StatusOr<http::Response>(r);
  };
  const Row rows[] = {
      {"404 page", reply(404, "<html>404</html>"), absl::StatusCode::kNotFound, "HTTP 404"},
      {"429", reply(429, ""), absl::StatusCode::kResourceExhausted, "HTTP 429"},
      {"500", reply(500, "oops"), absl::StatusCode::kUnavailable, "HTTP 500"},
      {"code not found", reply(200, EncodeErrorReply(9999, "订单不存在")),
       absl::StatusCode::kNotFound, "no such trade order"},
      {"code signature", reply(200, EncodeErrorReply(9999, "验签失败")),
       absl::StatusCode::kInternal, "merchant API rejected our signature"},
      {"code params", reply(200, EncodeErrorReply(11, "参数有误")),
       absl::StatusCode::kFailedPrecondition, "参数有误"},
      {"code system", reply(200, EncodeErrorReply(10, "系统异常")), absl::StatusCode::kUnavailable,
       "系统异常"},
      {"not json", reply(200, "<html>hi</html>"), absl::StatusCode::kUnavailable,
       "unreadable reply from merchant API: reply is not JSON"},
      {"non-integer amount",
       reply(200, absl::StrReplaceAll(kSeedExampleReply, {{"\"amount\": 1,", "\"amount\": 1.5,"}})),
       absl::StatusCode::kUnavailable, "amount must be an integer number of fen, got 1.5"},
      {"transport deadline", absl::DeadlineExceededError("deadline exceeded after 2 attempts"),
       absl::StatusCode::kDeadlineExceeded, "after 2 attempts"},
      {"transport tls", absl::UnavailableError("tls: certificate verify failed"),
       absl::StatusCode::kUnavailable, "tls: certificate"},
      {"limiter full", absl::ResourceExhaustedError("limiter queue full"),
       absl::StatusCode::kResourceExhausted, "limiter queue full"},
      {"other order", reply(200, absl::StrReplaceAll(kSeedExampleReply, {{kSeedId, "E0000"}})),
       absl::StatusCode::kUnavailable, "answered for trade order \"E0000\""},
      {"other merchant",
       reply(200, absl::StrReplaceAll(kSeedExampleReply, {{"20000000", "20000001"}})),
       absl::StatusCode::kInternal, "mchId \"20000001\""},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    transport_.next = row.reply;
    auto r = Get();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), row.want) << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(), row.message_has)) << r.status();
  }
}

TEST_F(MerchantClientTest, UnknownMerchantSendsNothing) {
  EXPECT_TRUE(client_->HasMerchant("m1"));
  EXPECT_FALSE(client_->HasMerchant("m3"));
  auto r = Get("m3");
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_TRUE(transport_.sent.empty());
}

// Through the stack production runs (the registry decorates the port): the failures are
// logged, once each, by the logging decorator (the client itself logs none), never the key.
TEST_F(MerchantClientTest, KeyNeverLogged) {
  usecase::PortDecoration d;
  d.provider = "trade";
  auto port = usecase::Decorate(
      std::shared_ptr<usecase::TradeStatusProvider>(client_.get(), [](auto*) {}), d);
  auto get = [&port] {
    std::optional<absl::StatusOr<domain::TradeOrderRecord>> got;
    port->GetTradeOrder("m1", kSeedId, kNow + absl::Seconds(3),
                        [&got](absl::StatusOr<domain::TradeOrderRecord> r) { got = std::move(r); });
    EXPECT_TRUE(got.has_value()) << "callback did not run";
    return got.value_or(absl::InternalError("no callback"));
  };
  ::testing::internal::CaptureStderr();
  transport_.Reply(200, EncodeErrorReply(9999, "验签失败"));
  EXPECT_FALSE(get().ok());
  transport_.Reply(500, "");
  EXPECT_FALSE(get().ok());
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(absl::StrContains(logged, "upstream_failed")) << logged;
  EXPECT_EQ(std::count(logged.begin(), logged.end(), '\n'), 2) << logged;
  EXPECT_FALSE(absl::StrContains(logged, kKey)) << logged;
}

class MerchantKeyFileTest : public ::testing::Test {
 protected:
  std::string WriteFile(const std::string& content) {
    const std::string path =
        absl::StrCat(::testing::TempDir(), "/merchant_key_", getpid(), "_", files_.size());
    std::ofstream(path) << content;
    files_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const auto& f : files_) std::remove(f.c_str());
  }
  std::vector<std::string> files_;
};

TEST_F(MerchantKeyFileTest, KeyReadFromFileWithoutTrailingNewline) {
  payment::tradeapi::MerchantSettings c = Merchant("http://h", "20000000", "", "");
  c.key_file = WriteFile("TESTKEY123\n");
  FakeTransport transport;
  auto client = HttpMerchantTradeClient::Create({{"m1", c}}, &transport, [] { return kNow; });
  ASSERT_TRUE(client.ok()) << client.status();
  auto request = (*client)->BuildRequest("m1", kSeedId, absl::InfiniteFuture());
  ASSERT_TRUE(request.ok());
  EXPECT_TRUE(absl::EndsWith(request->url, "&sign=2C9408177748F34B088D4BA3FC8E02BF"))
      << request->url;
}

TEST_F(MerchantKeyFileTest, InlineKeyWinsOverFile) {
  payment::tradeapi::MerchantSettings c = Merchant("http://h", "20000000", "", kKey);
  c.key_file = WriteFile("SOMETHING-ELSE");
  auto m = LoadMerchant("m1", c);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->key, kKey);
}

TEST_F(MerchantKeyFileTest, BadConfigurationsNameTheKey) {
  FakeTransport transport;
  payment::tradeapi::MerchantSettings c = Merchant("http://h", "20000000", "", "");
  c.key_file = "/nonexistent/dir/key.txt";
  auto client = HttpMerchantTradeClient::Create({{"shop1", c}}, &transport);
  ASSERT_FALSE(client.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(client.status()));
  EXPECT_TRUE(absl::StrContains(client.status().message(), "trade.merchants.shop1.key_file"))
      << client.status();
  EXPECT_TRUE(absl::StrContains(client.status().message(), "/nonexistent/dir/key.txt"));

  c.key_file = WriteFile("\n  \n");
  EXPECT_TRUE(absl::StrContains(LoadMerchant("shop1", c).status().message(), "is empty"));

  c = Merchant("http://h", "20000000", "", "");
  EXPECT_TRUE(
      absl::StrContains(LoadMerchant("shop1", c).status().message(), "trade.merchants.shop1.key"));
  c = Merchant("http://h", "20000000", "", kKey, "SHA1");
  EXPECT_TRUE(absl::StrContains(LoadMerchant("shop1", c).status().message(), "sign_type"));
  c = Merchant("http://h", "", "", kKey);
  EXPECT_TRUE(absl::StrContains(LoadMerchant("shop1", c).status().message(), "mch_id"));
}

}  // namespace
}  // namespace orderquery::payment::tradeapi
