#include "tests/fakes/sandbox/wechat_notify.h"

#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "server/payment/wechat/signer.h"
#include "server/payment/wechat/verifier.h"
#include "tests/fakes/wechat_signing.h"

namespace orderquery::sandbox {
namespace {

namespace wx = ::orderquery::payment::wechat;
using nlohmann::json;

constexpr size_t kMaxKeptBody = 4096;

const std::pair<const char*, NotifyVariant> kVariants[] = {
    {"valid", NotifyVariant::kValid},
    {"forged", NotifyVariant::kForged},
    {"stale", NotifyVariant::kStale},
    {"future", NotifyVariant::kFuture},
    {"signtest", NotifyVariant::kSigntest},
    {"unknown_serial", NotifyVariant::kUnknownSerial},
    {"missing_headers", NotifyVariant::kMissingHeaders},
    {"undecryptable", NotifyVariant::kUndecryptable},
    {"wrong_key", NotifyVariant::kWrongKey},
};

std::string Rfc3339Beijing(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", t, absl::FixedTimeZone(8 * 3600));
}

// The resource's ciphertext as the variant wants it.
absl::StatusOr<std::string> Encrypt(const std::string& apiv3_key, const std::string& nonce,
                                    const std::string& plaintext, NotifyVariant variant) {
  // Another key: 32 random characters (never equal to the real one in practice).
  const std::string key = variant == NotifyVariant::kWrongKey ? wx::RandomNonce(32) : apiv3_key;
  absl::StatusOr<std::string> sealed =
      wx::AeadAes256GcmEncrypt(key, nonce, "transaction", plaintext);
  if (!sealed.ok() || variant != NotifyVariant::kUndecryptable) return sealed;
  absl::StatusOr<std::string> raw = wx::Base64Decode(*sealed);
  if (!raw.ok()) return raw.status();
  raw->back() = static_cast<char>(raw->back() ^ 0x01);  // the tag no longer matches
  return wx::Base64Encode(*raw);
}

}  // namespace

absl::StatusOr<NotifyVariant> ParseNotifyVariant(absl::string_view name) {
  std::vector<std::string> names;
  for (const auto& [text, variant] : kVariants) {
    if (name == text) return variant;
    names.push_back(text);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("variant \"", name, "\" is not one of ", absl::StrJoin(names, ", ")));
}

json Delivery::ToJson() const {
  json j = {{"status", status}, {"body", body}};
  if (!error.empty()) j["error"] = error;
  return j;
}

Delivery NotificationSender::Send(const std::string& url, const NotificationContent& content,
                                  NotifyVariant variant) const {
  Delivery d;
  const std::string nonce = wx::RandomNonce(12);
  absl::StatusOr<std::string> ciphertext =
      Encrypt(apiv3_key_, nonce,
              content.transaction.dump(-1, ' ', false, json::error_handler_t::replace), variant);
  if (!ciphertext.ok()) {
    d.error = absl::StrCat("sandbox cannot encrypt: ", ciphertext.status().message());
    return d;
  }
  const absl::Time now = absl::Now();
  const json envelope = {
      {"id", content.id},
      {"create_time", Rfc3339Beijing(now)},
      {"resource_type", "encrypt-resource"},
      {"event_type", content.event_type},
      {"summary", content.summary},
      {"resource",
       {{"original_type", "transaction"},
        {"algorithm", "AEAD_AES_256_GCM"},
        {"ciphertext", *ciphertext},
        {"associated_data", "transaction"},
        {"nonce", nonce}}},
  };
  const std::string body = envelope.dump(-1, ' ', false, json::error_handler_t::replace);

  httplib::Headers headers;
  if (variant != NotifyVariant::kMissingHeaders) {
    int64_t ts = absl::ToUnixSeconds(now);
    if (variant == NotifyVariant::kStale) ts -= 600;
    if (variant == NotifyVariant::kFuture) ts += 600;
    const std::string serial = variant == NotifyVariant::kUnknownSerial
                                   ? "PUB_KEY_ID_0000000000000000000000000000000000"
                                   : platform_serial_;
    // Forged: a real signature, of bytes other than those sent.
    const std::string signed_bytes = variant == NotifyVariant::kForged ? body + " " : body;
    absl::StatusOr<payment::http::Headers> signed_headers =
        wx::SignedResponseHeaders(platform_key_, serial, ts, wx::RandomNonce(32), signed_bytes);
    if (!signed_headers.ok()) {
      d.error = absl::StrCat("sandbox cannot sign: ", signed_headers.status().message());
      return d;
    }
    for (auto& [name, value] : *signed_headers) {
      if (variant == NotifyVariant::kSigntest &&
          absl::EqualsIgnoreCase(name, wx::kSignatureHeader)) {
        value = absl::StrCat(wx::kSignTestPrefix, wx::Base64Encode(wx::RandomNonce(48)));
      }
      headers.emplace(name, value);
    }
  }

  // scheme://host[:port] and the path (with its query) after it.
  const size_t scheme_end = url.find("://");
  const size_t path_start =
      scheme_end == std::string::npos ? std::string::npos : url.find('/', scheme_end + 3);
  const std::string origin = url.substr(0, path_start);
  const std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  httplib::Client client(origin);
  if (!client.is_valid()) {
    d.error = absl::StrCat("cannot send to ", url);
    return d;
  }
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  client.enable_server_certificate_verification(false);  // a test receiver's certificate
#endif
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(5, 0);
  client.set_write_timeout(5, 0);
  httplib::Result r = client.Post(path.c_str(), headers, body, "application/json");
  if (!r) {
    d.error = httplib::to_string(r.error());
    return d;
  }
  d.status = r->status;
  d.body = r->body.substr(0, kMaxKeptBody);
  return d;
}

NotificationQueue::NotificationQueue(const NotificationSender* sender, Count count)
    : sender_(sender), count_(std::move(count)), worker_([this] { Run(); }) {}

NotificationQueue::~NotificationQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void NotificationQueue::Enqueue(std::string out_trade_no, std::string url,
                                NotificationContent content, absl::Duration retry,
                                int64_t max_attempts) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(Job{absl::Now(), std::move(out_trade_no), std::move(url), std::move(content),
                        retry, std::max<int64_t>(1, max_attempts)});
  }
  cv_.notify_all();
}

void NotificationQueue::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    auto next = std::min_element(jobs_.begin(), jobs_.end(),
                                 [](const Job& a, const Job& b) { return a.due < b.due; });
    if (next == jobs_.end()) {
      cv_.wait(lock);
      continue;
    }
    const absl::Time now = absl::Now();
    if (next->due > now) {
      cv_.wait_for(lock,
                   absl::ToChronoMilliseconds(next->due - now) + std::chrono::milliseconds(1));
      continue;
    }
    Job job = std::move(*next);
    jobs_.erase(next);
    lock.unlock();
    const Delivery d = sender_->Send(job.url, job.content, NotifyVariant::kValid);
    if (!d.acked()) {
      std::fprintf(stderr, "sandbox: notification %s for %s -> %d %s\n", job.content.id.c_str(),
                   job.out_trade_no.c_str(), d.status, d.error.c_str());
    }
    count_(job.out_trade_no, d);
    lock.lock();
    if (!d.acked() && --job.attempts_left > 0) {
      job.due = absl::Now() + job.retry;
      jobs_.push_back(std::move(job));
    }
  }
}

Ticker::Ticker(absl::Duration period, std::function<void()> tick)
    : thread_([this, period, tick = std::move(tick)] {
        std::unique_lock<std::mutex> lock(mu_);
        while (!cv_.wait_for(lock, absl::ToChronoMilliseconds(period), [this] { return stop_; })) {
          lock.unlock();
          tick();
          lock.lock();
        }
      }) {}

Ticker::~Ticker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

}  // namespace orderquery::sandbox
