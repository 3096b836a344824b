// The one place that turns WeChat Pay outcomes other than a verified, decoded 2xx reply into an
// absl::Status with a precise code (ARCHITECTURE.md, Errors). Services map codes 1:1 to gRPC.
//
//   upstream outcome                                         code
//   400 PARAM_ERROR                                          INVALID_ARGUMENT
//   400 INVALID_REQUEST (incl. "not a parking order",        FAILED_PRECONDITION, WeChat's
//       "sub-merchant not bound"), other WeChat 4xx codes      message in the status message
//   401 SIGN_ERROR (or any 401)                              INTERNAL (our signing/config)
//   404 NOT_FOUND / ORDER_NOT_EXIST / ORDERNOTEXIST          NOT_FOUND
//   close order: ORDERPAID (订单已支付), ORDER_CLOSED (any 4xx)  FAILED_PRECONDITION (the order's
//                                                              state; read WechatCode())
//   429 RATELIMIT_EXCEEDED (or any 429)                      RESOURCE_EXHAUSTED
//   5xx SYSTEM_ERROR (or any 5xx)                            UNAVAILABLE
//   error reply that is not WeChat's JSON error (a proxy's   UNAVAILABLE: unknown, ask again
//       HTML page, truncated, empty), other statuses
//   transport DEADLINE_EXCEEDED / UNAVAILABLE (incl. tls:)   unchanged
//   transport RESOURCE_EXHAUSTED (our limiter queue full)    unchanged
//   2xx reply failing verification                           INTERNAL (never "not paid")
//   2xx reply verified but unreadable / field missing        UNAVAILABLE (unknown, ask again)
//   2xx reply verified but about another order               INTERNAL
//
// Error replies often come unsigned (no Wechatpay-* headers), so nothing here acts on their
// content beyond describing the error. WeChat's code string and the HTTP status travel with the
// status as payloads (WechatCode(), UpstreamHttpStatus()) for the query log.
#ifndef ORDERQUERY_SERVER_PAYMENT_WECHAT_ERRORS_H_
#define ORDERQUERY_SERVER_PAYMENT_WECHAT_ERRORS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/payment/http/transport.h"

namespace orderquery::payment::wechat {

inline constexpr absl::string_view kWechatCodeTypeUrl = "type.orderquery/wechat_code";
inline constexpr absl::string_view kVerificationTypeUrl = "type.orderquery/wechat_verification";
inline constexpr absl::string_view kWechatMessageTypeUrl = "type.orderquery/wechat_message";
inline constexpr absl::string_view kHttpStatusTypeUrl = "type.orderquery/wechat_http_status";

// A non-2xx reply (status and body as received).
absl::Status FromErrorReply(int http_status, absl::string_view body);
inline absl::Status FromErrorReply(const http::Response& response) {
  return FromErrorReply(response.status, response.body);
}

// A failed http::Transport::Send (no reply at all).
absl::Status FromTransportFailure(const absl::Status& transport_status);

// A 2xx reply whose signature/headers did not verify (`reason` from ResponseVerifier).
absl::Status FromVerificationFailure(const absl::Status& reason, int http_status);

// A verified 2xx reply we cannot use: not JSON, truncated, a required field missing or of the
// wrong type (`reason` from the decoders in model.h).
absl::Status FromUnreadableReply(const absl::Status& reason, int http_status);

// A verified, readable 2xx reply that contradicts the request (another order, another
// sub-merchant): INTERNAL, and never used.
absl::Status FromInconsistentReply(const absl::Status& reason, int http_status);

// WeChat's error code ("PARAM_ERROR", …) carried by a status from FromErrorReply.
std::optional<std::string> WechatCode(const absl::Status& status);
// WeChat's error message (UTF-8, cleaned and bounded) carried by a status from FromErrorReply.
std::optional<std::string> WechatMessage(const absl::Status& status);
// The HTTP status of the reply a status was made from (absent for transport failures).
std::optional<int> UpstreamHttpStatus(const absl::Status& status);
// For a status from FromVerificationFailure: why the reply failed verification
// (VerificationFailureReason: "unknown_serial", "clock_skew", ...); absent otherwise.
std::optional<std::string> VerificationFailureOf(const absl::Status& status);

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_ERRORS_H_
