#include "tests/fakes/repositories.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace orderquery::fakes {
namespace {

using domain::RechargeOrder;
using domain::RechargeState;

bool IsPending(RechargeState s) {
  return s == RechargeState::kNotPay || s == RechargeState::kUserPaying;
}

std::optional<absl::Time> Truncate(const std::optional<absl::Time>& t) {
  if (!t.has_value()) return std::nullopt;
  return TruncateToMillis(*t);
}

absl::Status OrderNotFound(absl::string_view order_no) {
  return absl::NotFoundError(absl::StrCat("recharge order '", order_no, "' not found"));
}

// The age bucket GetScheduleStats files a pending order under.
const char* AgeBucket(absl::Time created_at, absl::Time now) {
  if (created_at > now - absl::Minutes(10)) return "lt_10m";
  if (created_at > now - absl::Hours(1)) return "lt_1h";
  if (created_at > now - absl::Hours(2)) return "lt_2h";
  return "ge_2h";
}

}  // namespace

absl::Time TruncateToMillis(absl::Time t) {
  return absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), absl::Milliseconds(1));
}

// ----- InMemoryRechargeRepository

absl::StatusOr<domain::QueryView> InMemoryRechargeRepository::LoadForQuery(
    absl::string_view token, absl::string_view order_no, absl::Time now) {
  absl::StatusOr<domain::QueryView> v = RechargeRepository::LoadForQuery(token, order_no, now);
  if (!v.ok()) return v;
  std::lock_guard<std::mutex> l(mu);
  if (const LedgerRow* row = FindLedgerLocked(order_no); row != nullptr) {
    v->credited_balance_fen = row->amount_after;
  }
  return v;
}

absl::StatusOr<domain::Session> InMemoryRechargeRepository::ResolveToken(absl::string_view token,
                                                                         absl::Time now) {
  std::lock_guard<std::mutex> l(mu);
  ++calls;
  if (token.empty()) return absl::UnauthenticatedError("missing token");
  auto it = sessions.find(std::string(token));
  // Both answers alike, as the MySQL repository gives them.
  if (it == sessions.end() || it->second.expires_at <= now) {
    return absl::UnauthenticatedError("unknown or expired token");
  }
  return it->second;
}

absl::StatusOr<RechargeOrder> InMemoryRechargeRepository::GetOrder(absl::string_view order_no) {
  std::lock_guard<std::mutex> l(mu);
  ++calls;
  auto it = orders.find(std::string(order_no));
  if (it == orders.end()) return OrderNotFound(order_no);
  return it->second;
}

absl::StatusOr<int64_t> InMemoryRechargeRepository::GetBalance(int64_t user_id) {
  std::lock_guard<std::mutex> l(mu);
  auto it = balances.find(user_id);
  if (it == balances.end())
    return absl::NotFoundError(absl::StrCat("user ", user_id, " not found"));
  return it->second;
}

absl::Status InMemoryRechargeRepository::AppendQueryLog(const domain::QueryLogEntry& entry) {
  std::lock_guard<std::mutex> l(mu);
  query_log.push_back(entry);
  return absl::OkStatus();
}

absl::Status InMemoryRechargeRepository::TouchLastQueried(absl::string_view order_no,
                                                          absl::Time at) {
  std::lock_guard<std::mutex> l(mu);
  // OK also when there is no such order (nothing to touch).
  if (auto it = orders.find(std::string(order_no)); it != orders.end()) {
    it->second.last_queried_at = TruncateToMillis(at);
  }
  return absl::OkStatus();
}

absl::StatusOr<domain::ApplyResult> InMemoryRechargeRepository::ApplyStateChange(
    const domain::StateChange& change) {
  domain::QueryOutcome outcome;
  outcome.order_no = change.order_no;
  outcome.change = change;
  return RecordOutcome(outcome);
}

absl::StatusOr<domain::ApplyResult> InMemoryRechargeRepository::RecordOutcome(
    const domain::QueryOutcome& outcome) {
  std::lock_guard<std::mutex> l(mu);
  return RecordOutcomeLocked(outcome);
}

const InMemoryRechargeRepository::LedgerRow* InMemoryRechargeRepository::FindLedgerLocked(
    absl::string_view order_no) const {
  for (const LedgerRow& row : ledger) {
    if (row.order_no == order_no) return &row;
  }
  return nullptr;
}

absl::StatusOr<domain::ApplyResult> InMemoryRechargeRepository::RecordOutcomeLocked(
    const domain::QueryOutcome& outcome) {
  const std::optional<domain::StateChange>& change = outcome.change;
  if (change && change->credit && change->to != RechargeState::kSuccess) {
    return absl::InvalidArgumentError(
        absl::StrCat("order ", change->order_no, ": credit requested for state ",
                     domain::RechargeStateName(change->to), "; only SUCCESS is credited"));
  }
  if (change && change->order_no != outcome.order_no) {
    return absl::InvalidArgumentError(absl::StrCat("outcome for order ", outcome.order_no,
                                                   " carries a change of ", change->order_no));
  }
  domain::ApplyResult result;
  // Every check first, then every write: all or nothing, as one transaction.
  if (outcome.notification && notifications.count(outcome.notification->id) > 0) {
    result.duplicate_notification = true;
    return result;
  }
  auto it = orders.find(outcome.order_no);
  if (it == orders.end()) return OrderNotFound(outcome.order_no);
  RechargeOrder& order = it->second;
  const RechargeOrder before = order;
  const bool moved =
      (change && change->from && before.state != *change->from) ||
      (change && change->from_credited && before.credited != *change->from_credited) ||
      (outcome.expect_state && before.state != *outcome.expect_state) ||
      (outcome.expect_credited && before.credited != *outcome.expect_credited);
  if (moved) {
    result.conflict = true;
    result.order = before;
    return result;
  }
  const bool credit_now = change && change->credit && !before.credited;
  if (credit_now) {
    if (balances.count(before.user_id) == 0) {
      return absl::FailedPreconditionError(absl::StrCat("order ", before.order_no,
                                                        " belongs to user ", before.user_id,
                                                        ", who does not exist; nothing credited"));
    }
    if (FindLedgerLocked(before.order_no) != nullptr) {
      return absl::AlreadyExistsError(
          absl::StrCat("order ", before.order_no,
                       " already has a RECHARGE ledger row but is not marked credited; nothing "
                       "changed"));
    }
  }

  if (outcome.notification) notifications[outcome.notification->id] = *outcome.notification;
  if (outcome.query_log) query_log.push_back(*outcome.query_log);
  if (change) {
    // Details the provider reported replace ours when present; absent ones keep ours.
    if (!change->trade_state.empty()) order.trade_state = change->trade_state;
    if (!change->transaction_id.empty()) order.transaction_id = change->transaction_id;
    if (change->paid_at) order.paid_at = TruncateToMillis(*change->paid_at);
    if (before.state != change->to) {
      order.state = change->to;
      order_log.push_back({order.order_no, before.state, change->to, change->reason});
      result.state_changed = true;
    }
    if (credit_now) {
      order.credited = true;
      int64_t& balance = balances[order.user_id];
      balance += order.amount_fen;
      ledger.push_back(
          {order.user_id, order.order_no, balance - order.amount_fen, order.amount_fen, balance});
      result.credited_now = true;
      ++credits;
    }
  }
  if (outcome.queried_at) order.last_queried_at = TruncateToMillis(*outcome.queried_at);
  // A final order leaves the reconciler's schedule; a pending one gets its next slot.
  if (!IsPending(order.state)) {
    order.next_check_at.reset();
  } else if (outcome.next_check_at) {
    order.next_check_at = TruncateToMillis(*outcome.next_check_at);
  }
  result.order = order;
  auto balance = balances.find(order.user_id);
  result.balance_fen = balance == balances.end() ? 0 : balance->second;
  return result;
}

absl::StatusOr<int> InMemoryRechargeRepository::ScheduleNewOrders(absl::Duration first_delay,
                                                                  int limit) {
  std::lock_guard<std::mutex> l(mu);
  int scheduled = 0;
  for (auto& [no, order] : orders) {
    if (scheduled >= limit) break;
    if (!IsPending(order.state) || order.next_check_at.has_value()) continue;
    order.next_check_at = TruncateToMillis(order.created_at + first_delay);
    ++scheduled;
  }
  return scheduled;
}

absl::StatusOr<std::vector<RechargeOrder>> InMemoryRechargeRepository::ClaimDueOrders(
    absl::Time now, absl::Duration lease, int limit) {
  std::lock_guard<std::mutex> l(mu);
  std::vector<RechargeOrder*> due;
  for (auto& [no, order] : orders) {
    if (IsPending(order.state) && order.next_check_at && *order.next_check_at <= now) {
      due.push_back(&order);
    }
  }
  std::stable_sort(due.begin(), due.end(), [](const RechargeOrder* a, const RechargeOrder* b) {
    return *a->next_check_at < *b->next_check_at;
  });
  if (limit < 0) limit = 0;
  if (due.size() > static_cast<size_t>(limit)) due.resize(static_cast<size_t>(limit));
  const absl::Time until = TruncateToMillis(now + lease);
  std::vector<RechargeOrder> claimed;
  for (RechargeOrder* order : due) {
    order->next_check_at = until;
    ++order->check_attempts;
    claimed.push_back(*order);
  }
  return claimed;
}

absl::StatusOr<domain::ScheduleStats> InMemoryRechargeRepository::GetScheduleStats(absl::Time now) {
  std::lock_guard<std::mutex> l(mu);
  domain::ScheduleStats stats;
  std::map<std::pair<std::string, std::string>, int64_t> buckets;
  for (const auto& [no, order] : orders) {
    if (!IsPending(order.state)) continue;
    if (!order.next_check_at.has_value()) {
      ++stats.unscheduled;
    } else if (*order.next_check_at <= now) {
      ++stats.overdue;
      if (!stats.oldest_due || *order.next_check_at < *stats.oldest_due) {
        stats.oldest_due = order.next_check_at;
      }
    }
    ++buckets[{std::string(domain::RechargeStateName(order.state)),
               AgeBucket(order.created_at, now)}];
  }
  for (const auto& [key, count] : buckets) stats.pending.push_back({key.first, key.second, count});
  return stats;
}

// ----- InMemoryVehicleRepository

absl::Status InMemoryVehicleRepository::Upsert(const domain::VehicleSnapshot& s) {
  std::lock_guard<std::mutex> l(mu);
  ++upserts;
  if (!upsert_error.ok()) return upsert_error;
  domain::VehicleSnapshot stored = s;
  stored.fetched_at = TruncateToMillis(s.fetched_at);
  auto [it, inserted] = rows.try_emplace({s.sub_mchid, s.out_trade_no}, stored);
  // Not older than what is stored: it replaces it (a tie too).
  if (!inserted && stored.fetched_at >= it->second.fetched_at) it->second = std::move(stored);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<domain::VehicleSnapshot>> InMemoryVehicleRepository::Get(
    absl::string_view sub_mchid, absl::string_view out_trade_no) {
  std::lock_guard<std::mutex> l(mu);
  ++gets;
  auto it = rows.find({std::string(sub_mchid), std::string(out_trade_no)});
  if (it == rows.end()) return std::optional<domain::VehicleSnapshot>();
  return std::optional<domain::VehicleSnapshot>(it->second);
}

// ----- InMemoryTradeOrderRepository

absl::Status InMemoryTradeOrderRepository::Upsert(const domain::TradeOrderRecord& r) {
  std::lock_guard<std::mutex> l(mu);
  ++upserts;
  if (!upsert_error.ok()) return upsert_error;
  domain::TradeOrderRecord stored = r;
  stored.trade_succ_time = Truncate(r.trade_succ_time);
  stored.create_time = Truncate(r.create_time);
  stored.update_time = Truncate(r.update_time);
  stored.fetched_at = TruncateToMillis(r.fetched_at);
  auto [it, inserted] = rows.try_emplace({r.merchant, r.trade_order_id}, stored);
  if (!inserted && stored.fetched_at >= it->second.fetched_at) it->second = std::move(stored);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<domain::TradeOrderRecord>> InMemoryTradeOrderRepository::Get(
    absl::string_view merchant, absl::string_view trade_order_id) {
  std::lock_guard<std::mutex> l(mu);
  ++gets;
  auto it = rows.find({std::string(merchant), std::string(trade_order_id)});
  if (it == rows.end()) return std::optional<domain::TradeOrderRecord>();
  return std::optional<domain::TradeOrderRecord>(it->second);
}

}  // namespace orderquery::fakes
