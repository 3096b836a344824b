#include "server/payment/wechat/client.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/payment/wechat/errors.h"
#include "server/payment/wechat/signer.h"
#include "server/service/vehicle_convert.h"
#include "tests/fakes/wechat_signing.h"
#include "tests/unit/wechat/test_util.h"

namespace orderquery::payment::wechat {
namespace {

using ::orderquery::payment::wechat::testing::ReadFileOrDie;
using ::orderquery::payment::wechat::testing::TestDataPath;
using ::testing::HasSubstr;

constexpr char kPubKeyId[] = "PUB_KEY_ID_0112300001092024111100000000000001";
constexpr char kBaseUrl[] = "http://127.0.0.1:18443";

constexpr char kVehicleBody[] =
    R"({"appid":"wxcbda96de0b165486","sp_mchid":"1230000109","sub_mchid":"1900000109",)"
    R"("description":"停车场扣费","create_time":"2017-08-26T10:43:39+08:00",)"
    R"("out_trade_no":"20150806125346","transaction_id":"1009660380201506130728806387",)"
    R"("trade_state":"SUCCESS","trade_scene":"PARKING","payer":{"openid":"oUpF8uMuAJOM2pxb1Q"},)"
    R"("amount":{"total":888,"currency":"CNY"}})";

// Records requests; the test answers them with Reply()/Fail().
class FakeTransport : public http::Transport {
 public:
  struct Call {
    http::Request request;
    http::Callback done;
  };
  void Send(http::Request request, http::Callback done) override {
    calls.push_back(Call{std::move(request), std::move(done)});
  }
  void Reply(http::Response response) {
    ASSERT_FALSE(calls.empty());
    Call call = std::move(calls.front());
    calls.erase(calls.begin());
    call.done(std::move(response));
  }
  void Fail(absl::Status status) {
    ASSERT_FALSE(calls.empty());
    Call call = std::move(calls.front());
    calls.erase(calls.begin());
    call.done(std::move(status));
  }
  std::vector<Call> calls;
};

const std::string* FindHeader(const http::Headers& headers, absl::string_view name) {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return &v;
  }
  return nullptr;
}

class ClientTest : public ::testing::Test {
 protected:
  ClientTest()
      : client_(&transport_, HttpWechatPayClient::Options{"oq-test/1", [this] { return now_; }}) {
    MerchantKeySources sources;
    sources.private_key = TestDataPath("merchant_key.pem");
    sources.public_key_id = kPubKeyId;
    sources.public_key = TestDataPath("wechatpay_pub.pem");
    MerchantConfig m;
    m.name = "parking";
    m.appids = {"wxcbda96de0b165486"};
    m.mode = ApiMode::kPartner;
    m.mchid = "1230000109";
    m.sub_mchid = "1900000109";
    m.serial_no = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C";
    m.base_url = kBaseUrl;
    absl::StatusOr<MerchantConfig> loaded = LoadMerchantKeys(m, sources);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    partner_ = *loaded;

    m.name = "direct";
    m.mode = ApiMode::kDirect;
    m.sub_mchid = "";
    MerchantKeySources certs;
    certs.private_key = TestDataPath("merchant_key.pem");
    certs.platform_certificates = {TestDataPath("platform_a_cert.pem")};
    loaded = LoadMerchantKeys(m, certs);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    direct_ = *loaded;
    wechatpay_key_ = *RsaKey::PrivateFromPem(ReadFileOrDie(TestDataPath("wechatpay_key.pem")));
    platform_a_key_ = *RsaKey::PrivateFromPem(ReadFileOrDie(TestDataPath("platform_a_key.pem")));
  }

  // A reply signed the way WeChat signs it, `age` after our clock.
  http::Response SignedReply(int status, const std::string& body,
                             absl::Duration skew = absl::ZeroDuration(),
                             const std::string& serial = kPubKeyId,
                             std::optional<RsaKey> key = std::nullopt) {
    http::Response r;
    r.status = status;
    r.body = body;
    r.headers = *SignedResponseHeaders(key.value_or(*wechatpay_key_), serial,
                                       absl::ToUnixSeconds(now_ + skew), RandomNonce(), body);
    return r;
  }

  // Runs the vehicle query to the point where the transport holds the request.
  void StartVehicle(const std::string& no = "20150806125346",
                    const std::string& sub = "1900000109") {
    client_.QueryVehicleTransaction(partner_, no, sub, now_ + absl::Seconds(3),
                                    [this](absl::StatusOr<VehicleResult> r) {
                                      ++vehicle_calls_;
                                      vehicle_ = std::move(r);
                                    });
  }

  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  FakeTransport transport_;
  HttpWechatPayClient client_;
  MerchantConfig partner_;
  MerchantConfig direct_;
  std::optional<RsaKey> wechatpay_key_;
  std::optional<RsaKey> platform_a_key_;
  int vehicle_calls_ = 0;
  std::optional<absl::StatusOr<VehicleResult>> vehicle_;
};

TEST_F(ClientTest, VehicleRequestIsSignedAndMarked) {
  StartVehicle("A*1", "1900000109");
  ASSERT_EQ(transport_.calls.size(), 1u);
  const http::Request& req = transport_.calls[0].request;
  const std::string path = "/v3/vehicle/transactions/out-trade-no/A%2A1?sub_mchid=1900000109";
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.url, std::string(kBaseUrl) + path);
  EXPECT_EQ(req.body, "");
  EXPECT_TRUE(req.idempotent);
  EXPECT_EQ(req.limiter_key, "1230000109");
  EXPECT_EQ(req.deadline, now_ + absl::Seconds(3));
  ASSERT_NE(FindHeader(req.headers, "Accept"), nullptr);
  EXPECT_EQ(*FindHeader(req.headers, "Accept"), "application/json");
  ASSERT_NE(FindHeader(req.headers, "User-Agent"), nullptr);
  EXPECT_EQ(*FindHeader(req.headers, "User-Agent"), "oq-test/1");
  ASSERT_NE(FindHeader(req.headers, "Wechatpay-Serial"), nullptr);
  EXPECT_EQ(*FindHeader(req.headers, "Wechatpay-Serial"), kPubKeyId);

  const std::string* header = FindHeader(req.headers, "Authorization");
  ASSERT_NE(header, nullptr);
  absl::StatusOr<Authorization> auth = ParseAuthorization(*header);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(auth->mchid, "1230000109");
  EXPECT_EQ(auth->serial_no, "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C");
  EXPECT_EQ(auth->timestamp, "1700000000");
  EXPECT_EQ(auth->nonce_str.size(), 32u);
  const RsaKey merchant_pub =
      *RsaKey::PublicFromPem(ReadFileOrDie(TestDataPath("merchant_pub.pem")));
  EXPECT_TRUE(VerifyRequestSignature(*auth, merchant_pub, "GET", path, "").ok());
  EXPECT_EQ(vehicle_calls_, 0);  // nothing answered yet
}

TEST_F(ClientTest, EachRequestHasAFreshNonce) {
  StartVehicle();
  StartVehicle();
  ASSERT_EQ(transport_.calls.size(), 2u);
  EXPECT_NE(ParseAuthorization(*FindHeader(transport_.calls[0].request.headers, "Authorization"))
                ->nonce_str,
            ParseAuthorization(*FindHeader(transport_.calls[1].request.headers, "Authorization"))
                ->nonce_str);
}

TEST_F(ClientTest, VerifiedVehicleReplyIsDecoded) {
  StartVehicle();
  transport_.Reply(SignedReply(200, kVehicleBody));
  ASSERT_EQ(vehicle_calls_, 1);
  ASSERT_TRUE(vehicle_->ok()) << vehicle_->status();
  const VehicleResult& result = **vehicle_;
  // The API's view of it: the decoded transaction through the service layer's mapping.
  const struct {
    std::string body;
    orderquery::v1::VehicleTransaction transaction;
  } r{result.body, service::ToProto(result.transaction)};
  EXPECT_EQ(r.body, kVehicleBody);
  EXPECT_EQ(r.transaction.out_trade_no(), "20150806125346");
  EXPECT_EQ(r.transaction.trade_state(), orderquery::v1::VehicleTransaction::SUCCESS);
  EXPECT_EQ(r.transaction.amount().total(), 888);
  EXPECT_EQ(r.transaction.description(), "停车场扣费");
}

TEST_F(ClientTest, VerificationFailureNeverReturnsData) {
  struct Case {
    const char* name;
    http::Response reply;
    std::string want;
  };
  http::Response tampered = SignedReply(200, kVehicleBody);
  tampered.body = absl::StrReplaceAll(tampered.body, {{"888", "999"}});
  http::Response unsigned_reply;
  unsigned_reply.status = 200;
  unsigned_reply.body = kVehicleBody;
  http::Response signtest = SignedReply(200, kVehicleBody);
  for (auto& h : signtest.headers) {
    if (h.first == "Wechatpay-Signature") h.second = "WECHATPAY/SIGNTEST/abc";
  }
  Case cases[] = {
      {"tampered", tampered, "signature check failed"},
      {"unsigned", unsigned_reply, "no Wechatpay-Timestamp header"},
      {"signtest", signtest, "SIGNTEST"},
      {"stale", SignedReply(200, kVehicleBody, -absl::Minutes(6)), "behind our clock"},
      {"future", SignedReply(200, kVehicleBody, absl::Minutes(6)), "ahead of our clock"},
      {"unknown_serial", SignedReply(200, kVehicleBody, absl::ZeroDuration(), "PUB_KEY_ID_X"),
       "unknown Wechatpay-Serial"},
      {"wrong_key",
       SignedReply(200, kVehicleBody, absl::ZeroDuration(), kPubKeyId, *platform_a_key_),
       "signature does not match"},
  };
  for (Case& c : cases) {
    vehicle_.reset();
    StartVehicle();
    transport_.Reply(c.reply);
    ASSERT_TRUE(vehicle_.has_value()) << c.name;
    ASSERT_FALSE(vehicle_->ok()) << c.name;
    EXPECT_EQ(vehicle_->status().code(), absl::StatusCode::kInternal) << c.name;
    EXPECT_THAT(std::string(vehicle_->status().message()), HasSubstr(c.want)) << c.name;
  }
}

TEST_F(ClientTest, ErrorRepliesMapThroughTheTable) {
  struct Case {
    int status;
    std::string body;
    absl::StatusCode want;
    std::string want_code;
  } cases[] = {
      {404, R"({"code":"NOT_FOUND","message":"订单不存在"})", absl::StatusCode::kNotFound,
       "NOT_FOUND"},
      {400, R"({"code":"INVALID_REQUEST","message":"服务商和子商户没有绑定关系"})",
       absl::StatusCode::kFailedPrecondition, "INVALID_REQUEST"},
      {400, R"({"code":"PARAM_ERROR","message":"参数错误,请检查out_trade_no"})",
       absl::StatusCode::kInvalidArgument, "PARAM_ERROR"},
      {401, R"({"code":"SIGN_ERROR","message":"验证不通过"})", absl::StatusCode::kInternal,
       "SIGN_ERROR"},
      {429, R"({"code":"RATELIMIT_EXCEEDED","message":"达到调用速率限制"})",
       absl::StatusCode::kResourceExhausted, "RATELIMIT_EXCEEDED"},
      {500, R"({"code":"SYSTEM_ERROR","message":"出现内部服务器错误"})",
       absl::StatusCode::kUnavailable, "SYSTEM_ERROR"},
  };
  for (const Case& c : cases) {
    vehicle_.reset();
    StartVehicle();
    http::Response r;  // error replies arrive unsigned: that must not matter
    r.status = c.status;
    r.body = c.body;
    transport_.Reply(r);
    ASSERT_TRUE(vehicle_.has_value());
    EXPECT_EQ(vehicle_->status().code(), c.want) << c.body;
    EXPECT_EQ(WechatCode(vehicle_->status()), c.want_code);
    EXPECT_EQ(UpstreamHttpStatus(vehicle_->status()), c.status);
  }
  vehicle_.reset();
  StartVehicle();
  http::Response not_bound;
  not_bound.status = 400;
  not_bound.body = R"({"code":"INVALID_REQUEST","message":"服务商和子商户没有绑定关系"})";
  transport_.Reply(not_bound);
  EXPECT_THAT(std::string(vehicle_->status().message()), HasSubstr("服务商和子商户没有绑定关系"));
}

TEST_F(ClientTest, TransportFailuresKeepTheirCode) {
  StartVehicle();
  transport_.Fail(absl::DeadlineExceededError("total timeout"));
  EXPECT_EQ(vehicle_->status().code(), absl::StatusCode::kDeadlineExceeded);
  StartVehicle();
  transport_.Fail(absl::UnavailableError("tls: handshake failed"));
  EXPECT_EQ(vehicle_->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(vehicle_->status().message()), HasSubstr("tls: handshake failed"));
}

TEST_F(ClientTest, UnreadableVerifiedReplyIsUnavailable) {
  for (const std::string& body :
       {std::string("not json"), std::string(kVehicleBody).substr(0, 60),
        absl::StrReplaceAll(std::string(kVehicleBody), {{"\"total\":888", "\"total\":8.88"}})}) {
    vehicle_.reset();
    StartVehicle();
    transport_.Reply(SignedReply(200, body));
    ASSERT_TRUE(vehicle_.has_value());
    EXPECT_EQ(vehicle_->status().code(), absl::StatusCode::kUnavailable) << body;
    EXPECT_THAT(std::string(vehicle_->status().message()), HasSubstr("unreadable reply"));
  }
}

TEST_F(ClientTest, ReplyAboutAnotherOrderIsRejected) {
  StartVehicle("20150806125347");
  transport_.Reply(SignedReply(200, kVehicleBody));
  EXPECT_EQ(vehicle_->status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(vehicle_->status().message()), HasSubstr("20150806125346"));
  StartVehicle("20150806125346", "1900000108");
  transport_.Reply(SignedReply(200, kVehicleBody));
  EXPECT_EQ(vehicle_->status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(vehicle_->status().message()), HasSubstr("sub_mchid"));
}

TEST_F(ClientTest, BadInputIsRejectedBeforeAnyIo) {
  StartVehicle("'; DROP TABLE t_user;--");
  EXPECT_EQ(vehicle_calls_, 1);  // answered at once
  EXPECT_EQ(vehicle_->status().code(), absl::StatusCode::kInvalidArgument);
  StartVehicle(std::string(33, '1'));
  EXPECT_EQ(vehicle_->status().code(), absl::StatusCode::kInvalidArgument);
  StartVehicle("", "1900000109");
  EXPECT_EQ(vehicle_->status().code(), absl::StatusCode::kInvalidArgument);
  StartVehicle("20150806125346", "19000001x9");
  EXPECT_EQ(vehicle_->status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(vehicle_->status().message()), HasSubstr("sub_mchid"));

  std::optional<absl::StatusOr<Transaction>> order;
  client_.QueryOrder(direct_, "订单", now_ + absl::Seconds(1),
                     [&](absl::StatusOr<Transaction> t) { order = std::move(t); });
  ASSERT_TRUE(order.has_value());
  EXPECT_EQ(order->status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(transport_.calls.empty());
}

TEST_F(ClientTest, PassedDeadlineAndMisconfigurationDoNoIo) {
  client_.QueryVehicleTransaction(
      partner_, "A1", "1900000109", now_,
      [&](absl::StatusOr<VehicleResult> r) { vehicle_ = std::move(r); });
  EXPECT_EQ(vehicle_->status().code(), absl::StatusCode::kDeadlineExceeded);
  client_.QueryVehicleTransaction(
      direct_, "A1", "1900000109", now_ + absl::Seconds(1),
      [&](absl::StatusOr<VehicleResult> r) { vehicle_ = std::move(r); });
  EXPECT_EQ(vehicle_->status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(vehicle_->status().message()), HasSubstr("partner"));

  MerchantConfig no_sub = partner_;
  no_sub.sub_mchid = "";
  std::optional<absl::StatusOr<Transaction>> order;
  client_.QueryOrder(no_sub, "A1", now_ + absl::Seconds(1),
                     [&](absl::StatusOr<Transaction> t) { order = std::move(t); });
  EXPECT_EQ(order->status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(order->status().message()), HasSubstr("misconfigured"));
  EXPECT_TRUE(transport_.calls.empty());
}

TEST_F(ClientTest, DirectQueryOrderInCertificateMode) {
  std::optional<absl::StatusOr<Transaction>> order;
  client_.QueryOrder(direct_, "R20240101_0001", now_ + absl::Seconds(2),
                     [&](absl::StatusOr<Transaction> t) { order = std::move(t); });
  ASSERT_EQ(transport_.calls.size(), 1u);
  const http::Request& req = transport_.calls[0].request;
  EXPECT_EQ(req.url, std::string(kBaseUrl) +
                         "/v3/pay/transactions/out-trade-no/R20240101_0001?mchid=1230000109");
  EXPECT_EQ(FindHeader(req.headers, "Wechatpay-Serial"), nullptr);  // certificate mode

  const std::string body =
      R"({"appid":"wxcbda96de0b165486","mchid":"1230000109","out_trade_no":"R20240101_0001",)"
      R"("transaction_id":"4200000891202103228088184743","trade_state":"SUCCESS",)"
      R"("success_time":"2024-01-01T10:00:00+08:00","amount":{"total":1000,"payer_total":1000}})";
  transport_.Reply(SignedReply(200, body, absl::ZeroDuration(),
                               "0C44D160B349ECBB0F4C40AD052CE7510BA43CF1", *platform_a_key_));
  ASSERT_TRUE(order.has_value());
  ASSERT_TRUE(order->ok()) << order->status();
  EXPECT_EQ((*order)->trade_state, TradeState::kSuccess);
  EXPECT_EQ((*order)->amount->total, 1000);
  EXPECT_TRUE(MatchesMerchant(**order, direct_).ok());
}

TEST_F(ClientTest, PartnerQueryOrderAndMerchantMayGoAway) {
  std::optional<absl::StatusOr<Transaction>> order;
  {
    MerchantConfig temporary = partner_;
    client_.QueryOrder(temporary, "R1", now_ + absl::Seconds(2),
                       [&](absl::StatusOr<Transaction> t) { order = std::move(t); });
  }  // the reply is checked with copies, not with the caller's merchant
  ASSERT_EQ(transport_.calls.size(), 1u);
  EXPECT_EQ(
      transport_.calls[0].request.url,
      std::string(kBaseUrl) +
          "/v3/pay/partner/transactions/out-trade-no/R1?sp_mchid=1230000109&sub_mchid=1900000109");
  const std::string body =
      R"({"sp_appid":"wxSP","sp_mchid":"1230000109","sub_appid":"wxcbda96de0b165486",)"
      R"("sub_mchid":"1900000109","out_trade_no":"R1","trade_state":"NOTPAY"})";
  transport_.Reply(SignedReply(200, body));
  ASSERT_TRUE(order->ok()) << order->status();
  EXPECT_EQ((*order)->trade_state, TradeState::kNotPay);
  EXPECT_TRUE(MatchesMerchant(**order, partner_).ok());
}

TEST_F(ClientTest, QueryOrderNotFoundAndUnverifiedPaid) {
  std::optional<absl::StatusOr<Transaction>> order;
  auto start = [&] {
    client_.QueryOrder(partner_, "R1", now_ + absl::Seconds(2),
                       [&](absl::StatusOr<Transaction> t) { order = std::move(t); });
  };
  start();
  http::Response not_found;
  not_found.status = 404;
  not_found.body = R"({"code":"ORDER_NOT_EXIST","message":"订单不存在"})";
  transport_.Reply(not_found);
  EXPECT_EQ(order->status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(WechatCode(order->status()), "ORDER_NOT_EXIST");

  // A "paid" reply that does not verify must never read as paid (nor as not paid).
  start();
  const std::string paid =
      R"({"sp_appid":"wxSP","sp_mchid":"1230000109","sub_mchid":"1900000109","out_trade_no":"R1",)"
      R"("transaction_id":"42","trade_state":"SUCCESS","amount":{"total":1}})";
  transport_.Reply(SignedReply(200, paid, absl::ZeroDuration(), kPubKeyId, *platform_a_key_));
  EXPECT_EQ(order->status().code(), absl::StatusCode::kInternal);
}

// The close API: request shape per mode, then every way the reply can go.
TEST_F(ClientTest, CloseOrderRequestsArePostsSignedOverTheirBody) {
  struct Case {
    const char* name;
    const MerchantConfig* merchant;
    std::string no;
    std::string sub_mchid;
    std::string want_path;
    std::string want_body;
  } cases[] = {
      {"direct", &direct_, "R20240101_0001", "",
       "/v3/pay/transactions/out-trade-no/R20240101_0001/close", R"({"mchid":"1230000109"})"},
      {"direct_ignores_sub_mchid", &direct_, "R1", "1900000108",
       "/v3/pay/transactions/out-trade-no/R1/close", R"({"mchid":"1230000109"})"},
      {"partner_configured_sub", &partner_, "A*1", "",
       "/v3/pay/partner/transactions/out-trade-no/A%2A1/close",
       R"({"sp_mchid":"1230000109","sub_mchid":"1900000109"})"},
      {"partner_given_sub", &partner_, "R1", "1900000108",
       "/v3/pay/partner/transactions/out-trade-no/R1/close",
       R"({"sp_mchid":"1230000109","sub_mchid":"1900000108"})"},
  };
  const RsaKey merchant_pub =
      *RsaKey::PublicFromPem(ReadFileOrDie(TestDataPath("merchant_pub.pem")));
  for (const Case& c : cases) {
    transport_.calls.clear();
    int answered = 0;
    client_.CloseOrder(*c.merchant, c.no, c.sub_mchid, now_ + absl::Seconds(3),
                       [&](absl::Status) { ++answered; });
    ASSERT_EQ(transport_.calls.size(), 1u) << c.name;
    const http::Request& req = transport_.calls[0].request;
    EXPECT_EQ(req.method, "POST") << c.name;
    EXPECT_EQ(req.url, std::string(kBaseUrl) + c.want_path) << c.name;
    EXPECT_EQ(req.body, c.want_body) << c.name;
    EXPECT_TRUE(req.idempotent) << c.name;  // closing twice is harmless at WeChat
    EXPECT_EQ(req.limiter_key, "1230000109") << c.name;
    EXPECT_EQ(req.deadline, now_ + absl::Seconds(3)) << c.name;
    ASSERT_NE(FindHeader(req.headers, "Content-Type"), nullptr) << c.name;
    EXPECT_EQ(*FindHeader(req.headers, "Content-Type"), "application/json") << c.name;
    absl::StatusOr<Authorization> auth =
        ParseAuthorization(*FindHeader(req.headers, "Authorization"));
    ASSERT_TRUE(auth.ok()) << auth.status();
    EXPECT_TRUE(VerifyRequestSignature(*auth, merchant_pub, "POST", c.want_path, c.want_body).ok())
        << c.name;
    // The signature covers the body: another body does not verify.
    EXPECT_FALSE(VerifyRequestSignature(*auth, merchant_pub, "POST", c.want_path, "{}").ok())
        << c.name;
    EXPECT_EQ(answered, 0) << c.name;
  }
}

TEST_F(ClientTest, CloseOrderOutcomes) {
  auto error = [](int status, const std::string& body) {
    http::Response r;  // error replies arrive unsigned
    r.status = status;
    r.body = body;
    return r;
  };
  http::Response unsigned_204;
  unsigned_204.status = 204;
  http::Response tampered_204 = SignedReply(204, "");
  tampered_204.body = "{}";
  struct Case {
    const char* name;
    http::Response reply;
    absl::StatusCode want;
    std::optional<std::string> want_code;
    std::string want_in_message;
  } cases[] = {
      {"closed_204", SignedReply(204, ""), absl::StatusCode::kOk, std::nullopt, ""},
      {"closed_200", SignedReply(200, ""), absl::StatusCode::kOk, std::nullopt, ""},
      {"paid", error(400, R"({"code":"ORDERPAID","message":"订单已支付"})"),
       absl::StatusCode::kFailedPrecondition, "ORDERPAID", "订单已支付"},
      {"already_closed", error(400, R"({"code":"ORDER_CLOSED","message":"订单已关闭"})"),
       absl::StatusCode::kFailedPrecondition, "ORDER_CLOSED", "订单已关闭"},
      {"unknown_order", error(404, R"({"code":"ORDER_NOT_EXIST","message":"订单不存在"})"),
       absl::StatusCode::kNotFound, "ORDER_NOT_EXIST", "订单不存在"},
      {"rate_limited", error(429, R"({"code":"RATELIMIT_EXCEEDED","message":"达到调用速率限制"})"),
       absl::StatusCode::kResourceExhausted, "RATELIMIT_EXCEEDED", ""},
      {"system_error", error(500, R"({"code":"SYSTEM_ERROR","message":"系统异常"})"),
       absl::StatusCode::kUnavailable, "SYSTEM_ERROR", ""},
      {"sign_error", error(401, R"({"code":"SIGN_ERROR","message":"签名错误"})"),
       absl::StatusCode::kInternal, "SIGN_ERROR", ""},
      // A 204 is only believed when WeChat signed it: otherwise the close's outcome is unknown.
      {"unsigned_204", unsigned_204, absl::StatusCode::kInternal, std::nullopt,
       "no Wechatpay-Timestamp header"},
      {"tampered_204", tampered_204, absl::StatusCode::kInternal, std::nullopt,
       "signature check failed"},
      {"stale_204", SignedReply(204, "", -absl::Minutes(6)), absl::StatusCode::kInternal,
       std::nullopt, "behind our clock"},
  };
  for (Case& c : cases) {
    transport_.calls.clear();
    std::optional<absl::Status> result;
    client_.CloseOrder(partner_, "R1", "", now_ + absl::Seconds(3),
                       [&](absl::Status s) { result = std::move(s); });
    transport_.Reply(c.reply);
    ASSERT_TRUE(result.has_value()) << c.name;
    EXPECT_EQ(result->code(), c.want) << c.name << ": " << *result;
    EXPECT_EQ(WechatCode(*result), c.want_code) << c.name;
    EXPECT_THAT(std::string(result->message()), HasSubstr(c.want_in_message)) << c.name;
  }
  transport_.calls.clear();
  std::optional<absl::Status> result;
  client_.CloseOrder(direct_, "R1", "", now_ + absl::Seconds(3),
                     [&](absl::Status s) { result = std::move(s); });
  transport_.Fail(absl::DeadlineExceededError("total timeout"));
  EXPECT_EQ(result->code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(ClientTest, CloseOrderRejectsBadInputBeforeAnyIo) {
  MerchantConfig no_sub = partner_;
  no_sub.sub_mchid = "";
  struct Case {
    const char* name;
    const MerchantConfig* merchant;
    std::string no;
    std::string sub_mchid;
    absl::Time deadline;
    absl::StatusCode want;
    std::string want_in_message;
  } cases[] = {
      {"bad_order_number", &direct_, "a/b", "", now_ + absl::Seconds(1),
       absl::StatusCode::kInvalidArgument, "out_trade_no"},
      {"empty_order_number", &partner_, "", "", now_ + absl::Seconds(1),
       absl::StatusCode::kInvalidArgument, "out_trade_no"},
      {"bad_sub_mchid", &partner_, "R1", "19x", now_ + absl::Seconds(1),
       absl::StatusCode::kInvalidArgument, "sub_mchid"},
      {"no_sub_mchid_anywhere", &no_sub, "R1", "", now_ + absl::Seconds(1),
       absl::StatusCode::kInternal, "misconfigured"},
      {"deadline_passed", &direct_, "R1", "", now_, absl::StatusCode::kDeadlineExceeded, ""},
  };
  for (const Case& c : cases) {
    std::optional<absl::Status> result;
    client_.CloseOrder(*c.merchant, c.no, c.sub_mchid, c.deadline,
                       [&](absl::Status s) { result = std::move(s); });
    ASSERT_TRUE(result.has_value()) << c.name;  // answered at once
    EXPECT_EQ(result->code(), c.want) << c.name << ": " << *result;
    EXPECT_THAT(std::string(result->message()), HasSubstr(c.want_in_message)) << c.name;
  }
  EXPECT_TRUE(transport_.calls.empty());
}

}  // namespace
}  // namespace orderquery::payment::wechat
