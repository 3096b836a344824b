// Input checks done before any I/O (ARCHITECTURE.md, Money, time, identifiers).
#ifndef ORDERQUERY_SERVER_COMMON_VALIDATION_H_
#define ORDERQUERY_SERVER_COMMON_VALIDATION_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace orderquery {

// WeChat out_trade_no / our recharge order number: 1-32 of [0-9A-Za-z_*-] (seed 002).
absl::Status ValidateOutTradeNo(absl::string_view no, absl::string_view field = "out_trade_no");
// WeChat merchant ids (mchid, sub_mchid): 1-32 digits.
absl::Status ValidateMchId(absl::string_view id, absl::string_view field = "sub_mchid");
// Merchant trade order id (seed 001): 1-64 of [0-9A-Za-z_-].
absl::Status ValidateTradeOrderId(absl::string_view id, absl::string_view field = "trade_order_id");

}  // namespace orderquery

#endif  // ORDERQUERY_SERVER_COMMON_VALIDATION_H_
