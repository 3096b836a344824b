#include "server/payment/wechat/merchant.h"

#include <stdlib.h>

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/wechat/test_util.h"

namespace orderquery::payment::wechat {
namespace {

using ::orderquery::payment::wechat::testing::ReadFileOrDie;
using ::orderquery::payment::wechat::testing::TempDir;
using ::orderquery::payment::wechat::testing::TestDataPath;
using ::orderquery::payment::wechat::testing::WriteFileOrDie;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr char kPubKeyId[] = "PUB_KEY_ID_0112300001092024111100000000000001";

MerchantConfig Base(ApiMode mode = ApiMode::kDirect) {
  MerchantConfig m;
  m.name = "ev-charging";
  m.appids = {"wxcbda96de0b165486"};
  m.mode = mode;
  m.mchid = "1230000109";
  if (mode == ApiMode::kPartner) m.sub_mchid = "1900000109";
  m.serial_no = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C";
  m.base_url = "http://127.0.0.1:8443";
  return m;
}

MerchantKeySources PublicKeyMode() {
  MerchantKeySources s;
  s.private_key = TestDataPath("merchant_key.pem");
  s.public_key_id = kPubKeyId;
  s.public_key = TestDataPath("wechatpay_pub.pem");
  return s;
}

TEST(LoadMerchantKeysTest, PublicKeyMode) {
  absl::StatusOr<MerchantConfig> m = LoadMerchantKeys(Base(), PublicKeyMode());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(m->private_key.has_value());
  EXPECT_EQ(m->wechatpay_serial, kPubKeyId);
  EXPECT_THAT(m->verifier.Serials(), UnorderedElementsAre(kPubKeyId));
}

TEST(LoadMerchantKeysTest, CertificateModeReadsSerialsFromTheCertificates) {
  MerchantKeySources s;
  s.private_key = TestDataPath("merchant_key.pem");
  s.platform_certificates = {TestDataPath("platform_a_cert.pem"),
                             TestDataPath("platform_b_cert.pem")};
  absl::StatusOr<MerchantConfig> m = LoadMerchantKeys(Base(ApiMode::kPartner), s);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->wechatpay_serial, "");
  EXPECT_THAT(m->verifier.Serials(),
              UnorderedElementsAre("0C44D160B349ECBB0F4C40AD052CE7510BA43CF1",
                                   "046231DF19DFF38BA7FDE67464DA7D79D20FA739"));
}

TEST(LoadMerchantKeysTest, BothModesAtOnceDuringMigration) {
  MerchantKeySources s = PublicKeyMode();
  s.platform_certificates = {TestDataPath("platform_a_cert.pem")};
  absl::StatusOr<MerchantConfig> m = LoadMerchantKeys(Base(), s);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->verifier.Serials().size(), 2u);
  EXPECT_EQ(m->wechatpay_serial, kPubKeyId);
}

TEST(LoadMerchantKeysTest, ReadsPemFromEnvironment) {
  setenv("OQ_TEST_MERCHANT_KEY", ReadFileOrDie(TestDataPath("merchant_key.pem")).c_str(), 1);
  MerchantKeySources s = PublicKeyMode();
  s.private_key = "env:OQ_TEST_MERCHANT_KEY";
  EXPECT_TRUE(LoadMerchantKeys(Base(), s).ok());
  unsetenv("OQ_TEST_MERCHANT_KEY");
  absl::StatusOr<MerchantConfig> m = LoadMerchantKeys(Base(), s);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("OQ_TEST_MERCHANT_KEY"));
}

TEST(LoadMerchantKeysTest, ErrorsNameTheMerchantAndTheFileNeverTheKey) {
  TempDir dir;
  const std::string key_text = ReadFileOrDie(TestDataPath("merchant_key.pem"));
  // A key file with one byte damaged in the middle of its base64.
  std::string damaged = key_text;
  damaged[100] = '#';
  WriteFileOrDie(dir.File("damaged.pem"), damaged);

  struct Case {
    MerchantKeySources sources;
    std::string want;
  };
  MerchantKeySources missing = PublicKeyMode();
  missing.private_key = dir.File("nope.pem");
  MerchantKeySources bad_key = PublicKeyMode();
  bad_key.private_key = dir.File("damaged.pem");
  MerchantKeySources pub_as_private = PublicKeyMode();
  pub_as_private.private_key = TestDataPath("merchant_pub.pem");
  MerchantKeySources wrong_pub = PublicKeyMode();
  wrong_pub.public_key = TestDataPath("merchant_key.pem");
  MerchantKeySources no_id = PublicKeyMode();
  no_id.public_key_id = "";
  MerchantKeySources bad_cert = PublicKeyMode();
  bad_cert.platform_certificates = {TestDataPath("merchant_pub.pem")};
  MerchantKeySources nothing_to_verify;
  nothing_to_verify.private_key = TestDataPath("merchant_key.pem");
  MerchantKeySources no_private = PublicKeyMode();
  no_private.private_key = "";

  const Case cases[] = {
      {missing, "private key: cannot open file " + dir.File("nope.pem")},
      {bad_key, "private key " + dir.File("damaged.pem")},
      {pub_as_private, "private key " + TestDataPath("merchant_pub.pem")},
      {wrong_pub, "WeChat Pay public key " + std::string(kPubKeyId)},
      {no_id, "public_key_id"},
      {bad_cert, "platform certificate " + TestDataPath("merchant_pub.pem")},
      {nothing_to_verify, "no WeChat Pay public key or platform certificate"},
      {no_private, "no private key file"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<MerchantConfig> m = LoadMerchantKeys(Base(), c.sources);
    ASSERT_FALSE(m.ok()) << c.want;
    const std::string msg(m.status().message());
    EXPECT_THAT(msg, HasSubstr("merchant \"ev-charging\""));
    EXPECT_THAT(msg, HasSubstr(c.want));
    EXPECT_THAT(msg, Not(HasSubstr("BEGIN")));
    EXPECT_THAT(msg, Not(HasSubstr(key_text.substr(40, 24))));
  }
}

// Issue 15, finding 1: the forms a key pasted into an environment variable takes when it is
// wrong. `Leaks` is true when any base64 line of `pem` (or the armour) shows in `message`.
struct MalformedKey {
  std::string name;
  std::string pem;
  bool loads;  // a leading newline is fine: PEM allows text before the armour
};

std::vector<MalformedKey> MalformedKeys() {
  const std::string key = ReadFileOrDie(TestDataPath("merchant_key.pem"));
  std::string body = key.substr(key.find('\n') + 1);
  body = body.substr(0, body.find("-----END"));
  std::string escaped;
  for (char c : key) escaped += c == '\n' ? std::string("\\n") : std::string(1, c);
  return {
      {"escaped_newlines", escaped, false},
      {"leading_newline", "\n" + key, true},
      {"leading_spaces", "  " + key, true},
      {"encrypted", ReadFileOrDie(TestDataPath("encrypted_key.pem")), false},
      {"rsa_1024", ReadFileOrDie(TestDataPath("small_key.pem")), false},
      {"ec", ReadFileOrDie(TestDataPath("ec_key.pem")), false},
      {"public_not_private", ReadFileOrDie(TestDataPath("merchant_pub.pem")), false},
      {"no_armour", body, false},
      {"one_line_body", absl::StrReplaceAll(body, {{"\n", ""}}), false},
      {"truncated", key.substr(0, key.size() / 2), false},
  };
}

bool Leaks(const std::string& message, const std::string& pem) {
  if (absl::StrContains(message, "BEGIN") || absl::StrContains(message, "END ")) return true;
  for (absl::string_view line :
       absl::StrSplit(absl::StrReplaceAll(pem, {{"\\n", "\n"}}), '\n', absl::SkipEmpty())) {
    line = absl::StripAsciiWhitespace(line);
    if (line.size() >= 16 && !absl::StartsWith(line, "-----") &&
        absl::StrContains(message, line.substr(0, 16))) {
      return true;
    }
  }
  return false;
}

TEST(LoadMerchantKeysTest, KeyTextGivenAsTheSourceNeverShowsInAnError) {
  for (const MalformedKey& k : MalformedKeys()) {
    SCOPED_TRACE(k.name);
    MerchantKeySources s = PublicKeyMode();
    s.private_key = k.pem;
    absl::StatusOr<MerchantConfig> m = LoadMerchantKeys(Base(), s);
    EXPECT_EQ(m.ok(), k.loads) << m.status();
    if (m.ok()) continue;
    const std::string msg(m.status().message());
    EXPECT_FALSE(Leaks(msg, k.pem)) << msg;
    EXPECT_THAT(msg, HasSubstr("private key"));
    EXPECT_THAT(msg, HasSubstr("not shown"));
  }
}

TEST(LoadMerchantKeysTest, KeyTextErrorsNameTheSettingNeverTheKey) {
  for (const MalformedKey& k : MalformedKeys()) {
    SCOPED_TRACE(k.name);
    MerchantKeySources s = PublicKeyMode();
    s.private_key = "";  // the text alone, as private_key_pem gives it
    s.private_key_pem = k.pem;
    s.private_key_pem_label = "wechat.merchants.ev.private_key_pem";
    absl::StatusOr<MerchantConfig> m = LoadMerchantKeys(Base(), s);
    EXPECT_EQ(m.ok(), k.loads) << m.status();
    if (m.ok()) continue;
    const std::string msg(m.status().message());
    EXPECT_FALSE(Leaks(msg, k.pem)) << msg;
    EXPECT_THAT(msg, HasSubstr("merchant \"ev-charging\": private key from "
                               "wechat.merchants.ev.private_key_pem (its text is not shown): "));
  }
  // What the message says about the usual damage, in words that quote none of the key.
  auto message_for = [](const std::string& name) {
    for (const MalformedKey& k : MalformedKeys()) {
      if (k.name != name) continue;
      MerchantKeySources s = PublicKeyMode();
      s.private_key_pem = k.pem;
      return std::string(LoadMerchantKeys(Base(), s).status().message());
    }
    return std::string("no such form");
  };
  EXPECT_THAT(message_for("escaped_newlines"), HasSubstr("two characters \\n where line breaks"));
  EXPECT_THAT(message_for("encrypted"), HasSubstr("it is encrypted"));
  EXPECT_THAT(message_for("rsa_1024"), HasSubstr("RSA-1024; at least RSA-2048"));
  EXPECT_THAT(message_for("no_armour"), HasSubstr("no PEM armour"));
  EXPECT_THAT(message_for("truncated"), HasSubstr("cut short"));
  // The text is never taken for a path, even when it looks like one.
  MerchantKeySources path_like = PublicKeyMode();
  path_like.private_key_pem = TestDataPath("merchant_key.pem");
  EXPECT_FALSE(LoadMerchantKeys(Base(), path_like).ok());
}

TEST(MerchantConfigTest, ValidateCatchesMisconfiguration) {
  const MerchantConfig good = *LoadMerchantKeys(Base(), PublicKeyMode());
  ASSERT_TRUE(good.Validate().ok());
  struct Case {
    void (*mutate)(MerchantConfig*);
    std::string want;
  } cases[] = {
      {[](MerchantConfig* m) { m->name = ""; }, "without a name"},
      {[](MerchantConfig* m) { m->mchid = "12a"; }, "mchid"},
      {[](MerchantConfig* m) { m->sub_mchid = "1900000109"; }, "mode is direct"},
      {[](MerchantConfig* m) { m->serial_no = ""; }, "serial_no"},
      {[](MerchantConfig* m) { m->private_key.reset(); }, "private key"},
      {[](MerchantConfig* m) { m->base_url = "api.mch.weixin.qq.com"; }, "base_url"},
      {[](MerchantConfig* m) { m->base_url = "https://api.mch.weixin.qq.com/"; }, "base_url"},
      {[](MerchantConfig* m) { m->wechatpay_serial = "PUB_KEY_ID_OTHER"; }, "not a verifier key"},
      {[](MerchantConfig* m) { m->appids.push_back(""); }, "empty appid"},
  };
  for (const Case& c : cases) {
    MerchantConfig m = good;
    c.mutate(&m);
    absl::Status s = m.Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.want;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.want));
  }
  MerchantConfig partner = good;
  partner.mode = ApiMode::kPartner;
  partner.sub_mchid = "19x";
  EXPECT_THAT(std::string(partner.Validate().message()), HasSubstr("sub_mchid"));
}

constexpr char kApiV3Key[] = "0123456789abcdefABCDEF0123456789";

TEST(LoadMerchantKeysTest, ReadsTheApiV3KeyWithoutItsTrailingNewline) {
  TempDir dir;
  struct Case {
    const char* name;
    std::string content;
  } cases[] = {
      {"bare", kApiV3Key},
      {"newline", std::string(kApiV3Key) + "\n"},
      {"crlf", std::string(kApiV3Key) + "\r\n"},
  };
  for (const Case& c : cases) {
    WriteFileOrDie(dir.File(c.name), c.content);
    MerchantKeySources s = PublicKeyMode();
    s.apiv3_key = dir.File(c.name);
    absl::StatusOr<MerchantConfig> m = LoadMerchantKeys(Base(), s);
    ASSERT_TRUE(m.ok()) << c.name << ": " << m.status();
    EXPECT_EQ(m->apiv3_key, kApiV3Key) << c.name;
  }
  setenv("OQ_TEST_APIV3_KEY", kApiV3Key, 1);
  MerchantKeySources s = PublicKeyMode();
  s.apiv3_key = "env:OQ_TEST_APIV3_KEY";
  absl::StatusOr<MerchantConfig> m = LoadMerchantKeys(Base(), s);
  unsetenv("OQ_TEST_APIV3_KEY");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->apiv3_key, kApiV3Key);
  // No source: nothing to read, the key stays as configured (none here).
  m = LoadMerchantKeys(Base(), PublicKeyMode());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->apiv3_key, "");
}

TEST(LoadMerchantKeysTest, ApiV3KeyErrorsNeverShowTheKey) {
  TempDir dir;
  const std::string long_key = std::string(kApiV3Key) + "X";
  const std::string short_key = std::string(kApiV3Key).substr(1);
  WriteFileOrDie(dir.File("long"), long_key + "\n");
  WriteFileOrDie(dir.File("short"), short_key);
  WriteFileOrDie(dir.File("newline_only"), "\n");
  struct Case {
    const char* name;
    std::string source;
    std::string want;
  } cases[] = {
      {"too_long", dir.File("long"), "must be 32 bytes, got 33"},
      {"too_short", dir.File("short"), "must be 32 bytes, got 31"},
      {"newline_only", dir.File("newline_only"), "only a newline"},
      {"missing_file", dir.File("absent"), "cannot open file"},
      {"unset_env", "env:OQ_TEST_APIV3_KEY_UNSET", "OQ_TEST_APIV3_KEY_UNSET is not set"},
  };
  for (const Case& c : cases) {
    MerchantKeySources s = PublicKeyMode();
    s.apiv3_key = c.source;
    absl::StatusOr<MerchantConfig> m = LoadMerchantKeys(Base(), s);
    ASSERT_FALSE(m.ok()) << c.name;
    EXPECT_EQ(m.status().code() == absl::StatusCode::kInvalidArgument ||
                  m.status().code() == absl::StatusCode::kNotFound,
              true)
        << c.name << ": " << m.status();
    const std::string msg(m.status().message());
    EXPECT_THAT(msg, HasSubstr(c.want)) << c.name;
    EXPECT_THAT(msg, HasSubstr("ev-charging")) << c.name;
    EXPECT_THAT(msg, Not(HasSubstr(short_key))) << c.name;  // a substring of both keys
  }
}

TEST(MerchantConfigTest, ValidateAcceptsNoApiV3KeyOrExactly32Bytes) {
  absl::StatusOr<MerchantConfig> loaded = LoadMerchantKeys(Base(), PublicKeyMode());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  for (const std::string& key : {std::string(), std::string(32, 'k')}) {
    MerchantConfig m = *loaded;
    m.apiv3_key = key;
    EXPECT_TRUE(m.Validate().ok()) << key.size();
  }
  for (const std::string& key :
       {std::string(31, 'k'), std::string(33, 'k'), std::string(64, 'k')}) {
    MerchantConfig m = *loaded;
    m.apiv3_key = key;
    const absl::Status s = m.Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << key.size();
    EXPECT_THAT(std::string(s.message()), HasSubstr("APIv3 key")) << key.size();
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr("kkkkkkkk"))) << key.size();
  }
}

TEST(MatchesMerchantTest, DirectMode) {
  MerchantConfig m = Base();
  Transaction t;
  t.mode = ApiMode::kDirect;
  t.appid = "wxcbda96de0b165486";
  t.mchid = "1230000109";
  EXPECT_TRUE(MatchesMerchant(t, m).ok());
  Transaction other_mch = t;
  other_mch.mchid = "1230000110";
  EXPECT_THAT(std::string(MatchesMerchant(other_mch, m).message()), HasSubstr("mchid"));
  Transaction other_app = t;
  other_app.appid = "wxOTHER";
  EXPECT_EQ(MatchesMerchant(other_app, m).code(), absl::StatusCode::kFailedPrecondition);
  Transaction wrong_mode = t;
  wrong_mode.mode = ApiMode::kPartner;
  EXPECT_FALSE(MatchesMerchant(wrong_mode, m).ok());
}

TEST(MatchesMerchantTest, PartnerMode) {
  MerchantConfig m = Base(ApiMode::kPartner);
  Transaction t;
  t.mode = ApiMode::kPartner;
  t.sp_appid = "wxSP";
  t.sub_appid = "wxcbda96de0b165486";
  t.sp_mchid = "1230000109";
  t.sub_mchid = "1900000109";
  EXPECT_TRUE(MatchesMerchant(t, m).ok());
  Transaction via_sp_appid = t;
  via_sp_appid.sp_appid = "wxcbda96de0b165486";
  via_sp_appid.sub_appid = "";
  EXPECT_TRUE(MatchesMerchant(via_sp_appid, m).ok());
  Transaction other_sub = t;
  other_sub.sub_mchid = "1900000108";
  EXPECT_THAT(std::string(MatchesMerchant(other_sub, m).message()), HasSubstr("sub_mchid"));
  Transaction other_sp = t;
  other_sp.sp_mchid = "1";
  EXPECT_THAT(std::string(MatchesMerchant(other_sp, m).message()), HasSubstr("sp_mchid"));
  Transaction no_app = t;
  no_app.sub_appid = "wxOTHER";
  EXPECT_FALSE(MatchesMerchant(no_app, m).ok());
}

}  // namespace
}  // namespace orderquery::payment::wechat
