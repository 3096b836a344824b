// MysqlRechargeRepository as the reconciler's durable schedule (domain::CheckSchedule): which
// pending orders are due, claimed with a lease so that one replica asks about each.
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/recharge_repository.h"
#include "storage/recharge_rows.h"
#include "storage/sql_util.h"

namespace orderquery::storage {
namespace {

using internal::BindString;
using internal::BindTime;
using internal::GetOptionalTime;
using internal::GetString;
using internal::kOrderColumns;
using internal::Query;
using internal::ReadOrder;

// The reconciler's schedule. A pending order without one is first due first_delay after it was
// created; a claim pushes next_check_at to the end of the claimant's lease, so another replica
// takes the order only if the claimant dies (its lease lapses).
constexpr char kScheduleNew[] =
    "UPDATE t_recharge_order SET next_check_at = DATE_ADD(created_at, INTERVAL ? MICROSECOND),"
    " updated_at = updated_at WHERE status IN ('NOTPAY', 'USERPAYING') AND next_check_at IS NULL"
    " LIMIT ?";
const std::string kSelectDueForUpdate = absl::StrCat(
    "SELECT ", kOrderColumns,
    " FROM t_recharge_order WHERE status IN ('NOTPAY', 'USERPAYING') AND next_check_at <= ?"
    " ORDER BY next_check_at LIMIT ? FOR UPDATE SKIP LOCKED");
constexpr char kClaim[] =
    "UPDATE t_recharge_order SET next_check_at = ?, check_attempts = check_attempts + 1,"
    " updated_at = updated_at WHERE order_no = ?";
constexpr char kScheduleStats[] =
    "SELECT COUNT(*), MIN(next_check_at) FROM t_recharge_order"
    " WHERE status IN ('NOTPAY', 'USERPAYING') AND next_check_at <= ?";
constexpr char kPendingByAge[] =
    "SELECT status, CASE WHEN created_at > ? - INTERVAL 10 MINUTE THEN 'lt_10m'"
    " WHEN created_at > ? - INTERVAL 1 HOUR THEN 'lt_1h'"
    " WHEN created_at > ? - INTERVAL 2 HOUR THEN 'lt_2h' ELSE 'ge_2h' END AS age, COUNT(*)"
    " FROM t_recharge_order WHERE status IN ('NOTPAY', 'USERPAYING') GROUP BY status, age";
constexpr char kUnscheduledCount[] =
    "SELECT COUNT(*) FROM t_recharge_order WHERE status IN ('NOTPAY', 'USERPAYING')"
    " AND next_check_at IS NULL";

}  // namespace

absl::StatusOr<int> MysqlRechargeRepository::ScheduleNewOrders(absl::Duration first_delay,
                                                               int limit) {
  int scheduled = 0;
  absl::Status st = RunInTransaction(
      *pool_,
      [&](Connection& c) {
        sql::PreparedStatement& up = c.Prepare(kScheduleNew);
        up.setInt64(1, absl::ToInt64Microseconds(first_delay));
        up.setInt(2, limit);
        scheduled = up.executeUpdate();
        return absl::OkStatus();
      },
      internal::Txn("schedule new orders"));
  if (!st.ok()) return st;
  return scheduled;
}

absl::StatusOr<std::vector<domain::RechargeOrder>> MysqlRechargeRepository::ClaimDueOrders(
    absl::Time now, absl::Duration lease, int limit) {
  std::vector<domain::RechargeOrder> claimed;
  absl::Status st = RunInTransaction(
      *pool_,
      [&](Connection& c) {
        claimed.clear();
        sql::PreparedStatement& q = c.Prepare(kSelectDueForUpdate);
        BindTime(q, 1, now);
        q.setInt(2, limit);
        {
          std::unique_ptr<sql::ResultSet> rs = Query(q);
          while (rs->next()) claimed.push_back(ReadOrder(*rs));
        }
        const absl::Time until = internal::TruncateToMillis(now + lease);
        for (domain::RechargeOrder& o : claimed) {
          sql::PreparedStatement& up = c.Prepare(kClaim);
          BindTime(up, 1, until);
          BindString(up, 2, o.order_no);
          up.executeUpdate();
          o.next_check_at = until;
          ++o.check_attempts;
        }
        return absl::OkStatus();
      },
      internal::Txn("claim due orders"));
  if (!st.ok()) return st;
  return claimed;
}

absl::StatusOr<domain::ScheduleStats> MysqlRechargeRepository::GetScheduleStats(absl::Time now) {
  domain::ScheduleStats stats;
  absl::Status st = WithConnection(
      *pool_,
      [&](Connection& c) {
        stats = domain::ScheduleStats{};
        sql::PreparedStatement& q = c.Prepare(kScheduleStats);
        BindTime(q, 1, now);
        std::unique_ptr<sql::ResultSet> rs = Query(q);
        if (rs->next()) {
          stats.overdue = rs->getInt64(1);
          stats.oldest_due = GetOptionalTime(*rs, 2);
        }
        rs.reset();
        std::unique_ptr<sql::ResultSet> un = Query(c.Prepare(kUnscheduledCount));
        if (un->next()) stats.unscheduled = un->getInt64(1);
        un.reset();
        sql::PreparedStatement& by_age = c.Prepare(kPendingByAge);
        for (unsigned int i = 1; i <= 3; ++i) BindTime(by_age, i, now);
        std::unique_ptr<sql::ResultSet> ages = Query(by_age);
        while (ages->next()) {
          stats.pending.push_back({GetString(*ages, 1), GetString(*ages, 2), ages->getInt64(3)});
        }
        return absl::OkStatus();
      },
      "schedule stats");
  if (!st.ok()) return st;
  return stats;
}

}  // namespace orderquery::storage
