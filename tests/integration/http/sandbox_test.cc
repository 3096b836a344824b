// The payment sandbox speaks WeChat Pay v3 with the shared signer/verifier code: it accepts
// requests signed by BuildAuthorization and rejects tampered ones with 401 SIGN_ERROR, signs
// its replies so ResponseVerifier accepts them, and its signature faults are each caught by
// ResponseVerifier. Also: the seed 002 order, scripted state transitions, ownership errors.
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/payment/http/transport_stack.h"
#include "server/payment/wechat/crypto.h"
#include "server/payment/wechat/signer.h"
#include "server/payment/wechat/verifier.h"
#include "tests/fakes/sandbox_process.h"
#include "tests/integration/http/test_util.h"

namespace orderquery::payment::http {
namespace {

namespace wx = ::orderquery::payment::wechat;
using ::nlohmann::json;
using ::orderquery::fakes::SandboxProcess;
using ::orderquery::fakes::TestKeys;
using ::testing::HasSubstr;
using testutil::SendAndWait;

constexpr char kMchid[] = "1230000109";
constexpr char kSubMchid[] = "1900000109";

class SandboxTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testutil::TempDir("sandbox"));
    absl::StatusOr<TestKeys> keys = fakes::MakeTestKeys(*dir_);
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = new TestKeys(*keys);
    SandboxProcess::Options o = SandboxProcess::Options::FromKeys(*keys_);
    o.scenario = json{{"orders",
                       {{{"out_trade_no", "PAY1"},
                         {"mchid", kMchid},
                         {"amount", 100},
                         {"trade_state", "NOTPAY"},
                         {"transitions", {{{"to", "SUCCESS"}, {"after_queries", 2}}}}}}}};
    absl::StatusOr<std::unique_ptr<SandboxProcess>> s = SandboxProcess::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    sandbox_ = s->release();
  }

  static void TearDownTestSuite() {
    delete sandbox_;
    sandbox_ = nullptr;
    if (dir_ != nullptr) testutil::RemoveTree(*dir_);
    delete dir_;
    delete keys_;
  }

  void SetUp() override {
    ASSERT_NE(sandbox_, nullptr);
    absl::StatusOr<std::string> merchant = fakes::ReadTextFile(keys_->merchant_private_key);
    ASSERT_TRUE(merchant.ok());
    absl::StatusOr<wx::RsaKey> key = wx::RsaKey::PrivateFromPem(*merchant);
    ASSERT_TRUE(key.ok()) << key.status();
    merchant_key_ = std::make_unique<wx::RsaKey>(*key);
    absl::StatusOr<std::string> platform_pub = fakes::ReadTextFile(keys_->platform_public_key);
    ASSERT_TRUE(platform_pub.ok());
    absl::StatusOr<wx::RsaKey> pub = wx::RsaKey::PublicFromPem(*platform_pub);
    ASSERT_TRUE(pub.ok()) << pub.status();
    absl::StatusOr<wx::ResponseVerifier> v =
        wx::ResponseVerifier::Create({wx::VerifierKey{keys_->platform_serial, *pub}});
    ASSERT_TRUE(v.ok()) << v.status();
    verifier_ = std::make_unique<wx::ResponseVerifier>(*v);
    absl::StatusOr<std::unique_ptr<TransportStack>> t = TransportStack::Create(TransportOptions());
    ASSERT_TRUE(t.ok()) << t.status();
    transport_ = *std::move(t);
  }

  // A request signed the way our WeChat client signs (signer.h), for `path_and_query`;
  // `signed_path` lets a test sign something else than what it sends.
  Request Signed(const std::string& path_and_query, const std::string& signed_path = "",
                 const wx::RsaKey* key = nullptr, int64_t timestamp = 0,
                 const std::string& mchid = kMchid) {
    const int64_t ts = timestamp != 0 ? timestamp : absl::ToUnixSeconds(absl::Now());
    absl::StatusOr<std::string> auth = wx::BuildAuthorization(
        mchid, keys_->merchant_serial, key != nullptr ? *key : *merchant_key_, "GET",
        signed_path.empty() ? path_and_query : signed_path, "", ts, wx::RandomNonce());
    EXPECT_TRUE(auth.ok()) << auth.status();
    Request r;
    r.url = sandbox_->base_url() + path_and_query;
    r.headers = {{"Authorization", auth.value_or("")},
                 {"Accept", "application/json"},
                 {"Wechatpay-Serial", keys_->platform_serial}};
    r.deadline = absl::Now() + absl::Seconds(10);
    return r;
  }

  static std::string Direct(const std::string& no, const std::string& mchid = kMchid) {
    return absl::StrCat("/v3/pay/transactions/out-trade-no/", no, "?mchid=", mchid);
  }

  absl::StatusOr<Response> Send(Request r) { return SendAndWait(*transport_, std::move(r)); }

  absl::Status Verify(const Response& r) { return verifier_->Verify(r, absl::Now()); }

  static void Upsert(json order) {
    if (!order.contains("mchid")) order["mchid"] = kMchid;
    ASSERT_TRUE(sandbox_->UpsertOrder(order).ok());
  }

  static std::string* dir_;
  static TestKeys* keys_;
  static SandboxProcess* sandbox_;
  std::unique_ptr<wx::RsaKey> merchant_key_;
  std::unique_ptr<wx::ResponseVerifier> verifier_;
  std::unique_ptr<TransportStack> transport_;
};

std::string* SandboxTest::dir_ = nullptr;
TestKeys* SandboxTest::keys_ = nullptr;
SandboxProcess* SandboxTest::sandbox_ = nullptr;

TEST_F(SandboxTest, AcceptsASignedRequestAndSignsItsReply) {
  Upsert({{"out_trade_no", "SIGNED1"}, {"amount", 321}});
  absl::StatusOr<Response> r = Send(Signed(Direct("SIGNED1")));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(Verify(*r).ok()) << Verify(*r);
  json body = json::parse(r->body);
  EXPECT_EQ(body["mchid"], kMchid);
  EXPECT_EQ(body["out_trade_no"], "SIGNED1");
  EXPECT_EQ(body["trade_state"], "SUCCESS");
  EXPECT_EQ(body["amount"]["total"], 321);
  EXPECT_EQ(body["amount"]["payer_total"], 321);
  EXPECT_TRUE(body.contains("transaction_id"));
  EXPECT_TRUE(body["payer"].contains("openid"));
}

TEST_F(SandboxTest, RejectsATamperedRequestWith401SignError) {
  Upsert({{"out_trade_no", "TAMPER1"}});
  // Signed for another order number than the one requested.
  absl::StatusOr<Response> r = Send(Signed(Direct("TAMPER1"), Direct("TAMPER2")));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 401);
  json body = json::parse(r->body);
  EXPECT_EQ(body["code"], "SIGN_ERROR");
  EXPECT_TRUE(body["message"].is_string());
  absl::StatusOr<json> stats = sandbox_->Stats("TAMPER1");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->at("requests"), 1);
  EXPECT_EQ(stats->at("sign_errors"), 1);
  EXPECT_EQ(stats->at("answered"), 0);
}

TEST_F(SandboxTest, RejectsWrongKeyStaleTimestampAndMissingAuthorization) {
  Upsert({{"out_trade_no", "TAMPER3"}});
  absl::StatusOr<std::string> other_pem = fakes::ReadTextFile(keys_->platform_private_key);
  ASSERT_TRUE(other_pem.ok());
  absl::StatusOr<wx::RsaKey> other = wx::RsaKey::PrivateFromPem(*other_pem);
  ASSERT_TRUE(other.ok());
  absl::StatusOr<Response> r = Send(Signed(Direct("TAMPER3"), "", &*other));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);

  r = Send(Signed(Direct("TAMPER3"), "", nullptr, absl::ToUnixSeconds(absl::Now()) - 600));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json::parse(r->body)["code"], "SIGN_ERROR");

  Request unsigned_req = Signed(Direct("TAMPER3"));
  unsigned_req.headers.erase(unsigned_req.headers.begin());  // Authorization
  r = Send(unsigned_req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);
  absl::StatusOr<json> stats = sandbox_->Stats("TAMPER3");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->at("sign_errors"), 3);
}

TEST_F(SandboxTest, ScenarioOrderTurnsPaidAfterTwoQueries) {
  std::vector<std::string> states;
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<Response> r = Send(Signed(Direct("PAY1")));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200) << r->body;
    ASSERT_TRUE(Verify(*r).ok());
    json body = json::parse(r->body);
    states.push_back(body["trade_state"]);
    if (body["trade_state"] == "NOTPAY") {
      EXPECT_FALSE(body.contains("success_time"));
      EXPECT_FALSE(body.contains("transaction_id"));
    } else {
      EXPECT_TRUE(body.contains("success_time"));
      EXPECT_EQ(body["amount"]["payer_total"], 100);
    }
  }
  EXPECT_THAT(states, ::testing::ElementsAre("NOTPAY", "NOTPAY", "SUCCESS", "SUCCESS"));
  // Reset puts the scenario order back to its start.
  ASSERT_TRUE(sandbox_->Reset().ok());
  absl::StatusOr<Response> r = Send(Signed(Direct("PAY1")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(json::parse(r->body)["trade_state"], "NOTPAY");
  absl::StatusOr<json> stats = sandbox_->Stats("PAY1");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->at("requests"), 1);
}

TEST_F(SandboxTest, TimedTransition) {
  Upsert({{"out_trade_no", "TIMED1"},
          {"trade_state", "USERPAYING"},
          {"transitions", {{{"to", "PAYERROR"}, {"after_ms", 300}}}}});
  absl::StatusOr<Response> r = Send(Signed(Direct("TIMED1")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(json::parse(r->body)["trade_state"], "USERPAYING");
  absl::SleepFor(absl::Milliseconds(350));
  r = Send(Signed(Direct("TIMED1")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(json::parse(r->body)["trade_state"], "PAYERROR");
}

TEST_F(SandboxTest, SeedVehicleOrderIsBuiltIn) {
  absl::StatusOr<Response> r = Send(Signed(
      absl::StrCat("/v3/vehicle/transactions/out-trade-no/20150806125346?sub_mchid=", kSubMchid)));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(Verify(*r).ok());
  json b = json::parse(r->body);
  EXPECT_EQ(b["appid"], "wxcbda96de0b165486");
  EXPECT_EQ(b["sub_appid"], "wxcbda96de0b165489");
  EXPECT_EQ(b["sp_mchid"], "1230000109");
  EXPECT_EQ(b["sub_mchid"], "1900000109");
  EXPECT_EQ(b["description"], "停车场扣费");
  EXPECT_EQ(b["create_time"], "2017-08-26T10:43:39+08:00");
  EXPECT_EQ(b["transaction_id"], "1009660380201506130728806387");
  EXPECT_EQ(b["trade_state"], "SUCCESS");
  EXPECT_EQ(b["trade_state_description"], "支付失败,请重新下单支付");
  EXPECT_EQ(b["success_time"], "2017-08-26T10:43:39+08:00");
  EXPECT_EQ(b["bank_type"], "CMC");
  EXPECT_EQ(b["user_repaid"], "Y");
  EXPECT_EQ(b["attach"], "深圳分店");
  EXPECT_EQ(b["trade_scene"], "PARKING");
  EXPECT_EQ(b["parking_info"]["parking_id"], "5K8264ILTKCH16CQ250");
  EXPECT_EQ(b["parking_info"]["plate_number"], "粤B888888");
  EXPECT_EQ(b["parking_info"]["plate_color"], "BLUE");
  EXPECT_EQ(b["parking_info"]["parking_name"], "欢乐海岸停车场");
  EXPECT_EQ(b["parking_info"]["charging_duration"], 3600);
  EXPECT_EQ(b["parking_info"]["device_id"], "12313");
  EXPECT_EQ(b["payer"]["openid"], "oUpF8uMuAJOM2pxb1Q");
  EXPECT_EQ(b["amount"]["total"], 888);
  EXPECT_EQ(b["amount"]["payer_total"], 100);
  EXPECT_EQ(b["amount"]["discount_total"], 100);
  ASSERT_EQ(b["promotion_detail"].size(), 1u);
  EXPECT_EQ(b["promotion_detail"][0]["coupon_id"], "109519");
  EXPECT_EQ(b["promotion_detail"][0]["other_contribute"], 1);
}

TEST_F(SandboxTest, VehicleErrorsFollowSeed002) {
  Upsert({{"out_trade_no", "NOTPARK1"}});  // a direct order
  const std::string base = "/v3/vehicle/transactions/out-trade-no/";
  absl::StatusOr<Response> r = Send(Signed(absl::StrCat(base, "NOTPARK1?sub_mchid=", kSubMchid)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["code"], "INVALID_REQUEST");
  r = Send(Signed(absl::StrCat(base, "20150806125346?sub_mchid=1900000999")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["message"], "服务商和子商户没有绑定关系");
  r = Send(Signed(absl::StrCat(base, "NOSUCHORDER?sub_mchid=", kSubMchid)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json::parse(r->body)["code"], "NOT_FOUND");
  r = Send(Signed(absl::StrCat(base, "20150806125346")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["code"], "PARAM_ERROR");
  // Error replies are signed too.
  EXPECT_TRUE(Verify(*r).ok());
}

TEST_F(SandboxTest, PartnerOrderAndOwnership) {
  Upsert({{"out_trade_no", "PART1"},
          {"kind", "partner"},
          {"sub_mchid", kSubMchid},
          {"sub_appid", "wxsub"},
          {"amount", 700}});
  const std::string ok_path = absl::StrCat(
      "/v3/pay/partner/transactions/out-trade-no/PART1"
      "?sp_mchid=",
      kMchid, "&sub_mchid=", kSubMchid);
  absl::StatusOr<Response> r = Send(Signed(ok_path));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  json b = json::parse(r->body);
  EXPECT_EQ(b["sp_mchid"], kMchid);
  EXPECT_EQ(b["sub_mchid"], kSubMchid);
  EXPECT_EQ(b["sub_appid"], "wxsub");
  EXPECT_EQ(b["amount"]["total"], 700);
  r = Send(Signed(absl::StrCat("/v3/pay/partner/transactions/out-trade-no/PART1?sp_mchid=", kMchid,
                               "&sub_mchid=1900000999")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json::parse(r->body)["code"], "ORDER_NOT_EXIST");
  // The direct endpoint does not serve a partner order.
  r = Send(Signed(Direct("PART1")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
}

TEST_F(SandboxTest, EverySignatureFaultIsCaughtByTheVerifier) {
  const std::vector<std::pair<std::string, std::string>> faults = {
      {"wrong_signature", "signature"},
      {"signtest_signature", "SIGNTEST"},
      {"stale_timestamp", "Timestamp"},
      {"unknown_serial", "Serial"},
      {"missing_signature_headers", "Wechatpay"}};
  for (const auto& [fault, why] : faults) {
    const std::string no = absl::StrCat("F", fault.substr(0, 20));
    Upsert({{"out_trade_no", no}, {"faults", {{{"type", fault}}}}});
    absl::StatusOr<Response> r = Send(Signed(Direct(no)));
    ASSERT_TRUE(r.ok()) << fault << ": " << r.status();
    EXPECT_EQ(r->status, 200) << fault;
    absl::Status v = Verify(*r);
    EXPECT_FALSE(v.ok()) << fault << " must not verify";
    EXPECT_THAT(std::string(v.message()), HasSubstr(why)) << fault << ": " << v;
    // The body itself is a normal reply: only verification can catch the fault.
    EXPECT_EQ(json::parse(r->body)["out_trade_no"], no);
  }
}

TEST_F(SandboxTest, ContentFaultsAreSignedCorrectly) {
  Upsert({{"out_trade_no", "WRONGM"}, {"faults", {{{"type", "wrong_mchid"}}}}});
  Upsert({{"out_trade_no", "AMOUNTX"},
          {"amount", 100},
          {"faults", {{{"type", "amount_mismatch"}, {"delta", 5}}}}});
  absl::StatusOr<Response> r = Send(Signed(Direct("WRONGM")));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(Verify(*r).ok());
  EXPECT_EQ(json::parse(r->body)["mchid"], "1999999999");
  r = Send(Signed(Direct("AMOUNTX")));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(Verify(*r).ok());
  EXPECT_EQ(json::parse(r->body)["amount"]["total"], 105);
  EXPECT_EQ(json::parse(r->body)["amount"]["payer_total"], 105);
}

TEST_F(SandboxTest, TemplatesAndDefaults) {
  ASSERT_TRUE(
      sandbox_->SetDefaults({{"latency_ms", 0}, {"faults", {{{"type", "http_429"}, {"first", 1}}}}})
          .ok());
  Upsert({{"out_trade_no", "DEF1"}});
  absl::StatusOr<Response> r = Send(Signed(Direct("DEF1")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(json::parse(r->body)["code"], "RATELIMIT_EXCEEDED");
  r = Send(Signed(Direct("DEF1")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  ASSERT_TRUE(sandbox_->SetDefaults(json::object()).ok());
  // Invalid orders are refused with the reason.
  absl::StatusOr<std::pair<int, std::string>> bad =
      sandbox_->Call("POST", "/__sandbox/orders", R"({"out_trade_no":"X","amount":1.5})");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->first, 400);
  EXPECT_THAT(bad->second, HasSubstr("amount"));
  bad = sandbox_->Call("POST", "/__sandbox/orders",
                       R"({"out_trade_no":"X","faults":[{"type":"no_such_fault"}]})");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->first, 400);
}

TEST(SandboxKeysTest, PerMerchantKeys) {
  const std::string dir = testutil::TempDir("sandbox-keys");
  absl::StatusOr<TestKeys> keys = fakes::MakeTestKeys(dir);
  ASSERT_TRUE(keys.ok()) << keys.status();
  SandboxProcess::Options o = SandboxProcess::Options::FromKeys(*keys);
  o.merchant_public_keys = {absl::StrCat(kMchid, "=", keys->merchant_public_key)};
  o.scenario = json{{"templates", {{{"prefix", "T"}, {"order", {{"mchid", kMchid}}}}}}};
  absl::StatusOr<std::unique_ptr<SandboxProcess>> s = SandboxProcess::Start(o);
  ASSERT_TRUE(s.ok()) << s.status();
  absl::StatusOr<std::unique_ptr<TransportStack>> t = TransportStack::Create(TransportOptions());
  ASSERT_TRUE(t.ok());
  absl::StatusOr<std::string> pem = fakes::ReadTextFile(keys->merchant_private_key);
  ASSERT_TRUE(pem.ok());
  absl::StatusOr<wx::RsaKey> key = wx::RsaKey::PrivateFromPem(*pem);
  ASSERT_TRUE(key.ok());
  auto send = [&](const std::string& mchid) {
    const std::string path = absl::StrCat("/v3/pay/transactions/out-trade-no/T1?mchid=", kMchid);
    absl::StatusOr<std::string> auth =
        wx::BuildAuthorization(mchid, keys->merchant_serial, *key, "GET", path, "",
                               absl::ToUnixSeconds(absl::Now()), wx::RandomNonce());
    Request r;
    r.url = (*s)->base_url() + path;
    r.headers = {{"Authorization", *auth}};
    r.deadline = absl::Now() + absl::Seconds(5);
    return SendAndWait(**t, r);
  };
  absl::StatusOr<Response> r = send(kMchid);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
  // A merchant without a configured key is refused.
  r = send("1900000001");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);
  t->reset();
  s->reset();
  testutil::RemoveTree(dir);
}

TEST(SandboxStartTest, BadFlagsFailToStart) {
  SandboxProcess::Options o;
  o.extra_args = {"--no-such-flag", "1"};
  o.start_timeout = absl::Seconds(5);
  absl::StatusOr<std::unique_ptr<SandboxProcess>> s = SandboxProcess::Start(o);
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace orderquery::payment::http
