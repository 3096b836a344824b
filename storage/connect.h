// Start-up: connect to the database, waiting for it while it is unreachable, and migrate.
#ifndef ORDERQUERY_STORAGE_CONNECT_H_
#define ORDERQUERY_STORAGE_CONNECT_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/common/retry.h"
#include "storage/mysql_pool.h"

namespace orderquery::storage {

// How start-up retries an unreachable database: short jittered waits growing to one second, as
// many attempts as fit in the start-up timeout.
retry::BackoffPolicy StartupConnectPolicy();

// Creates the pool and applies the embedded migrations. While either fails with UNAVAILABLE
// (the database is not up yet) it tries again after a backoff (StartupConnectPolicy), logging
// `db_wait`, for as long as another wait ends within `startup_timeout`; any other failure (bad
// password, a broken migration) ends at once. The error names the database ("database
// host:port/name: ..."), never the password.
absl::StatusOr<std::unique_ptr<ConnectionPool>> ConnectAndMigrate(
    const MysqlOptions& options, absl::Duration startup_timeout,
    retry::Clock& clock = retry::Clock::Real());

}  // namespace orderquery::storage

#endif  // ORDERQUERY_STORAGE_CONNECT_H_
