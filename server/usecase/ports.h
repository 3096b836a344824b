// The ports the use cases need from payment providers: one interface per question, in the use
// cases' own words (domain types, deadlines, callbacks). Each provider folder under
// server/payment/ implements the ones it can answer and registers itself (payment/registry.h);
// nothing here names a provider, and the use cases never include a provider's headers.
#ifndef ORDERQUERY_SERVER_USECASE_PORTS_H_
#define ORDERQUERY_SERVER_USECASE_PORTS_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/recharge.h"
#include "server/domain/recharge_policy.h"
#include "server/domain/snapshots.h"
#include "server/domain/vehicle.h"

namespace orderquery::usecase {

// "What state is this recharge order in at the provider?" (QueryRechargeOrder, the reconciler).
// `done` runs exactly once, possibly on the provider's I/O thread (so it must not block) or
// inline. Failure statuses: NOT_FOUND = the provider does not know the order; others are
// failures (RESOURCE_EXHAUSTED, UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED, FAILED_PRECONDITION for
// a merchant misconfiguration, ...).
class OrderStatusProvider {
 public:
  using QueryCallback = std::function<void(absl::StatusOr<domain::UpstreamTransaction>)>;
  virtual ~OrderStatusProvider() = default;
  // Whether this provider holds the account the order was placed with (appid, mchid,
  // sub_mchid); several providers are asked in turn (payment::OrderRouter).
  virtual bool Serves(const domain::RechargeOrder& /*order*/) const { return true; }
  virtual void Query(const domain::RechargeOrder& order, absl::Time deadline,
                     QueryCallback done) = 0;
  // Serves() and Query() in one step, so that a provider finds the order's account once per
  // call (payment::OrderRouter asks this): true when it took the call (`*done` moved from and
  // run exactly once, as by Query), false when it does not serve the order (`*done` untouched,
  // nothing run). The default asks Serves(), then Query().
  virtual bool QueryIfServed(const domain::RechargeOrder& order, absl::Time deadline,
                             QueryCallback* done) {
    if (!Serves(order)) return false;
    Query(order, deadline, std::move(*done));
    return true;
  }
  // The provider's error code behind a failure, for the query log ("" when none).
  virtual std::string ErrorCode(const absl::Status& status) const = 0;
};

// "Close this unpaid order" (the reconciler, at expiry). OK when closed; a refusal because the
// order is paid is recognised by IsAlreadyPaid().
class OrderCloser {
 public:
  virtual ~OrderCloser() = default;
  virtual void Close(const domain::RechargeOrder& order, absl::Time deadline,
                     std::function<void(absl::Status)> done) = 0;
  virtual bool IsAlreadyPaid(const absl::Status& status) const = 0;
};

// A verified vehicle-payment transaction (seed 002) and the reply body it came from.
struct VehicleAnswer {
  domain::VehicleTransaction transaction;
  std::string body_json;  // the verified reply body, stored as-is
};

// "What does the provider say about this vehicle payment?" (GetVehicleTransaction).
class VehicleStatusProvider {
 public:
  virtual ~VehicleStatusProvider() = default;
  virtual void Query(const std::string& out_trade_no, const std::string& sub_mchid,
                     absl::Time deadline,
                     std::function<void(absl::StatusOr<VehicleAnswer>)> done) = 0;
  // Decodes a stored body (it was verified when it arrived).
  virtual absl::StatusOr<domain::VehicleTransaction> Decode(const std::string& body_json) const = 0;
};

// "What does this merchant's trade API say about this trade order?" (GetTradeOrder, seed 001).
class TradeStatusProvider {
 public:
  using Callback = std::function<void(absl::StatusOr<domain::TradeOrderRecord>)>;
  virtual ~TradeStatusProvider() = default;
  // Whether `merchant` is configured, so callers can reject a request before any I/O.
  virtual bool HasMerchant(absl::string_view merchant) const = 0;
  // The merchant a request that names none is sent to ("" = such requests are refused).
  virtual std::string DefaultMerchant() const { return ""; }
  // Asks `merchant`'s API for `trade_order_id`. `done` runs exactly once, possibly on the
  // transport's thread (so it must not block) or inline. On success the record's `merchant` is
  // set and `fetched_at` is not. An unknown merchant is INVALID_ARGUMENT.
  virtual void GetTradeOrder(absl::string_view merchant, absl::string_view trade_order_id,
                             absl::Time deadline, Callback done) = 0;
};

}  // namespace orderquery::usecase

#endif  // ORDERQUERY_SERVER_USECASE_PORTS_H_
