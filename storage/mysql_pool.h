// MySQL/MariaDB connection pool over Connector/C++ 1.1, and the transaction helpers every
// repository in storage/ uses.
//
// Rules this file enforces for the whole of storage/:
// - sql::SQLException never leaves storage/: RunInTransaction and WithConnection catch it and
//   convert it in one place (StatusFromSqlError in mysql_pool.cc).
// - Statements are prepared once per pooled connection (Connection::Prepare) and reused; values
//   are always bound, never spliced into SQL text.
#ifndef ORDERQUERY_STORAGE_MYSQL_POOL_H_
#define ORDERQUERY_STORAGE_MYSQL_POOL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sql {
class Connection;
class Driver;
class PreparedStatement;
class Statement;
}  // namespace sql

namespace orderquery::storage {

struct MysqlOptions {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string user;
  std::string password;  // never logged
  // Default schema of every connection; may be empty for server-level admin work only.
  std::string database;
  // When set, connect through this Unix socket instead of host:port.
  std::optional<std::string> unix_socket;
  int pool_size = 8;
  // How long Acquire waits for a free connection before UNAVAILABLE.
  absl::Duration acquire_timeout = absl::Seconds(2);
  absl::Duration connect_timeout = absl::Seconds(5);
  // Bounds each network read/write so that a silent network partition does not block a
  // thread forever (the client library retries a read, so the worst case is a few times this).
  absl::Duration io_timeout = absl::Seconds(30);
  // A connection that sat idle longer than this is pinged before it is handed out.
  absl::Duration validate_after_idle = absl::Seconds(5);
  // Open one connection in Create so that a wrong address or password fails at start-up with a
  // clear message. false lets a process start while the database is down.
  bool connect_on_create = true;
};

// One pooled database session. Reached only through a ConnectionLease.
class Connection {
 public:
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // The statement for `sql`, prepared on this session at first use and reused afterwards.
  // Throws sql::SQLException: call only inside RunInTransaction / WithConnection.
  sql::PreparedStatement& Prepare(const std::string& sql);
  // Runs a fixed statement that has no parameters (transaction control, DDL). Same rule.
  void Execute(const std::string& sql);

  // The server's id of this session (CONNECTION_ID()), for diagnostics and KILL in tests.
  int64_t session_id() const { return session_id_; }

 private:
  friend class ConnectionPool;
  explicit Connection(std::unique_ptr<sql::Connection> conn);

  // Declared before the statements so that they are destroyed first.
  std::unique_ptr<sql::Connection> conn_;
  std::unique_ptr<sql::Statement> plain_;
  std::unordered_map<std::string, std::unique_ptr<sql::PreparedStatement>> statements_;
  int64_t session_id_ = 0;
  absl::Time idle_since_;
};

class ConnectionPool;

// Exclusive use of one connection; gives it back to the pool when destroyed. A lease marked
// broken is closed instead (the next Acquire opens a fresh connection).
class ConnectionLease {
 public:
  ConnectionLease(ConnectionLease&& other) noexcept;
  ConnectionLease& operator=(ConnectionLease&& other) noexcept;
  ConnectionLease(const ConnectionLease&) = delete;
  ConnectionLease& operator=(const ConnectionLease&) = delete;
  ~ConnectionLease();

  Connection& operator*() const { return *conn_; }
  Connection* operator->() const { return conn_.get(); }
  void MarkBroken() { broken_ = true; }
  bool broken() const { return broken_; }

 private:
  friend class ConnectionPool;
  ConnectionLease(ConnectionPool* pool, std::unique_ptr<Connection> conn)
      : pool_(pool), conn_(std::move(conn)) {}
  void Return();

  ConnectionPool* pool_ = nullptr;
  std::unique_ptr<Connection> conn_;
  bool broken_ = false;
};

// A bounded pool. Thread-safe. Must outlive every lease it handed out.
class ConnectionPool {
 public:
  struct Stats {
    int pool_size = 0;
    int open = 0;  // connections that exist, idle or leased
    int idle = 0;
    int64_t opened_total = 0;     // connections ever opened (reconnects included)
    int64_t discarded_total = 0;  // connections closed because they were broken or dead
    int64_t waits_total = 0;      // acquisitions that found every connection in use and waited
    int64_t timeouts_total = 0;   // acquisitions that gave up after acquire_timeout
  };

  // INVALID_ARGUMENT for bad options; UNAVAILABLE when connect_on_create and the server cannot
  // be reached (the message names host:port or socket, user and database, never the password).
  static absl::StatusOr<std::unique_ptr<ConnectionPool>> Create(MysqlOptions options);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection, opening one if the pool is not full. When all pool_size connections are in
  // use, waits up to acquire_timeout, then UNAVAILABLE. UNAVAILABLE also when a new connection
  // cannot be opened.
  absl::StatusOr<ConnectionLease> Acquire();
  // The same, but an idle connection is pinged before it is handed out when it sat idle longer
  // than `validate_after_idle` (instead of options().validate_after_idle).
  absl::StatusOr<ConnectionLease> Acquire(absl::Duration validate_after_idle);

  // True when the database answers a query now (for the health check). Takes a connection
  // like any caller, so it waits up to acquire_timeout when all are busy.
  bool Ping();

  const MysqlOptions& options() const { return options_; }
  Stats GetStats() const;

  // Called with false when opening a connection fails and with true when one opens, each time
  // the answer differs from the last one reported (a new observer hears the next answer), on the
  // thread that tried: health follows the calls, not only a periodic ping. Reports are
  // serialised; the observer must be quick and must not call into this pool. Replacing it (or
  // clearing it with nullptr) waits for a report in progress: the old one is not called again.
  using ReachabilityObserver = std::function<void(bool reachable)>;
  void SetReachabilityObserver(ReachabilityObserver observer);

 private:
  friend class ConnectionLease;
  explicit ConnectionPool(MysqlOptions options, sql::Driver* driver);

  absl::StatusOr<std::unique_ptr<Connection>> Open();
  void Release(std::unique_ptr<Connection> conn, bool broken);
  // Where this pool connects, for messages: "127.0.0.1:3306" or "unix:/path".
  std::string Endpoint() const;
  // Tells the observer when `reachable` differs from what it was last told.
  void ReportReachable(bool reachable);

  const MysqlOptions options_;
  sql::Driver* const driver_;

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t opened_total_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t discarded_total_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t waits_total_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t timeouts_total_ ABSL_GUARDED_BY(mu_) = 0;

  // Held while the observer runs: reports keep their order and a replaced observer is done.
  absl::Mutex observer_mu_;
  ReachabilityObserver observer_ ABSL_GUARDED_BY(observer_mu_);
  std::optional<bool> reported_ ABSL_GUARDED_BY(observer_mu_);
};

struct TransactionOptions {
  // Names the transaction in logs and error messages.
  absl::string_view name = "transaction";
  // Attempts in all when the transaction is ABORTED (deadlock, lock wait timeout).
  int max_attempts = 5;
  absl::Duration initial_backoff = absl::Milliseconds(5);
  absl::Duration max_backoff = absl::Milliseconds(200);
};

// Runs fn inside START TRANSACTION ... COMMIT on one pooled connection. fn returning an error,
// or throwing sql::SQLException, rolls back. An ABORTED outcome (deadlock 1213, lock wait
// timeout 1205) reruns the whole transaction, up to max_attempts, after a short jittered backoff.
// A pooled connection found dead when the transaction starts is replaced without counting as an
// attempt (nothing ran on it). fn may therefore run more than once: it must reset whatever
// results it collects at its start and must have no effects outside the transaction.
absl::Status RunInTransaction(ConnectionPool& pool, absl::FunctionRef<absl::Status(Connection&)> fn,
                              const TransactionOptions& options = {});

// For fn that sends exactly one command that is atomic on the server by itself (a CALL of a
// stored procedure that starts and commits or rolls back its own transaction): no START
// TRANSACTION / COMMIT round trips around it. An ABORTED outcome (deadlock, lock wait timeout:
// the procedure rolled back) reruns fn like RunInTransaction. A lost connection is never rerun
// (the command may have committed): UNAVAILABLE, as for a COMMIT whose answer was lost. To keep
// that rare, a connection idle for more than a second is pinged before it is used (a restarted
// server has killed it), so a hot pool sends nothing but the command.
absl::Status RunAtomicCommand(ConnectionPool& pool, absl::FunctionRef<absl::Status(Connection&)> fn,
                              const TransactionOptions& options = {});

// Runs fn on one pooled connection in autocommit mode, converting exceptions. If the connection
// turns out to be dead, fn is rerun once on a fresh one, so fn must be safe to run twice:
// reads and idempotent writes only (anything else goes through RunInTransaction).
absl::Status WithConnection(ConnectionPool& pool, absl::FunctionRef<absl::Status(Connection&)> fn,
                            absl::string_view name = "query");

}  // namespace orderquery::storage

#endif  // ORDERQUERY_STORAGE_MYSQL_POOL_H_
