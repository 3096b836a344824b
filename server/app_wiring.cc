// Wiring: a Config (and, for tests, Deps) into the services, in dependency order. Starting and
// stopping them is app.cc's; their scrape-time metrics app_metrics.cc's.
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/app.h"
#include "server/app_services.h"
#include "server/common/executor.h"
#include "server/common/log.h"
#include "server/common/metrics.h"
#include "server/payment/http/transport_stack.h"
#include "server/payment/providers.h"
#include "storage/connect.h"
#include "storage/mysql_pool.h"
#include "storage/recharge_repository.h"
#include "storage/snapshot_repositories.h"

namespace orderquery {
namespace {

storage::MysqlOptions DbOptions(const config::DbConfig& db) {
  storage::MysqlOptions o;
  o.host = db.host;
  o.port = db.port;
  o.user = db.user;
  o.password = db.password;
  o.database = db.database;
  if (!db.socket.empty()) o.unix_socket = db.socket;
  o.pool_size = db.pool_size;
  o.acquire_timeout = absl::Milliseconds(db.acquire_timeout_ms);
  o.connect_timeout = absl::Milliseconds(db.connect_timeout_ms);
  return o;
}

payment::http::TransportOptions TransportOptionsFrom(const config::UpstreamConfig& u) {
  payment::http::TransportOptions o;
  o.connect_timeout = absl::Milliseconds(u.connect_timeout_ms);
  o.request_timeout = absl::Milliseconds(u.request_timeout_ms);
  o.ca_file = u.ca_file;
  o.proxy = u.proxy;
  o.max_inflight_per_key = u.max_inflight_per_merchant;
  o.retry.max_attempts = u.max_attempts;
  o.retry.initial_backoff = absl::Milliseconds(u.initial_backoff_ms);
  o.retry.max_backoff = absl::Milliseconds(u.max_backoff_ms);
  return o;
}

// One upstream request's whole budget: every attempt's timeout and the backoffs between them.
absl::Duration RequestBudget(const config::UpstreamConfig& u) {
  return absl::Milliseconds(int64_t{u.request_timeout_ms} * u.max_attempts +
                            int64_t{u.max_backoff_ms} * (u.max_attempts - 1));
}

usecase::RechargeQuery::CacheOptions CacheOptionsFrom(const config::Config& c) {
  usecase::RechargeQuery::CacheOptions cache;
  cache.session_ttl = absl::Milliseconds(c.recharge_session_cache_ms);
  cache.final_ttl = absl::Milliseconds(c.recharge_final_cache_ms);
  cache.max_entries = static_cast<size_t>(c.recharge_cache_max_entries);
  cache.max_bytes = static_cast<size_t>(c.recharge_cache_max_bytes);
  return cache;
}

usecase::RechargeQuery::FailureBackoff FailureBackoffFrom(const config::Config& c) {
  usecase::RechargeQuery::FailureBackoff backoff;
  backoff.initial = absl::Milliseconds(c.recharge_failure_backoff_ms);
  backoff.max = absl::Milliseconds(c.recharge_failure_backoff_max_ms);
  return backoff;
}

usecase::ReconcilerOptions ReconcilerOptionsFrom(const config::Config& c) {
  usecase::ReconcilerOptions ro;
  ro.first_delay = absl::Milliseconds(c.reconcile.first_delay_ms);
  ro.backoff.clear();
  for (const std::string& b : c.reconcile.backoff_ms) {
    int ms = 0;
    if (absl::SimpleAtoi(b, &ms)) ro.backoff.push_back(absl::Milliseconds(ms));
  }
  ro.expire_after = absl::Milliseconds(c.reconcile.expire_after_ms);
  ro.sweep_interval = absl::Milliseconds(c.reconcile.interval_ms);
  ro.lease = absl::Milliseconds(c.reconcile.lease_ms);
  ro.batch = c.reconcile.batch;
  ro.max_inflight = c.reconcile.max_inflight;
  ro.request_timeout = RequestBudget(c.upstream);
  return ro;
}

// The notification listener with each provider's routes under /notify/<provider>/ (e.g.
// /notify/wechat/{merchant}); not started here.
std::unique_ptr<http::Listener> NotifyListenerFor(const config::NotifyConfig& n,
                                                  const std::vector<Deps::NamedProvider>& providers,
                                                  usecase::RechargeQuery* recharge) {
  http::ListenerOptions lo;
  lo.max_body_bytes = static_cast<size_t>(n.max_body_bytes);
  lo.threads = n.threads;
  lo.read_timeout_ms = n.timeout_ms;
  auto listener = std::make_unique<http::Listener>(lo);
  for (const Deps::NamedProvider& p : providers) {
    for (payment::NotifyRoute& route : p.provider->NotificationRoutes(recharge)) {
      listener->Post(absl::StrCat("/notify/", p.name, "/", route.pattern), std::move(route.handle));
    }
  }
  return listener;
}

}  // namespace

absl::StatusOr<std::unique_ptr<storage::ConnectionPool>> ConnectAndMigrate(
    const config::Config& cfg) {
  return storage::ConnectAndMigrate(DbOptions(cfg.db),
                                    absl::Milliseconds(cfg.db.startup_timeout_ms));
}

payment::ProviderContext ProviderContextFor(const config::Config& cfg,
                                            payment::http::Transport* transport,
                                            metrics::Registry* metrics) {
  payment::ProviderContext ctx;
  ctx.transport = transport;
  ctx.metrics = metrics;
  const auto& u = cfg.upstream;
  ctx.request_budget = RequestBudget(u);
  ctx.certificate_refresh = absl::Milliseconds(u.certificate_refresh_ms);
  ctx.certificate_min_refresh = absl::Milliseconds(u.certificate_min_refresh_ms);
  ctx.production = cfg.env == "production";
  return ctx;
}

absl::StatusOr<std::vector<Deps::NamedProvider>> BuildRegisteredProviders(
    const config::Config& cfg, const payment::ProviderContext& ctx) {
  std::vector<Deps::NamedProvider> providers;
  for (const payment::ProviderModule* m : payment::Providers().modules()) {
    auto it = cfg.providers.find(m->name);
    if (it == cfg.providers.end() || it->second == nullptr) continue;
    auto built = m->build(*it->second, ctx);
    if (!built.ok()) return built.status();
    providers.push_back({m->name, *std::move(built)});
  }
  return providers;
}

absl::StatusOr<std::unique_ptr<App>> App::Create(config::Config cfg) {
  Deps deps;
  // Metrics only with an admin listener to serve them: off, nothing is recorded at all.
  if (!cfg.admin.listen.empty()) deps.metrics = std::make_unique<metrics::Registry>();
  payment::http::TransportOptions transport_options = TransportOptionsFrom(cfg.upstream);
  transport_options.metrics = deps.metrics.get();
  auto transport = payment::http::MakeTransport(std::move(transport_options));
  if (!transport.ok()) return transport.status();
  deps.transport = *std::move(transport);
  // Providers next (each loads its credentials first): a bad key fails start-up before the
  // database is asked for anything.
  auto providers = BuildRegisteredProviders(
      cfg, ProviderContextFor(cfg, deps.transport.get(), deps.metrics.get()));
  if (!providers.ok()) return providers.status();
  deps.providers = *std::move(providers);

  auto pool = ConnectAndMigrate(cfg);
  if (!pool.ok()) return pool.status();
  deps.pool = *std::move(pool);
  auto recharge = std::make_shared<storage::MysqlRechargeRepository>(*deps.pool);
  deps.recharge = recharge;
  deps.schedule = recharge;
  deps.vehicles = std::make_shared<storage::MysqlVehicleRepository>(*deps.pool);
  deps.trades = std::make_shared<storage::MysqlTradeOrderRepository>(*deps.pool);
  return Create(std::move(cfg), std::move(deps));
}

absl::StatusOr<std::unique_ptr<App>> App::Create(config::Config cfg, Deps deps) {
  if (deps.recharge == nullptr || deps.vehicles == nullptr || deps.trades == nullptr) {
    return absl::InvalidArgumentError("wiring: every repository must be given");
  }
  if (deps.metrics == nullptr && !cfg.admin.listen.empty()) {
    deps.metrics = std::make_unique<metrics::Registry>();
  }
  usecase::RechargeQuery::Clock clock = deps.clock;
  if (!clock) clock = [] { return absl::Now(); };
  std::unique_ptr<App> app(new App(std::move(cfg), std::move(deps.pool), std::move(deps.metrics)));
  auto& s = *app->services_;
  s.transport = std::move(deps.transport);
  std::vector<payment::Provider*> all;
  usecase::VehicleStatusProvider* vehicles = nullptr;
  usecase::TradeStatusProvider* trades = nullptr;
  for (Deps::NamedProvider& p : deps.providers) {
    if (p.provider == nullptr) continue;
    all.push_back(p.provider.get());
    if (vehicles == nullptr) vehicles = p.provider->vehicles();
    if (trades == nullptr) trades = p.provider->trades();
    s.providers.push_back(std::move(p));
  }
  s.orders = std::make_unique<payment::OrderRouter>(all);
  s.recharge_repo = std::move(deps.recharge);
  s.schedule = std::move(deps.schedule);
  s.vehicle_repo = std::move(deps.vehicles);
  s.trade_repo = std::move(deps.trades);
  const auto& c = app->cfg_;
  s.recharge = std::make_unique<usecase::RechargeQuery>(
      s.recharge_repo.get(), s.orders.get(), app->executor_.get(),
      absl::Milliseconds(c.recharge_refresh_interval_ms), clock);
  s.recharge->ConfigureCaches(CacheOptionsFrom(c));
  s.recharge->ConfigureFailureBackoff(FailureBackoffFrom(c));
  if (c.reconcile.enabled && s.schedule != nullptr) {
    s.reconciler = std::make_unique<usecase::Reconciler>(
        s.recharge.get(), s.recharge_repo.get(), s.schedule.get(), s.orders.get(), s.orders.get(),
        ReconcilerOptionsFrom(c), clock);
  }
  if (!c.notify.listen.empty()) {
    s.notify_listener = NotifyListenerFor(c.notify, s.providers, s.recharge.get());
  }
  if (vehicles == nullptr || trades == nullptr) {
    return absl::FailedPreconditionError(
        "no registered payment provider answers vehicle or trade-order queries");
  }
  s.vehicle = std::make_unique<usecase::VehicleQuery>(
      s.vehicle_repo.get(), vehicles, app->executor_.get(),
      absl::Milliseconds(c.vehicle_refresh_interval_ms), clock);
  s.trade = std::make_unique<usecase::TradeQuery>(
      s.trade_repo.get(), trades, app->executor_.get(), trades->DefaultMerchant(),
      absl::Milliseconds(c.trade_refresh_interval_ms), clock);
  {
    // One shared upstream query lives at most as long as the transport may take for it, retries
    // included; each caller still leaves at its own deadline (issue 15, finding 6).
    const absl::Duration budget = RequestBudget(c.upstream);
    s.recharge->SetUpstreamBudget(budget);
    s.vehicle->SetUpstreamBudget(budget);
    s.trade->SetUpstreamBudget(budget);
  }
  auto auth = service::CallerAuth::FromConfig(c);
  if (!auth.ok()) return auth.status();
  s.auth = std::move(*auth);
  s.order_query = std::make_unique<service::OrderQueryServiceImpl>(
      s.recharge.get(), s.vehicle.get(), s.auth.get(), app->metrics_.get());
  s.trade_order = std::make_unique<service::TradeOrderServiceImpl>(s.trade.get(), s.auth.get(),
                                                                   app->metrics_.get());
  app->RegisterMetrics();
  for (const auto& [name, section] : c.providers) {
    log::Info("wiring_done", {{"provider", name}, {"accounts", section->accounts()}});
  }
  return app;
}

}  // namespace orderquery
