// Platform certificates: the GET /v3/certificates reply (parse, decrypt, verify) and the key
// store (bootstrap, rotation, expiry, rate limit, one download at a time), with a fake fetcher
// and an injected clock: nothing sleeps through an interval.
#include "server/payment/wechat/key_store.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/payment/wechat/certificates.h"
#include "server/payment/wechat/merchant.h"
#include "server/payment/wechat/notification.h"
#include "server/payment/wechat/signer.h"
#include "tests/fakes/wechat_signing.h"
#include "tests/unit/wechat/test_util.h"

namespace orderquery::payment::wechat {
namespace {

using ::orderquery::payment::wechat::testing::ReadFileOrDie;
using ::orderquery::payment::wechat::testing::TestDataPath;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kSerialA[] = "0C44D160B349ECBB0F4C40AD052CE7510BA43CF1";
constexpr char kSerialB[] = "046231DF19DFF38BA7FDE67464DA7D79D20FA739";
constexpr char kPubKeyId[] = "PUB_KEY_ID_0119000000012024111100000000000001";
constexpr char kApiV3Key[] = "0123456789abcdefghijABCDEFGHIJ01";  // 32 bytes, test only

const absl::Time kT0 = absl::FromUnixSeconds(1796000000);  // 2026-11-30, inside a/b validity

std::string CertPem(char which) {
  return ReadFileOrDie(TestDataPath(absl::StrCat("platform_", std::string(1, which), "_cert.pem")));
}
RsaKey PrivateOf(char which) {
  return *RsaKey::PrivateFromPem(
      ReadFileOrDie(TestDataPath(absl::StrCat("platform_", std::string(1, which), "_key.pem"))));
}
std::string SerialOf(char which) { return which == 'a' ? kSerialA : kSerialB; }

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S+08:00", t, absl::FixedTimeZone(8 * 3600));
}

struct Listed {
  char which;
  absl::Time expire;
};

nlohmann::json Item(const Listed& l, const std::string& key = kApiV3Key) {
  const std::string nonce = "abcdefghijkl";
  return {{"serial_no", SerialOf(l.which)},
          {"effective_time", Rfc3339(kT0 - absl::Hours(24))},
          {"expire_time", Rfc3339(l.expire)},
          {"encrypt_certificate",
           {{"algorithm", "AEAD_AES_256_GCM"},
            {"nonce", nonce},
            {"associated_data", "certificate"},
            {"ciphertext", *AeadAes256GcmEncrypt(key, nonce, "certificate", CertPem(l.which))}}}};
}

std::string Body(const std::vector<Listed>& listed) {
  nlohmann::json data = nlohmann::json::array();
  for (const Listed& l : listed) data.push_back(Item(l));
  return nlohmann::json{{"data", data}}.dump();
}

// A 2xx reply with `body`, signed by platform key `signer` (its certificate's serial) at `at`.
http::Response Reply(const std::string& body, char signer, absl::Time at) {
  http::Response r;
  r.status = 200;
  r.body = body;
  absl::StatusOr<http::Headers> headers = SignedResponseHeaders(
      PrivateOf(signer), SerialOf(signer), absl::ToUnixSeconds(at), "n0nce", body);
  EXPECT_TRUE(headers.ok()) << headers.status();
  for (auto& [name, value] : *headers) r.headers.emplace_back(absl::AsciiStrToLower(name), value);
  return r;
}

// ---- the reply ----

TEST(CertificatesReplyTest, DecryptsEveryCertificateAndKeepsTheEarlierExpiry) {
  const absl::Time soon = kT0 + absl::Hours(240);
  const absl::Time late =
      absl::FromCivil(absl::CivilSecond(2200, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  absl::StatusOr<std::vector<PlatformCertificate>> certs =
      ParseCertificatesReply(Body({{'a', soon}, {'b', late}}), kApiV3Key);
  ASSERT_TRUE(certs.ok()) << certs.status();
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ((*certs)[0].serial, kSerialA);
  EXPECT_EQ((*certs)[0].pem, CertPem('a'));
  EXPECT_EQ((*certs)[0].expire_time, soon);  // the reply's, earlier than notAfter
  EXPECT_EQ((*certs)[0].effective_time, kT0 - absl::Hours(24));
  EXPECT_EQ((*certs)[1].serial, kSerialB);
  // notAfter of platform_b_cert.pem (2126-10-30T20:16:54Z) wins over the reply's 2200.
  EXPECT_EQ((*certs)[1].expire_time,
            absl::FromCivil(absl::CivilSecond(2126, 10, 30, 20, 16, 54), absl::UTCTimeZone()));
  // The key is the certificate's: it verifies what platform key b signed.
  const http::Response r = Reply("x", 'b', kT0);
  absl::StatusOr<ResponseVerifier> v = ResponseVerifier::Create({{kSerialB, (*certs)[1].key}});
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->Verify(r, kT0).ok());
}

TEST(CertificatesReplyTest, AnEmptyListIsNormal) {
  absl::StatusOr<std::vector<PlatformCertificate>> certs =
      ParseCertificatesReply(R"({"data":[]})", kApiV3Key);
  ASSERT_TRUE(certs.ok()) << certs.status();
  EXPECT_TRUE(certs->empty());
}

TEST(CertificatesReplyTest, RefusesWhatIsNotAGenuineList) {
  const absl::Time exp = kT0 + absl::Hours(240);
  auto with = [&](auto edit) {
    nlohmann::json item = Item({'a', exp});
    edit(item);
    return nlohmann::json{{"data", {item}}}.dump();
  };
  struct Case {
    std::string body;
    std::string key;
    std::string error;
  } cases[] = {
      {"not json", kApiV3Key, "not a JSON object"},
      {R"({"data":{}})", kApiV3Key, "data is missing or not an array"},
      {Body({{'a', exp}}), "0123456789abcdefghijABCDEFGHIJ02", "does not decrypt"},
      {nlohmann::json{{"data", {Item({'a', exp}, "0123456789abcdefghijABCDEFGHIJ02")}}}.dump(),
       kApiV3Key, "does not decrypt"},
      {with([](nlohmann::json& i) { i["serial_no"] = kSerialB; }), kApiV3Key,
       "but the certificate's serial is"},
      {with([](nlohmann::json& i) { i["encrypt_certificate"]["algorithm"] = "AES_CBC"; }),
       kApiV3Key, "is not AEAD_AES_256_GCM"},
      {with([](nlohmann::json& i) { i["expire_time"] = "tomorrow"; }), kApiV3Key,
       "is not RFC 3339"},
      {with([](nlohmann::json& i) { i.erase("encrypt_certificate"); }), kApiV3Key,
       "encrypt_certificate is missing"},
      {with([](nlohmann::json& i) { i["encrypt_certificate"]["associated_data"] = "other"; }),
       kApiV3Key, "does not decrypt"},
      {nlohmann::json{{"data", {Item({'a', exp}), Item({'a', exp})}}}.dump(), kApiV3Key,
       "listed twice"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::vector<PlatformCertificate>> certs = ParseCertificatesReply(c.body, c.key);
    ASSERT_FALSE(certs.ok()) << c.error;
    EXPECT_EQ(certs.status().code(), absl::StatusCode::kInvalidArgument) << c.error;
    EXPECT_THAT(certs.status().message(), HasSubstr(c.error));
  }
  EXPECT_EQ(ParseCertificatesReply(Body({}), "short").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(CertificatesReplyTest, VerifiedWithAKnownKeyOrOnlyAtBootstrapWithItsOwnCertificate) {
  const std::string body = Body({{'a', kT0 + absl::Hours(240)}, {'b', kT0 + absl::Hours(480)}});
  const std::vector<PlatformCertificate> certs = *ParseCertificatesReply(body, kApiV3Key);
  const ResponseVerifier knows_a = *ResponseVerifier::Create({{kSerialA, certs[0].key}});
  const ResponseVerifier none;

  EXPECT_EQ(*VerifyCertificatesReply(Reply(body, 'a', kT0), knows_a, certs, false, kT0),
            CertificatesReplyTrust::kKnownKey);
  // Signed by b, which we do not hold: refused unless bootstrapping.
  absl::StatusOr<CertificatesReplyTrust> by_b =
      VerifyCertificatesReply(Reply(body, 'b', kT0), knows_a, certs, false, kT0);
  EXPECT_EQ(by_b.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(by_b.status().message(), HasSubstr("bootstrap"));
  EXPECT_EQ(*VerifyCertificatesReply(Reply(body, 'b', kT0), none, certs, true, kT0),
            CertificatesReplyTrust::kSelfVerified);
  // A known serial is checked with our key even when self-verification is allowed.
  http::Response tampered = Reply(body, 'a', kT0);
  tampered.body += " ";
  EXPECT_FALSE(VerifyCertificatesReply(tampered, knows_a, certs, true, kT0).ok());
  // Self-verification needs the signer among the listed certificates, and still checks freshness.
  const std::vector<PlatformCertificate> only_a = {certs[0]};
  EXPECT_THAT(
      VerifyCertificatesReply(Reply(body, 'b', kT0), none, only_a, true, kT0).status().message(),
      HasSubstr("not among the listed"));
  EXPECT_FALSE(
      VerifyCertificatesReply(Reply(body, 'b', kT0 - absl::Minutes(6)), none, certs, true, kT0)
          .ok());
}

// ---- the store ----

// What the fake WeChat serves and who signs it; counts downloads.
struct FakeWechat {
  std::mutex mu;
  std::string body;
  char signer = 'a';
  absl::Status fail;  // non-OK: the fetch fails with it
  int fetches = 0;
  absl::Time* clock = nullptr;

  MerchantKeyStore::Fetcher Fetcher() {
    return [this](absl::Time, std::function<void(absl::StatusOr<http::Response>)> done) {
      std::unique_lock<std::mutex> lock(mu);
      ++fetches;
      if (!fail.ok()) {
        absl::Status f = fail;
        lock.unlock();
        return done(f);
      }
      http::Response r = Reply(body, signer, *clock);
      lock.unlock();
      done(std::move(r));
    };
  }
};

class KeyStoreTest : public ::testing::Test {
 protected:
  KeyStoreTest() { wechat_.clock = &now_; }

  MerchantKeyStore::Options Options(bool download, bool bootstrap) {
    MerchantKeyStore::Options o;
    o.merchant = "app";
    o.apiv3_key = kApiV3Key;
    if (download) o.fetcher = wechat_.Fetcher();
    o.allow_bootstrap = bootstrap;
    o.download_timeout = absl::Seconds(5);
    o.clock = [this] { return now_; };
    return o;
  }

  std::shared_ptr<MerchantKeyStore> Bootstrapping() {
    auto store = MerchantKeyStore::Create(Options(true, true), {}, {});
    EXPECT_TRUE(store.ok()) << store.status();
    return *store;
  }

  void Serve(const std::vector<Listed>& listed, char signer) {
    std::lock_guard<std::mutex> lock(wechat_.mu);
    wechat_.body = Body(listed);
    wechat_.signer = signer;
  }

  static std::vector<std::string> Serials(const MerchantKeyStore& s) {
    return s.Current()->Serials();
  }

  absl::Time now_ = kT0;
  FakeWechat wechat_;
};

TEST_F(KeyStoreTest, BootstrapsOnceBySelfVerificationThenNeedsAKnownKey) {
  auto store = Bootstrapping();
  EXPECT_TRUE(Serials(*store).empty());
  Serve({{'a', kT0 + absl::Hours(240)}}, 'a');
  ASSERT_TRUE(store->Refresh().ok());
  EXPECT_THAT(Serials(*store), ElementsAre(kSerialA));

  // Now a is held: a list signed by b (unknown) is refused and nothing changes.
  now_ += absl::Hours(1);
  Serve({{'a', kT0 + absl::Hours(240)}, {'b', kT0 + absl::Hours(480)}}, 'b');
  absl::Status refused = store->Refresh();
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(Serials(*store), ElementsAre(kSerialA));
  // The same list signed by a is taken.
  Serve({{'a', kT0 + absl::Hours(240)}, {'b', kT0 + absl::Hours(480)}}, 'a');
  ASSERT_TRUE(store->Refresh().ok());
  EXPECT_THAT(Serials(*store), UnorderedElementsAre(kSerialA, kSerialB));
  EXPECT_EQ(store->stats().downloads, 3);
  EXPECT_EQ(store->stats().failures, 1);
}

TEST_F(KeyStoreTest, WithAConfiguredKeyTheListNeverVouchesForItself) {
  const RsaKey a = *RsaKey::PublicFromCertificatePem(CertPem('a'));
  // allow_bootstrap is ignored while a key is configured.
  auto store = *MerchantKeyStore::Create(Options(true, true), {{kSerialA, a}}, {});
  Serve({{'b', kT0 + absl::Hours(480)}}, 'b');
  EXPECT_EQ(store->Refresh().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(Serials(*store), ElementsAre(kSerialA));
  Serve({{'b', kT0 + absl::Hours(480)}}, 'a');
  ASSERT_TRUE(store->Refresh().ok());
  EXPECT_THAT(Serials(*store), UnorderedElementsAre(kSerialA, kSerialB));
}

TEST_F(KeyStoreTest, RotationKeepsTheOldCertificateUntilItLeavesTheListAndExpires) {
  auto store = Bootstrapping();
  const absl::Time a_expires = kT0 + absl::Hours(48);
  Serve({{'a', a_expires}}, 'a');
  ASSERT_TRUE(store->Refresh().ok());
  // WeChat adds b; both are held.
  Serve({{'a', a_expires}, {'b', kT0 + absl::Hours(480)}}, 'a');
  ASSERT_TRUE(store->Refresh().ok());
  EXPECT_THAT(Serials(*store), UnorderedElementsAre(kSerialA, kSerialB));
  // a leaves the list (signed by b now, which we hold): a is kept until it expires.
  now_ += absl::Hours(12);
  Serve({{'b', kT0 + absl::Hours(480)}}, 'b');
  ASSERT_TRUE(store->Refresh().ok());
  EXPECT_THAT(Serials(*store), UnorderedElementsAre(kSerialA, kSerialB));
  EXPECT_EQ(store->NextExpiry(), a_expires);
  // A reader holding the old verifier keeps it across the swap.
  std::shared_ptr<const ResponseVerifier> before = store->Current();
  now_ = a_expires;
  store->PruneExpired();
  EXPECT_THAT(Serials(*store), ElementsAre(kSerialB));
  EXPECT_TRUE(before->HasSerial(kSerialA));
  std::vector<KeyExpiry> expiries = store->Expiries();
  ASSERT_EQ(expiries.size(), 1u);
  EXPECT_EQ(expiries[0].kind, kKindDownloadedCert);
  EXPECT_EQ(expiries[0].serial, kSerialB);
  EXPECT_EQ(expiries[0].expires, kT0 + absl::Hours(480));
}

TEST_F(KeyStoreTest, AnExpiredCertificateInTheListIsNotTaken) {
  auto store = Bootstrapping();
  Serve({{'a', kT0 + absl::Hours(240)}, {'b', kT0 - absl::Seconds(1)}}, 'a');
  ASSERT_TRUE(store->Refresh().ok());
  EXPECT_THAT(Serials(*store), ElementsAre(kSerialA));
}

TEST_F(KeyStoreTest, UnknownSerialRefreshesAtMostOncePerGap) {
  auto store = Bootstrapping();
  int woken = 0;
  store->SetWaker([&woken] { ++woken; });
  Serve({{'a', kT0 + absl::Hours(240)}}, 'a');
  EXPECT_EQ(store->NextRefreshAt(), absl::InfinitePast());  // start-up: at once
  ASSERT_TRUE(store->Refresh().ok());
  EXPECT_EQ(store->NextRefreshAt(), kT0 + absl::Hours(12));

  // A known serial asks nothing.
  EXPECT_FALSE(store->RequestRefresh(kSerialA));
  // Within the minute after the last download: refused, counted.
  now_ = kT0 + absl::Seconds(59);
  EXPECT_FALSE(store->RequestRefresh(kSerialB));
  EXPECT_EQ(store->stats().suppressed, 1);
  EXPECT_EQ(woken, 0);
  // A minute after: asked once, the refresher is woken, due at once.
  now_ = kT0 + absl::Seconds(60);
  EXPECT_TRUE(store->RequestRefresh(kSerialB));
  EXPECT_EQ(woken, 1);
  EXPECT_LE(store->NextRefreshAt(), now_);
  EXPECT_TRUE(store->RequestRefresh(kSerialB));  // still pending: no second wake-up
  EXPECT_EQ(woken, 1);
  Serve({{'a', kT0 + absl::Hours(240)}, {'b', kT0 + absl::Hours(480)}}, 'a');
  ASSERT_TRUE(store->Refresh().ok());
  EXPECT_THAT(Serials(*store), UnorderedElementsAre(kSerialA, kSerialB));
  // Another unknown serial right after that download: refused again.
  EXPECT_FALSE(store->RequestRefresh("PUB_KEY_ID_0000"));
  EXPECT_EQ(store->stats().requested, 1);
  EXPECT_EQ(wechat_.fetches, 2);
}

TEST_F(KeyStoreTest, AStoreThatDoesNotDownloadNeverAsks) {
  auto store = *MerchantKeyStore::Create(Options(false, false), {}, {});
  EXPECT_FALSE(store->RequestRefresh(kSerialB));
  EXPECT_EQ(store->NextRefreshAt(), absl::InfiniteFuture());
  EXPECT_EQ(store->Refresh().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(wechat_.fetches, 0);
}

TEST_F(KeyStoreTest, AFailedDownloadKeepsTheKeysAndIsRetriedAfterTheGap) {
  auto store = Bootstrapping();
  Serve({{'a', kT0 + absl::Hours(240)}}, 'a');
  ASSERT_TRUE(store->Refresh().ok());
  now_ += absl::Hours(12);
  wechat_.fail = absl::UnavailableError("WeChat 500");
  EXPECT_EQ(store->Refresh().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Serials(*store), ElementsAre(kSerialA));
  EXPECT_EQ(store->NextRefreshAt(), now_ + absl::Minutes(1));
  // Garbage signed by a known key is a failure too, not an empty list.
  wechat_.fail = absl::OkStatus();
  {
    std::lock_guard<std::mutex> lock(wechat_.mu);
    wechat_.body = R"({"data":"nope"})";
  }
  EXPECT_EQ(store->Refresh().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Serials(*store), ElementsAre(kSerialA));
}

TEST_F(KeyStoreTest, OneDownloadAtATime) {
  // The fetcher parks until released; a second Refresh meanwhile waits and shares the result.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> fetches{0};
  MerchantKeyStore::Options o = Options(false, true);
  Serve({{'a', kT0 + absl::Hours(240)}}, 'a');
  const std::string body = wechat_.body;
  o.fetcher = [&](absl::Time, std::function<void(absl::StatusOr<http::Response>)> done) {
    ++fetches;
    std::thread([&, done = std::move(done)] {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait_for(lock, std::chrono::seconds(5), [&] { return release; });
      }
      // Nothing of the test's frame is touched after this: Refresh returns once done runs.
      done(Reply(body, 'a', kT0));
    }).detach();
  };
  auto store = *MerchantKeyStore::Create(std::move(o), {}, {});
  absl::Status first, second;
  std::thread t1([&] { first = store->Refresh(); });
  // Wait (bounded) until the first download is in the fetcher.
  for (int i = 0; i < 500 && fetches.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(fetches.load(), 1);
  std::thread t2([&] { second = store->Refresh(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  t1.join();
  t2.join();
  EXPECT_TRUE(first.ok()) << first;
  EXPECT_TRUE(second.ok()) << second;
  EXPECT_EQ(fetches.load(), 1);
  EXPECT_EQ(store->stats().downloads, 1);
}

TEST_F(KeyStoreTest, ReadersNeverSeeAHalfSwappedVerifier) {
  // a is configured (always held); downloads alternate between listing b and listing nothing.
  // Readers verify an a-signed reply throughout: it must pass every time, and a b-signed one
  // must either pass or fail as "unknown", never crash or see a broken key map.
  const RsaKey a = *RsaKey::PublicFromCertificatePem(CertPem('a'));
  auto store = *MerchantKeyStore::Create(Options(true, false), {{kSerialA, a}}, {});
  const http::Response by_a = Reply("ping", 'a', kT0);
  const http::Response by_b = Reply("ping", 'b', kT0);
  std::atomic<bool> stop{false};
  std::atomic<int> a_failures{0}, b_other_failures{0}, b_passes{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        std::shared_ptr<const ResponseVerifier> v = store->Current();
        if (!v->Verify(by_a, kT0).ok()) ++a_failures;
        absl::Status b = v->Verify(by_b, kT0);
        if (b.ok()) {
          ++b_passes;
        } else if (!absl::StrContains(b.message(), "unknown")) {
          ++b_other_failures;
        }
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    if (i % 2 == 0) {
      Serve({{'b', kT0 + absl::Hours(480)}}, 'a');
    } else {
      Serve({}, 'a');
      now_ += absl::Seconds(1);
    }
    ASSERT_TRUE(store->Refresh().ok());
    // b stays held once downloaded (kept until it expires), so from here on it passes.
  }
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(a_failures.load(), 0);
  EXPECT_EQ(b_other_failures.load(), 0);
  EXPECT_GT(b_passes.load(), 0);
  EXPECT_THAT(Serials(*store), UnorderedElementsAre(kSerialA, kSerialB));
}

TEST_F(KeyStoreTest, RefresherRunsWhatIsDueByTheInjectedClock) {
  auto store = Bootstrapping();
  Serve({{'a', kT0 + absl::Hours(240)}}, 'a');
  CertificateRefresher refresher({store}, [this] { return now_; });
  EXPECT_EQ(refresher.RunDue(), kT0 + absl::Hours(12));
  EXPECT_EQ(wechat_.fetches, 1);
  now_ += absl::Hours(11);
  refresher.RunDue();
  EXPECT_EQ(wechat_.fetches, 1);
  now_ += absl::Hours(1);
  refresher.RunDue();
  EXPECT_EQ(wechat_.fetches, 2);
}

TEST_F(KeyStoreTest, MerchantReadsItsStoreAndReportsUnknownSerials) {
  auto store = Bootstrapping();
  MerchantConfig m;
  m.key_store = store;
  EXPECT_TRUE(m.ActiveVerifier()->Serials().empty());
  Serve({{'a', kT0 + absl::Hours(240)}}, 'a');
  ASSERT_TRUE(store->Refresh().ok());
  EXPECT_THAT(m.ActiveVerifier()->Serials(), ElementsAre(kSerialA));
  // Copies share the store.
  MerchantConfig copy = m;
  EXPECT_THAT(copy.ActiveVerifier()->Serials(), ElementsAre(kSerialA));
  now_ += absl::Minutes(2);
  copy.ReportUnknownSerial(*copy.ActiveVerifier(), kSerialB);
  EXPECT_EQ(store->stats().requested, 1);
  // Without a store, the configured verifier.
  MerchantConfig plain;
  plain.verifier = *ResponseVerifier::Create(
      {{kPubKeyId, *RsaKey::PublicFromPem(ReadFileOrDie(TestDataPath("wechatpay_pub.pem")))}});
  EXPECT_THAT(plain.ActiveVerifier()->Serials(), ElementsAre(kPubKeyId));
}

TEST_F(KeyStoreTest, ANotificationFromANewCertificateAsksForADownloadThenVerifies) {
  auto store = Bootstrapping();
  Serve({{'a', kT0 + absl::Hours(240)}}, 'a');
  ASSERT_TRUE(store->Refresh().ok());
  MerchantConfig m;
  m.name = "app";
  m.apiv3_key = kApiV3Key;
  m.key_store = store;
  const std::string body = R"({"id":"EV-1"})";  // not read: verification comes first
  const std::string ts = std::to_string(absl::ToUnixSeconds(kT0 + absl::Minutes(2)));
  const std::string sig = *SignResponse(PrivateOf('b'), ts, "n", body);
  now_ = kT0 + absl::Minutes(2);
  absl::StatusOr<Notification> n = ParseNotification(m, ts, "n", sig, kSerialB, body, now_);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(store->stats().requested, 1);
  // After the download b is known: the same bytes now pass verification (and fail later, on
  // the envelope, which is not a real notification).
  Serve({{'a', kT0 + absl::Hours(240)}, {'b', kT0 + absl::Hours(480)}}, 'a');
  ASSERT_TRUE(store->Refresh().ok());
  n = ParseNotification(m, ts, "n", sig, kSerialB, body, now_);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument) << n.status();
}

TEST_F(KeyStoreTest, ExpiriesListConfiguredKeysAndSayPublicKeysNeverExpire) {
  std::vector<KeyExpiry> configured = {
      {"app", std::string(kKindPublicKey), kPubKeyId, std::nullopt},
      {"app", std::string(kKindPlatformCert), kSerialA, kT0 + absl::Hours(100)}};
  auto store = *MerchantKeyStore::Create(Options(false, false), {}, configured);
  std::vector<KeyExpiry> e = store->Expiries();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_FALSE(e[0].expires.has_value());
  EXPECT_EQ(e[1].expires, kT0 + absl::Hours(100));
  EXPECT_DOUBLE_EQ(DaysLeft(kT0 + absl::Hours(36), kT0), 1.5);
}

// One exposition line of the gauge for merchant "app".
std::string GaugeLine(const std::string& kind, const std::string& value) {
  return absl::StrCat("orderquery_cert_expiry_days{merchant=\"app\",kind=\"", kind, "\"} ", value,
                      "\n");
}

TEST_F(KeyStoreTest, ExpiryGaugeReportsTheLastKeyOfEachKindAndNoPublicKeys) {
  auto configured = *MerchantKeyStore::Create(
      Options(false, false), {},
      {{"app", std::string(kKindPublicKey), kPubKeyId, std::nullopt},
       {"app", std::string(kKindMerchantCert), "M1", kT0 + absl::Hours(24 * 10)},
       {"app", std::string(kKindPlatformCert), kSerialA, kT0 + absl::Hours(24 * 2)},
       {"app", std::string(kKindPlatformCert), kSerialB, kT0 + absl::Hours(24 * 30)}});
  auto downloading = Bootstrapping();  // merchant "app" too: another store, same labels merge
  Serve({{'a', kT0 + absl::Hours(24 * 3)}, {'b', kT0 + absl::Hours(24 * 5)}}, 'a');
  ASSERT_TRUE(downloading->Refresh().ok());

  metrics::Registry registry;
  RegisterExpiryGauge(&registry, {configured, downloading}, [this] { return now_; });
  const std::string text = registry.Expose();
  EXPECT_THAT(text, HasSubstr("# TYPE orderquery_cert_expiry_days gauge"));
  EXPECT_THAT(text, HasSubstr(GaugeLine("merchant_cert", "10")));
  EXPECT_THAT(text, HasSubstr(GaugeLine("platform_cert", "30")));
  EXPECT_THAT(text, HasSubstr(GaugeLine("downloaded_cert", "5")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("public_key")));
  // Read at scrape time: a later scrape sees the clock and the store as they are then.
  now_ += absl::Hours(24);
  EXPECT_THAT(registry.Expose(), HasSubstr(GaugeLine("downloaded_cert", "4")));
}

TEST_F(KeyStoreTest, DownloadingNeedsTheApiV3Key) {
  MerchantKeyStore::Options o = Options(true, true);
  o.apiv3_key = "";
  EXPECT_EQ(MerchantKeyStore::Create(std::move(o), {}, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace orderquery::payment::wechat
