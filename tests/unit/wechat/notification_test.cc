#include "server/payment/wechat/notification.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/payment/wechat/signer.h"
#include "tests/fakes/wechat_signing.h"
#include "tests/unit/wechat/test_util.h"

namespace orderquery::payment::wechat {
namespace {

using ::orderquery::payment::wechat::testing::ReadFileOrDie;
using ::orderquery::payment::wechat::testing::TestDataPath;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPubKeyId[] = "PUB_KEY_ID_0112300001092024111100000000000001";
constexpr char kSerialA[] = "0C44D160B349ECBB0F4C40AD052CE7510BA43CF1";
constexpr char kSerialB[] = "046231DF19DFF38BA7FDE67464DA7D79D20FA739";
// Test-only APIv3 keys (32 bytes each).
constexpr char kApiV3Key[] = "0123456789abcdefABCDEF0123456789";
constexpr char kOtherApiV3Key[] = "ZYXWVUTSRQPONMLKJIHGFEDCBA987654";

constexpr char kDirectPaid[] =
    R"({"appid":"wxd678efh567hg6787","mchid":"1230000109","out_trade_no":"R1001",)"
    R"("transaction_id":"4200000000202401011234567890","trade_type":"JSAPI",)"
    R"("trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"OTHERS",)"
    R"("success_time":"2024-01-01T10:00:00+08:00","attach":"",)"
    R"("payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},)"
    R"("amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}})";

constexpr char kPartnerPaid[] =
    R"({"sp_appid":"wxd678efh567hg6787","sp_mchid":"1230000109","sub_mchid":"1900000109",)"
    R"("out_trade_no":"P2001","transaction_id":"4200000000202401011234567891",)"
    R"("trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"支付成功",)"
    R"("success_time":"2024-01-01T10:00:00+08:00","payer":{"sp_openid":"oSP"},)"
    R"("amount":{"total":500,"payer_total":500,"currency":"CNY","payer_currency":"CNY"}})";

struct Delivery {
  std::string timestamp;
  std::string nonce;
  std::string signature;
  std::string serial;
  std::string body;
};

class NotificationTest : public ::testing::Test {
 protected:
  NotificationTest() {
    wechatpay_key_ = *RsaKey::PrivateFromPem(ReadFileOrDie(TestDataPath("wechatpay_key.pem")));
    platform_a_key_ = *RsaKey::PrivateFromPem(ReadFileOrDie(TestDataPath("platform_a_key.pem")));
    platform_b_key_ = *RsaKey::PrivateFromPem(ReadFileOrDie(TestDataPath("platform_b_key.pem")));
    // Public-key mode and both platform certificates at once (a migration in progress).
    absl::StatusOr<ResponseVerifier> verifier = ResponseVerifier::Create({
        {kPubKeyId, *RsaKey::PublicFromPem(ReadFileOrDie(TestDataPath("wechatpay_pub.pem")))},
        {kSerialA,
         *RsaKey::PublicFromCertificatePem(ReadFileOrDie(TestDataPath("platform_a_cert.pem")))},
        {kSerialB,
         *RsaKey::PublicFromCertificatePem(ReadFileOrDie(TestDataPath("platform_b_cert.pem")))},
    });
    EXPECT_TRUE(verifier.ok()) << verifier.status();
    direct_.name = "ev-charging";
    direct_.mode = ApiMode::kDirect;
    direct_.mchid = "1230000109";
    direct_.verifier = *verifier;
    direct_.apiv3_key = kApiV3Key;
    partner_ = direct_;
    partner_.name = "parking";
    partner_.mode = ApiMode::kPartner;
    partner_.sub_mchid = "1900000109";
  }

  static std::string Envelope(const std::string& plaintext, const std::string& key = kApiV3Key,
                              const std::string& id = "EV-2018022511223320873") {
    const std::string nonce = "fdasflkja484";
    nlohmann::json j = {
        {"id", id},
        {"create_time", "2015-05-20T13:29:35+08:00"},
        {"resource_type", "encrypt-resource"},
        {"event_type", "TRANSACTION.SUCCESS"},
        {"summary", "支付成功"},
        {"resource",
         {{"original_type", "transaction"},
          {"algorithm", "AEAD_AES_256_GCM"},
          {"ciphertext", *AeadAes256GcmEncrypt(key, nonce, "transaction", plaintext)},
          {"associated_data", "transaction"},
          {"nonce", nonce}}},
    };
    return j.dump();
  }

  // `body` signed the way WeChat signs it, `skew` after our clock.
  Delivery Signed(const std::string& body, const std::string& serial = kPubKeyId,
                  std::optional<RsaKey> key = std::nullopt,
                  absl::Duration skew = absl::ZeroDuration()) {
    Delivery d;
    d.timestamp = std::to_string(absl::ToUnixSeconds(now_ + skew));
    d.nonce = RandomNonce();
    d.serial = serial;
    d.body = body;
    d.signature = *SignResponse(key.value_or(*wechatpay_key_), d.timestamp, d.nonce, body);
    return d;
  }

  absl::StatusOr<Notification> Parse(const MerchantConfig& m, const Delivery& d) {
    return ParseNotification(m, d.timestamp, d.nonce, d.signature, d.serial, d.body, now_);
  }

  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  MerchantConfig direct_;
  MerchantConfig partner_;
  std::optional<RsaKey> wechatpay_key_;
  std::optional<RsaKey> platform_a_key_;
  std::optional<RsaKey> platform_b_key_;
};

TEST_F(NotificationTest, DirectNotificationIsVerifiedDecryptedAndDecoded) {
  absl::StatusOr<Notification> n = Parse(direct_, Signed(Envelope(kDirectPaid)));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->id, "EV-2018022511223320873");
  EXPECT_EQ(n->create_time, "2015-05-20T13:29:35+08:00");
  EXPECT_EQ(n->event_type, "TRANSACTION.SUCCESS");
  EXPECT_EQ(n->resource_type, "encrypt-resource");
  EXPECT_EQ(n->summary, "支付成功");
  const Transaction& t = n->transaction;
  EXPECT_EQ(t.mode, ApiMode::kDirect);
  EXPECT_EQ(t.mchid, "1230000109");
  EXPECT_EQ(t.appid, "wxd678efh567hg6787");
  EXPECT_EQ(t.out_trade_no, "R1001");
  EXPECT_EQ(t.transaction_id, "4200000000202401011234567890");
  EXPECT_EQ(t.trade_state, TradeState::kSuccess);
  ASSERT_TRUE(t.amount.has_value());
  EXPECT_EQ(t.amount->total, 100);
  EXPECT_EQ(t.amount->payer_total, 100);
  EXPECT_EQ(t.amount->currency, "CNY");
}

TEST_F(NotificationTest, PartnerNotificationDecodesThePartnerShape) {
  absl::StatusOr<Notification> n = Parse(partner_, Signed(Envelope(kPartnerPaid)));
  ASSERT_TRUE(n.ok()) << n.status();
  const Transaction& t = n->transaction;
  EXPECT_EQ(t.mode, ApiMode::kPartner);
  EXPECT_EQ(t.sp_mchid, "1230000109");
  EXPECT_EQ(t.sub_mchid, "1900000109");
  EXPECT_EQ(t.sp_appid, "wxd678efh567hg6787");
  EXPECT_EQ(t.payer_openid, "oSP");
  EXPECT_EQ(t.out_trade_no, "P2001");
  EXPECT_EQ(t.amount->total, 500);
  // The same plaintext read as a direct merchant's is not a transaction of that merchant.
  absl::StatusOr<Notification> wrong_mode = Parse(direct_, Signed(Envelope(kPartnerPaid)));
  EXPECT_EQ(wrong_mode.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong_mode.status().message()), HasSubstr("appid"));
}

TEST_F(NotificationTest, EveryKeyOfEitherModeVerifies) {
  struct Case {
    const char* name;
    std::string serial;
    std::optional<RsaKey> key;
  } cases[] = {
      {"public_key_mode", kPubKeyId, wechatpay_key_},
      {"certificate_a", kSerialA, platform_a_key_},
      {"certificate_b", kSerialB, platform_b_key_},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Notification> n = Parse(direct_, Signed(Envelope(kDirectPaid), c.serial, c.key));
    EXPECT_TRUE(n.ok()) << c.name << ": " << n.status();
  }
}

TEST_F(NotificationTest, AcceptsSkewUpToFiveMinutesEitherWay) {
  for (absl::Duration skew : {absl::Minutes(5), -absl::Minutes(5), absl::Minutes(-4)}) {
    EXPECT_TRUE(Parse(direct_, Signed(Envelope(kDirectPaid), kPubKeyId, std::nullopt, skew)).ok())
        << skew;
  }
}

TEST_F(NotificationTest, VerificationFailuresAreUnauthenticated) {
  const std::string body = Envelope(kDirectPaid);
  Delivery forged = Signed(body);
  forged.body = absl::StrReplaceAll(body, {{"TRANSACTION.SUCCESS", "TRANSACTION.SUCCESS "}});
  Delivery resigned_other_body = Signed(body);
  resigned_other_body.signature = Signed(Envelope(kPartnerPaid)).signature;
  Delivery signtest = Signed(body);
  signtest.signature = "WECHATPAY/SIGNTEST/" + signtest.signature;
  auto without = [&](std::string Delivery::*field) {
    Delivery d = Signed(body);
    d.*field = "";
    return d;
  };
  struct Case {
    const char* name;
    Delivery delivery;
    std::string want;
  } cases[] = {
      {"forged_body", forged, "signature check failed"},
      {"signature_of_other_bytes", resigned_other_body, "signature check failed"},
      {"wrong_key", Signed(body, kPubKeyId, platform_a_key_), "signature check failed"},
      {"stale", Signed(body, kPubKeyId, std::nullopt, -absl::Minutes(5) - absl::Seconds(1)),
       "behind our clock"},
      {"future", Signed(body, kPubKeyId, std::nullopt, absl::Minutes(6)), "ahead of our clock"},
      {"signtest", signtest, "SIGNTEST"},
      {"unknown_serial", Signed(body, "PUB_KEY_ID_0000000000000000000000000000000000"),
       "unknown Wechatpay-Serial"},
      {"missing_timestamp", without(&Delivery::timestamp), "Wechatpay-Timestamp"},
      {"missing_nonce", without(&Delivery::nonce), "Wechatpay-Nonce"},
      {"missing_signature", without(&Delivery::signature), "Wechatpay-Signature"},
      {"missing_serial", without(&Delivery::serial), "Wechatpay-Serial"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Notification> n = Parse(direct_, c.delivery);
    ASSERT_FALSE(n.ok()) << c.name;
    EXPECT_EQ(n.status().code(), absl::StatusCode::kUnauthenticated)
        << c.name << ": " << n.status();
    EXPECT_THAT(std::string(n.status().message()), HasSubstr(c.want)) << c.name;
    EXPECT_THAT(std::string(n.status().message()), Not(HasSubstr(kApiV3Key))) << c.name;
  }
}

TEST_F(NotificationTest, NothingIsParsedBeforeVerification) {
  // Unparseable bytes with a bad signature say "unauthenticated", not "not JSON".
  Delivery d = Signed("not json");
  d.signature = Signed("other").signature;
  EXPECT_EQ(Parse(direct_, d).status().code(), absl::StatusCode::kUnauthenticated);
}

// Builds an envelope from `resource` and `overrides` (a merge patch on the whole envelope).
std::string EnvelopeWith(const nlohmann::json& patch, const std::string& plaintext = kDirectPaid) {
  const std::string nonce = "fdasflkja484";
  nlohmann::json j = {
      {"id", "EV-1"},
      {"create_time", "2015-05-20T13:29:35+08:00"},
      {"resource_type", "encrypt-resource"},
      {"event_type", "TRANSACTION.SUCCESS"},
      {"summary", "支付成功"},
      {"resource",
       {{"original_type", "transaction"},
        {"algorithm", "AEAD_AES_256_GCM"},
        {"ciphertext", *AeadAes256GcmEncrypt(kApiV3Key, nonce, "transaction", plaintext)},
        {"associated_data", "transaction"},
        {"nonce", nonce}}},
  };
  j.merge_patch(patch);
  return j.dump();
}

TEST_F(NotificationTest, BadEnvelopesAndResourcesAreInvalidArgument) {
  std::string tampered = Envelope(kDirectPaid);
  {
    nlohmann::json j = nlohmann::json::parse(tampered);
    std::string c = j["resource"]["ciphertext"];
    c[4] = c[4] == 'A' ? 'B' : 'A';
    j["resource"]["ciphertext"] = c;
    tampered = j.dump();
  }
  struct Case {
    const char* name;
    std::string body;
    std::string want;
  } cases[] = {
      {"not_json", "<html>502 Bad Gateway</html>", "not a JSON object"},
      {"truncated", Envelope(kDirectPaid).substr(0, 80), "not a JSON object"},
      {"json_array", "[1,2]", "not a JSON object"},
      {"missing_resource", EnvelopeWith({{"resource", nullptr}}), "resource is missing"},
      {"resource_not_object", EnvelopeWith({{"resource", "x"}}), "resource must be an object"},
      {"missing_id", EnvelopeWith({{"id", nullptr}}), "id is missing"},
      {"empty_id", EnvelopeWith({{"id", ""}}), "id is empty"},
      {"id_not_string", EnvelopeWith({{"id", 7}}), "id must be a string"},
      {"missing_event_type", EnvelopeWith({{"event_type", nullptr}}), "event_type is missing"},
      {"missing_create_time", EnvelopeWith({{"create_time", nullptr}}), "create_time is missing"},
      {"missing_resource_type", EnvelopeWith({{"resource_type", nullptr}}),
       "resource_type is missing"},
      {"missing_ciphertext", EnvelopeWith({{"resource", {{"ciphertext", nullptr}}}}),
       "resource.ciphertext is missing"},
      {"missing_nonce", EnvelopeWith({{"resource", {{"nonce", nullptr}}}}),
       "resource.nonce is missing"},
      {"missing_algorithm", EnvelopeWith({{"resource", {{"algorithm", nullptr}}}}),
       "resource.algorithm is missing"},
      {"unsupported_algorithm", EnvelopeWith({{"resource", {{"algorithm", "AES_128_CBC"}}}}),
       "is not AEAD_AES_256_GCM"},
      {"bad_base64", EnvelopeWith({{"resource", {{"ciphertext", "!!not base64!!"}}}}),
       "not base64"},
      {"tampered_ciphertext", tampered, "does not decrypt"},
      {"other_nonce", EnvelopeWith({{"resource", {{"nonce", "000000000000"}}}}),
       "does not decrypt"},
      {"other_associated_data", EnvelopeWith({{"resource", {{"associated_data", "refund"}}}}),
       "does not decrypt"},
      {"wrong_key", Envelope(kDirectPaid, kOtherApiV3Key), "does not decrypt"},
      {"plaintext_not_json", EnvelopeWith(nlohmann::json::object(), "paid!"),
       "not a direct transaction"},
      {"plaintext_missing_out_trade_no",
       EnvelopeWith(nlohmann::json::object(),
                    absl::StrReplaceAll(kDirectPaid, {{R"("out_trade_no":"R1001",)", ""}})),
       "out_trade_no is missing"},
      {"plaintext_amount_not_integer",
       EnvelopeWith(nlohmann::json::object(),
                    absl::StrReplaceAll(kDirectPaid, {{R"("total":100,)", R"("total":1.00,)"}})),
       "total"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Notification> n = Parse(direct_, Signed(c.body));
    ASSERT_FALSE(n.ok()) << c.name;
    EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument)
        << c.name << ": " << n.status();
    EXPECT_THAT(std::string(n.status().message()), HasSubstr(c.want)) << c.name;
    EXPECT_THAT(std::string(n.status().message()), Not(HasSubstr(kApiV3Key))) << c.name;
    EXPECT_THAT(std::string(n.status().message()), Not(HasSubstr("oUpF8uMuAJO"))) << c.name;
  }
}

TEST_F(NotificationTest, OptionalFieldsMayBeAbsent) {
  absl::StatusOr<Notification> n = Parse(
      direct_,
      Signed(EnvelopeWith({{"summary", nullptr}, {"resource", {{"original_type", nullptr}}}})));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->summary, "");
  EXPECT_EQ(n->transaction.out_trade_no, "R1001");
}

TEST_F(NotificationTest, NoApiV3KeyIsFailedPrecondition) {
  for (const std::string& key : {std::string(), std::string("short")}) {
    MerchantConfig m = direct_;
    m.apiv3_key = key;
    absl::StatusOr<Notification> n = Parse(m, Signed(Envelope(kDirectPaid)));
    EXPECT_EQ(n.status().code(), absl::StatusCode::kFailedPrecondition) << key;
    EXPECT_THAT(std::string(n.status().message()), HasSubstr("APIv3 key"));
    EXPECT_THAT(std::string(n.status().message()), HasSubstr("ev-charging"));
  }
}

}  // namespace
}  // namespace orderquery::payment::wechat
