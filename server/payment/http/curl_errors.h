// Turning a failed libcurl attempt into the transport's Status vocabulary (transport.h):
// DEADLINE_EXCEEDED for timeouts, UNAVAILABLE for connection, DNS, reset and TLS failures (TLS
// messages start with "tls:"), INVALID_ARGUMENT for a bad URL. Internal to the transport.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_CURL_ERRORS_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_CURL_ERRORS_H_

#include <curl/curl.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/payment/http/transport_options.h"

namespace orderquery::payment::http::internal {

// A reply bigger than this is not a payment API answer; the transport stops reading rather than
// buffer it.
inline constexpr size_t kMaxResponseBytes = 8 * 1024 * 1024;

// "host:port" of an absolute URL, for messages.
std::string HostOf(absl::string_view url);

// What the event loop knows about an attempt that curl ended with an error.
struct CurlFailure {
  CURLcode code = CURLE_OK;
  absl::string_view url;
  absl::string_view error_buffer;  // curl's CURLOPT_ERRORBUFFER text, may be empty
  bool connected = false;          // the attempt got a connection (or reused one)
  bool connect_capped_by_deadline = false;
  bool total_capped_by_deadline = false;
  bool body_too_large = false;  // the body callback refused more than kMaxResponseBytes
  int attempt = 0;              // 1-based
};

// The Status for `f`. Sets *attempt_timeout when the per-attempt timeout (not the caller's
// deadline) ended it, which the retry policy may treat as retryable.
absl::Status MapCurlError(const CurlFailure& f, const TransportOptions& options,
                          bool* attempt_timeout);

}  // namespace orderquery::payment::http::internal

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_CURL_ERRORS_H_
