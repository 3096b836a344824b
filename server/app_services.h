// App's internals shared by its translation units, not for use elsewhere: app_wiring.cc builds
// the services from a Config and Deps, app.cc starts and stops them, app_metrics.cc registers
// the scrape-time metrics over them.
#ifndef ORDERQUERY_SERVER_APP_SERVICES_H_
#define ORDERQUERY_SERVER_APP_SERVICES_H_

#include <memory>
#include <vector>

#include "server/app.h"
#include "server/http/listener.h"
#include "server/payment/http/transport.h"
#include "server/payment/registry.h"
#include "server/service/auth.h"
#include "server/service/order_query_service.h"
#include "server/service/trade_order_service.h"
#include "server/usecase/recharge_query.h"
#include "server/usecase/reconciler.h"
#include "server/usecase/trade_query.h"
#include "server/usecase/vehicle_query.h"

namespace orderquery {

// Everything the services need, in construction order (destroyed in reverse).
struct App::Services {
  std::unique_ptr<payment::http::Transport> transport;
  // Every provider, built from its config section (payment/registry.h) or given by a test; their
  // background work is stopped before the transport goes.
  std::vector<Deps::NamedProvider> providers;
  std::unique_ptr<payment::OrderRouter> orders;
  std::shared_ptr<domain::RechargeRepository> recharge_repo;
  std::shared_ptr<domain::CheckSchedule> schedule;
  std::shared_ptr<domain::VehicleRepository> vehicle_repo;
  std::shared_ptr<domain::TradeOrderRepository> trade_repo;
  std::unique_ptr<usecase::RechargeQuery> recharge;
  std::unique_ptr<usecase::Reconciler> reconciler;
  std::unique_ptr<http::Listener> notify_listener;
  std::unique_ptr<usecase::VehicleQuery> vehicle;
  std::unique_ptr<usecase::TradeQuery> trade;
  std::unique_ptr<service::CallerAuth> auth;
  std::unique_ptr<service::OrderQueryServiceImpl> order_query;
  std::unique_ptr<service::TradeOrderServiceImpl> trade_order;
};

}  // namespace orderquery

#endif  // ORDERQUERY_SERVER_APP_SERVICES_H_
