// Wiring: the one place that turns a Config into a running server (ARCHITECTURE.md, Layers).
// Tests create an App directly, or start orderqueryd as a process.
#ifndef ORDERQUERY_SERVER_APP_H_
#define ORDERQUERY_SERVER_APP_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "server/config/config.h"
#include "server/domain/recharge.h"
#include "server/domain/snapshots.h"
#include "server/payment/http/transport.h"
#include "server/payment/registry.h"
#include "storage/mysql_pool.h"

namespace orderquery {

namespace storage {
class RetentionTask;
}  // namespace storage
namespace metrics {
class Registry;
}
namespace http {
class Listener;
}
class BlockingExecutor;

// Connects to the database, waiting up to db.startup_timeout_ms for it, and applies migrations.
absl::StatusOr<std::unique_ptr<storage::ConnectionPool>> ConnectAndMigrate(
    const config::Config& cfg);

// What an App runs on. App::Create(cfg) builds the real ones (curl transport, the registered
// providers, MariaDB and storage/'s repositories); an in-process test passes its own (fake
// repositories, fake or registry-built providers, no pool) to App::Create(cfg, deps).
struct Deps {
  // The providers' HTTP transport, shut down last (and at the end of the shutdown grace, so
  // that calls waiting on an upstream answer finish). Null when the providers need none.
  std::unique_ptr<payment::http::Transport> transport;
  // A provider with its module name (the notification path /notify/<name>/...). The first
  // provider that answers vehicle (trade) queries serves GetVehicleTransaction (GetTradeOrder);
  // recharge orders go to the first whose OrderStatusProvider::Serves() them.
  struct NamedProvider {
    std::string name;
    std::unique_ptr<payment::Provider> provider;
  };
  std::vector<NamedProvider> providers;
  // The repositories (shared, so that a test keeps its fakes to seed and inspect them).
  std::shared_ptr<domain::RechargeRepository> recharge;
  std::shared_ptr<domain::CheckSchedule> schedule;  // null: no reconciler (whatever the config)
  std::shared_ptr<domain::VehicleRepository> vehicles;
  std::shared_ptr<domain::TradeOrderRepository> trades;
  // The use cases' clock; null = absl::Now.
  std::function<absl::Time()> clock;
  // The database the repositories use, if any: health follows it, and retention and the pool
  // metrics need it. Null: health is SERVING while the server serves, no retention.
  std::unique_ptr<storage::ConnectionPool> pool;
  // The registry the transport and providers record into; null: App makes one when
  // admin.listen is set (nothing is recorded without an admin listener to serve it).
  std::unique_ptr<metrics::Registry> metrics;
};

// The context a registered provider is built in, from the upstream.* settings.
payment::ProviderContext ProviderContextFor(const config::Config& cfg,
                                            payment::http::Transport* transport,
                                            metrics::Registry* metrics);
// Builds every provider registered in payment::Providers() that `cfg` has a section for, in the
// registry's order (credentials are loaded here: a bad key fails before anything connects).
absl::StatusOr<std::vector<Deps::NamedProvider>> BuildRegisteredProviders(
    const config::Config& cfg, const payment::ProviderContext& ctx);

class App {
 public:
  // The real thing (orderqueryd): curl transport, registered providers, MariaDB (connected and
  // migrated here) and the storage repositories.
  static absl::StatusOr<std::unique_ptr<App>> Create(config::Config cfg);
  // The services over `deps` (every repository must be set). Connects to nothing itself.
  static absl::StatusOr<std::unique_ptr<App>> Create(config::Config cfg, Deps deps);
  ~App();

  // Binds and starts serving. Returns the bound "host:port".
  absl::StatusOr<std::string> Start();
  // Stops accepting, lets in-flight calls finish until `grace` passes, then cancels the rest.
  void Shutdown(absl::Duration grace);
  // The bound "host:port" of the notification listener after Start(); empty when off.
  const std::string& notify_address() const { return notify_address_; }
  // The bound "host:port" of the admin listener (GET /metrics) after Start(); empty when off.
  const std::string& admin_address() const { return admin_address_; }
  // The metrics registry; null when admin.listen is off (then nothing is recorded at all).
  metrics::Registry* metrics() const { return metrics_.get(); }

 private:
  App(config::Config cfg, std::unique_ptr<storage::ConnectionPool> pool,
      std::unique_ptr<metrics::Registry> metrics);
  void HealthLoop();
  // Scrape-time metrics over the counters the components keep (no rewrite of those).
  void RegisterMetrics();

  struct Services;
  // First, so it is destroyed last: components hold pointers into it.
  std::unique_ptr<metrics::Registry> metrics_;
  config::Config cfg_;
  std::unique_ptr<storage::ConnectionPool> pool_;
  std::unique_ptr<BlockingExecutor> executor_;
  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
  std::thread health_thread_;
  std::mutex health_mu_;
  std::condition_variable health_cv_;
  bool stopping_ = false;
  std::string notify_address_;
  std::unique_ptr<storage::RetentionTask> retention_;
  std::unique_ptr<http::Listener> admin_listener_;
  std::string admin_address_;
};

}  // namespace orderquery

#endif  // ORDERQUERY_SERVER_APP_H_
