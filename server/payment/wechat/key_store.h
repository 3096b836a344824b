// One merchant's WeChat keys over time: the configured ones (public key, platform certificate
// files) and the platform certificates downloaded from GET /v3/certificates, published as an
// immutable ResponseVerifier that is swapped whole when the set changes.
//
// Ownership and threads: App creates one MerchantKeyStore per WeChat merchant and hangs it on
// the MerchantConfig (merchant.key_store, a shared_ptr, so every copy of the config reads the
// same store). The client (when a reply arrives) and the notification parser call Current(): it
// copies a shared_ptr<const ResponseVerifier> under a short mutex, so a reader keeps the
// verifier it got even while a refresh swaps in the next one, and never sees a half-built key
// map. Downloads run on the CertificateRefresher's one thread (and once at start-up), never on a
// transport or gRPC thread: RequestRefresh only marks the store and wakes that thread.
//
// What is trusted (a design decision; this comment is its reference):
//  - configured keys, always (until the operator removes them);
//  - downloaded certificates while they are not expired (the earlier of the reply's expire_time
//    and the certificate's notAfter); one that leaves WeChat's list stays until it expires, so
//    an overlap is never cut short by a list that is briefly behind;
//  - a certificates reply only when its signature verifies with a key we already hold; the one
//    exception is bootstrap: a merchant with no configured key (allow_bootstrap) accepts its
//    first list signed by a certificate in that same list (the list is authenticated by the
//    APIv3 key's AEAD tag; WeChat's SDKs do the same), logged at warning.
// When downloads happen: at start-up (App::Create, bounded by the upstream timeouts; a failure
// is logged and the merchant starts with what it has), every refresh_interval (12 h), and when a
// reply or notification names a serial we do not hold, at most once per min_refresh_gap (1 min)
// after the last download started. A failed download is retried after min_refresh_gap. A
// public-key merchant without download_certificates never downloads.
#ifndef ORDERQUERY_SERVER_PAYMENT_WECHAT_KEY_STORE_H_
#define ORDERQUERY_SERVER_PAYMENT_WECHAT_KEY_STORE_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/common/metrics.h"
#include "server/payment/http/transport.h"
#include "server/payment/wechat/certificates.h"
#include "server/payment/wechat/verifier.h"

namespace orderquery::payment::wechat {

// Kinds of key material, as the orderquery_cert_expiry_days gauge's `kind` label names them.
inline constexpr absl::string_view kKindMerchantCert = "merchant_cert";
inline constexpr absl::string_view kKindPlatformCert = "platform_cert";      // configured file
inline constexpr absl::string_view kKindDownloadedCert = "downloaded_cert";  // GET /v3/certificates
inline constexpr absl::string_view kKindPublicKey = "public_key";            // never expires

struct KeyExpiry {
  std::string merchant;
  std::string kind;  // one of the kKind* above
  std::string serial;
  std::optional<absl::Time> expires;  // nullopt: no expiry (a WeChat Pay public key has none)
};

// Days from `now` to `expires` (negative once expired), for logs and the gauge.
double DaysLeft(absl::Time expires, absl::Time now);

class MerchantKeyStore {
 public:
  using Clock = std::function<absl::Time()>;
  // Sends the signed GET /v3/certificates and calls `done` once with a 2xx reply (unverified:
  // the store checks it) or an error status. May call `done` on any thread.
  using Fetcher = std::function<void(absl::Time deadline,
                                     std::function<void(absl::StatusOr<http::Response>)> done)>;

  struct Options {
    std::string merchant;   // name, for logs and expiries
    std::string apiv3_key;  // decrypts downloaded certificates (secret)
    Fetcher fetcher;        // empty: this merchant does not download
    // The first list may vouch for itself (only while no key at all is held).
    bool allow_bootstrap = false;
    absl::Duration refresh_interval = absl::Hours(12);
    // Downloads asked for by an unknown serial start at most this often (any download counts).
    absl::Duration min_refresh_gap = absl::Minutes(1);
    absl::Duration download_timeout = absl::Seconds(30);
    Clock clock;  // absl::Now when empty
  };

  // `configured`: keys from the configuration, kept for good; `configured_expiries` describes
  // them (and the merchant API certificate) for Expiries(). INVALID_ARGUMENT for duplicate
  // serials; FAILED_PRECONDITION when downloading without a 32-byte APIv3 key.
  static absl::StatusOr<std::shared_ptr<MerchantKeyStore>> Create(
      Options options, std::vector<VerifierKey> configured,
      std::vector<KeyExpiry> configured_expiries);

  MerchantKeyStore(const MerchantKeyStore&) = delete;
  MerchantKeyStore& operator=(const MerchantKeyStore&) = delete;

  const std::string& merchant() const { return options_.merchant; }
  bool downloads() const { return static_cast<bool>(options_.fetcher); }

  // The verifier to check a reply or notification with now. Never null.
  std::shared_ptr<const ResponseVerifier> Current() const;

  // A reply or notification was signed with `serial`, which the verifier it was checked with
  // did not know. Asks the refresher for a download when this store downloads, the serial is
  // still unknown, and the last download started at least min_refresh_gap ago. Never blocks
  // (safe on transport threads). True when a download was asked for.
  bool RequestRefresh(absl::string_view serial);

  // Downloads, checks and swaps in the certificates now, waiting up to download_timeout. One
  // download at a time: a caller that finds one in progress waits for it and gets its result.
  // On failure the keys stay as they were. FAILED_PRECONDITION when this store does not download.
  absl::Status Refresh();

  // When Refresh() is next due (start-up: at once; after a success: refresh_interval later;
  // after a failure or when asked: min_refresh_gap after the last start), or InfiniteFuture
  // when this store does not download.
  absl::Time NextRefreshAt() const;
  // The earliest expiry of a downloaded certificate (InfiniteFuture: none).
  absl::Time NextExpiry() const;
  // Drops downloaded certificates that have expired; swaps the verifier when one went.
  void PruneExpired();

  // Every configured key and every downloaded certificate held now, with its expiry.
  std::vector<KeyExpiry> Expiries() const;

  // Called (under this store's lock, so it must only signal) when RequestRefresh asks for a
  // download. Cleared with an empty function before the refresher goes.
  void SetWaker(std::function<void()> waker);

  // Counters for tests, logs and metrics.
  struct Stats {
    int64_t downloads = 0;   // Refresh() attempts that fetched
    int64_t failures = 0;    // of those, failed
    int64_t requested = 0;   // RequestRefresh calls that asked
    int64_t suppressed = 0;  // RequestRefresh calls refused by the rate limit
  };
  Stats stats() const;

 private:
  MerchantKeyStore(Options options, std::vector<VerifierKey> configured,
                   std::vector<KeyExpiry> configured_expiries);
  absl::Time Now() const { return options_.clock ? options_.clock() : absl::Now(); }
  absl::Status DoRefresh();
  // Rebuilds the verifier from configured_ + downloaded_ (mu_ held).
  absl::Status RebuildLocked();

  const Options options_;
  const std::vector<VerifierKey> configured_;
  const std::vector<KeyExpiry> configured_expiries_;

  mutable std::mutex mu_;
  std::shared_ptr<const ResponseVerifier> current_;        // guarded by mu_
  std::map<std::string, PlatformCertificate> downloaded_;  // guarded by mu_
  std::optional<absl::Time> last_attempt_;                 // guarded by mu_
  std::optional<absl::Time> last_success_;                 // guarded by mu_
  bool last_failed_ = false;                               // guarded by mu_
  bool requested_ = false;                                 // guarded by mu_
  Stats stats_;                                            // guarded by mu_
  std::function<void()> waker_;                            // guarded by mu_

  // Held for the whole of a download: one at a time.
  std::mutex download_mu_;
  absl::Status last_result_ = absl::OkStatus();  // guarded by download_mu_
};

// Runs the downloads of many stores on one thread: each store when its NextRefreshAt() comes
// (or at once when RequestRefresh asks), and drops expired certificates.
class CertificateRefresher {
 public:
  using Clock = std::function<absl::Time()>;
  explicit CertificateRefresher(std::vector<std::shared_ptr<MerchantKeyStore>> stores,
                                Clock clock = nullptr);
  ~CertificateRefresher();  // Stop()

  // Starts the thread. The stores' first downloads are normally done before (RunDue at
  // start-up), so the thread waits for the next due time.
  void Start();
  // Wakes the thread, waits for a download in progress (at most its download_timeout), joins.
  // Idempotent.
  void Stop();

  // One pass on the calling thread: refreshes every store that is due, prunes expired
  // certificates. Returns the earliest next due time or expiry. Tests call it with a fake clock.
  absl::Time RunDue();

 private:
  absl::Time Now() const { return clock_ ? clock_() : absl::Now(); }
  void Loop();

  const std::vector<std::shared_ptr<MerchantKeyStore>> stores_;
  const Clock clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;   // guarded by mu_
  bool woken_ = false;  // guarded by mu_
  std::thread thread_;
};

// The samples of orderquery_cert_expiry_days{merchant,kind}: per merchant and kind, the days
// until the *last* key of that kind held expires (during a rotation the old certificate's
// nearing expiry is no alarm while the new one is held); negative once all have expired. Keys
// without an expiry (WeChat Pay public keys) give no sample: they never expire.
std::vector<metrics::Sample> ExpirySamples(
    const std::vector<std::shared_ptr<MerchantKeyStore>>& stores, absl::Time now);

// Registers orderquery_cert_expiry_days as a callback gauge that reads `stores` at scrape time
// (the stores are kept alive by the callback). Nothing when `registry` is null.
void RegisterExpiryGauge(metrics::Registry* registry,
                         std::vector<std::shared_ptr<MerchantKeyStore>> stores,
                         std::function<absl::Time()> clock = nullptr);

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_KEY_STORE_H_
