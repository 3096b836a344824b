#include "server/payment/http/transport_options.h"

namespace orderquery::payment::http {

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

}  // namespace orderquery::payment::http
