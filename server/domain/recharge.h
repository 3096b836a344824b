// Recharge orders (seed 000): domain types and the storage interface the service needs.
// No I/O here; storage/ implements RechargeRepository over MySQL.
#ifndef ORDERQUERY_SERVER_DOMAIN_RECHARGE_H_
#define ORDERQUERY_SERVER_DOMAIN_RECHARGE_H_

#include <cstdint>
#include <optional>
#include <string>

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
};

struct ApplyResult {
  bool state_changed = false;  // a t_recharge_order_log row was written
  bool credited_now = false;   // this call credited the balance
  RechargeOrder order;         // the order after the change
  int64_t balance_fen = 0;     // the user's balance after the change
};

class RechargeRepository {
 public:
  virtual ~RechargeRepository() = default;

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
};

}  // namespace orderquery::domain

#endif  // ORDERQUERY_SERVER_DOMAIN_RECHARGE_H_
