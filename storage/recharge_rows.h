// The t_recharge_order columns every read of an order selects, and how a row becomes a
// domain::RechargeOrder: shared by the recharge repository and the reconciler's schedule.
#ifndef ORDERQUERY_STORAGE_RECHARGE_ROWS_H_
#define ORDERQUERY_STORAGE_RECHARGE_ROWS_H_

#include <cppconn/resultset.h>

#include "server/domain/recharge.h"

namespace orderquery::storage::internal {

inline constexpr char kOrderColumns[] =
    "order_no, user_id, appid, mchid, sub_mchid, amount, status, trade_state, transaction_id,"
    " paid_at, credited, last_queried_at, created_at, next_check_at, check_attempts";

// Reads the order columns (kOrderColumns) starting at column `first`. Throws ValueError for a
// status this service does not know.
domain::RechargeOrder ReadOrder(const sql::ResultSet& rs, unsigned int first = 1);

}  // namespace orderquery::storage::internal

#endif  // ORDERQUERY_STORAGE_RECHARGE_ROWS_H_
