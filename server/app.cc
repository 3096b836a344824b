#include "server/app.h"

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "orderquery/v1/service.grpc.pb.h"
#include "server/common/executor.h"
#include "server/common/files.h"
#include "server/common/log.h"
#include "server/common/metrics.h"
#include "server/http/listener.h"
#include "server/payment/http/curl_transport.h"
#include "server/payment/providers.h"
#include "server/service/order_query_service.h"
#include "server/service/trade_order_service.h"
#include "server/usecase/recharge_query.h"
#include "server/usecase/reconciler.h"
#include "server/usecase/trade_query.h"
#include "server/usecase/vehicle_query.h"
#include "storage/connect.h"
#include "storage/migrations.h"
#include "storage/mysql_pool.h"
#include "storage/recharge_repository.h"
#include "storage/retention.h"
#include "storage/snapshot_repositories.h"

namespace orderquery {
namespace {

namespace v1 = ::orderquery::v1;

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

using files::ReadFile;

}  // namespace

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

namespace {

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
  auto transport = payment::http::MakeCurlTransport(std::move(transport_options));
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
  usecase::RechargeQuery::CacheOptions cache;
  cache.session_ttl = absl::Milliseconds(c.recharge_session_cache_ms);
  cache.final_ttl = absl::Milliseconds(c.recharge_final_cache_ms);
  cache.max_entries = static_cast<size_t>(c.recharge_cache_max_entries);
  cache.max_bytes = static_cast<size_t>(c.recharge_cache_max_bytes);
  s.recharge->ConfigureCaches(cache);
  usecase::RechargeQuery::FailureBackoff backoff;
  backoff.initial = absl::Milliseconds(c.recharge_failure_backoff_ms);
  backoff.max = absl::Milliseconds(c.recharge_failure_backoff_max_ms);
  s.recharge->ConfigureFailureBackoff(backoff);
  if (c.reconcile.enabled && s.schedule != nullptr) {
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
    s.reconciler = std::make_unique<usecase::Reconciler>(s.recharge.get(), s.recharge_repo.get(),
                                                         s.schedule.get(), s.orders.get(),
                                                         s.orders.get(), std::move(ro), clock);
  }
  if (!c.notify.listen.empty()) {
    http::ListenerOptions lo;
    lo.max_body_bytes = static_cast<size_t>(c.notify.max_body_bytes);
    lo.threads = c.notify.threads;
    lo.read_timeout_ms = c.notify.timeout_ms;
    s.notify_listener = std::make_unique<http::Listener>(lo);
    // Each provider's routes under /notify/<provider>/ (e.g. /notify/wechat/{merchant}).
    for (const Deps::NamedProvider& p : s.providers) {
      for (payment::NotifyRoute& route : p.provider->NotificationRoutes(s.recharge.get())) {
        s.notify_listener->Post(absl::StrCat("/notify/", p.name, "/", route.pattern),
                                std::move(route.handle));
      }
    }
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

App::App(config::Config cfg, std::unique_ptr<storage::ConnectionPool> pool,
         std::unique_ptr<metrics::Registry> metrics)
    : metrics_(std::move(metrics)), cfg_(std::move(cfg)), pool_(std::move(pool)) {
  const int workers = cfg_.workers > 0 ? cfg_.workers : cfg_.db.pool_size;
  executor_ = std::make_unique<BlockingExecutor>(workers, cfg_.max_queue);
  services_ = std::make_unique<Services>();
  const config::RetentionConfig& rc = cfg_.retention;
  if (pool_ && (rc.query_log_days > 0 || rc.notification_days > 0)) {
    storage::RetentionOptions ro;
    ro.query_log_age = absl::Hours(24) * rc.query_log_days;
    ro.notification_age = absl::Hours(24) * rc.notification_days;
    ro.batch = rc.batch;
    ro.pause = absl::Milliseconds(rc.pause_ms);
    ro.interval = absl::Milliseconds(rc.interval_ms);
    retention_ = std::make_unique<storage::RetentionTask>(pool_.get(), std::move(ro));
  }
  if (metrics_) {
    http::ListenerOptions lo;
    lo.threads = 2;
    lo.max_body_bytes = 1024;
    admin_listener_ = std::make_unique<http::Listener>(lo);
    metrics::Registry* registry = metrics_.get();
    admin_listener_->Get("/metrics", [registry](const http::Request&) {
      http::Response r;
      r.content_type = metrics::kContentType;
      r.body = registry->Expose();
      return r;
    });
  }
}

App::~App() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::string> App::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  if (cfg_.reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (!cfg_.tls.cert_file.empty()) {
    auto cert = ReadFile("tls.cert_file", cfg_.tls.cert_file);
    if (!cert.ok()) return cert.status();
    auto key = ReadFile("tls.key_file", cfg_.tls.key_file);
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions opts;
    opts.pem_key_cert_pairs.push_back({*key, *cert});
    if (!cfg_.tls.client_ca_file.empty()) {
      auto ca = ReadFile("tls.client_ca_file", cfg_.tls.client_ca_file);
      if (!ca.ok()) return ca.status();
      opts.pem_root_certs = *ca;
      opts.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    creds = grpc::SslServerCredentials(opts);
  }

  if (cfg_.env == "production") {
    if (cfg_.tls.cert_file.empty()) {
      log::Warn("plaintext_listener", {{"listen", cfg_.listen},
                                       {"why",
                                        "env production without tls.cert_file: gRPC "
                                        "(tokens included) travels in clear text"}});
    }
    if (cfg_.reflection) log::Warn("reflection_on", {{"why", "env production with reflection"}});
    if (!cfg_.notify.listen.empty()) {
      log::Warn("plaintext_listener",
                {{"listen", cfg_.notify.listen},
                 {"why", "notifications are plain HTTP here: terminate TLS in front of it"}});
    }
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(cfg_.listen, creds, &port);
  builder.RegisterService(services_->order_query.get());
  builder.RegisterService(services_->trade_order.get());
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    return absl::UnavailableError(absl::StrCat("listen ", cfg_.listen, ": cannot bind"));
  }
  std::string host = cfg_.listen.substr(0, cfg_.listen.rfind(':'));
  std::string bound = absl::StrCat(host, ":", port);

  if (services_->notify_listener) {
    auto notify = services_->notify_listener->Start(cfg_.notify.listen);
    if (!notify.ok()) {
      return absl::Status(notify.status().code(),
                          absl::StrCat("notify.listen: ", notify.status().message()));
    }
    notify_address_ = *notify;
  }
  if (admin_listener_) {
    auto admin = admin_listener_->Start(cfg_.admin.listen);
    if (!admin.ok()) {
      return absl::Status(admin.status().code(),
                          absl::StrCat("admin.listen: ", admin.status().message()));
    }
    admin_address_ = *admin;
  }
  if (retention_) retention_->Start();
  if (services_->reconciler) services_->reconciler->Start();
  for (const auto& p : services_->providers) p.provider->Start();

  // Without a database (an in-process test on fake repositories) there is nothing to follow:
  // SERVING while the server serves.
  bool db_up = true;
  if (pool_) {
    // Health follows the pool at once: a call that cannot connect turns it NOT_SERVING, one
    // that connects turns it SERVING; HealthLoop's ping covers the quiet times.
    pool_->SetReachabilityObserver([this](bool up) {
      std::lock_guard<std::mutex> lock(health_mu_);
      if (!stopping_) server_->GetHealthCheckService()->SetServingStatus(up);
    });
    // SERVING only while the database answers; checked before the first call is accepted.
    db_up = pool_->Ping();
  }
  server_->GetHealthCheckService()->SetServingStatus(db_up);
  if (pool_) health_thread_ = std::thread([this] { HealthLoop(); });
  log::Info("server_started", {{"listen", bound},
                               {"tls", !cfg_.tls.cert_file.empty()},
                               {"mtls", !cfg_.tls.client_ca_file.empty()},
                               {"reflection", cfg_.reflection},
                               {"db_pool", cfg_.db.pool_size},
                               {"db_up", db_up},
                               {"notify", notify_address_},
                               {"reconcile", services_->reconciler != nullptr}});
  return bound;
}

void App::RegisterMetrics() {
  metrics::Registry* r = metrics_.get();
  if (r == nullptr) return;
  using metrics::Sample;
  using metrics::Type;
  Services& s = *services_;
  // Providers register their own series (verification failures, notifications, key expiry).

  // The lifecycle's own counters, read at scrape time.
  const usecase::LifecycleCounters* lc = &s.recharge->counters();
  auto read = [](const std::atomic<int64_t>& a) { return static_cast<double>(a.load()); };
  r->AddCallback("orderquery_credits_total", "Recharges credited", Type::kCounter,
                 [lc, read] { return read(lc->credits); });
  r->AddCallback("orderquery_credited_fen_total", "Fen credited", Type::kCounter,
                 [lc, read] { return read(lc->credited_fen); });
  r->AddCallback("orderquery_late_credits_total",
                 "Credits of a payment that arrived after the order was closed", Type::kCounter,
                 [lc, read] { return read(lc->late_credits); });
  r->AddCallback("orderquery_credits_refused_total",
                 "Paid replies that failed a crediting check (reasons in the log)", Type::kCounter,
                 [lc, read] { return read(lc->refused_credits); });
  r->AddCallback("orderquery_state_moves_refused_total",
                 "State changes the order state machine refused (details in the log)",
                 Type::kCounter, [lc, read] { return read(lc->refused_moves); });
  r->AddCallback("orderquery_refunds_after_credit_total",
                 "REFUND seen after a credit (balance kept)", Type::kCounter,
                 [lc, read] { return read(lc->refunds_after_credit); });
  r->AddCallback("orderquery_state_races_lost_total",
                 "State changes decided on a row that changed meanwhile (decided again)",
                 Type::kCounter, [lc, read] { return read(lc->lost_races); });
  r->AddCallback("orderquery_coalesced_joins_total",
                 "Callers that joined an upstream query already under way", Type::kCounter,
                 {"flow"}, [&s] {
                   return std::vector<Sample>{
                       {{"recharge"}, static_cast<double>(s.recharge->coalesced_joins())},
                       {{"vehicle"}, static_cast<double>(s.vehicle->coalesced_joins())},
                       {{"trade"}, static_cast<double>(s.trade->coalesced_joins())}};
                 });
  if (s.reconciler) {
    const usecase::Reconciler::Totals* t = &s.reconciler->totals();
    r->AddCallback("orderquery_reconcile_lag_seconds",
                   "Age of the oldest overdue reconciliation check at the last sweep", Type::kGauge,
                   [t] { return static_cast<double>(t->lag_ms.load()) / 1000.0; });
    r->AddCallback("orderquery_reconcile_overdue", "Checks due and not yet claimed (last sweep)",
                   Type::kGauge, [t, read] { return read(t->overdue); });
    const usecase::Reconciler* rec = s.reconciler.get();
    r->AddCallback("orderquery_pending_orders",
                   "Pending recharge orders by state and age since creation (last sweep)",
                   Type::kGauge, {"state", "age"}, [rec] {
                     std::vector<Sample> out;
                     for (const auto& b : rec->PendingByStateAndAge()) {
                       out.push_back({{b.state, b.age}, static_cast<double>(b.count)});
                     }
                     return out;
                   });
    r->AddCallback("orderquery_reconcile_sweeps_total", "Reconciliation sweeps", Type::kCounter,
                   [t, read] { return read(t->sweeps); });
    r->AddCallback("orderquery_reconcile_claimed_total", "Orders claimed for a check",
                   Type::kCounter, [t, read] { return read(t->claimed); });
    r->AddCallback("orderquery_reconcile_checks_total",
                   "Reconciliation work done, by outcome (late_credit is a subset of credited)",
                   Type::kCounter, {"outcome"}, [t, read] {
                     return std::vector<Sample>{{{"credited"}, read(t->credited)},
                                                {{"late_credit"}, read(t->late_credits)},
                                                {{"closed"}, read(t->closed)},
                                                {{"failed"}, read(t->failed)}};
                   });
  }
  // Only the caches that are on: a cache that is off has nothing to count.
  const bool session_cache = cfg_.recharge_session_cache_ms > 0;
  const bool final_cache = cfg_.recharge_final_cache_ms > 0;
  if (session_cache || final_cache) {
    usecase::RechargeQuery* rq = s.recharge.get();
    r->AddCallback("orderquery_cache_requests_total",
                   "Recharge cache lookups: cache session or final, result hit or miss",
                   Type::kCounter, {"cache", "result"}, [rq, session_cache, final_cache] {
                     const usecase::RechargeQuery::CacheStats st = rq->cache_stats();
                     std::vector<Sample> out;
                     if (session_cache) {
                       out.push_back({{"session", "hit"}, static_cast<double>(st.session_hits)});
                       out.push_back({{"session", "miss"}, static_cast<double>(st.session_misses)});
                     }
                     if (final_cache) {
                       out.push_back({{"final", "hit"}, static_cast<double>(st.final_hits)});
                       out.push_back({{"final", "miss"}, static_cast<double>(st.final_misses)});
                     }
                     return out;
                   });
    r->AddCallback("orderquery_cache_bytes", "Bytes held by the recharge caches", Type::kGauge,
                   [rq] { return static_cast<double>(rq->cache_stats().bytes); });
  }
  if (storage::ConnectionPool* pool = pool_.get(); pool != nullptr) {
    r->AddCallback("orderquery_db_pool_in_use", "Database connections in use", Type::kGauge,
                   [pool] {
                     const auto st = pool->GetStats();
                     return static_cast<double>(st.open - st.idle);
                   });
    r->AddCallback("orderquery_db_pool_size", "Database connections the pool may open",
                   Type::kGauge,
                   [pool] { return static_cast<double>(pool->GetStats().pool_size); });
    r->AddCallback("orderquery_db_pool_waits_total", "Connection acquisitions that had to wait",
                   Type::kCounter,
                   [pool] { return static_cast<double>(pool->GetStats().waits_total); });
    r->AddCallback("orderquery_db_pool_timeouts_total",
                   "Connection acquisitions that timed out (UNAVAILABLE)", Type::kCounter,
                   [pool] { return static_cast<double>(pool->GetStats().timeouts_total); });
  }
  BlockingExecutor* executor = executor_.get();
  r->AddCallback("orderquery_executor_queue_depth", "Blocking work queued for a thread",
                 Type::kGauge, [executor] { return static_cast<double>(executor->queue_depth()); });
  r->AddCallback("orderquery_executor_max_queue", "Queue bound (RESOURCE_EXHAUSTED above it)",
                 Type::kGauge, [max = cfg_.max_queue] { return static_cast<double>(max); });
  if (retention_) {
    storage::RetentionTask* rt = retention_.get();
    r->AddCallback("orderquery_retention_deleted_rows_total",
                   "Rows deleted because they outlived their retention", Type::kCounter, {"table"},
                   [rt] {
                     using storage::RetainedTable;
                     return std::vector<Sample>{
                         {{"t_user_order_query_log"},
                          static_cast<double>(rt->deleted(RetainedTable::kQueryLog))},
                         {{"t_payment_notification"},
                          static_cast<double>(rt->deleted(RetainedTable::kNotifications))}};
                   });
    r->AddCallback("orderquery_retention_failures_total", "Retention passes that failed",
                   Type::kCounter, [rt] { return static_cast<double>(rt->failures()); });
  }
}

void App::HealthLoop() {
  bool last = true;
  std::unique_lock<std::mutex> lock(health_mu_);
  while (!stopping_) {
    health_cv_.wait_for(lock, std::chrono::milliseconds(cfg_.health_interval_ms));
    if (stopping_) break;
    lock.unlock();
    const bool up = pool_->Ping();
    lock.lock();
    if (stopping_) break;
    server_->GetHealthCheckService()->SetServingStatus(up);
    if (up != last) {
      if (up)
        log::Info("db_reachable");
      else
        log::Error("db_unreachable", {{"health", "NOT_SERVING"}});
      last = up;
    }
  }
}

void App::Shutdown(absl::Duration grace) {
  {
    std::lock_guard<std::mutex> lock(health_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  health_cv_.notify_all();
  if (health_thread_.joinable()) health_thread_.join();
  if (pool_) pool_->SetReachabilityObserver(nullptr);  // waits for a report in progress
  // Background work first: the reconciler finishes the orders in hand (their provider calls
  // complete or time out), the notification listener the requests in progress.
  if (retention_) retention_->Stop();  // between two batches
  if (services_ && services_->reconciler) services_->reconciler->Stop();
  // No download may be in flight when the transport goes (services_.reset() below).
  if (services_) {
    for (const auto& p : services_->providers) p.provider->Stop();
  }
  if (services_ && services_->notify_listener) services_->notify_listener->Stop();
  if (server_) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    // Stops accepting at once; calls in flight get until the deadline, then are cancelled. gRPC
    // still waits for every call's answer, and an answer may wait on a slow or retrying
    // upstream: at the deadline the transport fails what is in flight, so that the answers come
    // within the grace period.
    const absl::Time deadline = absl::Now() + grace;
    payment::http::Transport* transport = services_ ? services_->transport.get() : nullptr;
    std::mutex drain_mu;
    std::condition_variable drain_cv;
    bool drained = false;
    std::thread canceller([&] {
      std::unique_lock<std::mutex> lock(drain_mu);
      if (drain_cv.wait_until(lock, absl::ToChronoTime(deadline), [&] { return drained; })) return;
      lock.unlock();
      if (transport != nullptr) transport->Shutdown();
    });
    server_->Shutdown(absl::ToChronoTime(deadline));
    server_->Wait();
    {
      std::lock_guard<std::mutex> lock(drain_mu);
      drained = true;
    }
    drain_cv.notify_all();
    canceller.join();
  }
  // Order matters: no upstream callback may come after what it calls into (the executor, the
  // use cases, a merchant's configuration) is gone. An upstream query can outlive its callers
  // (each leaves at its own deadline): the transport fails what is left and returns once the
  // callbacks ran, then queued work finishes (an upstream call now fails at once), then the
  // services go. Scrapes read the executor and the services: no scrape after this.
  if (admin_listener_) admin_listener_->Stop();
  if (services_ && services_->transport) services_->transport->Shutdown();
  executor_.reset();  // runs what is queued, then joins
  services_.reset();
}

}  // namespace orderquery
