// In-memory repositories for unit tests: the same contract as storage/'s MySQL repositories,
// checked by the suites in tests/contract/ (which run against both), so a unit test on these
// fakes sees what the service would see on MariaDB.
//
// Each fake keeps its state in public members, guarded by `mu`, for tests to seed and inspect
// (lock `mu` while a call may be running on another thread). Times are stored as a DATETIME(3)
// column keeps them: cut to the millisecond.
#ifndef ORDERQUERY_TESTS_FAKES_REPOSITORIES_H_
#define ORDERQUERY_TESTS_FAKES_REPOSITORIES_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/recharge.h"
#include "server/domain/snapshots.h"

namespace orderquery::fakes {

// What a DATETIME(3) column keeps of a time.
absl::Time TruncateToMillis(absl::Time t);

class InMemoryRechargeRepository : public domain::RechargeRepository, public domain::CheckSchedule {
 public:
  // A t_recharge_order_log row.
  struct OrderLogRow {
    std::string order_no;
    domain::RechargeState from = domain::RechargeState::kNotPay;
    domain::RechargeState to = domain::RechargeState::kNotPay;
    std::string reason;
  };
  // A t_user_amount_log RECHARGE row.
  struct LedgerRow {
    int64_t user_id = 0;
    std::string order_no;
    int64_t amount_before = 0;
    int64_t delta = 0;
    int64_t amount_after = 0;
  };

  // domain::RechargeRepository. Codes as the interface documents, plus what
  // storage::MysqlRechargeRepository adds (INVALID_ARGUMENT, FAILED_PRECONDITION,
  // ALREADY_EXISTS).
  absl::StatusOr<domain::QueryView> LoadForQuery(absl::string_view token,
                                                 absl::string_view order_no,
                                                 absl::Time now) override;
  absl::StatusOr<domain::Session> ResolveToken(absl::string_view token, absl::Time now) override;
  absl::StatusOr<domain::RechargeOrder> GetOrder(absl::string_view order_no) override;
  absl::StatusOr<int64_t> GetBalance(int64_t user_id) override;
  absl::Status AppendQueryLog(const domain::QueryLogEntry& entry) override;
  absl::Status TouchLastQueried(absl::string_view order_no, absl::Time at) override;
  absl::StatusOr<domain::ApplyResult> ApplyStateChange(const domain::StateChange& change) override;
  absl::StatusOr<domain::ApplyResult> RecordOutcome(const domain::QueryOutcome& outcome) override;

  // domain::CheckSchedule
  absl::StatusOr<int> ScheduleNewOrders(absl::Duration first_delay, int limit) override;
  absl::StatusOr<std::vector<domain::RechargeOrder>> ClaimDueOrders(absl::Time now,
                                                                    absl::Duration lease,
                                                                    int limit) override;
  absl::StatusOr<domain::ScheduleStats> GetScheduleStats(absl::Time now) override;

  std::mutex mu;
  int calls = 0;    // ResolveToken and GetOrder calls (LoadForQuery makes one of each)
  int credits = 0;  // balances credited
  std::map<std::string, domain::Session> sessions;                  // by token
  std::map<std::string, domain::RechargeOrder> orders;              // by order number
  std::map<int64_t, int64_t> balances;                              // fen by user id (t_user)
  std::vector<domain::QueryLogEntry> query_log;                     // t_user_order_query_log
  std::vector<OrderLogRow> order_log;                               // t_recharge_order_log
  std::vector<LedgerRow> ledger;                                    // t_user_amount_log
  std::map<std::string, domain::NotificationRecord> notifications;  // by id

 private:
  absl::StatusOr<domain::ApplyResult> RecordOutcomeLocked(const domain::QueryOutcome& outcome);
  const LedgerRow* FindLedgerLocked(absl::string_view order_no) const;
};

// Keeps the newest snapshot per key: one older (by fetched_at) than the stored one is ignored.
class InMemoryVehicleRepository : public domain::VehicleRepository {
 public:
  absl::Status Upsert(const domain::VehicleSnapshot& s) override;
  absl::StatusOr<std::optional<domain::VehicleSnapshot>> Get(
      absl::string_view sub_mchid, absl::string_view out_trade_no) override;

  std::mutex mu;
  int gets = 0;
  int upserts = 0;
  absl::Status upsert_error;  // when not OK, Upsert answers it and stores nothing
  std::map<std::pair<std::string, std::string>, domain::VehicleSnapshot> rows;
};

// The same rule for trade orders; an order and its goods are replaced together.
class InMemoryTradeOrderRepository : public domain::TradeOrderRepository {
 public:
  absl::Status Upsert(const domain::TradeOrderRecord& r) override;
  absl::StatusOr<std::optional<domain::TradeOrderRecord>> Get(
      absl::string_view merchant, absl::string_view trade_order_id) override;

  std::mutex mu;
  int gets = 0;
  int upserts = 0;
  absl::Status upsert_error;  // when not OK, Upsert answers it and stores nothing
  std::map<std::pair<std::string, std::string>, domain::TradeOrderRecord> rows;
};

}  // namespace orderquery::fakes

#endif  // ORDERQUERY_TESTS_FAKES_REPOSITORIES_H_
