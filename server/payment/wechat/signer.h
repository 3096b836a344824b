// WeChat Pay API v3 request signing (WECHATPAY2-SHA256-RSA2048) and the messages signatures
// cover. Playing WeChat (parsing and checking a request's Authorization, signing a response) is
// for the sandbox and tests: tests/fakes/wechat_signing.h.
#ifndef ORDERQUERY_SERVER_PAYMENT_WECHAT_SIGNER_H_
#define ORDERQUERY_SERVER_PAYMENT_WECHAT_SIGNER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/payment/http/transport.h"
#include "server/payment/wechat/crypto.h"

namespace orderquery::payment::wechat {

inline constexpr absl::string_view kAuthorizationScheme = "WECHATPAY2-SHA256-RSA2048";

// Response header names (as WeChat spells them; http::Response lookups ignore case).
inline constexpr absl::string_view kTimestampHeader = "Wechatpay-Timestamp";
inline constexpr absl::string_view kNonceHeader = "Wechatpay-Nonce";
inline constexpr absl::string_view kSignatureHeader = "Wechatpay-Signature";
inline constexpr absl::string_view kSerialHeader = "Wechatpay-Serial";

// "METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n": what a request signature covers.
// `path_and_query` is exactly what goes on the request line (already percent-encoded).
std::string SignatureMessage(absl::string_view method, absl::string_view path_and_query,
                             absl::string_view timestamp, absl::string_view nonce,
                             absl::string_view body);

// The Authorization header value:
// WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"
// `timestamp` is Unix seconds; `nonce` should come from RandomNonce().
absl::StatusOr<std::string> BuildAuthorization(absl::string_view mchid, absl::string_view serial_no,
                                               const RsaKey& private_key, absl::string_view method,
                                               absl::string_view path_and_query,
                                               absl::string_view body, int64_t timestamp,
                                               absl::string_view nonce);

// "TIMESTAMP\nNONCE\nBODY\n": what a response (or notification) signature covers.
std::string ResponseSignatureMessage(absl::string_view timestamp, absl::string_view nonce,
                                     absl::string_view body);

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_SIGNER_H_
