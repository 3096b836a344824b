// TradeOrderRecord (what storage keeps) <-> orderquery.v1.TradeOrder (what the API answers): the
// proto mapping is the service layer's, not the provider's.
// Times become RFC 3339 in UTC (`Z`); unset times are empty strings.
#ifndef ORDERQUERY_SERVER_SERVICE_TRADE_CONVERT_H_
#define ORDERQUERY_SERVER_SERVICE_TRADE_CONVERT_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "orderquery/v1/trade.pb.h"
#include "server/domain/snapshots.h"

namespace orderquery::service {

orderquery::v1::TradeOrder ToProto(const domain::TradeOrderRecord& r);

// INVALID_ARGUMENT naming the field when a time is not RFC 3339 or an enum value is unknown.
// `merchant` fills the record's merchant (the proto does not carry it); fetched_at is unset.
absl::StatusOr<domain::TradeOrderRecord> FromProto(const orderquery::v1::TradeOrder& o,
                                                   absl::string_view merchant);

}  // namespace orderquery::service

#endif  // ORDERQUERY_SERVER_SERVICE_TRADE_CONVERT_H_
