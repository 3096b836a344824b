#include "storage/mysql_pool.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_driver.h>

#include <algorithm>
#include <exception>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/common/retry.h"
#include "storage/sql_util.h"

namespace orderquery::storage {
namespace {

// Every session works in UTC so that NOW(3)/CURRENT_TIMESTAMP(3) defaults are UTC like the
// values we bind, and in strict mode so that an over-long or invalid value is an error rather
// than silently truncated data.
constexpr char kSessionSetup[] =
    "SET SESSION time_zone = '+00:00', SESSION sql_mode = "
    "'STRICT_TRANS_TABLES,STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'";

int CeilSeconds(absl::Duration d) {
  int64_t s = absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1)));
  return static_cast<int>(std::clamp<int64_t>(s, 1, 3600));
}

// The driver singleton lives in Connector/C++; its first lookup is not thread-safe.
sql::Driver* DriverInstance() {
  static std::once_flag once;
  static sql::Driver* driver = nullptr;
  std::call_once(once, [] { driver = sql::mysql::get_mysql_driver_instance(); });
  return driver;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Error conversion: the one place.

namespace internal {

bool IsConnectionLost(int mysql_errno) {
  switch (mysql_errno) {
    case 2002:  // can't connect (socket, and TCP in MariaDB's client)
    case 2003:  // can't connect (TCP)
    case 2006:  // server has gone away
    case 2013:  // lost connection during query
    case 2055:  // lost connection at '%s', system error
    case 1053:  // server shutdown in progress
    case 1927:  // connection was killed (MariaDB)
    case 4031:  // disconnected by the server because of inactivity
      return true;
    default:
      return false;
  }
}

absl::Status StatusFromSqlError(int mysql_errno, absl::string_view message,
                                absl::string_view context) {
  std::string text = absl::StrCat(context, ": ", message, " [mysql error ", mysql_errno, "]");
  if (IsConnectionLost(mysql_errno)) {
    return absl::UnavailableError(absl::StrCat(context, ": database unreachable: ", message,
                                               " [mysql error ", mysql_errno, "]"));
  }
  switch (mysql_errno) {
    case 1213:  // deadlock: InnoDB rolled the transaction back
    case 1205:  // lock wait timeout
      return absl::AbortedError(text);
    case 1062:  // duplicate key
      return absl::AlreadyExistsError(text);
    default:
      return absl::InternalError(text);
  }
}

absl::Status Guarded(ConnectionLease& lease, absl::string_view context,
                     absl::FunctionRef<absl::Status(Connection&)> fn) {
  try {
    return fn(*lease);
  } catch (const sql::SQLException& e) {
    int code = e.getErrorCode();
    // Error 0 comes from Connector/C++ itself (e.g. "connection closed"), 2014 means the
    // protocol state is out of sync: either way the session cannot be trusted again.
    if (IsConnectionLost(code) || code == 0 || code == 2014) {
      lease.MarkBroken();
      log::Warn("mysql.session_lost", {{"context", context},
                                       {"session_id", lease->session_id()},
                                       {"errno", code},
                                       {"error", e.what()}});
    }
    if (code == 0) {
      return absl::UnavailableError(
          absl::StrCat(context, ": database session unusable: ", e.what()));
    }
    return StatusFromSqlError(code, e.what(), context);
  } catch (const ValueError& e) {
    return absl::Status(e.code(), absl::StrCat(context, ": ", e.what()));
  } catch (const std::exception& e) {
    // Unknown failure in the middle of a command: do not reuse the session.
    lease.MarkBroken();
    return absl::InternalError(absl::StrCat(context, ": ", e.what()));
  }
}

}  // namespace internal

// ---------------------------------------------------------------------------------------------
// Connection

Connection::Connection(std::unique_ptr<sql::Connection> conn) : conn_(std::move(conn)) {}

Connection::~Connection() {
  // Statements first, then the session (member order already does this; spelled out because
  // closing a statement after its connection is undefined in Connector/C++).
  statements_.clear();
  plain_.reset();
  if (conn_ != nullptr) {
    try {
      conn_->close();
    } catch (const sql::SQLException&) {
      // Closing a dead session may throw; there is nothing left to release.
    }
  }
}

sql::PreparedStatement& Connection::Prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    std::unique_ptr<sql::PreparedStatement> st(conn_->prepareStatement(sql));
    it = statements_.emplace(sql, std::move(st)).first;
  }
  return *it->second;
}

void Connection::Execute(const std::string& sql) {
  if (plain_ == nullptr) plain_.reset(conn_->createStatement());
  if (plain_->execute(sql)) {
    // Drain a result set so that the session is ready for the next command.
    std::unique_ptr<sql::ResultSet> rs(plain_->getResultSet());
  }
}

// ---------------------------------------------------------------------------------------------
// ConnectionLease

ConnectionLease::ConnectionLease(ConnectionLease&& other) noexcept
    : pool_(other.pool_), conn_(std::move(other.conn_)), broken_(other.broken_) {
  other.pool_ = nullptr;
}

ConnectionLease& ConnectionLease::operator=(ConnectionLease&& other) noexcept {
  if (this != &other) {
    Return();
    pool_ = other.pool_;
    conn_ = std::move(other.conn_);
    broken_ = other.broken_;
    other.pool_ = nullptr;
  }
  return *this;
}

ConnectionLease::~ConnectionLease() { Return(); }

void ConnectionLease::Return() {
  if (pool_ != nullptr && conn_ != nullptr) pool_->Release(std::move(conn_), broken_);
  pool_ = nullptr;
  conn_.reset();
}

// ---------------------------------------------------------------------------------------------
// ConnectionPool

ConnectionPool::ConnectionPool(MysqlOptions options, sql::Driver* driver)
    : options_(std::move(options)), driver_(driver) {}

ConnectionPool::~ConnectionPool() {
  absl::MutexLock lock(&mu_);
  idle_.clear();
}

absl::StatusOr<std::unique_ptr<ConnectionPool>> ConnectionPool::Create(MysqlOptions options) {
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("mysql pool_size must be at least 1, got ", options.pool_size));
  }
  if (options.user.empty()) return absl::InvalidArgumentError("mysql user must not be empty");
  if (!options.unix_socket.has_value()) {
    if (options.host.empty()) return absl::InvalidArgumentError("mysql host must not be empty");
    if (options.port < 1 || options.port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("mysql port must be 1-65535, got ", options.port));
    }
  } else if (options.unix_socket->empty()) {
    return absl::InvalidArgumentError("mysql unix_socket, when set, must not be empty");
  }
  if (options.acquire_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("mysql acquire_timeout must not be negative");
  }
  if (options.connect_timeout <= absl::ZeroDuration() ||
      options.io_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("mysql connect_timeout and io_timeout must be positive");
  }

  sql::Driver* driver = nullptr;
  try {
    driver = DriverInstance();
  } catch (const sql::SQLException& e) {
    return absl::InternalError(absl::StrCat("mysql driver unavailable: ", e.what()));
  }
  if (driver == nullptr) return absl::InternalError("mysql driver unavailable");

  std::unique_ptr<ConnectionPool> pool(new ConnectionPool(std::move(options), driver));
  if (pool->options_.connect_on_create) {
    absl::StatusOr<ConnectionLease> lease = pool->Acquire();
    if (!lease.ok()) return lease.status();
  }
  return pool;
}

std::string ConnectionPool::Endpoint() const {
  if (options_.unix_socket.has_value()) return absl::StrCat("unix:", *options_.unix_socket);
  return absl::StrCat(options_.host, ":", options_.port);
}

absl::StatusOr<std::unique_ptr<Connection>> ConnectionPool::Open() {
  sql::ConnectOptionsMap props;
  if (options_.unix_socket.has_value()) {
    props["hostName"] = sql::SQLString("localhost");
    props["socket"] = sql::SQLString(*options_.unix_socket);
  } else {
    props["hostName"] = sql::SQLString(absl::StrCat("tcp://", options_.host));
    props["port"] = options_.port;
  }
  props["userName"] = sql::SQLString(options_.user);
  props["password"] = sql::SQLString(options_.password);
  if (!options_.database.empty()) props["schema"] = sql::SQLString(options_.database);
  props["OPT_CONNECT_TIMEOUT"] = CeilSeconds(options_.connect_timeout);
  props["OPT_READ_TIMEOUT"] = CeilSeconds(options_.io_timeout);
  props["OPT_WRITE_TIMEOUT"] = CeilSeconds(options_.io_timeout);
  props["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
  // Never let the client library reconnect behind our back: that silently drops the session's
  // settings, prepared statements and any open transaction. The pool replaces dead sessions.
  props["OPT_RECONNECT"] = false;

  std::string where =
      absl::StrCat("mysql ", Endpoint(), " as ", options_.user,
                   options_.database.empty() ? "" : " database ", options_.database);
  try {
    std::unique_ptr<sql::Connection> raw(driver_->connect(props));
    std::unique_ptr<Connection> conn(new Connection(std::move(raw)));
    conn->Execute(kSessionSetup);
    std::unique_ptr<sql::ResultSet> rs(conn->Prepare("SELECT CONNECTION_ID()").executeQuery());
    if (rs->next()) conn->session_id_ = rs->getInt64(1);
    rs.reset();
    conn->idle_since_ = absl::Now();
    log::Debug("mysql.connected", {{"endpoint", Endpoint()}, {"session_id", conn->session_id_}});
    ReportReachable(true);
    return conn;
  } catch (const sql::SQLException& e) {
    ReportReachable(false);
    // While the server is down every call fails here: one line per interval, with a count.
    log::EmitLimited(log::Level::kWarn, "mysql.connect_failed",
                     {{"endpoint", Endpoint()},
                      {"user", options_.user},
                      {"database", options_.database},
                      {"errno", e.getErrorCode()},
                      {"error", e.what()}},
                     Endpoint());
    // Every failure to open a session counts as "database unavailable", whatever the number:
    // a wrong password or a missing database is just as fatal to the caller as a dead server.
    return absl::UnavailableError(absl::StrCat("cannot connect to ", where, ": ", e.what(),
                                               " [mysql error ", e.getErrorCode(), "]"));
  } catch (const std::exception& e) {
    ReportReachable(false);
    return absl::UnavailableError(absl::StrCat("cannot connect to ", where, ": ", e.what()));
  }
}

void ConnectionPool::SetReachabilityObserver(ReachabilityObserver observer) {
  absl::MutexLock lock(&observer_mu_);
  observer_ = std::move(observer);
  reported_.reset();
}

void ConnectionPool::ReportReachable(bool reachable) {
  absl::MutexLock lock(&observer_mu_);
  if (!observer_ || reported_ == reachable) return;
  reported_ = reachable;
  observer_(reachable);
}

absl::StatusOr<ConnectionLease> ConnectionPool::Acquire() {
  return Acquire(options_.validate_after_idle);
}

absl::StatusOr<ConnectionLease> ConnectionPool::Acquire(absl::Duration validate_after_idle) {
  const absl::Time deadline = absl::Now() + options_.acquire_timeout;
  for (;;) {
    std::unique_ptr<Connection> conn;
    bool open_new = false;
    {
      absl::MutexLock lock(&mu_);
      auto can_proceed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !idle_.empty() || open_ < options_.pool_size;
      };
      if (!can_proceed()) ++waits_total_;
      if (!mu_.AwaitWithDeadline(absl::Condition(&can_proceed), deadline)) {
        ++timeouts_total_;
        return absl::UnavailableError(absl::StrCat(
            "mysql connection pool exhausted: all ", options_.pool_size,
            " connections in use; waited ", absl::FormatDuration(options_.acquire_timeout)));
      }
      if (!idle_.empty()) {
        // Most recently used first: the warm end of the pool stays warm and the cold end ages
        // out through validation.
        conn = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++open_;
        open_new = true;
      }
    }

    if (open_new) {
      absl::StatusOr<std::unique_ptr<Connection>> opened = Open();
      absl::MutexLock lock(&mu_);
      if (!opened.ok()) {
        --open_;
        return opened.status();
      }
      ++opened_total_;
      return ConnectionLease(this, *std::move(opened));
    }

    if (absl::Now() - conn->idle_since_ > validate_after_idle) {
      bool alive = false;
      try {
        alive = conn->conn_->isValid();
      } catch (const sql::SQLException&) {
        alive = false;
      }
      if (!alive) {
        log::Info("mysql.stale_connection_replaced",
                  {{"endpoint", Endpoint()}, {"session_id", conn->session_id_}});
        Release(std::move(conn), /*broken=*/true);
        continue;  // open a fresh one in its slot (or take another idle one)
      }
    }
    return ConnectionLease(this, std::move(conn));
  }
}

void ConnectionPool::Release(std::unique_ptr<Connection> conn, bool broken) {
  if (broken) {
    // Close outside the lock: closing a session is network I/O.
    conn.reset();
    absl::MutexLock lock(&mu_);
    --open_;
    ++discarded_total_;
    return;
  }
  conn->idle_since_ = absl::Now();
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(conn));
}

bool ConnectionPool::Ping() {
  // Two tries: the first may only discover that an idle connection died, which says nothing
  // about whether the database answers now.
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<ConnectionLease> lease = Acquire();
    if (!lease.ok()) return false;
    absl::Status st = internal::Guarded(*lease, "ping", [](Connection& c) {
      std::unique_ptr<sql::ResultSet> rs(c.Prepare("SELECT 1").executeQuery());
      if (!rs->next() || rs->getInt(1) != 1) return absl::InternalError("unexpected answer");
      return absl::OkStatus();
    });
    if (st.ok()) return true;
    if (!lease->broken()) return false;
  }
  return false;
}

ConnectionPool::Stats ConnectionPool::GetStats() const {
  absl::MutexLock lock(&mu_);
  Stats s;
  s.pool_size = options_.pool_size;
  s.open = open_;
  s.idle = static_cast<int>(idle_.size());
  s.opened_total = opened_total_;
  s.discarded_total = discarded_total_;
  s.waits_total = waits_total_;
  s.timeouts_total = timeouts_total_;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Helpers

namespace {

// Runs `attempt` again after a backoff while it fails ABORTED (deadlock, lock wait timeout), up
// to options.max_attempts; each retry is logged. Jitter keeps retrying deadlock victims from
// colliding again in lockstep.
absl::Status RetryAborted(const TransactionOptions& options,
                          absl::FunctionRef<absl::Status()> attempt) {
  retry::BackoffPolicy policy;
  policy.max_attempts = std::max(1, options.max_attempts);
  policy.initial_backoff = options.initial_backoff;
  policy.max_backoff = std::max(options.initial_backoff, options.max_backoff);
  policy.jitter = retry::Jitter::kEqual;
  return retry::Retry(
      retry::Backoff(policy), retry::Clock::Real(), absl::InfiniteFuture(), attempt,
      [](const absl::Status& st) { return absl::IsAborted(st); },
      [&](const retry::RetryEvent& e) {
        log::Info("mysql.transaction_retry", {{"transaction", options.name},
                                              {"attempt", e.attempt},
                                              {"backoff_ms", absl::ToInt64Milliseconds(e.delay)},
                                              {"error", e.status.message()}});
      });
}

// After a failure inside a transaction: ROLLBACK on a session still trusted, and condemn it if
// that fails too. A session must never go back to the pool inside a transaction.
void RollBackOrCondemn(ConnectionLease& lease, absl::string_view name) {
  if (lease.broken()) return;
  absl::Status rb = internal::Guarded(lease, name, [](Connection& c) {
    c.Execute("ROLLBACK");
    return absl::OkStatus();
  });
  if (!rb.ok()) lease.MarkBroken();
}

}  // namespace

absl::Status RunInTransaction(ConnectionPool& pool, absl::FunctionRef<absl::Status(Connection&)> fn,
                              const TransactionOptions& options) {
  // Dead idle sessions are found when START TRANSACTION fails; at most every pooled connection
  // can be dead at once (e.g. after a server restart), so that bounds the replacements.
  int stale_left = pool.options().pool_size + 1;
  auto attempt = [&]() -> absl::Status {
    for (;;) {
      absl::Status st;
      bool stale = false;
      {
        absl::StatusOr<ConnectionLease> lease = pool.Acquire();
        if (!lease.ok()) return lease.status();

        st = internal::Guarded(*lease, options.name, [](Connection& c) {
          c.Execute("START TRANSACTION");
          return absl::OkStatus();
        });
        if (!st.ok()) {
          // Nothing has run yet, so a dead session is safe to replace.
          if (!lease->broken() || --stale_left <= 0) return st;
          stale = true;
        } else {
          st = internal::Guarded(*lease, options.name, fn);
          if (st.ok()) {
            st = internal::Guarded(*lease, options.name, [](Connection& c) {
              c.Execute("COMMIT");
              return absl::OkStatus();
            });
            if (st.ok()) return st;
            // A commit whose answer was lost may or may not have happened: report it, never
            // rerun. Any other failed commit leaves the session in a state we do not trust.
            if (absl::IsUnavailable(st)) return st;
            lease->MarkBroken();
          } else {
            RollBackOrCondemn(*lease, options.name);
          }
        }
      }  // the connection goes back to the pool before any backoff
      // A replaced dead session does not count as an attempt (nothing ran on it).
      if (!stale) return st;
    }
  };
  // Only ABORTED (deadlock, lock wait timeout) reruns the transaction.
  return RetryAborted(options, attempt);
}

absl::Status RunAtomicCommand(ConnectionPool& pool, absl::FunctionRef<absl::Status(Connection&)> fn,
                              const TransactionOptions& options) {
  const absl::Duration validate_after_idle =
      std::min(pool.options().validate_after_idle, absl::Seconds(1));
  auto attempt = [&]() -> absl::Status {
    absl::StatusOr<ConnectionLease> lease = pool.Acquire(validate_after_idle);
    if (!lease.ok()) return lease.status();
    absl::Status st = internal::Guarded(*lease, options.name, fn);
    // The procedure rolls back on any error it raises; make sure of it.
    if (!st.ok()) RollBackOrCondemn(*lease, options.name);
    return st;
  };
  return RetryAborted(options, attempt);
}

absl::Status WithConnection(ConnectionPool& pool, absl::FunctionRef<absl::Status(Connection&)> fn,
                            absl::string_view name) {
  absl::Status st;
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<ConnectionLease> lease = pool.Acquire();
    if (!lease.ok()) return lease.status();
    st = internal::Guarded(*lease, name, fn);
    if (st.ok() || !lease->broken()) return st;
  }
  return st;
}

}  // namespace orderquery::storage
