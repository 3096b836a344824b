// Platform certificates against the payment sandbox over loopback: the key store downloads
// GET /v3/certificates through HttpWechatPayClient and the real transport at start, follows a
// rotation (a new serial appears, replies signed with it are accepted after the refresh an
// unknown serial asks for; the old one goes once it has left the list and expired), and a
// public-key merchant downloads nothing. The key store's clock is injected and moved by at most
// a few minutes (inside the ±5 min reply window), so nothing sleeps through an interval.
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/payment/http/transport_stack.h"
#include "server/payment/wechat/client.h"
#include "server/payment/wechat/key_store.h"
#include "tests/fakes/sandbox_process.h"
#include "tests/integration/http/test_util.h"

namespace orderquery::payment::wechat {
namespace {

using ::nlohmann::json;
using ::orderquery::fakes::SandboxProcess;
using ::orderquery::fakes::TestKeys;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kMchid[] = "1230000109";
constexpr char kAppid[] = "wxd678efh567hg6787";

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S+08:00", t, absl::FixedTimeZone(8 * 3600));
}

class CertificatesSandboxTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(http::testutil::TempDir("wechat-certs"));
    absl::StatusOr<TestKeys> keys = fakes::MakeTestKeys(*dir_);
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = new TestKeys(*keys);
    // Replies are signed as PUB_KEY_ID_… by default; certificate 1 is of the same platform key,
    // certificate 2 of a second key (the rotation's new one).
    SandboxProcess::Options o = SandboxProcess::Options::FromKeys(*keys_);
    o.platform_certs = {keys_->platform_cert,
                        keys_->platform2_cert + "," + keys_->platform2_private_key};
    absl::StatusOr<std::unique_ptr<SandboxProcess>> s = SandboxProcess::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    sandbox_ = s->release();
  }

  static void TearDownTestSuite() {
    delete sandbox_;
    sandbox_ = nullptr;
    if (dir_ != nullptr) http::testutil::RemoveTree(*dir_);
    delete dir_;
    delete keys_;
  }

  void SetUp() override {
    ASSERT_NE(sandbox_, nullptr);
    ASSERT_TRUE(sandbox_->Reset().ok());
    t0_ = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
    now_ = t0_;
    http::TransportOptions options;
    options.retry.initial_backoff = absl::Milliseconds(10);
    absl::StatusOr<std::unique_ptr<http::TransportStack>> t = http::TransportStack::Create(options);
    ASSERT_TRUE(t.ok()) << t.status();
    transport_ = *std::move(t);
    client_ = std::make_unique<HttpWechatPayClient>(transport_.get());
    ASSERT_TRUE(sandbox_
                    ->UpsertOrder({{"out_trade_no", "CERT1"},
                                   {"kind", "direct"},
                                   {"mchid", kMchid},
                                   {"appid", kAppid},
                                   {"trade_state", "SUCCESS"}})
                    .ok());
  }

  void TearDown() override {
    // The sandbox outlives the test: back to the defaults the next test expects.
    (void)sandbox_->SetCertificates({{"listed", {S1(), S2()}},
                                     {"sign_with", keys_->platform_serial},
                                     {"sign_list_with", keys_->platform_serial}});
  }

  static std::string S1() { return keys_->platform_cert_serial; }
  static std::string S2() { return keys_->platform2_cert_serial; }

  // A merchant as orderqueryd wires it: keys from files, then its key store.
  MerchantConfig Merchant(bool download, bool public_key) {
    MerchantConfig m;
    m.name = "app";
    m.appids = {kAppid};
    m.mode = ApiMode::kDirect;
    m.mchid = kMchid;
    m.serial_no = keys_->merchant_serial;
    m.base_url = sandbox_->base_url();
    m.download_certificates = download;
    MerchantKeySources sources;
    sources.private_key = keys_->merchant_private_key;
    if (public_key) {
      sources.public_key_id = keys_->platform_serial;
      sources.public_key = keys_->platform_public_key;
    }
    sources.apiv3_key = keys_->dir + "/apiv3_key.txt";
    absl::StatusOr<MerchantConfig> loaded = LoadMerchantKeys(m, sources);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    if (!loaded.ok()) return m;
    KeyStoreSettings settings;
    settings.download_timeout = absl::Seconds(10);
    settings.clock = [this] {
      absl::MutexLock lock(&mu_);
      return now_;
    };
    absl::Status attached = AttachKeyStore(*loaded, client_.get(), settings);
    EXPECT_TRUE(attached.ok()) << attached;
    return *loaded;
  }

  void SetClock(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

  absl::StatusOr<Transaction> Query(const MerchantConfig& m) {
    auto done = std::make_shared<std::promise<absl::StatusOr<Transaction>>>();
    auto result = done->get_future();
    client_->QueryOrder(m, "CERT1", absl::Now() + absl::Seconds(10),
                        [done](absl::StatusOr<Transaction> t) { done->set_value(std::move(t)); });
    return result.get();
  }

  static int64_t Downloads() {
    absl::StatusOr<json> state = sandbox_->Certificates();
    EXPECT_TRUE(state.ok()) << state.status();
    return state.ok() ? state->value("downloads", int64_t{-1}) : -1;
  }

  static std::string* dir_;
  static TestKeys* keys_;
  static SandboxProcess* sandbox_;
  absl::Mutex mu_;
  absl::Time t0_;
  absl::Time now_;
  std::unique_ptr<http::TransportStack> transport_;
  std::unique_ptr<HttpWechatPayClient> client_;
};

std::string* CertificatesSandboxTest::dir_ = nullptr;
TestKeys* CertificatesSandboxTest::keys_ = nullptr;
SandboxProcess* CertificatesSandboxTest::sandbox_ = nullptr;

TEST_F(CertificatesSandboxTest, DownloadsAtStartAndVerifiesRepliesWithTheDownloadedCertificate) {
  ASSERT_TRUE(
      sandbox_->SetCertificates({{"listed", {S1()}}, {"sign_with", S1()}, {"sign_list_with", S1()}})
          .ok());
  MerchantConfig m = Merchant(/*download=*/true, /*public_key=*/false);
  ASSERT_TRUE(m.key_store);
  // Nothing configured, nothing downloaded yet: the reply cannot be verified.
  absl::StatusOr<Transaction> before = Query(m);
  EXPECT_EQ(before.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(before.status().message(), HasSubstr("unknown"));

  const int64_t downloads = Downloads();
  CertificateRefresher refresher({m.key_store}, [this] {
    absl::MutexLock lock(&mu_);
    return now_;
  });
  refresher.RunDue();  // what App::Create does at start-up
  EXPECT_EQ(Downloads(), downloads + 1);
  EXPECT_THAT(m.ActiveVerifier()->Serials(), ElementsAre(S1()));

  absl::StatusOr<Transaction> after = Query(m);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->trade_state, TradeState::kSuccess);
  // The certificate's expiry is reported.
  std::vector<KeyExpiry> expiries = m.key_store->Expiries();
  ASSERT_EQ(expiries.size(), 1u);
  EXPECT_EQ(expiries[0].kind, kKindDownloadedCert);
  EXPECT_EQ(expiries[0].serial, S1());
  EXPECT_GT(*expiries[0].expires, absl::Now() + absl::Hours(24 * 29));
}

TEST_F(CertificatesSandboxTest,
       RotationNewSerialAcceptedAfterRefreshOldGoesWhenUnlistedAndExpired) {
  const absl::Time s1_expires = t0_ + absl::Seconds(180);
  ASSERT_TRUE(sandbox_
                  ->SetCertificates({{"listed", {S1()}},
                                     {"sign_with", S1()},
                                     {"sign_list_with", S1()},
                                     {"expire_time", {{S1(), Rfc3339(s1_expires)}}}})
                  .ok());
  MerchantConfig m = Merchant(true, false);
  CertificateRefresher refresher({m.key_store}, [this] {
    absl::MutexLock lock(&mu_);
    return now_;
  });
  refresher.RunDue();
  ASSERT_THAT(m.ActiveVerifier()->Serials(), ElementsAre(S1()));
  ASSERT_TRUE(Query(m).ok());

  // WeChat brings in certificate 2 and signs with it; the list is still signed with 1.
  ASSERT_TRUE(sandbox_->SetCertificates({{"listed", {S1(), S2()}}, {"sign_with", S2()}}).ok());
  const int64_t downloads = Downloads();
  // Within a minute of the start-up download the unknown serial asks for nothing.
  EXPECT_EQ(Query(m).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(m.key_store->stats().suppressed, 1);
  EXPECT_EQ(m.key_store->stats().requested, 0);
  refresher.RunDue();
  EXPECT_EQ(Downloads(), downloads);
  // A minute later it does, and the refresher downloads once.
  SetClock(t0_ + absl::Seconds(61));
  EXPECT_EQ(Query(m).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(m.key_store->stats().requested, 1);
  refresher.RunDue();
  EXPECT_EQ(Downloads(), downloads + 1);
  EXPECT_THAT(m.ActiveVerifier()->Serials(), UnorderedElementsAre(S1(), S2()));
  absl::StatusOr<Transaction> with_new = Query(m);
  ASSERT_TRUE(with_new.ok()) << with_new.status();

  // Certificate 1 leaves the list (signed with 2 now) but has not expired: still accepted.
  ASSERT_TRUE(
      sandbox_->SetCertificates({{"listed", {S2()}}, {"sign_list_with", S2()}, {"sign_with", S1()}})
          .ok());
  SetClock(t0_ + absl::Seconds(125));
  ASSERT_TRUE(m.key_store->Refresh().ok());
  EXPECT_THAT(m.ActiveVerifier()->Serials(), UnorderedElementsAre(S1(), S2()));
  EXPECT_TRUE(Query(m).ok());
  // Once it has expired it is dropped, and replies signed with it are refused.
  SetClock(s1_expires);
  refresher.RunDue();
  EXPECT_THAT(m.ActiveVerifier()->Serials(), ElementsAre(S2()));
  absl::StatusOr<Transaction> with_old = Query(m);
  EXPECT_EQ(with_old.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(with_old.status().message(), HasSubstr(S1()));
  // And the new one still is.
  ASSERT_TRUE(sandbox_->SetCertificates({{"sign_with", S2()}}).ok());
  EXPECT_TRUE(Query(m).ok());
}

TEST_F(CertificatesSandboxTest, PublicKeyMerchantDownloadsNothingOrAnEmptyListWhenAsked) {
  // Public-key mode, no download: the refresher never calls WeChat.
  MerchantConfig quiet = Merchant(false, true);
  const int64_t downloads = Downloads();
  CertificateRefresher refresher({quiet.key_store});
  EXPECT_EQ(refresher.RunDue(), absl::InfiniteFuture());
  EXPECT_EQ(Downloads(), downloads);
  EXPECT_TRUE(Query(quiet).ok());
  std::vector<KeyExpiry> expiries = quiet.key_store->Expiries();
  ASSERT_EQ(expiries.size(), 1u);
  EXPECT_EQ(expiries[0].kind, kKindPublicKey);
  EXPECT_FALSE(expiries[0].expires.has_value());

  // With download on, an empty list signed with the public key is a normal answer.
  ASSERT_TRUE(sandbox_->SetCertificates({{"listed", json::array()}}).ok());
  MerchantConfig asking = Merchant(true, true);
  absl::Status refreshed = asking.key_store->Refresh();
  EXPECT_TRUE(refreshed.ok()) << refreshed;
  EXPECT_EQ(Downloads(), downloads + 1);
  EXPECT_THAT(asking.ActiveVerifier()->Serials(), ElementsAre(keys_->platform_serial));
  EXPECT_TRUE(Query(asking).ok());
}

TEST_F(CertificatesSandboxTest, AListSignedByAnUnknownKeyIsRefusedOnceAKeyIsHeld) {
  // Public key held; the list is signed by certificate 2, which nothing vouches for.
  ASSERT_TRUE(sandbox_->SetCertificates({{"listed", {S2()}}, {"sign_list_with", S2()}}).ok());
  MerchantConfig m = Merchant(true, true);
  absl::Status refused = m.key_store->Refresh();
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(refused.message(), HasSubstr("bootstrap"));
  EXPECT_THAT(m.ActiveVerifier()->Serials(), ElementsAre(keys_->platform_serial));
}

}  // namespace
}  // namespace orderquery::payment::wechat
