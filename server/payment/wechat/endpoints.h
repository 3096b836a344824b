// Request paths of the WeChat Pay v3 query and close endpoints. Every identifier is validated
// before it is put in a path (so before any I/O), then percent-encoded.
#ifndef ORDERQUERY_SERVER_PAYMENT_WECHAT_ENDPOINTS_H_
#define ORDERQUERY_SERVER_PAYMENT_WECHAT_ENDPOINTS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/common/text.h"

namespace orderquery::payment::wechat {

inline constexpr absl::string_view kProductionBaseUrl = "https://api.mch.weixin.qq.com";

// Identifiers are percent-encoded with the common encoder (so '*', valid in an out_trade_no,
// goes out as %2A).
using ::orderquery::text::PercentEncode;

// GET /v3/pay/transactions/out-trade-no/{no}?mchid= (direct merchant).
absl::StatusOr<std::string> DirectQueryPath(absl::string_view out_trade_no,
                                            absl::string_view mchid);
// GET /v3/pay/partner/transactions/out-trade-no/{no}?sp_mchid=&sub_mchid= (service provider).
absl::StatusOr<std::string> PartnerQueryPath(absl::string_view out_trade_no,
                                             absl::string_view sp_mchid,
                                             absl::string_view sub_mchid);
// GET /v3/vehicle/transactions/out-trade-no/{no}?sub_mchid= (parking, seed 002).
absl::StatusOr<std::string> VehicleQueryPath(absl::string_view out_trade_no,
                                             absl::string_view sub_mchid);

// POST /v3/pay/transactions/out-trade-no/{no}/close (direct; the mchid goes in the body).
absl::StatusOr<std::string> DirectClosePath(absl::string_view out_trade_no);
// POST /v3/pay/partner/transactions/out-trade-no/{no}/close (partner; ids go in the body).
absl::StatusOr<std::string> PartnerClosePath(absl::string_view out_trade_no);

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_ENDPOINTS_H_
