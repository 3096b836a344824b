// Wiring: the one place that turns a Config into a running server (ARCHITECTURE.md, Layers).
// Tests create an App directly, or start orderqueryd as a process.
#ifndef ORDERQUERY_SERVER_APP_H_
#define ORDERQUERY_SERVER_APP_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "server/config/config.h"

namespace orderquery {

namespace storage {
class ConnectionPool;
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

class App {
 public:
  static absl::StatusOr<std::unique_ptr<App>> Create(config::Config cfg);
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
