// The seam between the trade use-case and the merchant trade API (seed 001): ask one configured
// merchant for one trade order. HttpMerchantTradeClient (http_client.h) is the real thing; tests
// wire fakes.
#ifndef ORDERQUERY_SERVER_PAYMENT_TRADEAPI_CLIENT_H_
#define ORDERQUERY_SERVER_PAYMENT_TRADEAPI_CLIENT_H_

#include <functional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/snapshots.h"

namespace orderquery::payment::tradeapi {

class MerchantTradeClient {
 public:
  using Callback = std::function<void(absl::StatusOr<domain::TradeOrderRecord>)>;

  virtual ~MerchantTradeClient() = default;

  // Whether `merchant` is configured, so callers can reject a request before any I/O.
  virtual bool HasMerchant(absl::string_view merchant) const = 0;

  // Asks `merchant`'s API for `trade_order_id`. `done` runs exactly once, possibly on the
  // transport's thread (so it must not block) or inline. On success the record's `merchant` is
  // set and `fetched_at` is not. Failures follow errors.h; an unknown merchant is
  // INVALID_ARGUMENT.
  virtual void GetTradeOrder(absl::string_view merchant, absl::string_view trade_order_id,
                             absl::Time deadline, Callback done) = 0;
};

}  // namespace orderquery::payment::tradeapi

#endif  // ORDERQUERY_SERVER_PAYMENT_TRADEAPI_CLIENT_H_
