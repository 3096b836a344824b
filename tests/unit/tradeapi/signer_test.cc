// Signer vectors. Expected values were computed independently of this code:
//   - the WeChat Pay v2 signing example (published in WeChat Pay's "安全规范" page: same
//     algorithm family, MD5 and HMAC-SHA256 over "...&key=KEY"), re-checked with
//     `printf '%s' "$S" | md5sum` and `printf '%s' "$S" | openssl dgst -sha256 -hmac "$K"`
//     where S is the expected StringToSign below and K the key;
//   - our own request strings, checked the same way (S = each vector's string_to_sign);
//   - one test that asks the openssl CLI at run time over a string the signer built.
#include "server/payment/tradeapi/signer.h"

#include <cstdio>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace orderquery::payment::tradeapi {
namespace {

const Params kWechatExample = {{"appid", "wxd930ea5d5a258f4f"},
                               {"mch_id", "10000100"},
                               {"device_info", "1000"},
                               {"body", "test"},
                               {"nonce_str", "ibuaiVcKdpRxkhJA"}};
constexpr char kWechatKey[] = "192006250b4c09247ec02edce69f6a2d";

TEST(MerchantSignerTest, WechatPublishedExample) {
  EXPECT_EQ(StringToSign(kWechatExample, kWechatKey),
            "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&"
            "nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d");
  EXPECT_EQ(Sign(kWechatExample, kWechatKey, SignType::kMd5), "9A0A8659F005D6984697E2CA0A9CF3B7");
  EXPECT_EQ(Sign(kWechatExample, kWechatKey, SignType::kHmacSha256),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6");
}

struct Vector {
  const char* name;
  Params params;
  const char* key;
  SignType type;
  const char* string_to_sign;
  const char* sign;
};

TEST(MerchantSignerTest, RequestVectors) {
  const Vector vectors[] = {
      // md5sum
      {"md5, empty appId and old sign skipped",
       {{"tradeOrderId", "E01201908230414433510006"},
        {"mchId", "20000000"},
        {"appId", ""},
        {"signType", "MD5"},
        {"reqTime", "1566533541000"},
        {"sign", "WHATEVER"}},
       "TESTKEY123",
       SignType::kMd5,
       "mchId=20000000&reqTime=1566533541000&signType=MD5&tradeOrderId=E01201908230414433510006&"
       "key=TESTKEY123",
       "2C9408177748F34B088D4BA3FC8E02BF"},
      // openssl dgst -sha256 -hmac TESTKEY123
      {"hmac-sha256 with appId",
       {{"tradeOrderId", "E01201908230414433510006"},
        {"mchId", "20000000"},
        {"appId", "app01"},
        {"signType", "HMAC-SHA256"},
        {"reqTime", "1566533541000"}},
       "TESTKEY123",
       SignType::kHmacSha256,
       "appId=app01&mchId=20000000&reqTime=1566533541000&signType=HMAC-SHA256&"
       "tradeOrderId=E01201908230414433510006&key=TESTKEY123",
       "026533D1FAD7E75B119C7FE498E96DD9224B6C7413DDA3D1EA0407C01720A323"},
      // UTF-8 values and key, signed as bytes: md5sum
      {"md5 over UTF-8",
       {{"mchId", "20000000"}, {"body", "被扫支付"}},
       "秘钥 with space",
       SignType::kMd5,
       "body=被扫支付&mchId=20000000&key=秘钥 with space",
       "00E753C5DEA06E4608564FF4810142C2"},
      // openssl dgst -sha256 -hmac '秘钥 with space'
      {"hmac over UTF-8",
       {{"mchId", "20000000"}, {"body", "被扫支付"}},
       "秘钥 with space",
       SignType::kHmacSha256,
       "body=被扫支付&mchId=20000000&key=秘钥 with space",
       "8F1FDCD7A71EFC0165C075BCF4D4A823AF4F26FA825AC020023D7D293736ECBD"},
      // Nothing to sign but the key: md5sum
      {"no parameters",
       {{"sign", "X"}, {"empty", ""}},
       "K",
       SignType::kMd5,
       "key=K",
       "2C1129B9DEF095B8B55576BFFC9580BD"},
  };
  for (const Vector& v : vectors) {
    SCOPED_TRACE(v.name);
    EXPECT_EQ(StringToSign(v.params, v.key), v.string_to_sign);
    EXPECT_EQ(Sign(v.params, v.key, v.type), v.sign);
    Params signed_params = v.params;
    signed_params["sign"] = v.sign;
    EXPECT_TRUE(Verify(signed_params, v.key, v.type).ok());
  }
}

// Runs `command` and returns its first whitespace-delimited word of output.
std::string FirstWordOf(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  char buffer[256] = {};
  std::string out;
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) out += buffer;
  pclose(pipe);
  // "SHA2-256(stdin)= abc" or "abc  -"
  if (size_t eq = out.find("= "); eq != std::string::npos) out = out.substr(eq + 2);
  return out.substr(0, out.find_first_of(" \n"));
}

TEST(MerchantSignerTest, MatchesOpensslCliAtRunTime) {
  if (FirstWordOf("command -v openssl >/dev/null && echo yes") != "yes") {
    GTEST_SKIP() << "openssl CLI not installed";
  }
  const Params params = {{"tradeOrderId", "T_42-x"}, {"mchId", "1"}, {"reqTime", "1700000000123"}};
  const std::string key = "k3y";
  const std::string message = StringToSign(params, key);  // shell-safe by construction
  EXPECT_EQ(absl::AsciiStrToUpper(
                FirstWordOf(absl::StrCat("printf '%s' '", message, "' | openssl dgst -md5"))),
            Sign(params, key, SignType::kMd5));
  EXPECT_EQ(absl::AsciiStrToUpper(FirstWordOf(absl::StrCat(
                "printf '%s' '", message, "' | openssl dgst -sha256 -hmac '", key, "'"))),
            Sign(params, key, SignType::kHmacSha256));
}

TEST(MerchantSignerTest, VerifyRejects) {
  Params p = kWechatExample;
  EXPECT_EQ(Verify(p, kWechatKey, SignType::kMd5).message(), "sign missing");
  EXPECT_TRUE(absl::IsUnauthenticated(Verify(p, kWechatKey, SignType::kMd5)));

  p["sign"] = "9a0a8659f005d6984697e2ca0a9cf3b7";  // lower-case hex is the same signature
  EXPECT_TRUE(Verify(p, kWechatKey, SignType::kMd5).ok());

  EXPECT_EQ(Verify(p, "wrong-key", SignType::kMd5).message(), "sign mismatch");
  EXPECT_FALSE(Verify(p, kWechatKey, SignType::kHmacSha256).ok());  // other algorithm

  Params tampered = p;
  tampered["body"] = "test2";
  EXPECT_TRUE(absl::IsUnauthenticated(Verify(tampered, kWechatKey, SignType::kMd5)));

  Params truncated = p;
  truncated["sign"] = "9A0A8659F005D6984697E2CA0A9CF3B";
  EXPECT_FALSE(Verify(truncated, kWechatKey, SignType::kMd5).ok());
}

TEST(MerchantSignerTest, SignTypeNames) {
  EXPECT_EQ(*ParseSignType("MD5"), SignType::kMd5);
  EXPECT_EQ(*ParseSignType("hmac-sha256"), SignType::kHmacSha256);
  EXPECT_EQ(SignTypeName(SignType::kHmacSha256), "HMAC-SHA256");
  auto bad = ParseSignType("RSA2");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_NE(bad.status().message().find("RSA2"), absl::string_view::npos);
}

TEST(MerchantSignerTest, ReqTimeIsEpochMillis) {
  const absl::Time t = absl::FromUnixMillis(1566533541000);
  EXPECT_EQ(FormatReqTime(t), "1566533541000");
  EXPECT_EQ(*ParseReqTime("1566533541000"), t);
  for (const char* bad : {"", "-1", "20190823111221x", "1.5", "12345678901234567"}) {
    EXPECT_FALSE(ParseReqTime(bad).ok()) << bad;
  }

  const absl::Duration window = absl::Minutes(5);
  EXPECT_TRUE(CheckReqTime({{"reqTime", "1566533541000"}}, t + absl::Minutes(4), window).ok());
  EXPECT_TRUE(CheckReqTime({{"reqTime", "1566533541000"}}, t - absl::Minutes(4), window).ok());
  // Both directions are checked: a clock ahead of ours is as wrong as one behind.
  EXPECT_FALSE(CheckReqTime({{"reqTime", "1566533541000"}}, t + absl::Minutes(6), window).ok());
  EXPECT_FALSE(CheckReqTime({{"reqTime", "1566533541000"}}, t - absl::Minutes(6), window).ok());
  EXPECT_EQ(CheckReqTime({}, t, window).message(), "reqTime missing");
}

}  // namespace
}  // namespace orderquery::payment::tradeapi
