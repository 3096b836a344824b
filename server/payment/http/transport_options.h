// The options of the transport stack (transport_stack.h), one struct for all its layers: the
// curl transport reads the connection and TLS fields, LimitingTransport the per-key caps,
// RetryingTransport `retry` and `jitter_random`, MeasuringTransport `metrics`.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_TRANSPORT_OPTIONS_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_TRANSPORT_OPTIONS_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/common/metrics.h"
#include "server/common/retry.h"
#include "server/payment/http/retry.h"

namespace orderquery::payment::http {

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

}  // namespace orderquery::payment::http

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_TRANSPORT_OPTIONS_H_
