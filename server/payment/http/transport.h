// The one HTTP transport interface every payment adapter uses. Asynchronous: Send() returns at
// once and `done` runs later on the transport's event-loop thread, so a slow provider holds no
// thread per request. Callbacks must not block; hand blocking work to another executor.
//
// The shipped Transport is a stack (transport_stack.h): the libcurl transport that only moves
// bytes, wrapped by limiting, retrying and measuring decorators that are Transports themselves.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_TRANSPORT_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_TRANSPORT_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace orderquery::payment::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string url;  // absolute, already URL-encoded
  Headers headers;
  std::string body;
  // Absolute deadline for the whole exchange, retries included (the caller's gRPC deadline).
  absl::Time deadline = absl::InfiniteFuture();
  // Requests with the same non-empty key share a concurrency cap (one key per merchant).
  std::string limiter_key;
  // Only idempotent requests are retried.
  bool idempotent = false;
  // Labels of this request in the upstream metrics; few values each (never an order number).
  // Empty: provider "unknown", merchant = limiter_key, endpoint "other".
  std::string metric_provider;
  std::string metric_merchant;
  std::string metric_endpoint;
  // Which attempt this is (1 = the first). Set by RetryingTransport for the layers below it (the
  // limiter queues retries first, messages name the attempt); callers leave it at 0.
  int attempt = 0;
};

// The one 2xx check: a successful HTTP status.
inline bool IsSuccessStatus(int status) { return status >= 200 && status < 300; }

struct Response {
  int status = 0;
  Headers headers;   // names lower-cased, in arrival order
  std::string body;  // exactly as received
  // How long the exchange took from the moment it was sent (limiter waits and backoff excluded).
  // Set by the curl transport; the retry policy and the latency metric read it.
  absl::Duration elapsed = absl::ZeroDuration();
  // First header with this (case-insensitive) name, or nullptr.
  const std::string* Header(absl::string_view name) const;
};

// Failure statuses: DEADLINE_EXCEEDED when the deadline or the configured timeout passed;
// UNAVAILABLE for connection, DNS, reset and TLS failures (message says which, TLS ones start
// with "tls:"); RESOURCE_EXHAUSTED when the limiter queue is full. An HTTP error status is not a
// failure here: it comes back as a Response.
using Callback = std::function<void(absl::StatusOr<Response>)>;

// Response header that carries the number of attempts made (1 = no retry).
inline constexpr char kAttemptsHeader[] = "x-oq-attempts";
// absl::Status payload type URL carrying the attempts of a failed request, as decimal text.
inline constexpr char kAttemptsPayloadUrl[] = "type.orderquery/http.attempts";

// The attempts made for a final outcome; 0 if the outcome does not say (e.g. never sent).
int AttemptsOf(const absl::StatusOr<Response>& outcome);

class Transport {
 public:
  virtual ~Transport() = default;
  virtual void Send(Request request, Callback done) = 0;
  // Fails every request not yet answered (CANCELLED) and every later one at once, and returns
  // after their callbacks have run: from then on nothing is called back from another thread.
  // For shutdown, before whatever the callbacks use goes. Idempotent; never from a callback.
  virtual void Shutdown() {}
};

}  // namespace orderquery::payment::http

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_TRANSPORT_H_
