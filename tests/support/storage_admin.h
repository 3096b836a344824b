// Seeding, inspection and database lifecycle for tests (library oq_storage_admin). Not shipped:
// the service never calls these, it goes through the repositories. It uses storage/'s internal
// helpers (storage/sql_util.h), so it links the driver itself.
#ifndef ORDERQUERY_TESTS_SUPPORT_STORAGE_ADMIN_H_
#define ORDERQUERY_TESTS_SUPPORT_STORAGE_ADMIN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/recharge.h"
#include "storage/mysql_pool.h"

namespace orderquery::storage::admin {

// ----- seeding

// The new user's id. ALREADY_EXISTS when (appid, openid) is taken.
absl::StatusOr<int64_t> CreateUser(ConnectionPool& pool, absl::string_view appid,
                                   absl::string_view openid, absl::string_view nickname,
                                   int64_t initial_amount_fen);
// Stores SHA-256(token) only. INVALID_ARGUMENT for an empty token; ALREADY_EXISTS if the same
// token was stored before.
absl::Status CreateSession(ConnectionPool& pool, int64_t user_id, absl::string_view appid,
                           absl::string_view token, absl::Time expires_at);
// Inserts the order with every field as given; created_at == absl::UnixEpoch() (the default)
// means "now". ALREADY_EXISTS when the order number is taken.
absl::Status CreateRechargeOrder(ConnectionPool& pool, const domain::RechargeOrder& order);
// Repair tool (and a way for tests to build an inconsistent state): sets the credited flag
// without touching balances or ledgers. NOT_FOUND when there is no such order.
absl::Status SetOrderCredited(ConnectionPool& pool, absl::string_view order_no, bool credited);

// ----- inspection

struct LogCounts {
  int64_t recharge_order_log = 0;  // t_recharge_order_log rows of the order
  int64_t user_amount_log = 0;     // t_user_amount_log rows of the order
  int64_t query_log = 0;           // t_user_order_query_log rows of the order
};
absl::StatusOr<LogCounts> CountLogRows(ConnectionPool& pool, absl::string_view order_no);

struct AmountLogRow {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string order_no;
  std::string entry_type;
  int64_t amount_before = 0;
  int64_t delta = 0;
  int64_t amount_after = 0;
  absl::Time created_at;
};
// Ledger rows in id order (which, per user, is the order the balance changed in).
absl::StatusOr<std::vector<AmountLogRow>> ListAmountLogByOrder(ConnectionPool& pool,
                                                               absl::string_view order_no);
absl::StatusOr<std::vector<AmountLogRow>> ListAmountLogByUser(ConnectionPool& pool,
                                                              int64_t user_id);

struct OrderLogRow {
  int64_t id = 0;
  std::string order_no;
  std::string from_status;
  std::string to_status;
  std::string reason;
  absl::Time created_at;
};
absl::StatusOr<std::vector<OrderLogRow>> ListRechargeOrderLog(ConnectionPool& pool,
                                                              absl::string_view order_no);

struct QueryLogRow {
  int64_t id = 0;
  std::optional<int64_t> user_id;
  std::string appid;
  std::string order_no;
  std::string trade_state;
  std::string error_code;
  std::string error_message;
  int64_t latency_ms = 0;
  absl::Time created_at;
};
absl::StatusOr<std::vector<QueryLogRow>> ListQueryLog(ConnectionPool& pool,
                                                      absl::string_view order_no);

struct SessionRow {
  std::string token_sha256;
  int64_t user_id = 0;
  std::string appid;
  absl::Time expires_at;
  absl::Time created_at;
};
absl::StatusOr<std::vector<SessionRow>> ListSessions(ConnectionPool& pool, int64_t user_id);

// Rows in a table of the pool's database (name checked like a database name below).
absl::StatusOr<int64_t> CountRows(ConnectionPool& pool, absl::string_view table);
// Base tables of the pool's database, sorted.
absl::StatusOr<std::vector<std::string>> ListTables(ConnectionPool& pool);

// ----- server-level (the pool may have no database)

// Database (and table) names must be 1-64 characters of [A-Za-z0-9_] (they become SQL identifiers,
// which cannot be bound as parameters); anything else is INVALID_ARGUMENT.
absl::Status CreateDatabase(ConnectionPool& pool, absl::string_view name);
// OK when it does not exist.
absl::Status DropDatabase(ConnectionPool& pool, absl::string_view name);
// Ends another session (KILL CONNECTION id).
absl::Status KillSession(ConnectionPool& pool, int64_t session_id);

}  // namespace orderquery::storage::admin

#endif  // ORDERQUERY_TESTS_SUPPORT_STORAGE_ADMIN_H_
