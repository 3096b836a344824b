#include "server/usecase/port_logging.h"

#include <cstdint>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace orderquery::usecase {
namespace {

std::shared_ptr<const PortDecoration> Shared(PortDecoration d) {
  if (d.display_name.empty()) d.display_name = d.provider;
  return std::make_shared<const PortDecoration>(std::move(d));
}

// A fresh id for a failed call, attached to its status with the provider's name.
std::string Tag(absl::Status& s, const PortDecoration& d) {
  std::string id = log::NewId();
  s.SetPayload(kUpstreamLogIdTypeUrl, absl::Cord(id));
  s.SetPayload(kUpstreamProviderTypeUrl, absl::Cord(d.display_name));
  return id;
}

// `done`, which first has `log_line` log a reply that is a failure (not OK, and not NOT_FOUND:
// the provider does not know it, an answer), given its status tagged with the line's id.
template <typename T, typename LogLine>
std::function<void(absl::StatusOr<T>)> LoggingFailures(std::shared_ptr<const PortDecoration> d,
                                                       std::function<void(absl::StatusOr<T>)> done,
                                                       LogLine log_line) {
  return [d = std::move(d), done = std::move(done),
          log_line = std::move(log_line)](absl::StatusOr<T> reply) {
    if (!reply.ok() && !absl::IsNotFound(reply.status())) {
      absl::Status s = reply.status();
      const std::string id = Tag(s, *d);
      log_line(s, id);
      reply = std::move(s);
    }
    done(std::move(reply));
  };
}

}  // namespace

std::optional<std::string> UpstreamLogIdOf(const absl::Status& status) {
  auto payload = status.GetPayload(kUpstreamLogIdTypeUrl);
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}

std::optional<std::string> UpstreamProviderOf(const absl::Status& status) {
  auto payload = status.GetPayload(kUpstreamProviderTypeUrl);
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}

// --- OrderStatusProvider ---

LoggingOrderStatusProvider::LoggingOrderStatusProvider(std::shared_ptr<OrderStatusProvider> inner,
                                                       PortDecoration d)
    : inner_(std::move(inner)), decoration_(Shared(std::move(d))) {}

bool LoggingOrderStatusProvider::Serves(const domain::RechargeOrder& order) const {
  return inner_->Serves(order);
}

void LoggingOrderStatusProvider::Query(const domain::RechargeOrder& order, absl::Time deadline,
                                       QueryCallback done) {
  inner_->Query(order, deadline, Logged(order, std::move(done)));
}

bool LoggingOrderStatusProvider::QueryIfServed(const domain::RechargeOrder& order,
                                               absl::Time deadline, QueryCallback* done) {
  // The caller's callback stays theirs until the provider takes the call.
  auto held = std::make_shared<QueryCallback>(std::move(*done));
  QueryCallback logged = Logged(order, [held](absl::StatusOr<domain::UpstreamTransaction> reply) {
    (*held)(std::move(reply));
  });
  if (inner_->QueryIfServed(order, deadline, &logged)) return true;
  *done = std::move(*held);
  return false;
}

OrderStatusProvider::QueryCallback LoggingOrderStatusProvider::Logged(
    const domain::RechargeOrder& order, QueryCallback done) const {
  return LoggingFailures(decoration_, std::move(done),
                         [inner = inner_, d = decoration_, order_no = order.order_no,
                          appid = order.appid, mchid = order.mchid, sub_mchid = order.sub_mchid](
                             const absl::Status& s, const std::string& id) {
                           log::Emit(log::FailureLevel(s), "upstream_failed",
                                     {{"upstream_log_id", id},
                                      {"provider", d->provider},
                                      {"port", "order_status"},
                                      {"operation", "query"},
                                      {"order_no", order_no},
                                      {"appid", appid},
                                      {"mchid", mchid},
                                      {"sub_mchid", sub_mchid},
                                      {"code", absl::StatusCodeToString(s.code())},
                                      {"provider_code", inner->ErrorCode(s)},
                                      {"error", s.message()}});
                         });
}

std::string LoggingOrderStatusProvider::ErrorCode(const absl::Status& status) const {
  return inner_->ErrorCode(status);
}

// --- OrderCloser ---

LoggingOrderCloser::LoggingOrderCloser(std::shared_ptr<OrderCloser> inner, PortDecoration d)
    : inner_(std::move(inner)), decoration_(Shared(std::move(d))) {}

void LoggingOrderCloser::Close(const domain::RechargeOrder& order, absl::Time deadline,
                               std::function<void(absl::Status)> done) {
  inner_->Close(order, deadline,
                [inner = inner_, d = decoration_, order_no = order.order_no, mchid = order.mchid,
                 sub_mchid = order.sub_mchid, done = std::move(done)](absl::Status s) {
                  // Not known there, or refused because it is paid: answers, not failures.
                  if (!s.ok() && !absl::IsNotFound(s) && !inner->IsAlreadyPaid(s)) {
                    const std::string id = Tag(s, *d);
                    log::Emit(log::FailureLevel(s), "upstream_failed",
                              {{"upstream_log_id", id},
                               {"provider", d->provider},
                               {"port", "order_closer"},
                               {"operation", "close"},
                               {"order_no", order_no},
                               {"mchid", mchid},
                               {"sub_mchid", sub_mchid},
                               {"code", absl::StatusCodeToString(s.code())},
                               {"error", s.message()}});
                  }
                  done(std::move(s));
                });
}

bool LoggingOrderCloser::IsAlreadyPaid(const absl::Status& status) const {
  return inner_->IsAlreadyPaid(status);
}

// --- VehicleStatusProvider ---

LoggingVehicleStatusProvider::LoggingVehicleStatusProvider(
    std::shared_ptr<VehicleStatusProvider> inner, PortDecoration d)
    : inner_(std::move(inner)), decoration_(Shared(std::move(d))) {}

void LoggingVehicleStatusProvider::Query(const std::string& out_trade_no,
                                         const std::string& sub_mchid, absl::Time deadline,
                                         std::function<void(absl::StatusOr<VehicleAnswer>)> done) {
  inner_->Query(out_trade_no, sub_mchid, deadline,
                LoggingFailures(decoration_, std::move(done),
                                [d = decoration_, out_trade_no, sub_mchid](const absl::Status& s,
                                                                           const std::string& id) {
                                  log::Emit(log::FailureLevel(s), "upstream_failed",
                                            {{"upstream_log_id", id},
                                             {"provider", d->provider},
                                             {"port", "vehicle_status"},
                                             {"operation", "query"},
                                             {"out_trade_no", out_trade_no},
                                             {"sub_mchid", sub_mchid},
                                             {"code", absl::StatusCodeToString(s.code())},
                                             {"error", s.message()}});
                                }));
}

absl::StatusOr<domain::VehicleTransaction> LoggingVehicleStatusProvider::Decode(
    const std::string& body_json) const {
  return inner_->Decode(body_json);
}

// --- TradeStatusProvider ---

LoggingTradeStatusProvider::LoggingTradeStatusProvider(std::shared_ptr<TradeStatusProvider> inner,
                                                       PortDecoration d)
    : inner_(std::move(inner)), decoration_(Shared(std::move(d))) {}

bool LoggingTradeStatusProvider::HasMerchant(absl::string_view merchant) const {
  return inner_->HasMerchant(merchant);
}

std::string LoggingTradeStatusProvider::DefaultMerchant() const {
  return inner_->DefaultMerchant();
}

void LoggingTradeStatusProvider::GetTradeOrder(absl::string_view merchant,
                                               absl::string_view trade_order_id,
                                               absl::Time deadline, Callback done) {
  inner_->GetTradeOrder(merchant, trade_order_id, deadline,
                        LoggingFailures(decoration_, std::move(done),
                                        [d = decoration_, merchant = std::string(merchant),
                                         order = std::string(trade_order_id)](
                                            const absl::Status& s, const std::string& id) {
                                          log::Emit(log::FailureLevel(s), "upstream_failed",
                                                    {{"upstream_log_id", id},
                                                     {"provider", d->provider},
                                                     {"port", "trade_status"},
                                                     {"operation", "get_trade_order"},
                                                     {"merchant", merchant},
                                                     {"trade_order_id", order},
                                                     {"code", absl::StatusCodeToString(s.code())},
                                                     {"error", s.message()}});
                                        }));
}

// --- The factories ---

std::shared_ptr<OrderStatusProvider> Decorate(std::shared_ptr<OrderStatusProvider> port,
                                              const PortDecoration& d) {
  if (port == nullptr || !d.log_failures) return port;
  return std::make_shared<LoggingOrderStatusProvider>(std::move(port), d);
}

std::shared_ptr<OrderCloser> Decorate(std::shared_ptr<OrderCloser> port, const PortDecoration& d) {
  if (port == nullptr || !d.log_failures) return port;
  return std::make_shared<LoggingOrderCloser>(std::move(port), d);
}

std::shared_ptr<VehicleStatusProvider> Decorate(std::shared_ptr<VehicleStatusProvider> port,
                                                const PortDecoration& d) {
  if (port == nullptr || !d.log_failures) return port;
  return std::make_shared<LoggingVehicleStatusProvider>(std::move(port), d);
}

std::shared_ptr<TradeStatusProvider> Decorate(std::shared_ptr<TradeStatusProvider> port,
                                              const PortDecoration& d) {
  if (port == nullptr || !d.log_failures) return port;
  return std::make_shared<LoggingTradeStatusProvider>(std::move(port), d);
}

}  // namespace orderquery::usecase
