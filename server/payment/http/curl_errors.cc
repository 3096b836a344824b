#include "server/payment/http/curl_errors.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace orderquery::payment::http::internal {
namespace {

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

std::string HostOf(absl::string_view url) {
  size_t start = url.find("://");
  start = start == absl::string_view::npos ? 0 : start + 3;
  size_t end = url.find_first_of("/?#", start);
  return std::string(
      url.substr(start, end == absl::string_view::npos ? url.size() - start : end - start));
}

absl::Status MapCurlError(const CurlFailure& f, const TransportOptions& options,
                          bool* attempt_timeout) {
  const CURLcode code = f.code;
  const std::string host = HostOf(f.url);
  const std::string detail =
      !f.error_buffer.empty() ? std::string(f.error_buffer) : curl_easy_strerror(code);
  if (code == CURLE_OPERATION_TIMEDOUT) {
    // The connect timer fires first when it is the shorter one and we never connected.
    const bool connect_phase = !f.connected && options.connect_timeout < options.request_timeout;
    const bool by_deadline =
        connect_phase ? f.connect_capped_by_deadline : f.total_capped_by_deadline;
    *attempt_timeout = !by_deadline;
    if (by_deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("deadline exceeded ", connect_phase ? "connecting to " : "waiting for ",
                       host, " (attempt ", f.attempt, ")"));
    }
    return absl::DeadlineExceededError(
        connect_phase
            ? absl::StrCat("connect timeout (", absl::FormatDuration(options.connect_timeout),
                           ") to ", host)
            : absl::StrCat("request timeout (", absl::FormatDuration(options.request_timeout),
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
    return absl::UnavailableError(absl::StrCat("tls: handshake with ", host, " failed: ", detail));
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
      if (f.body_too_large) {
        return absl::UnavailableError(
            absl::StrCat("response from ", host, " larger than ", kMaxResponseBytes, " bytes"));
      }
      return absl::InternalError(absl::StrCat("writing response failed: ", detail));
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return absl::InvalidArgumentError(absl::StrCat("bad url '", f.url, "': ", detail));
    case CURLE_OUT_OF_MEMORY:
      return absl::ResourceExhaustedError(absl::StrCat("curl out of memory: ", detail));
    default:
      // Proxy failures, malformed replies and the like: the upstream path is not usable now.
      return absl::UnavailableError(absl::StrCat("http exchange with ", host, " failed (curl ",
                                                 static_cast<int>(code), "): ", detail));
  }
}

}  // namespace orderquery::payment::http::internal
