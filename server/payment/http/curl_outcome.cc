// The end of an exchange: curl's result mapped to a Response or a Status (curl_errors.h), marked
// for the decorators above (the per-attempt timeout, the time on the wire), and handed to the
// caller on the loop thread.
#include <algorithm>
#include <memory>
#include <utility>

#include "server/payment/http/attempt_marks.h"
#include "server/payment/http/curl_errors.h"
#include "server/payment/http/curl_loop.h"

namespace orderquery::payment::http {

void CurlTransport::Loop::OnExchangeDone(Exchange* raw, CURLcode code) {
  auto it = running_.find(raw);
  if (it == running_.end()) return;
  std::unique_ptr<Exchange> owned = std::move(it->second);
  running_.erase(it);
  Exchange& x = *owned;

  const absl::Duration took = absl::Now() - x.start;
  long connects = 0;     // NOLINT(runtime/int): curl's type
  long http_status = 0;  // NOLINT(runtime/int)
  curl_off_t connect_us = 0;
  curl_easy_getinfo(x.easy, CURLINFO_NUM_CONNECTS, &connects);
  curl_easy_getinfo(x.easy, CURLINFO_RESPONSE_CODE, &http_status);
  curl_easy_getinfo(x.easy, CURLINFO_CONNECT_TIME_T, &connect_us);
  // A reused keep-alive connection reports connect time 0; bytes sent prove we were connected.
  long request_bytes = 0;  // NOLINT(runtime/int)
  curl_easy_getinfo(x.easy, CURLINFO_REQUEST_SIZE, &request_bytes);
  counters_->connections_opened.fetch_add(static_cast<uint64_t>(std::max(0L, connects)),
                                          std::memory_order_relaxed);
  counters_->inflight.fetch_sub(1, std::memory_order_relaxed);
  CleanupEasy(x);

  absl::StatusOr<Response> outcome;
  if (code == CURLE_OK) {
    Response response = std::move(x.response);
    response.status = static_cast<int>(http_status);
    response.elapsed = took;
    outcome = std::move(response);
  } else {
    internal::CurlFailure f;
    f.code = code;
    f.url = x.request.url;
    f.error_buffer = x.error;
    f.connected = connect_us > 0 || request_bytes > 0;
    f.connect_capped_by_deadline = x.connect_capped_by_deadline;
    f.total_capped_by_deadline = x.total_capped_by_deadline;
    f.body_too_large = x.body_too_large;
    f.attempt = std::max(1, x.request.attempt);
    bool attempt_timeout = false;
    absl::Status s = internal::MapCurlError(f, options_, &attempt_timeout);
    if (attempt_timeout) s = internal::MarkAttemptTimeout(std::move(s));
    outcome = internal::MarkElapsed(std::move(s), took);
  }
  Callback done = std::move(x.done);
  owned.reset();
  done(std::move(outcome));
}

}  // namespace orderquery::payment::http
