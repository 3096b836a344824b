#include "server/payment/wechat/signer.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/wechat_signing.h"
#include "tests/unit/wechat/test_util.h"

namespace orderquery::payment::wechat {
namespace {

using ::orderquery::payment::wechat::testing::ReadFileOrDie;
using ::orderquery::payment::wechat::testing::RunShell;
using ::orderquery::payment::wechat::testing::ShellQuote;
using ::orderquery::payment::wechat::testing::TempDir;
using ::orderquery::payment::wechat::testing::TestDataPath;
using ::orderquery::payment::wechat::testing::WriteFileOrDie;
using ::testing::HasSubstr;

constexpr char kPath[] =
    "/v3/vehicle/transactions/out-trade-no/20150806125346?sub_mchid=1900000109";
constexpr char kNonce[] = "593BEC0C930BF1AFEB40B4A08C8FB242";
// `openssl dgst -sha256 -sign testdata/merchant_key.pem | base64` over
// SignatureMessage("GET", kPath, "1554208460", kNonce, "").
constexpr char kSignature[] =
    "nSbNao8RcvBxQaG1jud1sFCQ4BV09Yl9AkfQq865dwkl7L8hil6bbvQcbYmEL0mBo2ktC/lfoIjFfkGaseAp3e4TkCQV"
    "BYpp7p0egrZacIxUI3L/fY7sAod+GKUBGaQjapQePmD9/j7nO3++sEL74ZRjzPEIDZ/tiH+HusDfugKyRtKkbku1mOh5"
    "VRtKXsq1Oi5r492Tk4JqgxxH1+ssHTS9Ec1y2q5o7SKzFLyaHrlvTweAoT+fP0DbAyacjvMrZ6B4NMEoW139SDn2Zrs/"
    "bJ4TNmDwbk/dQAVf1nc8rTRSxiV/XrtsS/qT55BaVQgEppSNxfz5/lPwRBkNZs9mtg==";

RsaKey MerchantKey() {
  return *RsaKey::PrivateFromPem(ReadFileOrDie(TestDataPath("merchant_key.pem")));
}
RsaKey MerchantPublic() {
  return *RsaKey::PublicFromPem(ReadFileOrDie(TestDataPath("merchant_pub.pem")));
}

TEST(SignatureMessageTest, IsTheFiveLinesWeChatSpecifies) {
  EXPECT_EQ(SignatureMessage("GET", "/v3/a?b=c", "1554208460", "N1", ""),
            "GET\n/v3/a?b=c\n1554208460\nN1\n\n");
  EXPECT_EQ(SignatureMessage("POST", "/v3/x", "1", "N", "{\"k\":1}"),
            "POST\n/v3/x\n1\nN\n{\"k\":1}\n");
  EXPECT_EQ(ResponseSignatureMessage("1554209980", "c5ac7061fccab6bf3e254dcf98995b8c", "{}"),
            "1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n{}\n");
}

TEST(BuildAuthorizationTest, FixedKeyAndMessage) {
  absl::StatusOr<std::string> auth =
      BuildAuthorization("1900000001", "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C", MerchantKey(),
                         "GET", kPath, "", 1554208460, kNonce);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(*auth, std::string("WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\",nonce_str=\"") +
                       kNonce + "\",signature=\"" + kSignature +
                       "\",timestamp=\"1554208460\",serial_no=\""
                       "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C\"");
}

TEST(BuildAuthorizationTest, RejectsQuotesAndEmptyParts) {
  EXPECT_FALSE(BuildAuthorization("19\"00", "S", MerchantKey(), "GET", "/", "", 1, "N").ok());
  EXPECT_FALSE(BuildAuthorization("1900", "", MerchantKey(), "GET", "/", "", 1, "N").ok());
  EXPECT_FALSE(BuildAuthorization("1900", "S", MerchantKey(), "GET", "/", "", 1, "").ok());
}

TEST(BuildAuthorizationTest, SignatureVerifiesWithOpensslCli) {
  const std::string body = R"({"out_trade_no":"A*1","description":"停车"})";
  absl::StatusOr<std::string> header = BuildAuthorization(
      "1900000001", "SERIAL", MerchantKey(), "POST", "/v3/x?y=%2A", body, 1700000000, "NONCE42");
  ASSERT_TRUE(header.ok());
  absl::StatusOr<Authorization> auth = ParseAuthorization(*header);
  ASSERT_TRUE(auth.ok()) << auth.status();

  TempDir dir;
  WriteFileOrDie(dir.File("msg"),
                 SignatureMessage("POST", "/v3/x?y=%2A", "1700000000", "NONCE42", body));
  WriteFileOrDie(dir.File("sig"), *Base64Decode(auth->signature));
  std::string out;
  EXPECT_EQ(
      RunShell("openssl dgst -sha256 -verify " + ShellQuote(TestDataPath("merchant_pub.pem")) +
                   " -signature " + ShellQuote(dir.File("sig")) + " " + ShellQuote(dir.File("msg")),
               &out),
      0)
      << out;
}

TEST(ParseAuthorizationTest, RoundTripsAndVerifies) {
  absl::StatusOr<std::string> header = BuildAuthorization("1900000001", "SERIAL1", MerchantKey(),
                                                          "GET", kPath, "", 1554208460, kNonce);
  ASSERT_TRUE(header.ok());
  absl::StatusOr<Authorization> auth = ParseAuthorization(*header);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(auth->mchid, "1900000001");
  EXPECT_EQ(auth->nonce_str, kNonce);
  EXPECT_EQ(auth->signature, kSignature);
  EXPECT_EQ(auth->timestamp, "1554208460");
  EXPECT_EQ(auth->serial_no, "SERIAL1");

  EXPECT_TRUE(VerifyRequestSignature(*auth, MerchantPublic(), "GET", kPath, "").ok());
  EXPECT_FALSE(VerifyRequestSignature(*auth, MerchantPublic(), "POST", kPath, "").ok());
  EXPECT_FALSE(VerifyRequestSignature(*auth, MerchantPublic(), "GET", kPath, "{}").ok());
  EXPECT_FALSE(VerifyRequestSignature(*auth, MerchantPublic(), "GET",
                                      "/v3/vehicle/transactions/out-trade-no/20150806125346?"
                                      "sub_mchid=1900000108",
                                      "")
                   .ok());
  Authorization other_ts = *auth;
  other_ts.timestamp = "1554208461";
  EXPECT_FALSE(VerifyRequestSignature(other_ts, MerchantPublic(), "GET", kPath, "").ok());
}

TEST(ParseAuthorizationTest, AcceptsAnyOrderAndSpaces) {
  absl::StatusOr<Authorization> auth = ParseAuthorization(
      "WECHATPAY2-SHA256-RSA2048 serial_no=\"S\", timestamp=\"12\" ,signature=\"c2ln\","
      "nonce_str=\"N\",  mchid=\"1900\"");
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(auth->serial_no, "S");
  EXPECT_EQ(auth->timestamp, "12");
  EXPECT_EQ(auth->mchid, "1900");
}

TEST(ParseAuthorizationTest, RejectsMalformedHeaders) {
  const std::string ok =
      "mchid=\"1900\",nonce_str=\"N\",signature=\"c2ln\",timestamp=\"12\",serial_no=\"S\"";
  struct Case {
    std::string header;
    std::string why;
  } cases[] = {
      {"", "scheme"},
      {"Bearer abc", "scheme"},
      {"WECHATPAY2-SHA256-RSA2048", "space"},
      {"WECHATPAY2-SHA256-RSA2048mchid=\"1\"", "space"},
      {"WECHATPAY2-SHA256-RSA2048 mchid=1900", "not quoted"},
      {"WECHATPAY2-SHA256-RSA2048 mchid=\"1900", "not terminated"},
      {"WECHATPAY2-SHA256-RSA2048 mchid", "without '='"},
      {"WECHATPAY2-SHA256-RSA2048 " + ok + ",mchid=\"2\"", "twice"},
      {"WECHATPAY2-SHA256-RSA2048 " + ok + ",extra=\"x\"", "unknown"},
      {"WECHATPAY2-SHA256-RSA2048 " + ok + ";", "separated"},
      {"WECHATPAY2-SHA256-RSA2048 mchid=\"1900\",nonce_str=\"N\",signature=\"c2ln\","
       "timestamp=\"12\"",
       "serial_no is missing"},
      {"WECHATPAY2-SHA256-RSA2048 mchid=\"\",nonce_str=\"N\",signature=\"c2ln\","
       "timestamp=\"12\",serial_no=\"S\"",
       "mchid is missing"},
      {"WECHATPAY2-SHA256-RSA2048 mchid=\"1900\",nonce_str=\"N\",signature=\"c2ln\","
       "timestamp=\"soon\",serial_no=\"S\"",
       "Unix seconds"},
      {"WECHATPAY2-SHA256-RSA2048 " + ok + std::string(5000, ' '), "too long"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Authorization> auth = ParseAuthorization(c.header);
    ASSERT_FALSE(auth.ok()) << c.header;
    EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(auth.status().message(), HasSubstr(c.why)) << c.header;
  }
}

TEST(SignResponseTest, HeadersVerifyAsAResponse) {
  const RsaKey key = *RsaKey::PrivateFromPem(ReadFileOrDie(TestDataPath("wechatpay_key.pem")));
  const std::string body = R"({"a":1})";
  absl::StatusOr<http::Headers> headers = SignedResponseHeaders(
      key, "PUB_KEY_ID_0001", 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", body);
  ASSERT_TRUE(headers.ok());
  ASSERT_EQ(headers->size(), 4u);
  EXPECT_EQ((*headers)[0],
            (std::pair<std::string, std::string>("Wechatpay-Timestamp", "1554208460")));
  EXPECT_EQ((*headers)[1].second, "593BEC0C930BF1AFEB40B4A08C8FB242");
  EXPECT_EQ((*headers)[3].second, "PUB_KEY_ID_0001");
  // Same message as a signature the openssl CLI made over the same bytes.
  EXPECT_EQ(
      (*headers)[2].second,
      "o0AOxSyAAbZet6vWpWeWJMmd5rEcjd0PMcWF2LprxUHpp3rxBDDnsa/SoRlbTwpFFv/HTW6HIyeV1vhpupkfQ0N2"
      "/9Ws3HtS3jkrRQywSQY+Wm7ZA6Rz6PP+LLeDx0KH/1RokiSg3yoLgurcDXSyfRJvzF4tAiHZKCLMa/8SL8HMjgj"
      "ONNYUK5ciSjzTnemvwktw1vNmInSnsOLWUsFMPaBX/ChD+QRaoVlFmr2DCiRYBigxfHDhomgaCiX4ePN+oH4L3z0"
      "2z9/7Lq9pGDMz2XT0soGPcV00C5RH66gBnyUMKrWS6dT9+s4vmS4guuTOk8sqhd2guAfRhxW8NPYcvQ==");
}

}  // namespace
}  // namespace orderquery::payment::wechat
