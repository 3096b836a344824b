#include "server/app.h"

#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/app_services.h"
#include "server/common/executor.h"
#include "server/common/files.h"
#include "server/common/log.h"
#include "server/common/metrics.h"
#include "server/http/listener.h"
#include "storage/mysql_pool.h"
#include "storage/retention.h"

// Starting and stopping: the listeners, background work and health, and the shutdown order.
// Building the services is app_wiring.cc's, their metrics app_metrics.cc's.
namespace orderquery {

using files::ReadFile;

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
