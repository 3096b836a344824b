// Recharge orders (seed 000): domain types and the storage interface the service needs.
// No I/O here; storage/ implements RechargeRepository over MySQL.
#ifndef ORDERQUERY_SERVER_DOMAIN_RECHARGE_H_
#define ORDERQUERY_SERVER_DOMAIN_RECHARGE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace orderquery::domain {

// Local order state; names are WeChat's trade_state strings, stored as such in
// t_recharge_order.status.
enum class RechargeState { kNotPay, kSuccess, kRefund, kClosed, kRevoked, kUserPaying, kPayError };

absl::string_view RechargeStateName(RechargeState s);  // "NOTPAY", "SUCCESS", ...
bool ParseRechargeState(absl::string_view name, RechargeState* out);
// Final states are served from the database without asking WeChat.
bool IsFinal(RechargeState s);

struct Session {
  int64_t user_id = 0;
  std::string appid;
  absl::Time expires_at;
};

struct RechargeOrder {
  std::string order_no;
  int64_t user_id = 0;
  std::string appid;
  std::string mchid;      // merchant the order was placed with
  std::string sub_mchid;  // partner mode only, else empty
  int64_t amount_fen = 0;
  RechargeState state = RechargeState::kNotPay;
  std::string trade_state;     // WeChat's last trade_state string, empty if never asked
  std::string transaction_id;  // WeChat's, once paid
  std::optional<absl::Time> paid_at;
  bool credited = false;  // balance credited (exactly once)
  std::optional<absl::Time> last_queried_at;
  absl::Time created_at;
  // The reconciler's schedule: when this pending order is next asked about without anybody
  // calling (nullopt: not scheduled yet, or final), and how many scheduled checks were made.
  std::optional<absl::Time> next_check_at;
  int check_attempts = 0;
};

// One row of t_user_order_query_log: every upstream query, successful or not.
struct QueryLogEntry {
  std::optional<int64_t> user_id;
  std::string appid;
  std::string order_no;
  std::string trade_state;    // WeChat's answer when there was one
  std::string error_code;     // e.g. "UNAVAILABLE", "SIGN_ERROR", "RATELIMIT_EXCEEDED"
  std::string error_message;  // short, never a secret
  int64_t latency_ms = 0;
};

// What asking WeChat concluded for an order.
struct StateChange {
  std::string order_no;
  RechargeState to = RechargeState::kNotPay;
  std::string trade_state;
  std::string transaction_id;
  std::optional<absl::Time> paid_at;
  std::string reason;  // recorded in t_recharge_order_log
  // Credit the balance (only set when `to` is kSuccess and every crediting check passed).
  bool credit = false;
  // The row as the decision saw it. When set, the change is applied only if the locked row is
  // still in this state (and credited flag): otherwise nothing is written and the caller
  // re-reads and re-decides (ApplyResult::conflict). Unset only for administrative writes.
  std::optional<RechargeState> from;
  std::optional<bool> from_credited;
};

// A provider notification stored with the change it caused (its id is UNIQUE: a duplicate
// delivery has no second effect).
struct NotificationRecord {
  std::string id;  // the provider's notification id
  std::string provider;
  std::string merchant;
  std::string event_type;
  std::string order_no;
  std::string trade_state;
  std::string body;  // exactly as received (WeChat's resource stays encrypted in it)
};

// Everything one answer about an order writes, in one transaction (so no reader ever sees the
// refresh interval started beside the old state, and no query-log row is lost or doubled).
struct QueryOutcome {
  std::string order_no;
  std::optional<QueryLogEntry> query_log;
  std::optional<NotificationRecord> notification;
  std::optional<StateChange> change;
  // The row as the caller read it; when set and the locked row differs, nothing is written
  // (ApplyResult::conflict), also when there is no change (the answer was decided on it).
  std::optional<RechargeState> expect_state;
  std::optional<bool> expect_credited;
  // Starts the refresh interval: only when the database now says what the provider said.
  std::optional<absl::Time> queried_at;
  // The reconciler's next check of a pending order (a final order always leaves the schedule).
  std::optional<absl::Time> next_check_at;
};

struct ApplyResult {
  bool state_changed = false;  // a t_recharge_order_log row was written
  bool credited_now = false;   // this call credited the balance
  RechargeOrder order;         // the order after the change
  int64_t balance_fen = 0;     // the user's balance after the change
  // The row was no longer in change.from: nothing at all was written (not the query log, not
  // the notification); `order` is the row as it is now, for the caller to decide again.
  bool conflict = false;
  // The notification's id was stored already: nothing was written, the delivery is a duplicate.
  bool duplicate_notification = false;
};

// What one QueryRechargeOrder needs, read together.
struct QueryView {
  Session session;
  std::optional<RechargeOrder> order;  // nullopt: no such order
  std::optional<int64_t> balance_fen;  // the session user's balance; nullopt: no such user
  // The balance right after this order's credit (its RECHARGE ledger row), nullopt when the
  // order has no ledger row. Immutable once written: a credited answer can be cached with it.
  std::optional<int64_t> credited_balance_fen;
};

class RechargeRepository {
 public:
  virtual ~RechargeRepository() = default;

  // The session behind `token`, the order and the balances, as QueryView says. UNAUTHENTICATED
  // as ResolveToken. This default composes the single reads; the MySQL repository answers it
  // in one round trip.
  virtual absl::StatusOr<QueryView> LoadForQuery(absl::string_view token,
                                                 absl::string_view order_no, absl::Time now);

  // The session behind a token. UNAUTHENTICATED when unknown or expired at `now`;
  // UNAVAILABLE when the database cannot be reached.
  virtual absl::StatusOr<Session> ResolveToken(absl::string_view token, absl::Time now) = 0;
  // NOT_FOUND when there is no such order.
  virtual absl::StatusOr<RechargeOrder> GetOrder(absl::string_view order_no) = 0;
  // NOT_FOUND when there is no such user.
  virtual absl::StatusOr<int64_t> GetBalance(int64_t user_id) = 0;
  virtual absl::Status AppendQueryLog(const QueryLogEntry& entry) = 0;
  virtual absl::Status TouchLastQueried(absl::string_view order_no, absl::Time at) = 0;
  // In one transaction: lock the order row; if its state differs from change.to, update it and
  // write a t_recharge_order_log row (from, to, reason); if change.credit and the order is not
  // credited yet, mark it credited, add amount to t_user.amount atomically (amount = amount + ?)
  // and write a t_user_amount_log row (before, delta, after) under UNIQUE(order_no, entry_type).
  // Any number of concurrent callers, from any number of processes, credit once.
  // Retries on deadlock; NOT_FOUND if the order does not exist.
  virtual absl::StatusOr<ApplyResult> ApplyStateChange(const StateChange& change) = 0;
  // Writes an outcome in one transaction: the query-log row, the notification row, the change
  // (as ApplyStateChange, compare-and-set on change.from), the refresh interval and the
  // reconciler schedule. A conflict or a duplicate notification writes nothing and is OK.
  // NOT_FOUND if the order does not exist (nothing written then either).
  virtual absl::StatusOr<ApplyResult> RecordOutcome(const QueryOutcome& outcome) = 0;
};

// What the reconciler's schedule looks like now (for its lag figure and log line).
struct ScheduleStats {
  int64_t overdue = 0;                   // pending orders whose check is due and not claimed
  std::optional<absl::Time> oldest_due;  // the oldest of those: now - this = the lag
  int64_t unscheduled = 0;               // pending orders not yet given a first check
  // Pending orders by state and age since creation ("lt_10m", "lt_1h", "lt_2h", "ge_2h").
  struct Bucket {
    std::string state;
    std::string age;
    int64_t count = 0;
  };
  std::vector<Bucket> pending;
};

// The reconciler's durable schedule, kept in the database and shared by every replica.
class CheckSchedule {
 public:
  virtual ~CheckSchedule() = default;
  // Gives up to `limit` pending orders that have no check yet their first one, first_delay after
  // they were created. Returns how many.
  virtual absl::StatusOr<int> ScheduleNewOrders(absl::Duration first_delay, int limit) = 0;
  // Claims up to `limit` pending orders due at `now`, skipping rows another replica holds, and
  // pushes each one's next check to now + lease (counting the attempt): no other replica takes
  // it before that, and if this one dies the order comes due again when the lease lapses.
  virtual absl::StatusOr<std::vector<RechargeOrder>> ClaimDueOrders(absl::Time now,
                                                                    absl::Duration lease,
                                                                    int limit) = 0;
  virtual absl::StatusOr<ScheduleStats> GetScheduleStats(absl::Time now) = 0;
};

}  // namespace orderquery::domain

#endif  // ORDERQUERY_SERVER_DOMAIN_RECHARGE_H_
