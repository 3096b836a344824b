#include "tests/support/storage_admin.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "storage/sha256.h"
#include "storage/sql_util.h"

namespace orderquery::storage::admin {
namespace {

using internal::BindOptionalTime;
using internal::BindString;
using internal::BindTime;
using internal::GetOptionalInt64;
using internal::GetString;
using internal::GetTime;
using internal::Query;

constexpr char kInsertUser[] =
    "INSERT INTO t_user (appid, openid, nickname, amount) VALUES (?, ?, ?, ?)";
constexpr char kLastInsertId[] = "SELECT LAST_INSERT_ID()";
constexpr char kInsertSession[] =
    "INSERT INTO t_user_session (token_sha256, user_id, appid, expires_at) VALUES (?, ?, ?, ?)";
constexpr char kInsertOrder[] =
    "INSERT INTO t_recharge_order (order_no, user_id, appid, mchid, sub_mchid, amount, status,"
    " trade_state, transaction_id, paid_at, credited, last_queried_at, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(?, UTC_TIMESTAMP(3)))";
constexpr char kSetCredited[] = "UPDATE t_recharge_order SET credited = ? WHERE order_no = ?";
constexpr char kOrderExists[] = "SELECT COUNT(*) FROM t_recharge_order WHERE order_no = ?";
constexpr char kCountOrderLog[] = "SELECT COUNT(*) FROM t_recharge_order_log WHERE order_no = ?";
constexpr char kCountAmountLog[] = "SELECT COUNT(*) FROM t_user_amount_log WHERE order_no = ?";
constexpr char kCountQueryLog[] = "SELECT COUNT(*) FROM t_user_order_query_log WHERE order_no = ?";
constexpr char kAmountLogColumns[] =
    "SELECT id, user_id, order_no, entry_type, amount_before, delta, amount_after, created_at"
    " FROM t_user_amount_log";
constexpr char kSelectOrderLog[] =
    "SELECT id, order_no, from_status, to_status, reason, created_at FROM t_recharge_order_log"
    " WHERE order_no = ? ORDER BY id";
constexpr char kSelectQueryLog[] =
    "SELECT id, user_id, appid, order_no, trade_state, error_code, error_message, latency_ms,"
    " created_at FROM t_user_order_query_log WHERE order_no = ? ORDER BY id";
constexpr char kSelectSessions[] =
    "SELECT token_sha256, user_id, appid, expires_at, created_at FROM t_user_session"
    " WHERE user_id = ? ORDER BY created_at, token_sha256";
constexpr char kSelectTables[] =
    "SELECT table_name FROM information_schema.tables"
    " WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name";
constexpr char kKill[] = "KILL ?";

// Identifiers cannot be bound as parameters, so the few places that must name one in SQL
// text accept only this safe alphabet.
absl::Status ValidateIdentifier(absl::string_view kind, absl::string_view name) {
  if (name.empty() || name.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, " name must be 1-64 characters, got ", name.size()));
  }
  for (char ch : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '_') {
      return absl::InvalidArgumentError(
          absl::StrCat(kind, " name '", name, "' may only contain [A-Za-z0-9_]"));
    }
  }
  return absl::OkStatus();
}

int64_t CountWhere(Connection& c, const char* sql, absl::string_view key) {
  sql::PreparedStatement& q = c.Prepare(sql);
  BindString(q, 1, key);
  std::unique_ptr<sql::ResultSet> rs = Query(q);
  return rs->next() ? rs->getInt64(1) : 0;
}

AmountLogRow ReadAmountLog(const sql::ResultSet& rs) {
  AmountLogRow r;
  r.id = rs.getInt64(1);
  r.user_id = rs.getInt64(2);
  r.order_no = GetString(rs, 3);
  r.entry_type = GetString(rs, 4);
  r.amount_before = rs.getInt64(5);
  r.delta = rs.getInt64(6);
  r.amount_after = rs.getInt64(7);
  r.created_at = GetTime(rs, 8);
  return r;
}

template <typename Row, typename Bind, typename Read>
absl::StatusOr<std::vector<Row>> ListRows(ConnectionPool& pool, const std::string& sql,
                                          absl::string_view what, Bind bind, Read read) {
  std::vector<Row> out;
  absl::Status st = WithConnection(
      pool,
      [&](Connection& c) {
        out.clear();
        sql::PreparedStatement& q = c.Prepare(sql);
        bind(q);
        std::unique_ptr<sql::ResultSet> rs = Query(q);
        while (rs->next()) out.push_back(read(*rs));
        return absl::OkStatus();
      },
      what);
  if (!st.ok()) return st;
  return out;
}

}  // namespace

absl::StatusOr<int64_t> CreateUser(ConnectionPool& pool, absl::string_view appid,
                                   absl::string_view openid, absl::string_view nickname,
                                   int64_t initial_amount_fen) {
  int64_t id = 0;
  absl::Status st = RunInTransaction(
      pool,
      [&](Connection& c) {
        sql::PreparedStatement& ins = c.Prepare(kInsertUser);
        BindString(ins, 1, appid);
        BindString(ins, 2, openid);
        BindString(ins, 3, nickname);
        ins.setInt64(4, initial_amount_fen);
        ins.executeUpdate();
        std::unique_ptr<sql::ResultSet> rs = Query(c.Prepare(kLastInsertId));
        if (!rs->next()) return absl::InternalError("LAST_INSERT_ID returned nothing");
        id = rs->getInt64(1);
        return absl::OkStatus();
      },
      internal::Txn("create user"));
  if (!st.ok()) return st;
  return id;
}

absl::Status CreateSession(ConnectionPool& pool, int64_t user_id, absl::string_view appid,
                           absl::string_view token, absl::Time expires_at) {
  if (token.empty()) return absl::InvalidArgumentError("session token must not be empty");
  const std::string digest = Sha256Hex(token);
  return RunInTransaction(
      pool,
      [&](Connection& c) {
        sql::PreparedStatement& ins = c.Prepare(kInsertSession);
        BindString(ins, 1, digest);
        ins.setInt64(2, user_id);
        BindString(ins, 3, appid);
        BindTime(ins, 4, expires_at);
        ins.executeUpdate();
        return absl::OkStatus();
      },
      internal::Txn("create session"));
}

absl::Status CreateRechargeOrder(ConnectionPool& pool, const domain::RechargeOrder& order) {
  if (order.order_no.empty()) return absl::InvalidArgumentError("order_no must not be empty");
  return RunInTransaction(
      pool,
      [&](Connection& c) {
        sql::PreparedStatement& ins = c.Prepare(kInsertOrder);
        BindString(ins, 1, order.order_no);
        ins.setInt64(2, order.user_id);
        BindString(ins, 3, order.appid);
        BindString(ins, 4, order.mchid);
        BindString(ins, 5, order.sub_mchid);
        ins.setInt64(6, order.amount_fen);
        BindString(ins, 7, domain::RechargeStateName(order.state));
        BindString(ins, 8, order.trade_state);
        BindString(ins, 9, order.transaction_id);
        BindOptionalTime(ins, 10, order.paid_at);
        ins.setInt(11, order.credited ? 1 : 0);
        BindOptionalTime(ins, 12, order.last_queried_at);
        BindOptionalTime(ins, 13,
                         order.created_at == absl::UnixEpoch()
                             ? std::nullopt
                             : std::optional<absl::Time>(order.created_at));
        ins.executeUpdate();
        return absl::OkStatus();
      },
      internal::Txn("create recharge order"));
}

absl::Status SetOrderCredited(ConnectionPool& pool, absl::string_view order_no, bool credited) {
  bool found = false;
  absl::Status st = RunInTransaction(
      pool,
      [&](Connection& c) {
        found = CountWhere(c, kOrderExists, order_no) > 0;
        if (!found) return absl::OkStatus();
        sql::PreparedStatement& up = c.Prepare(kSetCredited);
        up.setInt(1, credited ? 1 : 0);
        BindString(up, 2, order_no);
        up.executeUpdate();
        return absl::OkStatus();
      },
      internal::Txn("set order credited"));
  if (!st.ok()) return st;
  if (!found) return absl::NotFoundError(absl::StrCat("recharge order '", order_no, "' not found"));
  return absl::OkStatus();
}

absl::StatusOr<LogCounts> CountLogRows(ConnectionPool& pool, absl::string_view order_no) {
  LogCounts counts;
  absl::Status st = WithConnection(
      pool,
      [&](Connection& c) {
        counts.recharge_order_log = CountWhere(c, kCountOrderLog, order_no);
        counts.user_amount_log = CountWhere(c, kCountAmountLog, order_no);
        counts.query_log = CountWhere(c, kCountQueryLog, order_no);
        return absl::OkStatus();
      },
      "count log rows");
  if (!st.ok()) return st;
  return counts;
}

absl::StatusOr<std::vector<AmountLogRow>> ListAmountLogByOrder(ConnectionPool& pool,
                                                               absl::string_view order_no) {
  return ListRows<AmountLogRow>(
      pool, absl::StrCat(kAmountLogColumns, " WHERE order_no = ? ORDER BY id"), "list amount log",
      [&](sql::PreparedStatement& q) { BindString(q, 1, order_no); }, ReadAmountLog);
}

absl::StatusOr<std::vector<AmountLogRow>> ListAmountLogByUser(ConnectionPool& pool,
                                                              int64_t user_id) {
  return ListRows<AmountLogRow>(
      pool, absl::StrCat(kAmountLogColumns, " WHERE user_id = ? ORDER BY id"), "list amount log",
      [&](sql::PreparedStatement& q) { q.setInt64(1, user_id); }, ReadAmountLog);
}

absl::StatusOr<std::vector<OrderLogRow>> ListRechargeOrderLog(ConnectionPool& pool,
                                                              absl::string_view order_no) {
  return ListRows<OrderLogRow>(
      pool, kSelectOrderLog, "list recharge order log",
      [&](sql::PreparedStatement& q) { BindString(q, 1, order_no); },
      [](const sql::ResultSet& rs) {
        OrderLogRow r;
        r.id = rs.getInt64(1);
        r.order_no = GetString(rs, 2);
        r.from_status = GetString(rs, 3);
        r.to_status = GetString(rs, 4);
        r.reason = GetString(rs, 5);
        r.created_at = GetTime(rs, 6);
        return r;
      });
}

absl::StatusOr<std::vector<QueryLogRow>> ListQueryLog(ConnectionPool& pool,
                                                      absl::string_view order_no) {
  return ListRows<QueryLogRow>(
      pool, kSelectQueryLog, "list query log",
      [&](sql::PreparedStatement& q) { BindString(q, 1, order_no); },
      [](const sql::ResultSet& rs) {
        QueryLogRow r;
        r.id = rs.getInt64(1);
        r.user_id = GetOptionalInt64(rs, 2);
        r.appid = GetString(rs, 3);
        r.order_no = GetString(rs, 4);
        r.trade_state = GetString(rs, 5);
        r.error_code = GetString(rs, 6);
        r.error_message = GetString(rs, 7);
        r.latency_ms = rs.getInt64(8);
        r.created_at = GetTime(rs, 9);
        return r;
      });
}

absl::StatusOr<std::vector<SessionRow>> ListSessions(ConnectionPool& pool, int64_t user_id) {
  return ListRows<SessionRow>(
      pool, kSelectSessions, "list sessions",
      [&](sql::PreparedStatement& q) { q.setInt64(1, user_id); },
      [](const sql::ResultSet& rs) {
        SessionRow r;
        r.token_sha256 = GetString(rs, 1);
        r.user_id = rs.getInt64(2);
        r.appid = GetString(rs, 3);
        r.expires_at = GetTime(rs, 4);
        r.created_at = GetTime(rs, 5);
        return r;
      });
}

absl::StatusOr<int64_t> CountRows(ConnectionPool& pool, absl::string_view table) {
  if (absl::Status v = ValidateIdentifier("table", table); !v.ok()) return v;
  const std::string sql = absl::StrCat("SELECT COUNT(*) FROM `", table, "`");
  int64_t n = 0;
  absl::Status st = WithConnection(
      pool,
      [&](Connection& c) {
        std::unique_ptr<sql::ResultSet> rs = Query(c.Prepare(sql));
        n = rs->next() ? rs->getInt64(1) : 0;
        return absl::OkStatus();
      },
      "count rows");
  if (!st.ok()) return st;
  return n;
}

absl::StatusOr<std::vector<std::string>> ListTables(ConnectionPool& pool) {
  return ListRows<std::string>(
      pool, kSelectTables, "list tables", [](sql::PreparedStatement&) {},
      [](const sql::ResultSet& rs) { return GetString(rs, 1); });
}

absl::Status CreateDatabase(ConnectionPool& pool, absl::string_view name) {
  if (absl::Status v = ValidateIdentifier("database", name); !v.ok()) return v;
  // The name is checked to be [A-Za-z0-9_] above: identifiers cannot be bound.
  const std::string ddl = absl::StrCat("CREATE DATABASE IF NOT EXISTS `", name,
                                       "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci");
  return WithConnection(
      pool,
      [&](Connection& c) {
        c.Execute(ddl);
        return absl::OkStatus();
      },
      "create database");
}

absl::Status DropDatabase(ConnectionPool& pool, absl::string_view name) {
  if (absl::Status v = ValidateIdentifier("database", name); !v.ok()) return v;
  const std::string ddl = absl::StrCat("DROP DATABASE IF EXISTS `", name, "`");
  return WithConnection(
      pool,
      [&](Connection& c) {
        c.Execute(ddl);
        return absl::OkStatus();
      },
      "drop database");
}

absl::Status KillSession(ConnectionPool& pool, int64_t session_id) {
  absl::StatusOr<ConnectionLease> lease = pool.Acquire();
  if (!lease.ok()) return lease.status();
  // Not WithConnection: rerunning a KILL on another session would be harmless but pointless.
  return internal::Guarded(*lease, "kill session", [&](Connection& c) {
    sql::PreparedStatement& k = c.Prepare(kKill);
    k.setInt64(1, session_id);
    k.execute();
    return absl::OkStatus();
  });
}

}  // namespace orderquery::storage::admin
