#include "server/payment/http/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/payment/http/limiter.h"

namespace orderquery::payment::http {
namespace {

// A reply bigger than this is not a payment API answer; stop reading rather than buffer it.
constexpr size_t kMaxResponseBytes = 8 * 1024 * 1024;

absl::Status GlobalInit() {
  static const absl::Status* status = [] {
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    return rc == CURLE_OK ? new absl::Status()
                          : new absl::Status(absl::InternalError(
                                absl::StrCat("curl_global_init: ", curl_easy_strerror(rc))));
  }();
  return *status;
}

int64_t ClampMillis(absl::Duration d) {
  // curl treats 0 as "no timeout": never hand it a zero that really means "no time left".
  return std::max<int64_t>(1, absl::ToInt64Milliseconds(d));
}

std::string HostOf(absl::string_view url) {
  size_t start = url.find("://");
  start = start == absl::string_view::npos ? 0 : start + 3;
  size_t end = url.find_first_of("/?#", start);
  return std::string(
      url.substr(start, end == absl::string_view::npos ? url.size() - start : end - start));
}

bool IsTlsError(CURLcode code) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
      return true;
    default:
      return false;
  }
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

// Everything that runs on the event-loop thread. Only Submit(), Stop() and the stats touch it
// from other threads, through mu_ and atomics.
class CurlTransport::Loop {
 public:
  Loop(TransportOptions options, CURLM* multi)
      : options_(std::move(options)),
        multi_(multi),
        policy_(options_.retry, options_.jitter_random),
        limiter_(options_.max_inflight_per_key, options_.max_queue_per_key) {
    if (metrics::Registry* r = options_.metrics) {
      m_requests_ = &r->Counters("orderquery_upstream_requests_total",
                                 "Provider calls by final outcome: the HTTP status, or "
                                 "transport_error when no HTTP answer came",
                                 {"provider", "merchant", "endpoint", "outcome"});
      m_latency_ = &r->Histograms("orderquery_upstream_latency_seconds",
                                  "Provider call latency, per attempt", {"provider", "endpoint"});
      m_retries_ = &r->Counters("orderquery_upstream_retries_total",
                                "Attempts after the first (retries)", {"provider", "merchant"});
      m_rate_limited_ = &r->Counters("orderquery_upstream_rate_limited_total",
                                     "HTTP 429 replies (per attempt)", {"provider", "merchant"});
      m_limiter_waits_ = &r->Counters("orderquery_upstream_limiter_waits_total",
                                      "Calls that waited for the per-merchant in-flight cap",
                                      {"provider", "merchant"});
    }
  }

  ~Loop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      // Under the lock so no Submit() can wake a multi handle that is being cleaned up.
      curl_multi_wakeup(multi_);
    }
    if (thread_.joinable()) thread_.join();
    curl_multi_cleanup(multi_);
  }

  void StartThread() {
    thread_ = std::thread([this] { Run(); });
  }

  void Submit(Request request, Callback done) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stopping_) {
        incoming_.push_back(Pending{std::move(request), std::move(done)});
        curl_multi_wakeup(multi_);
        return;
      }
    }
    done(absl::CancelledError("http transport shut down"));
  }

  CurlTransport::Stats stats() const {
    CurlTransport::Stats s;
    s.requests = requests_.load(std::memory_order_relaxed);
    s.attempts = attempts_.load(std::memory_order_relaxed);
    s.retries = retries_.load(std::memory_order_relaxed);
    s.connections_opened = connections_.load(std::memory_order_relaxed);
    s.rejected = rejected_.load(std::memory_order_relaxed);
    s.inflight = inflight_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  struct Pending {
    Request request;
    Callback done;
  };

  enum class Phase { kNew, kQueued, kRunning, kBackoff };

  struct Call {
    uint64_t id = 0;
    Request request;
    Callback done;
    Phase phase = Phase::kNew;
    bool holds_slot = false;
    int attempts = 0;
    std::optional<absl::StatusOr<Response>> last_outcome;
    // The attempt in flight.
    CURL* easy = nullptr;
    curl_slist* header_list = nullptr;
    Response response;
    bool body_too_large = false;
    absl::Time attempt_start;
    bool connect_capped_by_deadline = false;
    bool total_capped_by_deadline = false;
    char error[CURL_ERROR_SIZE] = {0};
  };

  enum class TimerKind { kRetry, kQueueDeadline };
  struct Timer {
    uint64_t call_id;
    TimerKind kind;
  };

  void Run() {
    for (;;) {
      std::vector<Pending> batch;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) break;
        batch.swap(incoming_);
      }
      for (Pending& p : batch) Accept(std::move(p));
      StartReady();
      FireDueTimers(absl::Now());
      StartReady();
      int running = 0;
      curl_multi_perform(multi_, &running);
      ReapCompleted();
      StartReady();
      curl_multi_poll(multi_, nullptr, 0, WaitMillis(), nullptr);
    }
    FailEverything();
  }

  int WaitMillis() const {
    long curl_ms = -1;  // NOLINT(runtime/int): curl's type
    curl_multi_timeout(multi_, &curl_ms);
    int64_t wait = curl_ms < 0 ? 1000 : curl_ms;
    if (!timers_.empty()) {
      absl::Duration until = timers_.begin()->first - absl::Now();
      wait = std::min(wait, std::max<int64_t>(0, absl::ToInt64Milliseconds(
                                                     absl::Ceil(until, absl::Milliseconds(1)))));
    }
    return static_cast<int>(std::clamp<int64_t>(wait, 0, 1000));
  }

  void Accept(Pending p) {
    requests_.fetch_add(1, std::memory_order_relaxed);
    auto call = std::make_unique<Call>();
    const uint64_t id = next_id_++;
    call->id = id;
    call->request = std::move(p.request);
    call->done = std::move(p.done);
    Call& c = *call;
    calls_.emplace(id, std::move(call));

    if (c.request.deadline <= absl::Now()) {
      Finish(id, absl::DeadlineExceededError("deadline passed before the request was sent"));
      return;
    }
    switch (limiter_.Acquire(c.request.limiter_key, id)) {
      case KeyedLimiter::Admission::kRun:
        c.holds_slot = true;
        StartAttempt(c);
        return;
      case KeyedLimiter::Admission::kQueued:
        if (m_limiter_waits_ != nullptr) {
          m_limiter_waits_->WithLabels({Provider(c.request), Merchant(c.request)})->Inc();
        }
        Queue(c);
        return;
      case KeyedLimiter::Admission::kRejected:
        rejected_.fetch_add(1, std::memory_order_relaxed);
        Finish(id, absl::ResourceExhaustedError(absl::StrCat(
                       "http transport: more than ", options_.max_queue_per_key,
                       " requests waiting for limiter key '", c.request.limiter_key, "'")));
        return;
    }
  }

  void Queue(Call& c) {
    c.phase = Phase::kQueued;
    if (c.request.deadline != absl::InfiniteFuture()) {
      timers_.emplace(c.request.deadline, Timer{c.id, TimerKind::kQueueDeadline});
    }
  }

  // Runs the calls that were handed a limiter slot, iteratively: starting one may finish it at
  // once and hand its slot on again.
  void StartReady() {
    while (!ready_.empty()) {
      const uint64_t id = ready_.front();
      ready_.pop_front();
      auto it = calls_.find(id);
      // Finished meanwhile (its Finish passed the slot on already).
      if (it == calls_.end() || it->second->phase != Phase::kNew) continue;
      StartAttempt(*it->second);
    }
  }

  // Gives the slot back; the limiter may hand it to the next queued call, which holds it from
  // this moment (so finishing it before it starts still passes the slot on).
  void ReleaseSlot(Call& c) {
    if (!c.holds_slot) return;
    c.holds_slot = false;
    std::optional<uint64_t> next = limiter_.Release(c.request.limiter_key);
    while (next.has_value()) {
      auto it = calls_.find(*next);
      if (it != calls_.end()) {
        it->second->holds_slot = true;
        it->second->phase = Phase::kNew;
        ready_.push_back(*next);
        return;
      }
      // Queued calls leave the queue when they finish, so this is only a safety net.
      next = limiter_.Release(c.request.limiter_key);
    }
  }

  void StartAttempt(Call& c) {
    const absl::Time now = absl::Now();
    const absl::Duration left = c.request.deadline - now;
    if (left <= absl::ZeroDuration()) {
      FinishWithLastOr(
          c.id, absl::DeadlineExceededError("deadline passed while waiting for a limiter slot"));
      return;
    }
    CURL* easy = curl_easy_init();
    if (easy == nullptr) {
      FinishWithLastOr(c.id, absl::InternalError("curl_easy_init failed"));
      return;
    }
    c.easy = easy;
    c.response = Response();
    c.body_too_large = false;
    c.error[0] = '\0';
    c.attempt_start = now;
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
      // The body outlives the attempt (it belongs to the call), so curl may point at it.
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

    CURLMcode mc = curl_multi_add_handle(multi_, easy);
    if (mc != CURLM_OK) {
      CleanupEasy(c);
      FinishWithLastOr(c.id, absl::InternalError(
                                 absl::StrCat("curl_multi_add_handle: ", curl_multi_strerror(mc))));
      return;
    }
    c.phase = Phase::kRunning;
    ++c.attempts;
    attempts_.fetch_add(1, std::memory_order_relaxed);
    inflight_.fetch_add(1, std::memory_order_relaxed);
    if (c.attempts > 1) {
      retries_.fetch_add(1, std::memory_order_relaxed);
      if (m_retries_ != nullptr) {
        m_retries_->WithLabels({Provider(c.request), Merchant(c.request)})->Inc();
      }
    }
  }

  static std::string Provider(const Request& r) {
    return r.metric_provider.empty() ? "unknown" : r.metric_provider;
  }
  static std::string Merchant(const Request& r) {
    return r.metric_merchant.empty() ? r.limiter_key : r.metric_merchant;
  }
  static std::string Endpoint(const Request& r) {
    return r.metric_endpoint.empty() ? "other" : r.metric_endpoint;
  }

  static size_t OnHeader(char* data, size_t size, size_t n, void* user) {
    Call* c = static_cast<Call*>(user);
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

  static size_t OnBody(char* data, size_t size, size_t n, void* user) {
    Call* c = static_cast<Call*>(user);
    const size_t len = size * n;
    if (c->response.body.size() + len > kMaxResponseBytes) {
      c->body_too_large = true;
      return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR
    }
    c->response.body.append(data, len);
    return len;
  }

  void ReapCompleted() {
    std::vector<std::pair<Call*, CURLcode>> done;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Call* c = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &c);
      done.emplace_back(c, msg->data.result);
    }
    for (auto& [c, code] : done) OnAttemptDone(*c, code);
  }

  void CleanupEasy(Call& c) {
    if (c.easy != nullptr) {
      curl_multi_remove_handle(multi_, c.easy);
      curl_easy_cleanup(c.easy);
      c.easy = nullptr;
    }
    if (c.header_list != nullptr) {
      curl_slist_free_all(c.header_list);
      c.header_list = nullptr;
    }
  }

  void OnAttemptDone(Call& c, CURLcode code) {
    const absl::Time now = absl::Now();
    long connects = 0;     // NOLINT(runtime/int): curl's type
    long http_status = 0;  // NOLINT(runtime/int)
    curl_off_t connect_us = 0;
    curl_easy_getinfo(c.easy, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(c.easy, CURLINFO_RESPONSE_CODE, &http_status);
    curl_easy_getinfo(c.easy, CURLINFO_CONNECT_TIME_T, &connect_us);
    // A reused keep-alive connection reports connect time 0; bytes sent prove we were connected.
    long request_bytes = 0;
    curl_easy_getinfo(c.easy, CURLINFO_REQUEST_SIZE, &request_bytes);
    connections_.fetch_add(static_cast<uint64_t>(std::max(0L, connects)),
                           std::memory_order_relaxed);
    inflight_.fetch_sub(1, std::memory_order_relaxed);
    CleanupEasy(c);

    bool attempt_timeout = false;
    absl::StatusOr<Response> outcome;
    if (code == CURLE_OK) {
      Response response = std::move(c.response);
      response.status = static_cast<int>(http_status);
      outcome = std::move(response);
    } else {
      outcome = MapError(c, code, connect_us > 0 || request_bytes > 0, &attempt_timeout);
    }
    ReleaseSlot(c);

    const absl::Duration took = now - c.attempt_start;
    if (m_latency_ != nullptr) {
      m_latency_->WithLabels({Provider(c.request), Endpoint(c.request)})
          ->Observe(absl::ToDoubleSeconds(took));
      if (outcome.ok() && outcome->status == 429) {
        m_rate_limited_->WithLabels({Provider(c.request), Merchant(c.request)})->Inc();
      }
    }
    RetryDecision d = policy_.Decide(c.request.idempotent, outcome, attempt_timeout, c.attempts,
                                     now, c.request.deadline, took);
    if (!d.retry) {
      Finish(c.id, std::move(outcome));
      return;
    }
    log::Debug("http_retry", {{"host", HostOf(c.request.url)},
                              {"attempt", c.attempts},
                              {"outcome", outcome.ok() ? absl::StrCat("http ", outcome->status)
                                                       : outcome.status().ToString()},
                              {"backoff_ms", absl::ToInt64Milliseconds(d.delay)}});
    c.last_outcome = std::move(outcome);
    c.phase = Phase::kBackoff;
    timers_.emplace(now + d.delay, Timer{c.id, TimerKind::kRetry});
  }

  absl::Status MapError(const Call& c, CURLcode code, bool connected, bool* attempt_timeout) {
    const std::string host = HostOf(c.request.url);
    const std::string detail = c.error[0] != '\0' ? std::string(c.error) : curl_easy_strerror(code);
    if (code == CURLE_OPERATION_TIMEDOUT) {
      // The connect timer fires first when it is the shorter one and we never connected.
      const bool connect_phase = !connected && options_.connect_timeout < options_.request_timeout;
      const bool by_deadline =
          connect_phase ? c.connect_capped_by_deadline : c.total_capped_by_deadline;
      *attempt_timeout = !by_deadline;
      if (by_deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("deadline exceeded ", connect_phase ? "connecting to " : "waiting for ",
                         host, " (attempt ", c.attempts, ")"));
      }
      return absl::DeadlineExceededError(
          connect_phase
              ? absl::StrCat("connect timeout (", absl::FormatDuration(options_.connect_timeout),
                             ") to ", host)
              : absl::StrCat("request timeout (", absl::FormatDuration(options_.request_timeout),
                             ") waiting for ", host));
    }
    if (IsTlsError(code)) {
      if (code == CURLE_PEER_FAILED_VERIFICATION) {
        return absl::UnavailableError(
            absl::StrCat("tls: certificate verification failed for ", host, ": ", detail));
      }
      if (code == CURLE_SSL_CACERT_BADFILE) {
        return absl::UnavailableError(
            absl::StrCat("tls: certificate authority file unusable: ", detail));
      }
      return absl::UnavailableError(
          absl::StrCat("tls: handshake with ", host, " failed: ", detail));
    }
    switch (code) {
      case CURLE_COULDNT_RESOLVE_HOST:
        return absl::UnavailableError(absl::StrCat("dns: cannot resolve ", host, ": ", detail));
      case CURLE_COULDNT_RESOLVE_PROXY:
        return absl::UnavailableError(absl::StrCat("dns: cannot resolve proxy: ", detail));
      case CURLE_COULDNT_CONNECT:
        return absl::UnavailableError(absl::StrCat("connect to ", host, " failed: ", detail));
      case CURLE_SEND_ERROR:
      case CURLE_RECV_ERROR:
        return absl::UnavailableError(
            absl::StrCat("connection to ", host, " broken (reset?): ", detail));
      case CURLE_GOT_NOTHING:
        return absl::UnavailableError(
            absl::StrCat("connection to ", host, " closed without a response"));
      case CURLE_PARTIAL_FILE:
        return absl::UnavailableError(
            absl::StrCat("connection to ", host, " closed mid-body: ", detail));
      case CURLE_WRITE_ERROR:
        if (c.body_too_large) {
          return absl::UnavailableError(
              absl::StrCat("response from ", host, " larger than ", kMaxResponseBytes, " bytes"));
        }
        return absl::InternalError(absl::StrCat("writing response failed: ", detail));
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        return absl::InvalidArgumentError(absl::StrCat("bad url '", c.request.url, "': ", detail));
      case CURLE_OUT_OF_MEMORY:
        return absl::ResourceExhaustedError(absl::StrCat("curl out of memory: ", detail));
      default:
        // Proxy failures, malformed replies and the like: the upstream path is not usable now.
        return absl::UnavailableError(absl::StrCat("http exchange with ", host, " failed (curl ",
                                                   static_cast<int>(code), "): ", detail));
    }
  }

  void FireDueTimers(absl::Time now) {
    while (!timers_.empty() && timers_.begin()->first <= now) {
      Timer t = timers_.begin()->second;
      timers_.erase(timers_.begin());
      auto it = calls_.find(t.call_id);
      if (it == calls_.end()) continue;
      Call& c = *it->second;
      if (t.kind == TimerKind::kRetry && c.phase == Phase::kBackoff) {
        // A retry already waited its turn once: it goes to the head of the queue.
        if (limiter_.Acquire(c.request.limiter_key, c.id, /*priority=*/true) ==
            KeyedLimiter::Admission::kRun) {
          c.holds_slot = true;
          StartAttempt(c);
        } else {
          Queue(c);
        }
      } else if (t.kind == TimerKind::kQueueDeadline && c.phase == Phase::kQueued) {
        limiter_.Cancel(c.request.limiter_key, c.id);
        FinishWithLastOr(c.id, absl::DeadlineExceededError(absl::StrCat(
                                   "deadline passed while waiting for a slot of limiter key '",
                                   c.request.limiter_key, "'")));
      }
    }
  }

  // After a retry was granted, a later failure that is not an upstream answer (deadline passed
  // in the queue) reports the last real outcome instead: it says more about the upstream.
  void FinishWithLastOr(uint64_t id, absl::Status status) {
    auto it = calls_.find(id);
    if (it != calls_.end() && it->second->last_outcome.has_value()) {
      absl::StatusOr<Response> last = std::move(*it->second->last_outcome);
      Finish(id, std::move(last));
      return;
    }
    Finish(id, std::move(status));
  }

  void Finish(uint64_t id, absl::StatusOr<Response> outcome) {
    auto it = calls_.find(id);
    if (it == calls_.end()) return;
    std::unique_ptr<Call> c = std::move(it->second);
    calls_.erase(it);
    if (c->phase == Phase::kQueued) limiter_.Cancel(c->request.limiter_key, c->id);
    ReleaseSlot(*c);
    CleanupEasy(*c);
    if (m_requests_ != nullptr) {
      m_requests_
          ->WithLabels({Provider(c->request), Merchant(c->request), Endpoint(c->request),
                        outcome.ok() ? absl::StrCat(outcome->status) : "transport_error"})
          ->Inc();
    }
    Annotate(c->attempts, outcome);
    Callback done = std::move(c->done);
    c.reset();
    done(std::move(outcome));
  }

  static void Annotate(int attempts, absl::StatusOr<Response>& outcome) {
    if (outcome.ok()) {
      outcome->headers.emplace_back(kAttemptsHeader, absl::StrCat(attempts));
      return;
    }
    absl::Status s = outcome.status();
    if (attempts > 1) {
      absl::Status annotated(s.code(),
                             absl::StrCat(s.message(), " (after ", attempts, " attempts)"));
      s = annotated;
    }
    s.SetPayload(kAttemptsPayloadUrl, absl::Cord(absl::StrCat(attempts)));
    outcome = s;
  }

  void FailEverything() {
    std::vector<Callback> callbacks;
    for (auto& [id, c] : calls_) {
      if (c->easy != nullptr) inflight_.fetch_sub(1, std::memory_order_relaxed);
      CleanupEasy(*c);
      callbacks.push_back(std::move(c->done));
    }
    calls_.clear();
    timers_.clear();
    ready_.clear();
    std::vector<Pending> late;
    {
      std::lock_guard<std::mutex> lock(mu_);
      late.swap(incoming_);
    }
    for (Pending& p : late) callbacks.push_back(std::move(p.done));
    for (Callback& cb : callbacks) cb(absl::CancelledError("http transport shut down"));
  }

  const TransportOptions options_;
  CURLM* const multi_;
  RetryPolicy policy_;
  std::thread thread_;

  std::mutex mu_;
  bool stopping_ = false;          // guarded by mu_
  std::vector<Pending> incoming_;  // guarded by mu_

  // Loop-thread state.
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Call>> calls_;
  std::multimap<absl::Time, Timer> timers_;
  std::deque<uint64_t> ready_;
  KeyedLimiter limiter_;

  std::atomic<uint64_t> requests_{0}, attempts_{0}, retries_{0}, connections_{0}, rejected_{0},
      inflight_{0};

  // Upstream metrics (null when options_.metrics is): looked up on the loop thread only.
  metrics::CounterFamily* m_requests_ = nullptr;
  metrics::HistogramFamily* m_latency_ = nullptr;
  metrics::CounterFamily* m_retries_ = nullptr;
  metrics::CounterFamily* m_rate_limited_ = nullptr;
  metrics::CounterFamily* m_limiter_waits_ = nullptr;
};

CurlTransport::CurlTransport(std::unique_ptr<Loop> loop) : loop_(std::move(loop)) {}

CurlTransport::~CurlTransport() = default;

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
  loop_->Submit(std::move(request), std::move(done));
}

CurlTransport::Stats CurlTransport::stats() const { return loop_->stats(); }

absl::StatusOr<std::unique_ptr<Transport>> MakeCurlTransport(TransportOptions options) {
  absl::StatusOr<std::unique_ptr<CurlTransport>> t = CurlTransport::Create(std::move(options));
  if (!t.ok()) return t.status();
  return std::unique_ptr<Transport>(std::move(*t));
}

}  // namespace orderquery::payment::http
