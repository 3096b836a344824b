// The one place that turns merchant trade API outcomes other than a readable `code == 0` reply
// into an absl::Status with a precise code (ARCHITECTURE.md, Errors). Services map codes 1:1 to
// gRPC. Platforms of this family answer errors as HTTP 200 with {"code": N, "msg": "…"}, with
// codes that differ between deployments (Jeepay: 10 system, 11 parameters, 12 database, 5003
// record missing, 9999 business error with the reason only in msg), so msg decides where the
// code does not.
//
// Envelope with code != 0 (at any HTTP status but 429 and 5xx), first match wins:
//   - msg mentions 签名 / 验签 / a word starting with "sign" (验签失败, "sign error")
//       -> INTERNAL "merchant API rejected our signature …": fix the key or sign_type.
//   - code 5003, or msg says 不存在 / "not exist" / "not found":
//       about an order (订单不存在, 记录不存在, "order not exist") -> NOT_FOUND;
//       about the merchant or app only (商户不存在, "mchId not exist") -> FAILED_PRECONDITION
//       (mch_id / app_id misconfigured).
//   - code 10 or 12, or msg 系统异常 / 系统繁忙 / "busy" -> UNAVAILABLE (ask again later).
//   - any other code (11 parameters, 5004 permission, 9999 …) -> FAILED_PRECONDITION.
//   Every message carries the upstream "(code N: msg)".
//
// HTTP status:
//   - 429 -> RESOURCE_EXHAUSTED; 5xx -> UNAVAILABLE (with the envelope's msg if any).
//   - 404 without an envelope -> NOT_FOUND (the message also names a wrong base_url).
//   - 401 / 403 without an envelope -> INTERNAL (credentials refused).
//   - other 4xx without an envelope -> FAILED_PRECONDITION; 1xx / 3xx -> UNAVAILABLE.
//
// 2xx body that is not JSON, not the envelope, or whose data breaks the contract (a money field
// that is not an integer, an enum value outside the seed's set, a bad time)
//   -> UNAVAILABLE "unreadable reply from merchant API: <what, naming the field>".
// Transport failures (DEADLINE_EXCEEDED, UNAVAILABLE incl. "tls:", RESOURCE_EXHAUSTED from our
// limiter) -> unchanged.
//
// The upstream code and the HTTP status travel with the status as payloads (MerchantCode(),
// UpstreamHttpStatus()) for logs.
#ifndef ORDERQUERY_SERVER_PAYMENT_TRADEAPI_ERRORS_H_
#define ORDERQUERY_SERVER_PAYMENT_TRADEAPI_ERRORS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/common/text.h"

namespace orderquery::payment::tradeapi {

inline constexpr char kMerchantCodeTypeUrl[] = "type.orderquery/merchant_code";
inline constexpr char kHttpStatusTypeUrl[] = "type.orderquery/merchant_http_status";
inline constexpr absl::string_view kUnreadablePrefix = "unreadable reply from merchant API: ";

// An envelope with code != 0.
absl::Status FromEnvelopeError(int64_t code, absl::string_view msg);

// A non-2xx reply; the body is read as an envelope when it is one.
absl::Status FromHttpError(int http_status, absl::string_view body);

// A failed http::Transport::Send (no reply at all): kept as it is.
absl::Status FromTransportFailure(const absl::Status& transport_status);

// UNAVAILABLE "unreadable reply from merchant API: <why>".
absl::Status UnreadableReply(absl::string_view why);

// The upstream's envelope code behind a status from FromEnvelopeError/FromHttpError.
std::optional<int64_t> MerchantCode(const absl::Status& status);
// The HTTP status of the reply behind a status from FromHttpError.
std::optional<int> UpstreamHttpStatus(const absl::Status& status);

// `text` made safe for a status message or a log line (the common UTF-8 cleaner): control
// characters become spaces, at most `max_bytes` bytes, never cutting a UTF-8 sequence, "…" when
// cut.
inline std::string CleanText(absl::string_view text, size_t max_bytes = 200) {
  return ::orderquery::text::CleanUtf8(text, max_bytes, "…");
}

}  // namespace orderquery::payment::tradeapi

#endif  // ORDERQUERY_SERVER_PAYMENT_TRADEAPI_ERRORS_H_
