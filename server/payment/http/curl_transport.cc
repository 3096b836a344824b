// CurlTransport's public surface: creation, Send, the loop's timers, shutdown. The event loop
// behind it is CurlTransport::Loop (curl_loop.h).
#include "server/payment/http/curl_transport.h"

#include <curl/curl.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/payment/http/attempt_marks.h"
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

using internal::ShutDownError;

}  // namespace

CurlTransport::CurlTransport(std::unique_ptr<Loop> loop) : loop_(std::move(loop)) {}

CurlTransport::~CurlTransport() { Shutdown(); }

void CurlTransport::Shutdown() {
  std::unique_ptr<Loop> loop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    loop = std::move(loop_);
  }
  loop.reset();  // the loop thread fails what is pending (running the callbacks), then joins
}

absl::StatusOr<std::unique_ptr<CurlTransport>> CurlTransport::Create(
    TransportOptions options, std::shared_ptr<TransportCounters> counters) {
  if (absl::Status s = ValidateTransportOptions(options); !s.ok()) return s;
  if (absl::Status s = GlobalInit(); !s.ok()) return s;
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) return absl::InternalError("curl_multi_init failed");
  // HTTP/1.1 only: one request per connection at a time, connections reused from the cache.
  curl_multi_setopt(multi, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_NOTHING));
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    static_cast<long>(options.max_connections_per_host));
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(options.max_cached_connections));
  if (counters == nullptr) counters = std::make_shared<TransportCounters>();
  auto loop = std::make_unique<Loop>(std::move(options), multi, std::move(counters));
  if (absl::Status s = loop->Init(); !s.ok()) return s;
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
  done(ShutDownError());
}

Timers::TimerId CurlTransport::RunAt(absl::Time when, TimerFn fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (loop_) return loop_->RunAt(when, std::move(fn));
  }
  fn(ShutDownError());
  return 0;
}

bool CurlTransport::Cancel(TimerId id) {
  std::lock_guard<std::mutex> lock(mu_);
  return loop_ ? loop_->Cancel(id) : false;
}

}  // namespace orderquery::payment::http
