#include "server/payment/wechat/verifier.h"

#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

constexpr char kPubKeyId[] = "PUB_KEY_ID_0119000000012024111100000000000001";
constexpr char kSerialA[] = "0C44D160B349ECBB0F4C40AD052CE7510BA43CF1";
constexpr char kSerialB[] = "046231DF19DFF38BA7FDE67464DA7D79D20FA739";
constexpr char kBody[] = R"({"out_trade_no":"20150806125346","trade_state":"SUCCESS"})";

RsaKey Private(const char* name) {
  return *RsaKey::PrivateFromPem(ReadFileOrDie(TestDataPath(name)));
}

class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<ResponseVerifier> v = ResponseVerifier::Create(
        {{kPubKeyId, *RsaKey::PublicFromPem(ReadFileOrDie(TestDataPath("wechatpay_pub.pem")))}});
    ASSERT_TRUE(v.ok()) << v.status();
    verifier_ = *v;
  }

  // A reply as the transport hands it over (lower-case names), signed at `signed_at`.
  http::Response Signed(const RsaKey& key, const std::string& serial, absl::Time signed_at,
                        const std::string& body = kBody) {
    http::Response r;
    r.status = 200;
    r.body = body;
    absl::StatusOr<http::Headers> headers = SignedResponseHeaders(
        key, serial, absl::ToUnixSeconds(signed_at), "c5ac7061fccab6bf3e254dcf98995b8c", body);
    EXPECT_TRUE(headers.ok());
    r.headers.emplace_back("content-type", "application/json");
    for (auto& [name, value] : *headers) r.headers.emplace_back(absl::AsciiStrToLower(name), value);
    return r;
  }

  http::Response Good() { return Signed(Private("wechatpay_key.pem"), kPubKeyId, now_); }

  static void SetHeader(http::Response* r, absl::string_view name, const std::string& value) {
    for (auto& h : r->headers) {
      if (absl::EqualsIgnoreCase(h.first, name)) h.second = value;
    }
  }

  static void RemoveHeader(http::Response* r, absl::string_view name) {
    http::Headers kept;
    for (auto& h : r->headers) {
      if (!absl::EqualsIgnoreCase(h.first, name)) kept.push_back(h);
    }
    r->headers = kept;
  }

  ResponseVerifier verifier_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

TEST_F(VerifierTest, AcceptsAGenuineReply) { EXPECT_TRUE(verifier_.Verify(Good(), now_).ok()); }

TEST_F(VerifierTest, HeaderNamesAreCaseInsensitive) {
  http::Response r = Good();
  for (auto& h : r.headers) {
    if (h.first == "wechatpay-signature") h.first = "WECHATPAY-SIGNATURE";
  }
  EXPECT_TRUE(verifier_.Verify(r, now_).ok());
}

TEST_F(VerifierTest, NamesEachMissingHeader) {
  for (absl::string_view name : {kTimestampHeader, kNonceHeader, kSignatureHeader, kSerialHeader}) {
    http::Response r = Good();
    RemoveHeader(&r, name);
    absl::Status s = verifier_.Verify(r, now_);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("no ", name, " header")));
  }
}

TEST_F(VerifierTest, RejectsEmptyAndDuplicateHeaders) {
  http::Response empty = Good();
  SetHeader(&empty, kNonceHeader, "");
  EXPECT_THAT(verifier_.Verify(empty, now_).message(), HasSubstr("empty Wechatpay-Nonce"));

  http::Response twice = Good();
  twice.headers.emplace_back("wechatpay-signature", "AAAA");
  EXPECT_THAT(verifier_.Verify(twice, now_).message(), HasSubstr("2 Wechatpay-Signature headers"));
}

TEST_F(VerifierTest, RejectsUnknownSerial) {
  http::Response r = Signed(Private("wechatpay_key.pem"), "PUB_KEY_ID_OTHER", now_);
  absl::Status s = verifier_.Verify(r, now_);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("unknown Wechatpay-Serial \"PUB_KEY_ID_OTHER\""));
  EXPECT_THAT(s.message(), HasSubstr(kPubKeyId));

  EXPECT_THAT(ResponseVerifier().Verify(Good(), now_).message(), HasSubstr("configured: none"));
}

TEST_F(VerifierTest, ClockSkewWindowIsFiveMinutesBothWays) {
  const RsaKey key = Private("wechatpay_key.pem");
  for (absl::Duration ok : {absl::Minutes(5), absl::Minutes(4) + absl::Seconds(59),
                            absl::ZeroDuration(), -absl::Minutes(4), -absl::Minutes(5)}) {
    EXPECT_TRUE(verifier_.Verify(Signed(key, kPubKeyId, now_ + ok), now_).ok()) << ok;
  }
  absl::Status ahead = verifier_.Verify(Signed(key, kPubKeyId, now_ + absl::Minutes(6)), now_);
  EXPECT_EQ(ahead.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(ahead.message(), HasSubstr("360 s ahead of our clock"));
  absl::Status behind = verifier_.Verify(Signed(key, kPubKeyId, now_ - absl::Minutes(6)), now_);
  EXPECT_EQ(behind.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(behind.message(), HasSubstr("360 s behind our clock"));
  EXPECT_FALSE(
      verifier_.Verify(Signed(key, kPubKeyId, now_ + absl::Minutes(5) + absl::Seconds(1)), now_)
          .ok());
}

TEST_F(VerifierTest, RejectsMalformedTimestamp) {
  for (const char* bad :
       {"abc", "-1", "+1700000000", "1700000000.5", " 1700000000", "99999999999999999999"}) {
    http::Response r = Good();
    SetHeader(&r, kTimestampHeader, bad);
    EXPECT_THAT(verifier_.Verify(r, now_).message(), HasSubstr("not Unix seconds")) << bad;
  }
}

TEST_F(VerifierTest, RejectsSignTestProbe) {
  http::Response r = Good();
  SetHeader(&r, kSignatureHeader, "WECHATPAY/SIGNTEST/" + std::string(300, 'A'));
  absl::Status s = verifier_.Verify(r, now_);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("WECHATPAY/SIGNTEST/ probe"));
}

TEST_F(VerifierTest, RejectsTamperedBody) {
  http::Response r = Good();
  r.body[r.body.find("SUCCESS")] = 'X';
  EXPECT_THAT(verifier_.Verify(r, now_).message(), HasSubstr("signature check failed"));
}

TEST_F(VerifierTest, ChecksTheBytesAsReceivedNotTheJsonMeaning) {
  // Same JSON value, different bytes (as a re-serialising library would produce).
  http::Response r = Good();
  r.body = R"({"out_trade_no": "20150806125346", "trade_state": "SUCCESS"})";
  EXPECT_FALSE(verifier_.Verify(r, now_).ok());
  http::Response trailing = Good();
  trailing.body += "\n";
  EXPECT_FALSE(verifier_.Verify(trailing, now_).ok());
}

TEST_F(VerifierTest, RejectsTamperedNonceOrTimestamp) {
  http::Response r = Good();
  SetHeader(&r, kNonceHeader, "another-nonce");
  EXPECT_FALSE(verifier_.Verify(r, now_).ok());
  http::Response t = Good();
  SetHeader(&t, kTimestampHeader, absl::StrCat(absl::ToUnixSeconds(now_) + 1));
  EXPECT_FALSE(verifier_.Verify(t, now_).ok());
}

TEST_F(VerifierTest, RejectsSignatureByAnotherKey) {
  http::Response r = Signed(Private("other_key.pem"), kPubKeyId, now_);
  absl::Status s = verifier_.Verify(r, now_);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("signature does not match"));
}

TEST_F(VerifierTest, RejectsGarbageSignature) {
  http::Response r = Good();
  SetHeader(&r, kSignatureHeader, "***");
  EXPECT_THAT(verifier_.Verify(r, now_).message(), HasSubstr("not base64"));
}

TEST(CertificateModeTest, TwoCertificatesDuringRotation) {
  const std::string cert_a = ReadFileOrDie(TestDataPath("platform_a_cert.pem"));
  const std::string cert_b = ReadFileOrDie(TestDataPath("platform_b_cert.pem"));
  ASSERT_EQ(*CertificateSerialHex(cert_a), kSerialA);
  ASSERT_EQ(*CertificateSerialHex(cert_b), kSerialB);
  absl::StatusOr<ResponseVerifier> v = ResponseVerifier::Create({
      {kSerialA, *RsaKey::PublicFromCertificatePem(cert_a)},
      {kSerialB, *RsaKey::PublicFromCertificatePem(cert_b)},
      {kPubKeyId, *RsaKey::PublicFromPem(ReadFileOrDie(TestDataPath("wechatpay_pub.pem")))},
  });
  ASSERT_TRUE(v.ok());
  EXPECT_THAT(v->Serials(), ::testing::UnorderedElementsAre(kSerialA, kSerialB, kPubKeyId));

  const absl::Time now = absl::FromUnixSeconds(1700000000);
  auto reply = [&](const char* key_file, const std::string& serial) {
    http::Response r;
    r.status = 200;
    r.body = kBody;
    r.headers = *SignedResponseHeaders(Private(key_file), serial, 1700000000, "n", kBody);
    return r;
  };
  EXPECT_TRUE(v->Verify(reply("platform_a_key.pem", kSerialA), now).ok());
  EXPECT_TRUE(v->Verify(reply("platform_b_key.pem", kSerialB), now).ok());
  EXPECT_TRUE(v->Verify(reply("wechatpay_key.pem", kPubKeyId), now).ok());
  // The serial picks the key: A's signature presented as B's fails.
  EXPECT_FALSE(v->Verify(reply("platform_a_key.pem", kSerialB), now).ok());
  EXPECT_FALSE(v->Verify(reply("platform_b_key.pem", kSerialA), now).ok());
}

TEST(ResponseVerifierTest, CreateRejectsBadKeyLists) {
  const RsaKey key = *RsaKey::PublicFromPem(ReadFileOrDie(TestDataPath("wechatpay_pub.pem")));
  EXPECT_FALSE(ResponseVerifier::Create({{"", key}}).ok());
  EXPECT_THAT(ResponseVerifier::Create({{"S", key}, {"S", key}}).status().message(),
              HasSubstr("given twice"));
  absl::StatusOr<ResponseVerifier> v = ResponseVerifier::Create({{"S", key}});
  ASSERT_TRUE(v.ok());
  ResponseVerifier copy = *v;  // copies share the key table
  EXPECT_TRUE(copy.HasSerial("S"));
  EXPECT_FALSE(copy.HasSerial("T"));
}

TEST(ResponseVerifierTest, VerifyPartsForNotifications) {
  const RsaKey key = Private("wechatpay_key.pem");
  absl::StatusOr<ResponseVerifier> v = ResponseVerifier::Create(
      {{kPubKeyId, *RsaKey::PublicFromPem(ReadFileOrDie(TestDataPath("wechatpay_pub.pem")))}});
  const std::string sig = *SignResponse(key, "1700000000", "n", "{}");
  const absl::Time now = absl::FromUnixSeconds(1700000100);
  EXPECT_TRUE(v->VerifyParts("1700000000", "n", sig, kPubKeyId, "{}", now).ok());
  EXPECT_FALSE(v->VerifyParts("1700000000", "n", sig, kPubKeyId, "{ }", now).ok());
  EXPECT_FALSE(v->VerifyParts("1700000000", "", sig, kPubKeyId, "{}", now).ok());
}

// The metric label of each refusal, from the verifier's real messages.
TEST_F(VerifierTest, FailureReasonsNameEachRefusal) {
  auto reason = [&](const http::Response& r, absl::Time at) {
    absl::Status s = verifier_.Verify(r, at);
    EXPECT_FALSE(s.ok());
    return std::string(VerificationFailureReason(s));
  };
  http::Response missing = Good();
  RemoveHeader(&missing, "wechatpay-nonce");
  EXPECT_EQ(reason(missing, now_), "missing_header");
  EXPECT_EQ(reason(Signed(Private("wechatpay_key.pem"), "PUB_KEY_ID_OTHER", now_), now_),
            "unknown_serial");
  EXPECT_EQ(reason(Good(), now_ + absl::Minutes(6)), "clock_skew");
  http::Response bad_ts = Good();
  SetHeader(&bad_ts, "wechatpay-timestamp", "12ab");
  EXPECT_EQ(reason(bad_ts, now_), "bad_timestamp");
  http::Response probe = Good();
  SetHeader(&probe, "wechatpay-signature", "WECHATPAY/SIGNTEST/abc");
  EXPECT_EQ(reason(probe, now_), "signtest_probe");
  http::Response tampered = Good();
  tampered.body = R"({"out_trade_no":"20150806125346","trade_state":"NOTPAY"})";
  EXPECT_EQ(reason(tampered, now_), "bad_signature");
  EXPECT_EQ(VerificationFailureReason(absl::UnauthenticatedError("something new")), "other");
}

}  // namespace
}  // namespace orderquery::payment::wechat
