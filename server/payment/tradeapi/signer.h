// Request signing of the aggregated-payment merchant API (seed 001), the way platforms of the
// XxPay/Jeepay family and WeChat Pay v2 do it:
//
//   1. take every request parameter except `sign` whose value is not empty;
//   2. sort them by name (byte order, which for the ASCII names used equals Java's TreeMap);
//   3. join them as `k=v` with `&`, values as they are before URL-encoding;
//   4. append `&key=SECRET`;
//   5. MD5 of that string, or HMAC-SHA256 keyed with SECRET over the same string;
//   6. upper-case hex goes into `sign`.
//
// Every request also carries `mchId`, `appId` (when configured), `signType` and `reqTime`, the
// request time as Unix epoch milliseconds in decimal (13 digits, Jeepay's choice: no time zone
// to get wrong). The sandbox uses Verify and CheckReqTime to play the platform.
#ifndef ORDERQUERY_SERVER_PAYMENT_TRADEAPI_SIGNER_H_
#define ORDERQUERY_SERVER_PAYMENT_TRADEAPI_SIGNER_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace orderquery::payment::tradeapi {

inline constexpr char kSignParam[] = "sign";
inline constexpr char kSignTypeParam[] = "signType";
inline constexpr char kReqTimeParam[] = "reqTime";
inline constexpr char kMchIdParam[] = "mchId";
inline constexpr char kAppIdParam[] = "appId";

enum class SignType { kMd5, kHmacSha256 };

// "MD5" or "HMAC-SHA256" (any letter case); INVALID_ARGUMENT naming the value otherwise.
absl::StatusOr<SignType> ParseSignType(absl::string_view name);
// "MD5" or "HMAC-SHA256".
absl::string_view SignTypeName(SignType type);

// Request parameters by name, values not URL-encoded. std::map keeps them in signing order.
using Params = std::map<std::string, std::string>;

// Steps 1-4 above: "a=1&b=2&key=SECRET". Contains the secret: never log it.
std::string StringToSign(const Params& params, absl::string_view key);

// Steps 1-6: the upper-case hex signature of `params` under `key`.
std::string Sign(const Params& params, absl::string_view key, SignType type);

// OK when params["sign"] is Sign(params, key, type) (hex compared ignoring case, in constant
// time); UNAUTHENTICATED "sign missing" / "sign mismatch" otherwise. Never says what the right
// signature would have been.
absl::Status Verify(const Params& params, absl::string_view key, SignType type);

// reqTime for `t`: Unix epoch milliseconds in decimal.
std::string FormatReqTime(absl::Time t);
// Parses a reqTime value; INVALID_ARGUMENT unless it is 1-16 decimal digits.
absl::StatusOr<absl::Time> ParseReqTime(absl::string_view value);
// OK when params["reqTime"] is present, well formed and within `max_skew` of `now` in either
// direction; INVALID_ARGUMENT naming the problem otherwise.
absl::Status CheckReqTime(const Params& params, absl::Time now, absl::Duration max_skew);

}  // namespace orderquery::payment::tradeapi

#endif  // ORDERQUERY_SERVER_PAYMENT_TRADEAPI_SIGNER_H_
