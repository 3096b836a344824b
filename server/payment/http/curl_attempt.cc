// One exchange: accepted from the intake, the easy handle built from the Request (method,
// headers, body, timeouts capped by the deadline, TLS and proxy options), and the capture of the
// reply's headers and body.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/payment/http/attempt_marks.h"
#include "server/payment/http/curl_errors.h"
#include "server/payment/http/curl_loop.h"

namespace orderquery::payment::http {
namespace {

int64_t ClampMillis(absl::Duration d) {
  // curl treats 0 as "no timeout": never hand it a zero that really means "no time left".
  return std::max<int64_t>(1, absl::ToInt64Milliseconds(d));
}

}  // namespace

void CurlTransport::Loop::Accept(Pending p) {
  const absl::Time now = absl::Now();
  const absl::Duration left = p.request.deadline - now;
  if (left <= absl::ZeroDuration()) {
    p.done(internal::MarkNotSent(
        absl::DeadlineExceededError("deadline passed before the request was sent")));
    return;
  }
  auto owned = std::make_unique<Exchange>();
  Exchange& x = *owned;
  x.request = std::move(p.request);
  x.done = std::move(p.done);
  if (!SetUpEasy(x, left)) {
    CleanupEasy(x);
    x.done(internal::MarkNotSent(absl::InternalError("curl_easy_init failed")));
    return;
  }
  x.start = now;
  CURLMcode mc = curl_multi_add_handle(multi_, x.easy);
  if (mc != CURLM_OK) {
    CleanupEasy(x);
    x.done(internal::MarkNotSent(
        absl::InternalError(absl::StrCat("curl_multi_add_handle: ", curl_multi_strerror(mc)))));
    return;
  }
  counters_->attempts.fetch_add(1, std::memory_order_relaxed);
  counters_->inflight.fetch_add(1, std::memory_order_relaxed);
  running_.emplace(&x, std::move(owned));
}

bool CurlTransport::Loop::SetUpEasy(Exchange& c, absl::Duration left) {
  CURL* easy = nullptr;
  if (!spare_easy_.empty()) {
    easy = spare_easy_.back();
    spare_easy_.pop_back();
  } else {
    easy = curl_easy_init();
  }
  if (easy == nullptr) return false;
  c.easy = easy;
  const absl::Duration total = std::min(options_.request_timeout, left);
  const absl::Duration connect = std::min(options_.connect_timeout, left);
  c.total_capped_by_deadline = left <= options_.request_timeout;
  c.connect_capped_by_deadline = left <= options_.connect_timeout;

  const Request& r = c.request;
  curl_easy_setopt(easy, CURLOPT_PRIVATE, &c);
  curl_easy_setopt(easy, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, c.error);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(ClampMillis(total)));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(ClampMillis(connect)));
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, options_.verify_peer ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, options_.verify_peer ? 2L : 0L);
  if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
  // An empty string disables proxies, environment variables included.
  curl_easy_setopt(easy, CURLOPT_PROXY, options_.proxy.c_str());
  curl_easy_setopt(easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Loop::OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &c);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Loop::OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &c);

  if (r.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else if (r.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else {
    if (r.method != "POST") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    // The body lives in the Exchange as long as the easy handle, so curl may point at it.
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  }
  curl_slist* list = nullptr;
  for (const auto& [name, value] : r.headers) {
    // "Name;" is curl's spelling of a header with an empty value.
    std::string line = value.empty() ? absl::StrCat(name, ";") : absl::StrCat(name, ": ", value);
    list = curl_slist_append(list, line.c_str());
  }
  // A payment API answers small bodies at once; waiting for 100-continue only adds a round trip.
  list = curl_slist_append(list, "Expect:");
  c.header_list = list;
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
  return true;
}

void CurlTransport::Loop::CleanupEasy(Exchange& c) {
  if (c.easy != nullptr) {
    curl_multi_remove_handle(multi_, c.easy);
    if (spare_easy_.size() < kMaxSpareEasy) {
      // Every option back to its default; the connection stays in the multi handle's cache.
      curl_easy_reset(c.easy);
      spare_easy_.push_back(c.easy);
    } else {
      curl_easy_cleanup(c.easy);
    }
    c.easy = nullptr;
  }
  if (c.header_list != nullptr) {
    curl_slist_free_all(c.header_list);
    c.header_list = nullptr;
  }
}

void CurlTransport::Loop::FreeSpareEasy() {
  for (CURL* easy : spare_easy_) curl_easy_cleanup(easy);
  spare_easy_.clear();
}

size_t CurlTransport::Loop::OnHeader(char* data, size_t size, size_t n, void* user) {
  Exchange* c = static_cast<Exchange*>(user);
  const size_t len = size * n;
  absl::string_view line(data, len);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new response starts (after a 1xx): only the final one's headers count.
    c->response.headers.clear();
    return len;
  }
  const size_t colon = line.find(':');
  if (line.empty() || colon == absl::string_view::npos) return len;
  c->response.headers.emplace_back(
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon))),
      std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  return len;
}

size_t CurlTransport::Loop::OnBody(char* data, size_t size, size_t n, void* user) {
  Exchange* c = static_cast<Exchange*>(user);
  const size_t len = size * n;
  if (c->response.body.size() + len > internal::kMaxResponseBytes) {
    c->body_too_large = true;
    return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR
  }
  c->response.body.append(data, len);
  return len;
}

}  // namespace orderquery::payment::http
