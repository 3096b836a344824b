// Crypto primitives. This file is compiled twice: against OpenSSL 3 (wechat_crypto_test) and
// against Debian's BoringSSL (wechat_crypto_boringssl_test), so every expectation here holds for
// both libraries. The openssl command-line tool is the independent implementation we check
// signatures against, in both directions.
#include "server/payment/wechat/crypto.h"

#include <openssl/crypto.h>

#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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

// The request-signature message of seed 002's example request, fixed timestamp and nonce.
constexpr char kMessage[] =
    "GET\n/v3/vehicle/transactions/out-trade-no/20150806125346?sub_mchid=1900000109\n"
    "1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n";
// `openssl dgst -sha256 -sign testdata/merchant_key.pem | base64` of kMessage (PKCS#1 v1.5 is
// deterministic, so this is the one right answer).
constexpr char kMessageSignature[] =
    "nSbNao8RcvBxQaG1jud1sFCQ4BV09Yl9AkfQq865dwkl7L8hil6bbvQcbYmEL0mBo2ktC/lfoIjFfkGaseAp3e4TkCQV"
    "BYpp7p0egrZacIxUI3L/fY7sAod+GKUBGaQjapQePmD9/j7nO3++sEL74ZRjzPEIDZ/tiH+HusDfugKyRtKkbku1mOh5"
    "VRtKXsq1Oi5r492Tk4JqgxxH1+ssHTS9Ec1y2q5o7SKzFLyaHrlvTweAoT+fP0DbAyacjvMrZ6B4NMEoW139SDn2Zrs/"
    "bJ4TNmDwbk/dQAVf1nc8rTRSxiV/XrtsS/qT55BaVQgEppSNxfz5/lPwRBkNZs9mtg==";

RsaKey LoadPrivate(const std::string& name) {
  absl::StatusOr<RsaKey> key = RsaKey::PrivateFromPem(ReadFileOrDie(TestDataPath(name)));
  EXPECT_TRUE(key.ok()) << name << ": " << key.status();
  return *key;
}

RsaKey LoadPublic(const std::string& name) {
  absl::StatusOr<RsaKey> key = RsaKey::PublicFromPem(ReadFileOrDie(TestDataPath(name)));
  EXPECT_TRUE(key.ok()) << name << ": " << key.status();
  return *key;
}

TEST(CryptoLibraryTest, LinkedAgainstTheExpectedLibrary) {
  const std::string version = OpenSSL_version(OPENSSL_VERSION);
#ifdef OQ_EXPECT_BORINGSSL
  EXPECT_THAT(version, HasSubstr("BoringSSL"));
#ifndef OPENSSL_IS_BORINGSSL
  ADD_FAILURE() << "compiled with OpenSSL headers but linked against BoringSSL";
#endif
#else
  EXPECT_THAT(version, HasSubstr("OpenSSL 3"));
#ifdef OPENSSL_IS_BORINGSSL
  ADD_FAILURE() << "compiled with BoringSSL headers";
#endif
#endif
}

TEST(RsaKeyTest, LoadsEachKind) {
  EXPECT_TRUE(RsaKey::PrivateFromPem(ReadFileOrDie(TestDataPath("merchant_key.pem"))).ok());
  EXPECT_TRUE(RsaKey::PublicFromPem(ReadFileOrDie(TestDataPath("merchant_pub.pem"))).ok());
  EXPECT_TRUE(
      RsaKey::PublicFromCertificatePem(ReadFileOrDie(TestDataPath("platform_a_cert.pem"))).ok());
}

TEST(RsaKeyTest, RejectsWrongMaterial) {
  const std::string priv = ReadFileOrDie(TestDataPath("merchant_key.pem"));
  const std::string pub = ReadFileOrDie(TestDataPath("merchant_pub.pem"));
  const std::string cert = ReadFileOrDie(TestDataPath("platform_a_cert.pem"));
  const std::string ec = ReadFileOrDie(TestDataPath("ec_key.pem"));
  const std::string small = ReadFileOrDie(TestDataPath("small_key.pem"));

  EXPECT_EQ(RsaKey::PrivateFromPem("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(RsaKey::PrivateFromPem("not a pem").ok());
  EXPECT_FALSE(RsaKey::PrivateFromPem(pub).ok());
  EXPECT_FALSE(RsaKey::PrivateFromPem(cert).ok());
  EXPECT_FALSE(RsaKey::PrivateFromPem(priv.substr(0, priv.size() / 2)).ok());

  absl::StatusOr<RsaKey> not_rsa = RsaKey::PrivateFromPem(ec);
  ASSERT_FALSE(not_rsa.ok());
  EXPECT_THAT(not_rsa.status().message(), HasSubstr("not an RSA key"));

  absl::StatusOr<RsaKey> too_small = RsaKey::PrivateFromPem(small);
  ASSERT_FALSE(too_small.ok());
  EXPECT_THAT(too_small.status().message(), HasSubstr("RSA-1024"));

  EXPECT_FALSE(RsaKey::PublicFromPem(priv).ok());
  EXPECT_FALSE(RsaKey::PublicFromPem(cert).ok());
  EXPECT_FALSE(RsaKey::PublicFromCertificatePem(pub).ok());
  EXPECT_FALSE(RsaKey::PublicFromCertificatePem("-----BEGIN CERTIFICATE-----\nAAAA\n"
                                                "-----END CERTIFICATE-----\n")
                   .ok());
}

TEST(RsaKeyTest, ErrorsNeverEchoKeyMaterial) {
  const std::string priv = ReadFileOrDie(TestDataPath("merchant_key.pem"));
  // A damaged key: the base64 body must not appear in the message.
  std::string damaged = priv;
  damaged[40] = '!';
  absl::StatusOr<RsaKey> key = RsaKey::PrivateFromPem(damaged);
  ASSERT_FALSE(key.ok());
  EXPECT_FALSE(absl::StrContains(key.status().message(), priv.substr(30, 20)));
  EXPECT_LT(key.status().message().size(), 120u);
}

TEST(CertificateTest, SerialMatchesOpensslCli) {
  for (const char* name : {"platform_a_cert.pem", "platform_b_cert.pem"}) {
    absl::StatusOr<std::string> serial = CertificateSerialHex(ReadFileOrDie(TestDataPath(name)));
    ASSERT_TRUE(serial.ok()) << serial.status();
    std::string cli;
    ASSERT_EQ(RunShell("openssl x509 -noout -serial -in " + ShellQuote(TestDataPath(name)), &cli),
              0)
        << cli;
    EXPECT_EQ("serial=" + *serial + "\n", cli) << name;
  }
  EXPECT_EQ(*CertificateSerialHex(ReadFileOrDie(TestDataPath("platform_a_cert.pem"))),
            "0C44D160B349ECBB0F4C40AD052CE7510BA43CF1");
  EXPECT_FALSE(CertificateSerialHex(ReadFileOrDie(TestDataPath("merchant_pub.pem"))).ok());
}

TEST(CertificateTest, ValidityMatchesOpensslCli) {
  // openssl x509 -noout -startdate -enddate -in platform_a_cert.pem:
  // notBefore=Nov 23 20:16:54 2026 GMT, notAfter=Oct 30 20:16:54 2126 GMT.
  absl::StatusOr<CertificateValidity> v =
      CertificateValidityOf(ReadFileOrDie(TestDataPath("platform_a_cert.pem")));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->not_before, 1795465014);
  EXPECT_EQ(v->not_after, 4949065014);  // past 2038: no 32-bit time_t on the way
  std::string cli;
  ASSERT_EQ(RunShell("openssl x509 -noout -enddate -in " +
                         ShellQuote(TestDataPath("platform_a_cert.pem")),
                     &cli),
            0)
      << cli;
  EXPECT_EQ(cli, "notAfter=Oct 30 20:16:54 2126 GMT\n");
  EXPECT_EQ(CertificateValidityOf(ReadFileOrDie(TestDataPath("merchant_pub.pem"))).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SignTest, FixedKeyAndMessageGiveTheKnownSignature) {
  absl::StatusOr<std::string> sig = SignSha256WithRsa(LoadPrivate("merchant_key.pem"), kMessage);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(*sig, kMessageSignature);
  EXPECT_TRUE(VerifySha256WithRsa(LoadPublic("merchant_pub.pem"), kMessage, *sig).ok());
}

TEST(SignTest, OurSignatureVerifiesWithOpensslCli) {
  TempDir dir;
  const std::string message = "POST\n/v3/x?y=1\n1700000000\nNONCE\n{\"a\":\"中文\"}\n";
  absl::StatusOr<std::string> sig = SignSha256WithRsa(LoadPrivate("merchant_key.pem"), message);
  ASSERT_TRUE(sig.ok()) << sig.status();
  absl::StatusOr<std::string> raw = Base64Decode(*sig);
  ASSERT_TRUE(raw.ok());
  WriteFileOrDie(dir.File("msg"), message);
  WriteFileOrDie(dir.File("sig"), *raw);
  std::string out;
  EXPECT_EQ(
      RunShell("openssl dgst -sha256 -verify " + ShellQuote(TestDataPath("merchant_pub.pem")) +
                   " -signature " + ShellQuote(dir.File("sig")) + " " + ShellQuote(dir.File("msg")),
               &out),
      0)
      << out;
  EXPECT_THAT(out, HasSubstr("Verified OK"));

  // And the CLI says no when the message differs by one byte (the check can fail).
  WriteFileOrDie(dir.File("msg"), message + " ");
  EXPECT_NE(
      RunShell("openssl dgst -sha256 -verify " + ShellQuote(TestDataPath("merchant_pub.pem")) +
               " -signature " + ShellQuote(dir.File("sig")) + " " + ShellQuote(dir.File("msg"))),
      0);
}

TEST(SignTest, OpensslCliSignatureVerifiesWithOurCode) {
  TempDir dir;
  const std::string message = "1700000000\nsome-nonce\n{\"trade_state\":\"SUCCESS\"}\n";
  WriteFileOrDie(dir.File("msg"), message);
  std::string out;
  ASSERT_EQ(RunShell("openssl dgst -sha256 -sign " + ShellQuote(TestDataPath("wechatpay_key.pem")) +
                         " -out " + ShellQuote(dir.File("sig")) + " " + ShellQuote(dir.File("msg")),
                     &out),
            0)
      << out;
  const std::string sig = Base64Encode(ReadFileOrDie(dir.File("sig")));
  const RsaKey pub = LoadPublic("wechatpay_pub.pem");
  EXPECT_TRUE(VerifySha256WithRsa(pub, message, sig).ok());
  EXPECT_FALSE(VerifySha256WithRsa(pub, message + "x", sig).ok());
  EXPECT_FALSE(VerifySha256WithRsa(LoadPublic("merchant_pub.pem"), message, sig).ok());
}

TEST(VerifyTest, RejectsBadSignatures) {
  const RsaKey pub = LoadPublic("merchant_pub.pem");
  const std::string good = kMessageSignature;
  ASSERT_TRUE(VerifySha256WithRsa(pub, kMessage, good).ok());

  std::string tampered = good;
  tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(VerifySha256WithRsa(pub, kMessage, tampered).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(VerifySha256WithRsa(pub, std::string(kMessage) + "x", good).ok());
  EXPECT_FALSE(VerifySha256WithRsa(pub, kMessage, "").ok());
  EXPECT_FALSE(VerifySha256WithRsa(pub, kMessage, "not base64!").ok());
  EXPECT_FALSE(VerifySha256WithRsa(pub, kMessage, good.substr(0, 100)).ok());
  EXPECT_FALSE(VerifySha256WithRsa(pub, kMessage, Base64Encode("short")).ok());
  // The private key carries its public half, so verifying with it works too.
  EXPECT_TRUE(VerifySha256WithRsa(LoadPrivate("merchant_key.pem"), kMessage, good).ok());
  EXPECT_FALSE(VerifySha256WithRsa(LoadPublic("wechatpay_pub.pem"), kMessage, good).ok());
}

TEST(SignTest, PublicKeyCannotSign) {
  EXPECT_FALSE(SignSha256WithRsa(LoadPublic("merchant_pub.pem"), "x").ok());
}

// McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16 (AES-256, 96-bit IV,
// associated data), checked against Python's cryptography package.
TEST(AeadTest, KnownVector) {
  const std::string key =
      absl::HexStringToBytes("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const std::string nonce = absl::HexStringToBytes("cafebabefacedbaddecaf888");
  const std::string aad = absl::HexStringToBytes("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const std::string plain = absl::HexStringToBytes(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
      "49a6b525b16aedf5aa0de657ba637b39");
  const std::string sealed = absl::HexStringToBytes(
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
      "56828838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b");

  absl::StatusOr<std::string> enc = AeadAes256GcmEncrypt(key, nonce, aad, plain);
  ASSERT_TRUE(enc.ok()) << enc.status();
  EXPECT_EQ(*enc, Base64Encode(sealed));
  absl::StatusOr<std::string> dec = AeadAes256GcmDecrypt(key, nonce, aad, Base64Encode(sealed));
  ASSERT_TRUE(dec.ok()) << dec.status();
  EXPECT_EQ(*dec, plain);
}

// The shape WeChat uses: a 32-character APIv3 key, a 12-character nonce, text associated data
// ("transaction", "certificate"). Expected value from Python's cryptography AESGCM.
TEST(AeadTest, WechatShapedVector) {
  const std::string key = "0123456789abcdef0123456789ABCDEF";
  const std::string plain = R"({"mchid":"1900000109","trade_state":"SUCCESS"})";
  const std::string expected =
      "XPrGymytT7i1K48HVZfQi2II7SIfdIL/T9lIPuNe3eWiAFdtVw4zlQnQcrRufyHZKn9FDVXbgUjGOT7g7iQ=";
  EXPECT_EQ(*AeadAes256GcmEncrypt(key, "a1b2c3d4e5f6", "transaction", plain), expected);
  EXPECT_EQ(*AeadAes256GcmDecrypt(key, "a1b2c3d4e5f6", "transaction", expected), plain);
}

TEST(AeadTest, RoundTripsIncludingEmpty) {
  const std::string key(32, 'k');
  for (const std::string& plain : {std::string(), std::string("x"), std::string(1000, '\0')}) {
    for (const std::string& aad : {std::string(), std::string("certificate")}) {
      absl::StatusOr<std::string> enc = AeadAes256GcmEncrypt(key, "nonce1234567", aad, plain);
      ASSERT_TRUE(enc.ok()) << enc.status();
      absl::StatusOr<std::string> dec = AeadAes256GcmDecrypt(key, "nonce1234567", aad, *enc);
      ASSERT_TRUE(dec.ok()) << dec.status();
      EXPECT_EQ(*dec, plain);
    }
  }
}

TEST(AeadTest, RejectsTampering) {
  const std::string key(32, 'k');
  const std::string enc = *AeadAes256GcmEncrypt(key, "nonce1234567", "transaction", "paid 888");
  ASSERT_TRUE(AeadAes256GcmDecrypt(key, "nonce1234567", "transaction", enc).ok());

  const std::string raw = *Base64Decode(enc);
  for (size_t i : {size_t{0}, raw.size() - 1}) {  // a ciphertext byte, a tag byte
    std::string bad = raw;
    bad[i] ^= 0x01;
    EXPECT_EQ(
        AeadAes256GcmDecrypt(key, "nonce1234567", "transaction", Base64Encode(bad)).status().code(),
        absl::StatusCode::kInvalidArgument)
        << "flipped byte " << i;
  }
  EXPECT_FALSE(AeadAes256GcmDecrypt(std::string(32, 'K'), "nonce1234567", "transaction", enc).ok());
  EXPECT_FALSE(AeadAes256GcmDecrypt(key, "nonce1234568", "transaction", enc).ok());
  EXPECT_FALSE(AeadAes256GcmDecrypt(key, "nonce1234567", "certificate", enc).ok());
  EXPECT_FALSE(AeadAes256GcmDecrypt(key, "nonce1234567", "transaction",
                                    Base64Encode(raw.substr(0, raw.size() - 1)))
                   .ok());
  EXPECT_FALSE(
      AeadAes256GcmDecrypt(key, "nonce1234567", "transaction", Base64Encode("short")).ok());
  EXPECT_FALSE(AeadAes256GcmDecrypt(key, "nonce1234567", "transaction", "%%%%").ok());
}

TEST(AeadTest, RejectsBadParameters) {
  EXPECT_THAT(AeadAes256GcmEncrypt(std::string(16, 'k'), "n", "", "x").status().message(),
              HasSubstr("32 bytes"));
  EXPECT_FALSE(AeadAes256GcmEncrypt(std::string(32, 'k'), "", "", "x").ok());
  EXPECT_FALSE(AeadAes256GcmDecrypt(std::string(31, 'k'), "nonce1234567", "",
                                    Base64Encode(std::string(20, 'x')))
                   .ok());
}

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    absl::StatusOr<std::string> decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base64Test, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); len += 37) {
    const std::string part = all.substr(0, len);
    EXPECT_EQ(*Base64Decode(Base64Encode(part)), part);
  }
}

TEST(Base64Test, RejectsNonCanonicalInput) {
  for (const char* bad :
       {"Zg=", "Zm9v!", " Zm9v", "Zm9v ", "Zm=v", "====", "Z===", "Zm9v\n", "Zg==Zg==", "Zm-_"}) {
    EXPECT_FALSE(Base64Decode(bad).ok()) << '"' << bad << '"';
  }
}

TEST(RandomNonceTest, LengthAlphabetAndVariety) {
  std::set<std::string> seen;
  std::set<char> chars;
  for (int i = 0; i < 100; ++i) {
    const std::string n = RandomNonce();
    ASSERT_EQ(n.size(), 32u);
    for (char c : n) {
      ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')) << n;
      chars.insert(c);
    }
    seen.insert(n);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(chars.size(), 36u);  // 3200 draws: every character shows up
  EXPECT_EQ(RandomNonce(7).size(), 7u);
  EXPECT_EQ(RandomNonce(0), "");
}

}  // namespace
}  // namespace orderquery::payment::wechat
