// domain::RechargeRepository over MySQL (seed 000's five tables plus t_user_session).
#ifndef ORDERQUERY_STORAGE_RECHARGE_REPOSITORY_H_
#define ORDERQUERY_STORAGE_RECHARGE_REPOSITORY_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/recharge.h"
#include "storage/mysql_pool.h"

namespace orderquery::storage {

// Thread-safe; the pool must outlive it. Besides the codes domain::RechargeRepository
// documents, every method answers UNAVAILABLE when the database cannot be reached.
class MysqlRechargeRepository : public domain::RechargeRepository, public domain::CheckSchedule {
 public:
  explicit MysqlRechargeRepository(ConnectionPool& pool) : pool_(&pool) {}

  // Looks the token up by its SHA-256 (the token itself is never stored or logged).
  absl::StatusOr<domain::Session> ResolveToken(absl::string_view token, absl::Time now) override;
  absl::StatusOr<domain::RechargeOrder> GetOrder(absl::string_view order_no) override;
  // One round trip (session, balance, order and its ledger row joined).
  absl::StatusOr<domain::QueryView> LoadForQuery(absl::string_view token,
                                                 absl::string_view order_no,
                                                 absl::Time now) override;
  absl::StatusOr<int64_t> GetBalance(int64_t user_id) override;
  // Over-long text fields are cut to their column size rather than failing the write.
  absl::Status AppendQueryLog(const domain::QueryLogEntry& entry) override;
  // OK also when the order does not exist (nothing to touch).
  absl::Status TouchLastQueried(absl::string_view order_no, absl::Time at) override;
  // As the interface says. Also: INVALID_ARGUMENT when change.credit is set for a state other
  // than SUCCESS; FAILED_PRECONDITION when the order's user does not exist; ALREADY_EXISTS when
  // a ledger row for the order exists although the order is not marked credited (nothing is
  // changed then: the duplicate rolls the whole transaction back).
  absl::StatusOr<domain::ApplyResult> ApplyStateChange(const domain::StateChange& change) override;
  // As the interface says; a change to a final state also takes the order off the schedule.
  // An outcome without change or notification (the polling answer) is one round trip: a CALL of
  // the stored procedure oq_record_query_v1 (recharge_routines.h), which locks, compares and
  // writes in its own transaction. When the procedure is missing, the statements do the same
  // (and the CALL is tried again a minute later).
  absl::StatusOr<domain::ApplyResult> RecordOutcome(const domain::QueryOutcome& outcome) override;

  // domain::CheckSchedule (SELECT ... FOR UPDATE SKIP LOCKED: MariaDB 10.6+).
  absl::StatusOr<int> ScheduleNewOrders(absl::Duration first_delay, int limit) override;
  absl::StatusOr<std::vector<domain::RechargeOrder>> ClaimDueOrders(absl::Time now,
                                                                    absl::Duration lease,
                                                                    int limit) override;
  absl::StatusOr<domain::ScheduleStats> GetScheduleStats(absl::Time now) override;

 private:
  ConnectionPool* pool_;
  // Until when (absl::ToUnixMillis) the procedure is taken to be missing.
  std::atomic<int64_t> no_procedure_until_ms_{0};
};

}  // namespace orderquery::storage

#endif  // ORDERQUERY_STORAGE_RECHARGE_REPOSITORY_H_
