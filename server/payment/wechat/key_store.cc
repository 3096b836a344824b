#include "server/payment/wechat/key_store.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/await.h"
#include "server/common/log.h"
#include "server/payment/wechat/signer.h"
#include "server/payment/wechat/text.h"

namespace orderquery::payment::wechat {

double DaysLeft(absl::Time expires, absl::Time now) {
  return absl::ToDoubleHours(expires - now) / 24.0;
}

absl::StatusOr<std::shared_ptr<MerchantKeyStore>> MerchantKeyStore::Create(
    Options options, std::vector<VerifierKey> configured,
    std::vector<KeyExpiry> configured_expiries) {
  if (options.fetcher && options.apiv3_key.size() != 32) {
    return absl::FailedPreconditionError(
        absl::StrCat("merchant \"", options.merchant,
                     "\": downloading platform certificates needs the APIv3 key (32 bytes)"));
  }
  if (options.min_refresh_gap <= absl::ZeroDuration() ||
      options.refresh_interval < options.min_refresh_gap) {
    return absl::InvalidArgumentError("refresh interval must be >= the minimum gap, both > 0");
  }
  std::shared_ptr<MerchantKeyStore> store(new MerchantKeyStore(
      std::move(options), std::move(configured), std::move(configured_expiries)));
  std::lock_guard<std::mutex> lock(store->mu_);
  if (absl::Status s = store->RebuildLocked(); !s.ok()) return s;
  return store;
}

MerchantKeyStore::MerchantKeyStore(Options options, std::vector<VerifierKey> configured,
                                   std::vector<KeyExpiry> configured_expiries)
    : options_(std::move(options)),
      configured_(std::move(configured)),
      configured_expiries_(std::move(configured_expiries)),
      current_(std::make_shared<const ResponseVerifier>()) {}

std::shared_ptr<const ResponseVerifier> MerchantKeyStore::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

absl::Status MerchantKeyStore::RebuildLocked() {
  std::vector<VerifierKey> keys = configured_;
  std::set<std::string> have;
  for (const VerifierKey& k : keys) have.insert(k.serial);
  for (const auto& [serial, cert] : downloaded_) {
    // A certificate also configured as a file is already there.
    if (have.insert(serial).second) keys.push_back(VerifierKey{serial, cert.key});
  }
  absl::StatusOr<ResponseVerifier> v = ResponseVerifier::Create(std::move(keys));
  if (!v.ok()) return v.status();
  current_ = std::make_shared<const ResponseVerifier>(*std::move(v));
  return absl::OkStatus();
}

bool MerchantKeyStore::RequestRefresh(absl::string_view serial) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!options_.fetcher || current_->HasSerial(serial)) return false;
  if (requested_) return true;  // already asked, not yet started
  const absl::Time now = Now();
  if (last_attempt_.has_value() && now - *last_attempt_ < options_.min_refresh_gap) {
    ++stats_.suppressed;
    return false;
  }
  requested_ = true;
  ++stats_.requested;
  log::Info("wechat_certificates_refresh_requested",
            {{"merchant", options_.merchant}, {"unknown_serial", internal::Printable(serial)}});
  if (waker_) waker_();
  return true;
}

void MerchantKeyStore::SetWaker(std::function<void()> waker) {
  std::lock_guard<std::mutex> lock(mu_);
  waker_ = std::move(waker);
}

absl::Time MerchantKeyStore::NextRefreshAt() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!options_.fetcher) return absl::InfiniteFuture();
  if (!last_attempt_.has_value()) return absl::InfinitePast();
  if (requested_ || last_failed_ || !last_success_.has_value()) {
    return *last_attempt_ + options_.min_refresh_gap;
  }
  return *last_success_ + options_.refresh_interval;
}

absl::Time MerchantKeyStore::NextExpiry() const {
  std::lock_guard<std::mutex> lock(mu_);
  absl::Time next = absl::InfiniteFuture();
  for (const auto& [serial, cert] : downloaded_) next = std::min(next, cert.expire_time);
  return next;
}

void MerchantKeyStore::PruneExpired() {
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = Now();
  std::vector<std::string> gone;
  for (auto it = downloaded_.begin(); it != downloaded_.end();) {
    if (it->second.expire_time <= now) {
      gone.push_back(it->first);
      it = downloaded_.erase(it);
    } else {
      ++it;
    }
  }
  if (gone.empty()) return;
  log::Info("wechat_certificates_expired",
            {{"merchant", options_.merchant}, {"serials", absl::StrJoin(gone, ",")}});
  if (absl::Status s = RebuildLocked(); !s.ok()) {
    log::Error("wechat_key_store_rebuild_failed",
               {{"merchant", options_.merchant}, {"error", s.ToString()}});
  }
}

MerchantKeyStore::Stats MerchantKeyStore::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::vector<KeyExpiry> MerchantKeyStore::Expiries() const {
  std::vector<KeyExpiry> out = configured_expiries_;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [serial, cert] : downloaded_) {
    out.push_back(
        KeyExpiry{options_.merchant, std::string(kKindDownloadedCert), serial, cert.expire_time});
  }
  return out;
}

absl::Status MerchantKeyStore::Refresh() {
  std::unique_lock<std::mutex> download(download_mu_, std::try_to_lock);
  if (!download.owns_lock()) {
    // Someone is downloading: their answer is ours too.
    std::lock_guard<std::mutex> wait(download_mu_);
    return last_result_;
  }
  last_result_ = DoRefresh();
  return last_result_;
}

absl::Status MerchantKeyStore::DoRefresh() {
  if (!options_.fetcher) {
    return absl::FailedPreconditionError(absl::StrCat(
        "merchant \"", options_.merchant, "\" does not download platform certificates"));
  }
  const absl::Time started = Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_attempt_ = started;
    requested_ = false;
    ++stats_.downloads;
  }
  auto fail = [this](absl::Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    last_failed_ = true;
    ++stats_.failures;
    log::Error("wechat_certificates_download_failed",
               {{"merchant", options_.merchant}, {"error", s.ToString()}});
    return s;
  };

  // The transport calls back on its own thread; the fetcher's deadline ends the download.
  using Reply = absl::StatusOr<http::Response>;
  const absl::Time deadline = absl::Now() + options_.download_timeout;
  Reply reply = AwaitCallback<Reply>(
      [&](std::function<void(Reply)> done) { options_.fetcher(deadline, std::move(done)); },
      options_.download_timeout + absl::Seconds(5), "certificates download");
  if (!reply.ok()) return fail(reply.status());

  const absl::Time now = Now();
  std::shared_ptr<const ResponseVerifier> known = Current();
  bool bootstrap = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    bootstrap = options_.allow_bootstrap && configured_.empty() && downloaded_.empty();
  }
  int count = 0;
  const std::string* serial = internal::FindHeader(reply->headers, kSerialHeader, &count);
  const bool known_serial = serial != nullptr && known->HasSerial(*serial);
  std::vector<PlatformCertificate> certs;
  absl::StatusOr<CertificatesReplyTrust> trust = CertificatesReplyTrust::kKnownKey;
  if (!bootstrap || known_serial) {
    // Our own keys decide before anything reads the body.
    trust = VerifyCertificatesReply(*reply, *known, {}, false, now);
    if (!trust.ok()) return fail(trust.status());
  }
  absl::StatusOr<std::vector<PlatformCertificate>> parsed =
      ParseCertificatesReply(reply->body, options_.apiv3_key);
  if (!parsed.ok()) return fail(parsed.status());
  certs = *std::move(parsed);
  if (bootstrap && !known_serial) {
    trust = VerifyCertificatesReply(*reply, *known, certs, true, now);
    if (!trust.ok()) return fail(trust.status());
    log::Warn("wechat_certificates_self_verified",
              {{"merchant", options_.merchant},
               {"serial", internal::Printable(*serial)},
               {"why",
                "no configured key: the first list vouches for itself (APIv3-key "
                "authenticated); configure a platform certificate or public key to avoid"}});
  }

  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> added, expired_listed, kept_unlisted;
  std::map<std::string, PlatformCertificate> next;
  for (PlatformCertificate& c : certs) {
    if (c.expire_time <= now) {
      expired_listed.push_back(c.serial);
      continue;
    }
    if (downloaded_.count(c.serial) == 0) added.push_back(c.serial);
    std::string serial_no = c.serial;
    next.emplace(std::move(serial_no), std::move(c));
  }
  // Off the list but not expired: kept until it expires (rotation overlaps).
  for (auto& [s, c] : downloaded_) {
    if (next.count(s) == 0 && c.expire_time > now) {
      kept_unlisted.push_back(s);
      next.emplace(s, c);
    }
  }
  downloaded_ = std::move(next);
  if (absl::Status s = RebuildLocked(); !s.ok()) {
    last_failed_ = true;
    ++stats_.failures;
    return s;
  }
  last_failed_ = false;
  last_success_ = started;
  log::Info(
      "wechat_certificates_downloaded",
      {{"merchant", options_.merchant},
       {"listed", static_cast<int>(certs.size() + expired_listed.size())},
       {"held", static_cast<int>(downloaded_.size())},
       {"added", absl::StrJoin(added, ",")},
       {"expired_listed", absl::StrJoin(expired_listed, ",")},
       {"kept_unlisted", absl::StrJoin(kept_unlisted, ",")},
       {"verified_by", *trust == CertificatesReplyTrust::kSelfVerified ? "self" : "known_key"}});
  for (const auto& [s, c] : downloaded_) {
    log::Info("wechat_key_expiry",
              {{"merchant", options_.merchant},
               {"kind", kKindDownloadedCert},
               {"serial", s},
               {"expires", absl::FormatTime(absl::RFC3339_sec, c.expire_time, absl::UTCTimeZone())},
               {"days_left", DaysLeft(c.expire_time, now)}});
  }
  return absl::OkStatus();
}

CertificateRefresher::CertificateRefresher(std::vector<std::shared_ptr<MerchantKeyStore>> stores,
                                           Clock clock)
    : stores_(std::move(stores)), clock_(std::move(clock)) {}

CertificateRefresher::~CertificateRefresher() { Stop(); }

absl::Time CertificateRefresher::RunDue() {
  absl::Time next = absl::InfiniteFuture();
  for (const auto& store : stores_) {
    store->PruneExpired();
    if (store->NextRefreshAt() <= Now()) (void)store->Refresh();  // failures are logged
    next = std::min({next, store->NextRefreshAt(), store->NextExpiry()});
  }
  return next;
}

void CertificateRefresher::Start() {
  for (const auto& store : stores_) {
    store->SetWaker([this] {
      std::lock_guard<std::mutex> lock(mu_);
      woken_ = true;
      cv_.notify_all();
    });
  }
  thread_ = std::thread([this] { Loop(); });
}

void CertificateRefresher::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    woken_ = false;
    lock.unlock();
    const absl::Time next = RunDue();
    lock.lock();
    if (stop_) break;
    if (woken_) continue;
    // Re-read the clock at least once a minute: a long wait must not outlive a clock change.
    const absl::Duration wait = std::clamp(next - Now(), absl::Milliseconds(10), absl::Minutes(1));
    cv_.wait_for(lock, absl::ToChronoMilliseconds(wait), [this] { return stop_ || woken_; });
  }
}

void CertificateRefresher::Stop() {
  for (const auto& store : stores_) store->SetWaker(nullptr);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<metrics::Sample> ExpirySamples(
    const std::vector<std::shared_ptr<MerchantKeyStore>>& stores, absl::Time now) {
  std::map<std::pair<std::string, std::string>, absl::Time> latest;
  for (const auto& store : stores) {
    for (const KeyExpiry& e : store->Expiries()) {
      if (!e.expires.has_value()) continue;
      auto [it, inserted] = latest.emplace(std::make_pair(e.merchant, e.kind), *e.expires);
      if (!inserted) it->second = std::max(it->second, *e.expires);
    }
  }
  std::vector<metrics::Sample> out;
  out.reserve(latest.size());
  for (const auto& [key, expires] : latest) {
    out.push_back(metrics::Sample{{key.first, key.second}, DaysLeft(expires, now)});
  }
  return out;
}

void RegisterExpiryGauge(metrics::Registry* registry,
                         std::vector<std::shared_ptr<MerchantKeyStore>> stores,
                         std::function<absl::Time()> clock) {
  if (registry == nullptr) return;
  registry->AddCallback(
      "orderquery_cert_expiry_days",
      "Days until the last key of a kind expires (merchant_cert, platform_cert, downloaded_cert; "
      "public keys never expire and are not reported)",
      metrics::Type::kGauge, {"merchant", "kind"},
      [stores = std::move(stores), clock = std::move(clock)] {
        return ExpirySamples(stores, clock ? clock() : absl::Now());
      });
}

}  // namespace orderquery::payment::wechat
