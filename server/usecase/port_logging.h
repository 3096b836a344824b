// Decorators at the seams (issue 10): wrappers around the use cases' ports (ports.h), each adding
// one concern, stacked by one factory per port (Decorate), as google-cloud-cpp stacks its stubs.
// The stack, outermost first:
//
//   Logging<Port>   one `upstream_failed` line per failed call, its id attached to the status
//   the provider's port (payment/<name>/): signing, transport (limits, retries), decoding
//
// Logging sits outside the provider, so it sees one call's final outcome (after the transport's
// retries) exactly once. Upstream failures are logged here and nowhere else: the adapters and
// the use cases do not log them again, and the RPC layer's `rpc_failed` line names the
// `upstream_log_id` instead of repeating the message.
//
// A failed call is any status but OK and the answers the port defines as answers: NOT_FOUND
// ("the provider does not know it"), and for OrderCloser a refusal IsAlreadyPaid() recognises.
#ifndef ORDERQUERY_SERVER_USECASE_PORT_LOGGING_H_
#define ORDERQUERY_SERVER_USECASE_PORT_LOGGING_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/usecase/ports.h"

namespace orderquery::usecase {

// How one provider's ports are decorated.
struct PortDecoration {
  std::string provider;      // the registered name ("wechat"), logged as provider=
  std::string display_name;  // how callers' messages name it ("WeChat"); "" = `provider`
  bool log_failures = true;  // false: no logging decorator
};

// Payloads the logging decorator attaches to a failed call's status.
inline constexpr absl::string_view kUpstreamLogIdTypeUrl = "type.orderquery/upstream_log_id";
inline constexpr absl::string_view kUpstreamProviderTypeUrl = "type.orderquery/upstream_provider";

// The id of the `upstream_failed` line a status was logged under; absent when it was not.
std::optional<std::string> UpstreamLogIdOf(const absl::Status& status);
// The display name of the provider whose call failed with `status`; absent when none did.
std::optional<std::string> UpstreamProviderOf(const absl::Status& status);

class LoggingOrderStatusProvider final : public OrderStatusProvider {
 public:
  LoggingOrderStatusProvider(std::shared_ptr<OrderStatusProvider> inner, PortDecoration d);
  bool Serves(const domain::RechargeOrder& order) const override;
  void Query(const domain::RechargeOrder& order, absl::Time deadline, QueryCallback done) override;
  bool QueryIfServed(const domain::RechargeOrder& order, absl::Time deadline,
                     QueryCallback* done) override;
  std::string ErrorCode(const absl::Status& status) const override;

 private:
  // `done`, logging a failed reply first.
  QueryCallback Logged(const domain::RechargeOrder& order, QueryCallback done) const;

  std::shared_ptr<OrderStatusProvider> inner_;
  std::shared_ptr<const PortDecoration> decoration_;
};

class LoggingOrderCloser final : public OrderCloser {
 public:
  LoggingOrderCloser(std::shared_ptr<OrderCloser> inner, PortDecoration d);
  void Close(const domain::RechargeOrder& order, absl::Time deadline,
             std::function<void(absl::Status)> done) override;
  bool IsAlreadyPaid(const absl::Status& status) const override;

 private:
  std::shared_ptr<OrderCloser> inner_;
  std::shared_ptr<const PortDecoration> decoration_;
};

class LoggingVehicleStatusProvider final : public VehicleStatusProvider {
 public:
  LoggingVehicleStatusProvider(std::shared_ptr<VehicleStatusProvider> inner, PortDecoration d);
  void Query(const std::string& out_trade_no, const std::string& sub_mchid, absl::Time deadline,
             std::function<void(absl::StatusOr<VehicleAnswer>)> done) override;
  absl::StatusOr<domain::VehicleTransaction> Decode(const std::string& body_json) const override;

 private:
  std::shared_ptr<VehicleStatusProvider> inner_;
  std::shared_ptr<const PortDecoration> decoration_;
};

class LoggingTradeStatusProvider final : public TradeStatusProvider {
 public:
  LoggingTradeStatusProvider(std::shared_ptr<TradeStatusProvider> inner, PortDecoration d);
  bool HasMerchant(absl::string_view merchant) const override;
  std::string DefaultMerchant() const override;
  void GetTradeOrder(absl::string_view merchant, absl::string_view trade_order_id,
                     absl::Time deadline, Callback done) override;

 private:
  std::shared_ptr<TradeStatusProvider> inner_;
  std::shared_ptr<const PortDecoration> decoration_;
};

// The one factory per port: the provider's port wrapped in the stack above. Null stays null.
std::shared_ptr<OrderStatusProvider> Decorate(std::shared_ptr<OrderStatusProvider> port,
                                              const PortDecoration& d);
std::shared_ptr<OrderCloser> Decorate(std::shared_ptr<OrderCloser> port, const PortDecoration& d);
std::shared_ptr<VehicleStatusProvider> Decorate(std::shared_ptr<VehicleStatusProvider> port,
                                                const PortDecoration& d);
std::shared_ptr<TradeStatusProvider> Decorate(std::shared_ptr<TradeStatusProvider> port,
                                              const PortDecoration& d);

}  // namespace orderquery::usecase

#endif  // ORDERQUERY_SERVER_USECASE_PORT_LOGGING_H_
