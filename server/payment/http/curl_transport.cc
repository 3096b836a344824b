// CurlTransport's public surface: options, the attempt annotations, creation. The event loop
// behind it is CurlTransport::Loop (curl_loop.h).
#include "server/payment/http/curl_transport.h"

#include <curl/curl.h>

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/payment/http/curl_loop.h"

namespace orderquery::payment::http {
namespace {

absl::Status GlobalInit() {
  static const absl::Status* status = [] {
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    return rc == CURLE_OK ? new absl::Status()
                          : new absl::Status(absl::InternalError(
                                absl::StrCat("curl_global_init: ", curl_easy_strerror(rc))));
  }();
  return *status;
}

}  // namespace

const std::string* Response::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return &value;
  }
  return nullptr;
}

int AttemptsOf(const absl::StatusOr<Response>& outcome) {
  int attempts = 0;
  if (outcome.ok()) {
    // The transport appends its header last; an upstream could send one of its own earlier.
    for (auto it = outcome->headers.rbegin(); it != outcome->headers.rend(); ++it) {
      if (it->first == kAttemptsHeader)
        return absl::SimpleAtoi(it->second, &attempts) ? attempts : 0;
    }
    return 0;
  }
  auto payload = outcome.status().GetPayload(kAttemptsPayloadUrl);
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &attempts)) return 0;
  return attempts;
}

absl::Status ValidateTransportOptions(const TransportOptions& o) {
  if (o.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("http transport: connect_timeout must be positive");
  }
  if (o.request_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("http transport: request_timeout must be positive");
  }
  if (o.max_connections_per_host < 0 || o.max_cached_connections < 1) {
    return absl::InvalidArgumentError(
        "http transport: max_connections_per_host must be >= 0 and max_cached_connections >= 1");
  }
  if (o.max_inflight_per_key < 0) {
    return absl::InvalidArgumentError("http transport: max_inflight_per_key must be >= 0");
  }
  if (absl::Status s =
          retry::ValidateBackoffPolicy(BackoffPolicyOf(o.retry), "http transport: retry");
      !s.ok()) {
    return s;
  }
  if (o.retry.min_attempt_time < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("http transport: retry.min_attempt_time must be >= 0");
  }
  return absl::OkStatus();
}

CurlTransport::CurlTransport(std::unique_ptr<Loop> loop) : loop_(std::move(loop)) {}

CurlTransport::~CurlTransport() = default;

void CurlTransport::Shutdown() {
  std::unique_ptr<Loop> loop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!loop_) return;
    final_stats_ = loop_->stats();
    loop = std::move(loop_);
  }
  loop.reset();  // the loop thread fails what is pending (running the callbacks), then joins
}

absl::StatusOr<std::unique_ptr<CurlTransport>> CurlTransport::Create(TransportOptions options) {
  if (absl::Status s = ValidateTransportOptions(options); !s.ok()) return s;
  if (absl::Status s = GlobalInit(); !s.ok()) return s;
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) return absl::InternalError("curl_multi_init failed");
  // HTTP/1.1 only: one request per connection at a time, connections reused from the cache.
  curl_multi_setopt(multi, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_NOTHING));
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    static_cast<long>(options.max_connections_per_host));
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(options.max_cached_connections));
  auto loop = std::make_unique<Loop>(std::move(options), multi);
  loop->StartThread();
  return std::unique_ptr<CurlTransport>(new CurlTransport(std::move(loop)));
}

void CurlTransport::Send(Request request, Callback done) {
  {
    // Submit only queues and wakes the loop: cheap under the lock, and the loop cannot go
    // (Shutdown) between the check and the queueing.
    std::lock_guard<std::mutex> lock(mu_);
    if (loop_) {
      loop_->Submit(std::move(request), std::move(done));
      return;
    }
  }
  done(absl::CancelledError("http transport shut down"));
}

CurlTransport::Stats CurlTransport::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return loop_ ? loop_->stats() : final_stats_;
}

absl::StatusOr<std::unique_ptr<Transport>> MakeCurlTransport(TransportOptions options) {
  absl::StatusOr<std::unique_ptr<CurlTransport>> t = CurlTransport::Create(std::move(options));
  if (!t.ok()) return t.status();
  return std::unique_ptr<Transport>(std::move(*t));
}

}  // namespace orderquery::payment::http
