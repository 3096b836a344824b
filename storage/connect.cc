#include "storage/connect.h"

#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "storage/migrations.h"

namespace orderquery::storage {

retry::BackoffPolicy StartupConnectPolicy() {
  retry::BackoffPolicy p;
  p.max_attempts = std::numeric_limits<int>::max();  // the start-up timeout bounds the attempts
  p.initial_backoff = absl::Milliseconds(250);
  p.max_backoff = absl::Seconds(1);
  p.multiplier = 2.0;
  p.jitter = retry::Jitter::kEqual;
  return p;
}

absl::StatusOr<std::unique_ptr<ConnectionPool>> ConnectAndMigrate(const MysqlOptions& options,
                                                                  absl::Duration startup_timeout,
                                                                  retry::Clock& clock) {
  const absl::Time give_up = clock.Now() + startup_timeout;
  absl::StatusOr<std::unique_ptr<ConnectionPool>> pool = retry::Retry(
      retry::Backoff(StartupConnectPolicy()), clock, give_up,
      [&]() -> absl::StatusOr<std::unique_ptr<ConnectionPool>> {
        auto created = ConnectionPool::Create(options);
        if (!created.ok()) return created.status();
        // A migration that fails for another reason than an unreachable server won't heal.
        if (absl::Status m = ApplyMigrations(**created); !m.ok()) return m;
        return created;
      },
      [](const absl::Status& s) { return absl::IsUnavailable(s); },
      [](const retry::RetryEvent& e) {
        log::Warn("db_wait", {{"attempt", e.attempt}, {"error", e.status.ToString()}});
      });
  if (pool.ok()) return pool;
  return absl::Status(pool.status().code(),
                      absl::StrCat("database ", options.host, ":", options.port, "/",
                                   options.database, ": ", pool.status().message()));
}

}  // namespace orderquery::storage
