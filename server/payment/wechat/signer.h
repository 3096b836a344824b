// WeChat Pay API v3 request signing (WECHATPAY2-SHA256-RSA2048) and the matching helpers the
// sandbox uses to play WeChat: parse and check a request's Authorization, sign a response.
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

// The parts of an Authorization header.
struct Authorization {
  std::string mchid;
  std::string nonce_str;
  std::string signature;
  std::string timestamp;
  std::string serial_no;
};

// Parses an Authorization header value; INVALID_ARGUMENT naming what is wrong (wrong scheme,
// malformed, missing/duplicate/unknown parameter). Does not check the signature.
absl::StatusOr<Authorization> ParseAuthorization(absl::string_view header);

// OK when `auth.signature` signs this request under `merchant_public_key`; INVALID_ARGUMENT
// otherwise. The caller decides about the timestamp window and nonce replay.
absl::Status VerifyRequestSignature(const Authorization& auth, const RsaKey& merchant_public_key,
                                    absl::string_view method, absl::string_view path_and_query,
                                    absl::string_view body);

// "TIMESTAMP\nNONCE\nBODY\n": what a response (or notification) signature covers.
std::string ResponseSignatureMessage(absl::string_view timestamp, absl::string_view nonce,
                                     absl::string_view body);

// base64 signature over ResponseSignatureMessage(timestamp, nonce, body).
absl::StatusOr<std::string> SignResponse(const RsaKey& private_key, absl::string_view timestamp,
                                         absl::string_view nonce, absl::string_view body);

// The four Wechatpay-* headers a signed response carries.
absl::StatusOr<http::Headers> SignedResponseHeaders(const RsaKey& private_key,
                                                    absl::string_view serial, int64_t timestamp,
                                                    absl::string_view nonce,
                                                    absl::string_view body);

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_SIGNER_H_
