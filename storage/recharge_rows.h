// The t_recharge_order columns every read of an order selects, and how a row becomes a
// domain::RechargeOrder: shared by the recharge repository and the reconciler's schedule.
#ifndef ORDERQUERY_STORAGE_RECHARGE_ROWS_H_
#define ORDERQUERY_STORAGE_RECHARGE_ROWS_H_

#include <cppconn/resultset.h>

#include <string>

#include "absl/strings/string_view.h"
#include "server/domain/recharge.h"

namespace orderquery::storage::internal {

inline constexpr char kOrderColumns[] =
    "order_no, user_id, appid, mchid, sub_mchid, amount, status, trade_state, transaction_id,"
    " paid_at, credited, last_queried_at, created_at, next_check_at, check_attempts";
// How many columns kOrderColumns names (what follows them starts this many columns later).
inline constexpr unsigned int kOrderColumnCount = 15;
// kOrderColumns, each qualified by a table alias: "o.order_no, o.user_id, ...".
std::string OrderColumnsOf(absl::string_view alias);

// Reads the order columns (kOrderColumns) starting at column `first`. Throws ValueError for a
// status this service does not know.
domain::RechargeOrder ReadOrder(const sql::ResultSet& rs, unsigned int first = 1);

}  // namespace orderquery::storage::internal

#endif  // ORDERQUERY_STORAGE_RECHARGE_ROWS_H_
