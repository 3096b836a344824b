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
#include "server/adapters.h"
#include "server/common/executor.h"
#include "server/common/files.h"
#include "server/common/log.h"
#include "server/common/metrics.h"
#include "server/http/listener.h"
#include "server/payment/http/curl_transport.h"
#include "server/payment/tradeapi/http_client.h"
#include "server/payment/wechat/client.h"
#include "server/payment/wechat/key_store.h"
#include "server/payment/wechat/merchant.h"
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
  std::vector<payment::wechat::MerchantConfig> wechat_merchants;
  std::unique_ptr<payment::wechat::HttpWechatPayClient> wechat;
  // Downloads platform certificates (merchants' key stores); stopped before the transport goes.
  std::unique_ptr<payment::wechat::CertificateRefresher> cert_refresher;
  std::unique_ptr<payment::tradeapi::HttpMerchantTradeClient> merchant;
  std::unique_ptr<storage::MysqlRechargeRepository> recharge_repo;
  std::unique_ptr<storage::MysqlVehicleRepository> vehicle_repo;
  std::unique_ptr<storage::MysqlTradeOrderRepository> trade_repo;
  std::unique_ptr<WechatRechargeQuerier> recharge_querier;
  std::unique_ptr<WechatVehicleQuerier> vehicle_querier;
  std::unique_ptr<usecase::RechargeQuery> recharge;
  std::unique_ptr<usecase::Reconciler> reconciler;
  std::unique_ptr<WechatNotificationHandler> notify_handler;
  std::unique_ptr<http::Listener> notify_listener;
  std::unique_ptr<usecase::VehicleQuery> vehicle;
  std::unique_ptr<usecase::TradeQuery> trade;
  std::unique_ptr<service::CallerAuth> auth;
  std::unique_ptr<service::OrderQueryServiceImpl> order_query;
  std::unique_ptr<service::TradeOrderServiceImpl> trade_order;
};

namespace {

absl::StatusOr<std::vector<payment::wechat::MerchantConfig>> LoadWechatMerchants(
    const config::Config& cfg) {
  namespace wechat = payment::wechat;
  std::vector<wechat::MerchantConfig> out;
  for (const auto& [name, m] : cfg.wechat_merchants) {
    wechat::MerchantConfig mc;
    mc.name = name;
    mc.appids = m.appids;
    mc.mode = m.mode == "partner" ? wechat::ApiMode::kPartner : wechat::ApiMode::kDirect;
    mc.mchid = m.mchid;
    mc.sub_mchid = m.sub_mchid;
    mc.serial_no = m.serial_no;
    mc.base_url = m.base_url;
    wechat::MerchantKeySources src;
    src.private_key = m.private_key_pem.empty() ? m.private_key_file : m.private_key_pem;
    src.public_key_id = m.public_key_id;
    src.public_key = m.public_key_file;
    src.platform_certificates = m.platform_cert_files;
    src.merchant_certificate = m.merchant_cert_file;
    mc.download_certificates = m.download_certificates;
    mc.apiv3_key = m.apiv3_key;  // given as a value (env); a file is read by LoadMerchantKeys
    src.apiv3_key = m.apiv3_key_file;
    auto loaded = wechat::LoadMerchantKeys(std::move(mc), src);
    if (!loaded.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("wechat.merchants.", name, ": ", loaded.status().message()));
    }
    if (absl::Status v = loaded->Validate(); !v.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("wechat.merchants.", name, ": ", v.message()));
    }
    out.push_back(*std::move(loaded));
  }
  return out;
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

// One line per key and certificate with its expiry (public keys have none): what an operator
// must renew, and when.
void LogKeyExpiries(const std::vector<payment::wechat::MerchantConfig>& merchants) {
  namespace wechat = payment::wechat;
  const absl::Time now = absl::Now();
  for (const auto& m : merchants) {
    if (!m.key_store) continue;
    for (const wechat::KeyExpiry& e : m.key_store->Expiries()) {
      if (!e.expires.has_value()) {
        log::Info("wechat_key_expiry", {{"merchant", e.merchant},
                                        {"kind", e.kind},
                                        {"serial", e.serial},
                                        {"expires", "never"}});
        continue;
      }
      const double days = wechat::DaysLeft(*e.expires, now);
      const std::initializer_list<log::Field> fields = {
          {"merchant", e.merchant},
          {"kind", e.kind},
          {"serial", e.serial},
          {"expires", absl::FormatTime(absl::RFC3339_sec, *e.expires, absl::UTCTimeZone())},
          {"days_left", days}};
      if (days < 14) {
        log::Warn("wechat_key_expiry", fields);
      } else {
        log::Info("wechat_key_expiry", fields);
      }
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<storage::ConnectionPool>> ConnectAndMigrate(
    const config::Config& cfg) {
  return storage::ConnectAndMigrate(DbOptions(cfg.db),
                                    absl::Milliseconds(cfg.db.startup_timeout_ms));
}

absl::StatusOr<std::unique_ptr<App>> App::Create(config::Config cfg) {
  // Credentials first: a bad key fails start-up before anything connects.
  auto merchants = LoadWechatMerchants(cfg);
  if (!merchants.ok()) return merchants.status();
  // Metrics only with an admin listener to serve them: off, nothing is recorded at all.
  std::unique_ptr<metrics::Registry> registry;
  if (!cfg.admin.listen.empty()) registry = std::make_unique<metrics::Registry>();
  payment::http::TransportOptions transport_options = TransportOptionsFrom(cfg.upstream);
  transport_options.metrics = registry.get();
  auto transport = payment::http::MakeCurlTransport(std::move(transport_options));
  if (!transport.ok()) return transport.status();
  auto trade_client =
      payment::tradeapi::HttpMerchantTradeClient::Create(cfg.trade_merchants, transport->get());
  if (!trade_client.ok()) return trade_client.status();

  auto pool = ConnectAndMigrate(cfg);
  if (!pool.ok()) return pool.status();
  std::unique_ptr<App> app(new App(std::move(cfg), std::move(*pool), std::move(registry)));
  auto& s = *app->services_;
  s.transport = std::move(*transport);
  s.wechat_merchants = std::move(*merchants);
  s.wechat = std::make_unique<payment::wechat::HttpWechatPayClient>(s.transport.get());
  {
    // Each merchant's key store; certificate-mode merchants with download_certificates download
    // now (bounded; a failure is logged and retried by the refresher once a minute).
    const auto& u = app->cfg_.upstream;
    payment::wechat::KeyStoreSettings ks;
    ks.refresh_interval = absl::Milliseconds(u.certificate_refresh_ms);
    ks.min_refresh_gap = absl::Milliseconds(u.certificate_min_refresh_ms);
    ks.download_timeout = absl::Milliseconds(u.request_timeout_ms * u.max_attempts +
                                             u.max_backoff_ms * (u.max_attempts - 1));
    std::vector<std::shared_ptr<payment::wechat::MerchantKeyStore>> stores;
    for (auto& m : s.wechat_merchants) {
      if (absl::Status st = payment::wechat::AttachKeyStore(m, s.wechat.get(), ks); !st.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("wechat.merchants.", m.name, ": ", st.message()));
      }
      stores.push_back(m.key_store);
    }
    // Read at scrape time: downloads and expiries show without a restart.
    payment::wechat::RegisterExpiryGauge(app->metrics_.get(), stores);
    s.cert_refresher = std::make_unique<payment::wechat::CertificateRefresher>(std::move(stores));
    s.cert_refresher->RunDue();
    LogKeyExpiries(s.wechat_merchants);
  }
  s.merchant = std::move(*trade_client);
  s.recharge_repo = std::make_unique<storage::MysqlRechargeRepository>(*app->pool_);
  s.vehicle_repo = std::make_unique<storage::MysqlVehicleRepository>(*app->pool_);
  s.trade_repo = std::make_unique<storage::MysqlTradeOrderRepository>(*app->pool_);
  s.recharge_querier = std::make_unique<WechatRechargeQuerier>(s.wechat.get(), &s.wechat_merchants);
  s.vehicle_querier = std::make_unique<WechatVehicleQuerier>(s.wechat.get(), &s.wechat_merchants);
  const auto& c = app->cfg_;
  s.recharge = std::make_unique<usecase::RechargeQuery>(
      s.recharge_repo.get(), s.recharge_querier.get(), app->executor_.get(),
      absl::Milliseconds(c.recharge_refresh_interval_ms));
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
  if (c.reconcile.enabled) {
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
    ro.request_timeout =
        absl::Milliseconds(c.upstream.request_timeout_ms * c.upstream.max_attempts +
                           c.upstream.max_backoff_ms * (c.upstream.max_attempts - 1));
    s.reconciler = std::make_unique<usecase::Reconciler>(
        s.recharge.get(), s.recharge_repo.get(), s.recharge_repo.get(), s.recharge_querier.get(),
        s.recharge_querier.get(), std::move(ro));
  }
  if (!c.notify.listen.empty()) {
    s.notify_handler =
        std::make_unique<WechatNotificationHandler>(&s.wechat_merchants, s.recharge.get());
    http::ListenerOptions lo;
    lo.max_body_bytes = static_cast<size_t>(c.notify.max_body_bytes);
    lo.threads = c.notify.threads;
    lo.read_timeout_ms = c.notify.timeout_ms;
    s.notify_listener = std::make_unique<http::Listener>(lo);
    WechatNotificationHandler* handler = s.notify_handler.get();
    s.notify_listener->Post("/notify/wechat/([A-Za-z0-9]+)",
                            [handler](const http::Request& r) { return handler->Handle(r); });
  }
  s.vehicle = std::make_unique<usecase::VehicleQuery>(
      s.vehicle_repo.get(), s.vehicle_querier.get(), app->executor_.get(),
      absl::Milliseconds(c.vehicle_refresh_interval_ms));
  s.trade = std::make_unique<usecase::TradeQuery>(s.trade_repo.get(), s.merchant.get(),
                                                  app->executor_.get(), c.default_trade_merchant,
                                                  absl::Milliseconds(c.trade_refresh_interval_ms));
  auto auth = service::CallerAuth::FromConfig(c);
  if (!auth.ok()) return auth.status();
  s.auth = std::move(*auth);
  s.order_query = std::make_unique<service::OrderQueryServiceImpl>(
      s.recharge.get(), s.vehicle.get(), s.auth.get(), app->metrics_.get());
  s.trade_order = std::make_unique<service::TradeOrderServiceImpl>(s.trade.get(), s.auth.get(),
                                                                   app->metrics_.get());
  app->RegisterMetrics();
  log::Info("wiring_done", {{"wechat_merchants", static_cast<int>(s.wechat_merchants.size())},
                            {"trade_merchants", static_cast<int>(c.trade_merchants.size())}});
  return app;
}

App::App(config::Config cfg, std::unique_ptr<storage::ConnectionPool> pool,
         std::unique_ptr<metrics::Registry> metrics)
    : metrics_(std::move(metrics)), cfg_(std::move(cfg)), pool_(std::move(pool)) {
  const int workers = cfg_.workers > 0 ? cfg_.workers : cfg_.db.pool_size;
  executor_ = std::make_unique<BlockingExecutor>(workers, cfg_.max_queue);
  services_ = std::make_unique<Services>();
  const config::RetentionConfig& rc = cfg_.retention;
  if (rc.query_log_days > 0 || rc.notification_days > 0) {
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
  if (services_->cert_refresher) services_->cert_refresher->Start();

  // SERVING only while the database answers; checked before the first call is accepted.
  const bool db_up = pool_->Ping();
  server_->GetHealthCheckService()->SetServingStatus(db_up);
  health_thread_ = std::thread([this] { HealthLoop(); });
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
  auto& verification = r->Counters("orderquery_verification_failures_total",
                                   "Provider replies and notifications that failed verification",
                                   {"provider", "reason"});
  s.recharge_querier->set_verification_failures(&verification);
  s.vehicle_querier->set_verification_failures(&verification);
  if (s.notify_handler) s.notify_handler->set_verification_failures(&verification);

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
  if (s.notify_handler) {
    const WechatNotificationHandler::Counters* nc = &s.notify_handler->counters();
    r->AddCallback(
        "orderquery_notifications_total",
        "Provider notifications: verified (applied), duplicate, rejected, unknown_order, failed",
        Type::kCounter, {"result"}, [nc, read] {
          return std::vector<Sample>{{{"verified"}, read(nc->applied)},
                                     {{"duplicate"}, read(nc->duplicate)},
                                     {{"rejected"}, read(nc->rejected)},
                                     {{"unknown_order"}, read(nc->unknown_order)},
                                     {{"failed"}, read(nc->failed)}};
        });
  }
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
  storage::ConnectionPool* pool = pool_.get();
  r->AddCallback("orderquery_db_pool_in_use", "Database connections in use", Type::kGauge, [pool] {
    const auto st = pool->GetStats();
    return static_cast<double>(st.open - st.idle);
  });
  r->AddCallback("orderquery_db_pool_size", "Database connections the pool may open", Type::kGauge,
                 [pool] { return static_cast<double>(pool->GetStats().pool_size); });
  r->AddCallback("orderquery_db_pool_waits_total", "Connection acquisitions that had to wait",
                 Type::kCounter,
                 [pool] { return static_cast<double>(pool->GetStats().waits_total); });
  r->AddCallback("orderquery_db_pool_timeouts_total",
                 "Connection acquisitions that timed out (UNAVAILABLE)", Type::kCounter,
                 [pool] { return static_cast<double>(pool->GetStats().timeouts_total); });
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
  // Background work first: the reconciler finishes the orders in hand (their provider calls
  // complete or time out), the notification listener the requests in progress.
  if (retention_) retention_->Stop();  // between two batches
  if (services_ && services_->reconciler) services_->reconciler->Stop();
  // No download may be in flight when the transport goes (services_.reset() below).
  if (services_ && services_->cert_refresher) services_->cert_refresher->Stop();
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
