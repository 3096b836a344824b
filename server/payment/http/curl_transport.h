// The libcurl implementation of Transport: one event-loop thread drives a curl multi handle, so
// any number of requests are in flight on that one thread; connections are kept alive in the
// multi handle's cache and reused (HTTP/1.1).
//
// Per request, in order: the per-merchant limiter (Request::limiter_key) admits it or queues it
// FIFO (RESOURCE_EXHAUSTED when the queue is full); each attempt runs with
// connect timeout = min(connect_timeout, time left) and total timeout = min(request_timeout,
// time left); a retryable outcome of an idempotent request is retried after a jittered
// exponential backoff, waited on a timer of the event loop (no thread sleeps), as long as
// attempts remain and another attempt fits before the deadline (retry.h). The final answer is the
// last attempt's response or failure.
//
// Attempts are visible to callers: a final Response carries the header `x-oq-attempts: N`
// (appended after the upstream's headers; the upstream's own headers and body are untouched), and
// a failure Status carries the payload kAttemptsPayloadUrl (AttemptsOf reads either).
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_CURL_TRANSPORT_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_CURL_TRANSPORT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/common/metrics.h"
#include "server/payment/http/retry.h"
#include "server/payment/http/transport.h"

namespace orderquery::payment::http {

// Response header that carries the number of attempts made (1 = no retry).
inline constexpr char kAttemptsHeader[] = "x-oq-attempts";
// absl::Status payload type URL carrying the attempts of a failed request, as decimal text.
inline constexpr char kAttemptsPayloadUrl[] = "type.orderquery/http.attempts";

// The attempts made for a final outcome; 0 if the outcome does not say (e.g. never sent).
int AttemptsOf(const absl::StatusOr<Response>& outcome);

struct TransportOptions {
  // TCP (+ TLS) connection establishment, per attempt; capped by the request's deadline.
  absl::Duration connect_timeout = absl::Seconds(3);
  // The whole exchange of one attempt (connect included); capped by the request's deadline.
  absl::Duration request_timeout = absl::Seconds(10);
  // PEM bundle of CAs trusted for HTTPS; empty uses the system bundle.
  std::string ca_file;
  // Peer and host name verification. Only a local experiment may turn this off.
  bool verify_peer = true;
  // Proxy URL such as "http://proxy.internal:3128"; empty means no proxy at all (the
  // http_proxy/https_proxy environment variables are ignored, so behaviour follows config only).
  std::string proxy;
  // Connections per host:port at once (curl queues transfers beyond it); 0 = no limit.
  int max_connections_per_host = 0;
  // Idle connections kept for reuse across all hosts.
  int max_cached_connections = 256;
  // Requests in flight per limiter_key; 0 = no cap.
  int max_inflight_per_key = 32;
  // Requests waiting per limiter_key beyond the cap; more are refused with RESOURCE_EXHAUSTED.
  size_t max_queue_per_key = 1024;
  RetryOptions retry;
  // Source of uniform [0,1) numbers for backoff jitter; tests inject a fixed one.
  retry::UniformRandom jitter_random;
  std::string user_agent = "orderquery/0.1";
  // Where the upstream metrics go (orderquery_upstream_*); null records nothing. Must outlive
  // the transport.
  metrics::Registry* metrics = nullptr;
};

// Checks option ranges (timeouts positive, backoff sane, ...).
absl::Status ValidateTransportOptions(const TransportOptions& options);

class CurlTransport final : public Transport {
 public:
  // Counters since creation, read without stopping the loop (each field is consistent alone).
  struct Stats {
    uint64_t requests = 0;            // Send() calls
    uint64_t attempts = 0;            // HTTP exchanges started
    uint64_t retries = 0;             // attempts after the first
    uint64_t connections_opened = 0;  // new TCP connections (CURLINFO_NUM_CONNECTS summed)
    uint64_t rejected = 0;            // refused by a full limiter queue
    uint64_t inflight = 0;            // attempts running right now
  };

  // Starts the event-loop thread. Fails on invalid options or when curl cannot be set up.
  static absl::StatusOr<std::unique_ptr<CurlTransport>> Create(TransportOptions options);

  // Fails every request not yet answered (CANCELLED, "transport shut down") on the loop thread,
  // then joins it. Must not be called from a callback.
  ~CurlTransport() override;
  // The same, while the object stays: a later Send fails at once (CANCELLED, on the caller's
  // thread) and stats() keeps the last figures. Must not be called from a callback.
  void Shutdown() override;

  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  // Thread-safe and non-blocking: queues the request and wakes the loop. `done` runs exactly
  // once on the loop thread (or on the calling thread once the transport is shut down).
  void Send(Request request, Callback done) override;

  Stats stats() const;

 private:
  class Loop;
  explicit CurlTransport(std::unique_ptr<Loop> loop);
  mutable std::mutex mu_;
  std::unique_ptr<Loop> loop_;  // guarded by mu_; null once shut down
  Stats final_stats_;           // guarded by mu_; the figures at shutdown
};

// The factory the wiring uses.
absl::StatusOr<std::unique_ptr<Transport>> MakeCurlTransport(TransportOptions options);

}  // namespace orderquery::payment::http

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_CURL_TRANSPORT_H_
