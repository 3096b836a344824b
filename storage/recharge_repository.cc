#include "storage/recharge_repository.h"

#include <cppconn/datatype.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "storage/recharge_routines.h"
#include "storage/recharge_rows.h"
#include "storage/sha256.h"
#include "storage/sql_util.h"

namespace orderquery::storage {
namespace {

using internal::BindOptionalInt64;
using internal::BindOptionalTime;
using internal::BindString;
using internal::BindTime;
using internal::GetOptionalInt64;
using internal::GetOptionalTime;
using internal::GetString;
using internal::GetTime;
using internal::kOrderColumns;
using internal::Query;
using internal::ReadOrder;
using internal::TruncateUtf8;

const std::string kSelectOrder =
    absl::StrCat("SELECT ", kOrderColumns, " FROM t_recharge_order WHERE order_no = ?");
// The row lock every state change and credit of one order queues on.
const std::string kSelectOrderForUpdate = absl::StrCat(kSelectOrder, " FOR UPDATE");

// Everything one query needs in one round trip: session, balance, order, and the balance right
// after this order's credit (its RECHARGE ledger row).
const std::string kSelectQueryView = absl::StrCat(
    "SELECT s.user_id, s.appid, s.expires_at, u.amount, l.amount_after, ",
    internal::OrderColumnsOf("o"),
    " FROM t_user_session s LEFT JOIN t_user u ON u.id = s.user_id"
    " LEFT JOIN t_recharge_order o ON o.order_no = ?"
    " LEFT JOIN t_user_amount_log l ON l.order_no = o.order_no AND l.entry_type = 'RECHARGE'"
    " WHERE s.token_sha256 = ?");
constexpr char kSelectSession[] =
    "SELECT user_id, appid, expires_at FROM t_user_session WHERE token_sha256 = ?";
constexpr char kSelectBalance[] = "SELECT amount FROM t_user WHERE id = ?";
constexpr char kSelectBalanceForUpdate[] = "SELECT amount FROM t_user WHERE id = ? FOR UPDATE";
constexpr char kInsertQueryLog[] =
    "INSERT INTO t_user_order_query_log (user_id, appid, order_no, trade_state, error_code,"
    " error_message, latency_ms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3))";
// updated_at keeps meaning "the order changed", not "someone asked".
constexpr char kTouchLastQueried[] =
    "UPDATE t_recharge_order SET last_queried_at = ?, updated_at = updated_at"
    " WHERE order_no = ?";
// Everything an outcome writes on the order row, in one statement, set in the transaction that
// writes what the provider said (the refresh interval never starts apart from the state).
// updated_at moves only when the order changed (state, details, credit), not for the refresh
// interval or the schedule. The guard: when crediting (last parameter 1), only the statement
// that flips credited 0 -> 1 matches.
constexpr char kUpdateOrderRow[] =
    "UPDATE t_recharge_order SET status = ?, trade_state = ?, transaction_id = ?, paid_at = ?,"
    " credited = ?, last_queried_at = ?, next_check_at = ?,"
    " updated_at = IF(? <> 0, UTC_TIMESTAMP(3), updated_at)"
    " WHERE order_no = ? AND (? = 0 OR credited = 0)";
constexpr char kInsertOrderLog[] =
    "INSERT INTO t_recharge_order_log (order_no, from_status, to_status, reason, created_at)"
    " VALUES (?, ?, ?, ?, UTC_TIMESTAMP(3))";
// Atomic in the database: never read, add in C++ and write back.
constexpr char kAddToBalance[] = "UPDATE t_user SET amount = amount + ? WHERE id = ?";
constexpr char kInsertAmountLog[] =
    "INSERT INTO t_user_amount_log (user_id, order_no, entry_type, amount_before, delta,"
    " amount_after, created_at) VALUES (?, ?, 'RECHARGE', ?, ?, ?, UTC_TIMESTAMP(3))";

// Stored first: a duplicate id inserts nothing and the delivery has no second effect.
constexpr char kInsertNotification[] =
    "INSERT IGNORE INTO t_payment_notification (id, provider, merchant, event_type, order_no,"
    " trade_state, body, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3))";
// Column sizes (characters) of the free-text columns we cut to.
constexpr size_t kReasonMax = 512;
constexpr size_t kQueryLogAppidMax = 32;
constexpr size_t kQueryLogOrderNoMax = 64;
constexpr size_t kQueryLogTradeStateMax = 32;
constexpr size_t kQueryLogErrorCodeMax = 64;
constexpr size_t kQueryLogErrorMessageMax = 512;
constexpr size_t kNotificationIdMax = 64;
constexpr size_t kNotificationShortMax = 32;
constexpr size_t kNotificationEventMax = 64;

// Reads one order on `c`; nullopt when there is none.
std::optional<domain::RechargeOrder> FetchOrder(Connection& c, const std::string& sql,
                                                absl::string_view order_no) {
  sql::PreparedStatement& st = c.Prepare(sql);
  BindString(st, 1, order_no);
  std::unique_ptr<sql::ResultSet> rs = Query(st);
  if (!rs->next()) return std::nullopt;
  return ReadOrder(*rs);
}

absl::Status OrderNotFound(absl::string_view order_no) {
  return absl::NotFoundError(absl::StrCat("recharge order '", order_no, "' not found"));
}

// Binds a query-log row's seven values (user_id, appid, order_no, trade_state, error_code,
// error_message, latency_ms) from parameter `first` on, cut to their columns: the INSERT's and
// the procedure's parameters alike.
void BindQueryLog(sql::PreparedStatement& s, int first, const domain::QueryLogEntry& entry) {
  BindOptionalInt64(s, first, entry.user_id);
  BindString(s, first + 1, TruncateUtf8(entry.appid, kQueryLogAppidMax));
  BindString(s, first + 2, TruncateUtf8(entry.order_no, kQueryLogOrderNoMax));
  BindString(s, first + 3, TruncateUtf8(entry.trade_state, kQueryLogTradeStateMax));
  BindString(s, first + 4, TruncateUtf8(entry.error_code, kQueryLogErrorCodeMax));
  BindString(s, first + 5, TruncateUtf8(entry.error_message, kQueryLogErrorMessageMax));
  s.setInt64(first + 6, entry.latency_ms);
}

void InsertQueryLog(Connection& c, const domain::QueryLogEntry& entry) {
  sql::PreparedStatement& ins = c.Prepare(kInsertQueryLog);
  BindQueryLog(ins, 1, entry);
  ins.executeUpdate();
}

// False when the id was stored before (a duplicate delivery).
bool InsertNotification(Connection& c, const domain::NotificationRecord& n) {
  sql::PreparedStatement& ins = c.Prepare(kInsertNotification);
  BindString(ins, 1, TruncateUtf8(n.id, kNotificationIdMax));
  BindString(ins, 2, TruncateUtf8(n.provider, kNotificationShortMax / 2));
  BindString(ins, 3, TruncateUtf8(n.merchant, kNotificationShortMax));
  BindString(ins, 4, TruncateUtf8(n.event_type, kNotificationEventMax));
  BindString(ins, 5, TruncateUtf8(n.order_no, kNotificationShortMax));
  BindString(ins, 6, TruncateUtf8(n.trade_state, kNotificationShortMax));
  BindString(ins, 7, n.body);
  return ins.executeUpdate() == 1;
}

// Returned by the transaction body to roll back without a retry; the caller reads the flags.
absl::Status RolledBackOnPurpose() { return absl::CancelledError("rolled back on purpose"); }

// "PROCEDURE ... does not exist".
constexpr int kNoSuchProcedure = 1305;
// How long the statements stand in for a missing procedure before the CALL is tried again.
constexpr absl::Duration kNoProcedureRetry = absl::Minutes(1);
// The procedure's order-number parameter; a longer one takes the statements' path (and is not
// found there either).
constexpr size_t kCallOrderNoMax = 64;
const std::string kCallRecordQuery = absl::StrCat("CALL ", internal::kRecordQueryProcedure,
                                                  "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");

// An outcome that changes nothing about the order (no change, no notification) in one round
// trip: the stored procedure locks the row, compares, writes the query-log row, last_queried_at
// and the schedule, and answers the row and the balance (recharge_routines.h). nullopt when the
// procedure is missing (the caller then does the same with plain statements).
absl::StatusOr<std::optional<domain::ApplyResult>> RecordUnchangedInOneCall(
    ConnectionPool& pool, const domain::QueryOutcome& outcome) {
  domain::ApplyResult result;
  std::string said;
  bool no_procedure = false;
  absl::Status st = RunAtomicCommand(
      pool,
      [&](Connection& c) -> absl::Status {
        result = domain::ApplyResult{};  // the call may run again after a deadlock
        said.clear();
        try {
          sql::PreparedStatement& call = c.Prepare(kCallRecordQuery);
          BindString(call, 1, outcome.order_no);
          if (outcome.expect_state) {
            BindString(call, 2, domain::RechargeStateName(*outcome.expect_state));
          } else {
            call.setNull(2, sql::DataType::VARCHAR);
          }
          if (outcome.expect_credited) {
            call.setInt(3, *outcome.expect_credited ? 1 : 0);
          } else {
            call.setNull(3, sql::DataType::TINYINT);
          }
          BindOptionalTime(call, 4, outcome.queried_at);
          BindOptionalTime(call, 5, outcome.next_check_at);
          const domain::QueryLogEntry empty;
          const domain::QueryLogEntry& log = outcome.query_log ? *outcome.query_log : empty;
          call.setInt(6, outcome.query_log ? 1 : 0);
          BindQueryLog(call, 7, log);
          internal::CallProcedure(call, [&](sql::ResultSet& rs) {
            if (!rs.next()) return;
            said = GetString(rs, 1);
            if (said == "missing") return;
            result.order = ReadOrder(rs, internal::kRecordQueryOrderColumn);
            result.balance_fen = GetOptionalInt64(rs, internal::kRecordQueryOrderColumn +
                                                          internal::kOrderColumnCount)
                                     .value_or(0);
          });
        } catch (const sql::SQLException& e) {
          if (e.getErrorCode() != kNoSuchProcedure) throw;
          no_procedure = true;
          return RolledBackOnPurpose();
        }
        return absl::OkStatus();
      },
      internal::Txn("record outcome"));
  if (no_procedure) {
    log::EmitLimited(log::Level::kWarn, "storage.procedure_missing",
                     {{"procedure", internal::kRecordQueryProcedure},
                      {"effect", "one statement per step; the next start-up creates it"}},
                     internal::kRecordQueryProcedure);
    return std::optional<domain::ApplyResult>();
  }
  if (!st.ok()) return st;
  if (said == "missing") return OrderNotFound(outcome.order_no);
  if (said == "conflict") {
    result.conflict = true;
    return std::optional<domain::ApplyResult>(std::move(result));
  }
  if (said != "ok") {
    return absl::InternalError(absl::StrCat("record outcome: ", internal::kRecordQueryProcedure,
                                            " answered '", said, "'"));
  }
  return std::optional<domain::ApplyResult>(std::move(result));
}

}  // namespace

absl::StatusOr<domain::Session> MysqlRechargeRepository::ResolveToken(absl::string_view token,
                                                                      absl::Time now) {
  if (token.empty()) return absl::UnauthenticatedError("missing token");
  const std::string digest = Sha256Hex(token);
  std::optional<domain::Session> session;
  absl::Status st = WithConnection(
      *pool_,
      [&](Connection& c) {
        session.reset();
        sql::PreparedStatement& q = c.Prepare(kSelectSession);
        BindString(q, 1, digest);
        std::unique_ptr<sql::ResultSet> rs = Query(q);
        if (rs->next()) {
          domain::Session s;
          s.user_id = rs->getInt64(1);
          s.appid = GetString(*rs, 2);
          s.expires_at = GetTime(*rs, 3);
          session = std::move(s);
        }
        return absl::OkStatus();
      },
      "resolve token");
  if (!st.ok()) return st;
  // Both answers are deliberately alike: a caller learns nothing about which tokens exist.
  if (!session.has_value()) return absl::UnauthenticatedError("unknown or expired token");
  if (session->expires_at <= now) {
    log::Debug("storage.token_expired", {{"user_id", session->user_id}});
    return absl::UnauthenticatedError("unknown or expired token");
  }
  return *std::move(session);
}

absl::StatusOr<domain::QueryView> MysqlRechargeRepository::LoadForQuery(absl::string_view token,
                                                                        absl::string_view order_no,
                                                                        absl::Time now) {
  if (token.empty()) return absl::UnauthenticatedError("missing token");
  const std::string digest = Sha256Hex(token);
  std::optional<domain::QueryView> view;
  absl::Status st = WithConnection(
      *pool_,
      [&](Connection& c) {
        view.reset();
        sql::PreparedStatement& q = c.Prepare(kSelectQueryView);
        BindString(q, 1, order_no);
        BindString(q, 2, digest);
        std::unique_ptr<sql::ResultSet> rs = Query(q);
        if (!rs->next()) return absl::OkStatus();
        domain::QueryView v;
        v.session.user_id = rs->getInt64(1);
        v.session.appid = GetString(*rs, 2);
        v.session.expires_at = GetTime(*rs, 3);
        v.balance_fen = GetOptionalInt64(*rs, 4);
        v.credited_balance_fen = GetOptionalInt64(*rs, 5);
        if (!rs->isNull(6)) v.order = ReadOrder(*rs, 6);
        view = std::move(v);
        return absl::OkStatus();
      },
      "load for query");
  if (!st.ok()) return st;
  // Both answers are deliberately alike: a caller learns nothing about which tokens exist.
  if (!view.has_value() || view->session.expires_at <= now) {
    return absl::UnauthenticatedError("unknown or expired token");
  }
  return *std::move(view);
}

absl::StatusOr<domain::RechargeOrder> MysqlRechargeRepository::GetOrder(
    absl::string_view order_no) {
  std::optional<domain::RechargeOrder> order;
  absl::Status st = WithConnection(
      *pool_,
      [&](Connection& c) {
        order = FetchOrder(c, kSelectOrder, order_no);
        return absl::OkStatus();
      },
      "get recharge order");
  if (!st.ok()) return st;
  if (!order.has_value()) return OrderNotFound(order_no);
  return *std::move(order);
}

absl::StatusOr<int64_t> MysqlRechargeRepository::GetBalance(int64_t user_id) {
  std::optional<int64_t> balance;
  absl::Status st = WithConnection(
      *pool_,
      [&](Connection& c) {
        balance.reset();
        sql::PreparedStatement& q = c.Prepare(kSelectBalance);
        q.setInt64(1, user_id);
        std::unique_ptr<sql::ResultSet> rs = Query(q);
        if (rs->next()) balance = rs->getInt64(1);
        return absl::OkStatus();
      },
      "get balance");
  if (!st.ok()) return st;
  if (!balance.has_value())
    return absl::NotFoundError(absl::StrCat("user ", user_id, " not found"));
  return *balance;
}

absl::Status MysqlRechargeRepository::AppendQueryLog(const domain::QueryLogEntry& entry) {
  // A transaction (not a bare insert) so that a dead pooled session is replaced safely: a bare
  // insert that fails on a lost connection might or might not have been written.
  return RunInTransaction(
      *pool_,
      [&](Connection& c) {
        InsertQueryLog(c, entry);
        return absl::OkStatus();
      },
      internal::Txn("append query log"));
}

absl::Status MysqlRechargeRepository::TouchLastQueried(absl::string_view order_no, absl::Time at) {
  return WithConnection(
      *pool_,
      [&](Connection& c) {
        sql::PreparedStatement& up = c.Prepare(kTouchLastQueried);
        BindTime(up, 1, at);
        BindString(up, 2, order_no);
        up.executeUpdate();
        return absl::OkStatus();
      },
      "touch last queried");
}

absl::StatusOr<domain::ApplyResult> MysqlRechargeRepository::ApplyStateChange(
    const domain::StateChange& change) {
  domain::QueryOutcome outcome;
  outcome.order_no = change.order_no;
  outcome.change = change;
  return RecordOutcome(outcome);
}

absl::StatusOr<domain::ApplyResult> MysqlRechargeRepository::RecordOutcome(
    const domain::QueryOutcome& outcome) {
  const std::optional<domain::StateChange>& change = outcome.change;
  if (change && change->credit && change->to != domain::RechargeState::kSuccess) {
    return absl::InvalidArgumentError(
        absl::StrCat("order ", change->order_no, ": credit requested for state ",
                     domain::RechargeStateName(change->to), "; only SUCCESS is credited"));
  }
  if (change && change->order_no != outcome.order_no) {
    return absl::InvalidArgumentError(absl::StrCat("outcome for order ", outcome.order_no,
                                                   " carries a change of ", change->order_no));
  }
  if (!change && !outcome.notification && outcome.order_no.size() <= kCallOrderNoMax &&
      absl::ToUnixMillis(absl::Now()) >= no_procedure_until_ms_.load(std::memory_order_relaxed)) {
    absl::StatusOr<std::optional<domain::ApplyResult>> one_call =
        RecordUnchangedInOneCall(*pool_, outcome);
    if (!one_call.ok()) return one_call.status();
    if (one_call->has_value()) return **std::move(one_call);
    no_procedure_until_ms_.store(absl::ToUnixMillis(absl::Now() + kNoProcedureRetry),
                                 std::memory_order_relaxed);
  }
  domain::ApplyResult result;
  absl::Status st = RunInTransaction(
      *pool_,
      [&](Connection& c) -> absl::Status {
        result = domain::ApplyResult{};  // the transaction may run again after a deadlock
        if (outcome.notification && !InsertNotification(c, *outcome.notification)) {
          result.duplicate_notification = true;
          return RolledBackOnPurpose();
        }
        std::optional<domain::RechargeOrder> locked =
            FetchOrder(c, kSelectOrderForUpdate, outcome.order_no);
        if (!locked.has_value()) return OrderNotFound(outcome.order_no);
        const domain::RechargeOrder& before = *locked;
        // Compare-and-set: the decision holds only for the row it was made on.
        const bool moved =
            (change && change->from && before.state != *change->from) ||
            (change && change->from_credited && before.credited != *change->from_credited) ||
            (outcome.expect_state && before.state != *outcome.expect_state) ||
            (outcome.expect_credited && before.credited != *outcome.expect_credited);
        if (moved) {
          result.conflict = true;
          result.order = before;
          return RolledBackOnPurpose();
        }
        if (outcome.query_log) InsertQueryLog(c, *outcome.query_log);

        std::optional<int64_t> balance;
        // The row as this transaction leaves it: every column it writes is mirrored here, so
        // the row needs no second read (updated_at is not part of domain::RechargeOrder).
        domain::RechargeOrder after = before;
        // updated_at means "the order changed": its state, its details or its credit.
        bool order_changes = false;
        bool crediting = false;
        if (change) {
          // Details the provider reported replace ours when present; absent ones keep ours.
          if (!change->trade_state.empty()) after.trade_state = change->trade_state;
          if (!change->transaction_id.empty()) after.transaction_id = change->transaction_id;
          if (change->paid_at.has_value()) {
            after.paid_at = internal::TruncateToMillis(*change->paid_at);
          }
          after.state = change->to;
          const bool status_changes = before.state != change->to;
          order_changes = status_changes || after.trade_state != before.trade_state ||
                          after.transaction_id != before.transaction_id ||
                          after.paid_at != before.paid_at;
          if (status_changes) {
            sql::PreparedStatement& ins = c.Prepare(kInsertOrderLog);
            BindString(ins, 1, change->order_no);
            BindString(ins, 2, domain::RechargeStateName(before.state));
            BindString(ins, 3, domain::RechargeStateName(change->to));
            BindString(ins, 4, TruncateUtf8(change->reason, kReasonMax));
            ins.executeUpdate();
            result.state_changed = true;
          }
          // The guard: only the transaction that flips credited 0 -> 1 (under the row lock)
          // credits.
          crediting = change->credit && !before.credited;
          if (crediting) {
            after.credited = true;
            order_changes = true;
          }
        }
        if (outcome.queried_at) {
          after.last_queried_at = internal::TruncateToMillis(*outcome.queried_at);
        }
        // A final order leaves the reconciler's schedule; a pending one gets its next slot.
        const bool pending = after.state == domain::RechargeState::kNotPay ||
                             after.state == domain::RechargeState::kUserPaying;
        if (!pending) {
          after.next_check_at.reset();
        } else if (outcome.next_check_at) {
          after.next_check_at = internal::TruncateToMillis(*outcome.next_check_at);
        }
        // One UPDATE for the state, details, credit flag, refresh interval and schedule.
        if (order_changes || outcome.queried_at || after.next_check_at != before.next_check_at) {
          sql::PreparedStatement& up = c.Prepare(kUpdateOrderRow);
          BindString(up, 1, domain::RechargeStateName(after.state));
          BindString(up, 2, after.trade_state);
          BindString(up, 3, after.transaction_id);
          BindOptionalTime(up, 4, after.paid_at);
          up.setInt(5, after.credited ? 1 : 0);
          BindOptionalTime(up, 6, after.last_queried_at);
          BindOptionalTime(up, 7, after.next_check_at);
          up.setInt(8, order_changes ? 1 : 0);
          BindString(up, 9, outcome.order_no);
          up.setInt(10, crediting ? 1 : 0);
          if (up.executeUpdate() != 1 && crediting) {
            // Cannot happen while we hold the row lock; if it does, let the retry re-read.
            return absl::AbortedError(
                absl::StrCat("order ", outcome.order_no, " changed under our row lock"));
          }
        }
        if (crediting) {
          sql::PreparedStatement& add = c.Prepare(kAddToBalance);
          add.setInt64(1, before.amount_fen);
          add.setInt64(2, before.user_id);
          if (add.executeUpdate() != 1) {
            return absl::FailedPreconditionError(
                absl::StrCat("order ", outcome.order_no, " belongs to user ", before.user_id,
                             ", who does not exist; nothing credited"));
          }
          sql::PreparedStatement& q = c.Prepare(kSelectBalanceForUpdate);
          q.setInt64(1, before.user_id);
          std::unique_ptr<sql::ResultSet> rs = Query(q);
          if (!rs->next()) return absl::InternalError("user row vanished inside the transaction");
          const int64_t after_credit = rs->getInt64(1);
          rs.reset();
          // A duplicate (order_no, RECHARGE) here throws 1062 and rolls everything back.
          sql::PreparedStatement& ledger = c.Prepare(kInsertAmountLog);
          ledger.setInt64(1, before.user_id);
          BindString(ledger, 2, outcome.order_no);
          ledger.setInt64(3, after_credit - before.amount_fen);
          ledger.setInt64(4, before.amount_fen);
          ledger.setInt64(5, after_credit);
          ledger.executeUpdate();
          result.credited_now = true;
          balance = after_credit;
        }
        result.order = std::move(after);
        if (!balance.has_value()) {
          sql::PreparedStatement& q = c.Prepare(kSelectBalance);
          q.setInt64(1, before.user_id);
          std::unique_ptr<sql::ResultSet> rs = Query(q);
          balance = rs->next() ? rs->getInt64(1) : 0;
        }
        result.balance_fen = *balance;
        return absl::OkStatus();
      },
      internal::Txn("record outcome"));
  if (result.conflict || result.duplicate_notification) return result;
  if (!st.ok()) {
    if (absl::IsAlreadyExists(st)) {
      return absl::AlreadyExistsError(absl::StrCat(
          "order ", outcome.order_no,
          " already has a RECHARGE ledger row but is not marked credited; nothing changed (",
          st.message(), ")"));
    }
    return st;
  }
  if (result.credited_now) {
    log::Info("storage.recharge_credited", {{"order_no", outcome.order_no},
                                            {"user_id", result.order.user_id},
                                            {"amount_fen", result.order.amount_fen},
                                            {"balance_fen", result.balance_fen}});
  }
  return result;
}

}  // namespace orderquery::storage
