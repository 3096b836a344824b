// Reading the merchant trade API's reply (seed 001) (tests/fakes/tradeapi_encoder.h writes it):
// {"code": 0, "msg": "success", "data": {…trade order…}}.
//
// Tolerant of what such upstreams really send:
//   - numbers as JSON numbers or as strings of digits ("orderAmount": "1" or 1); identifiers the
//     table calls strings may come as numbers ("mchId": 20000000 -> "20000000");
//   - the type under `tradeType` or `TradeType` (the table and the example disagree; both given
//     and different is an error);
//   - null, an absent key, or "" for an absent value (strings become "", numbers 0, times unset);
//     a numeric field holding the string "null" (a Java String.valueOf(null)) is absent too,
//     while a string field keeps "null" verbatim (the example's operatorId): no guessing;
//   - goodsDesc as an array, or as a string holding a JSON array;
//   - times as 2019-08-23T11:12:21.000+0000 (the example) or RFC 3339 (Z or ±hh:mm);
//   - unknown keys are ignored.
// Strict where it matters, each failure naming the field (errors.h, UNAVAILABLE
// "unreadable reply from merchant API: …"):
//   - not JSON, not the envelope, data not an object, tradeOrderId or status missing;
//   - a money field (orderAmount, discountAmount, amount, mchIncome, refundTotalAmount, goods
//     cellPrice/currentPrice/discountAmount) or another integer field that is not an integer
//     ("1.5", 1.5 and 1.0 alike: never a yuan/fen guess);
//   - status not one of 0,1,2,-1,4,5,6,7; productType not 1..5 (or absent); tradeType not 1/2
//     (or absent); depositMode not 0/1 (or absent);
//   - a time in neither form (a time without an offset is ambiguous, so refused).
#ifndef ORDERQUERY_SERVER_PAYMENT_TRADEAPI_DECODER_H_
#define ORDERQUERY_SERVER_PAYMENT_TRADEAPI_DECODER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/snapshots.h"

namespace orderquery::payment::tradeapi {

// The reply body of /api/trade_order/get. code != 0 -> FromEnvelopeError (errors.h). The
// record's `merchant` and `fetched_at` are left for the caller.
absl::StatusOr<domain::TradeOrderRecord> DecodeTradeOrderReply(absl::string_view body);

// Only the `data` object, as JSON text (scenario files, tests).
absl::StatusOr<domain::TradeOrderRecord> DecodeTradeOrderData(absl::string_view data_json);

// One of the two accepted time forms; INVALID_ARGUMENT otherwise.
absl::StatusOr<absl::Time> ParseTradeTime(absl::string_view text);
// RFC 3339 in UTC with a `Z`, fraction only when non-zero: 2019-08-23T11:12:21Z.
std::string FormatRfc3339Utc(absl::Time t);

// Status codes of the seed: 0,1,2,-1,4,5,6,7.
bool IsKnownTradeStatus(int status);
// Final statuses, served from storage without asking upstream: 支付成功 2, 失败 -1,
// 全额退款 5, 押金退还 7. Partial refund (4) and unsettled deposit (6) can still change.
bool IsFinalTradeStatus(int status);

}  // namespace orderquery::payment::tradeapi

#endif  // ORDERQUERY_SERVER_PAYMENT_TRADEAPI_DECODER_H_
