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

 private:
  App(config::Config cfg, std::unique_ptr<storage::ConnectionPool> pool);
  void HealthLoop();

  struct Services;
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
};

}  // namespace orderquery

#endif  // ORDERQUERY_SERVER_APP_H_
