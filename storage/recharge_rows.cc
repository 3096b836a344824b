#include "storage/recharge_rows.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "storage/sql_util.h"

namespace orderquery::storage::internal {

std::string OrderColumnsOf(absl::string_view alias) {
  const std::string dot = absl::StrCat(alias, ".");
  return absl::StrCat(dot, absl::StrReplaceAll(kOrderColumns, {{", ", absl::StrCat(", ", dot)}}));
}

domain::RechargeOrder ReadOrder(const sql::ResultSet& rs, unsigned int first) {
  const unsigned int k = first - 1;
  domain::RechargeOrder o;
  o.order_no = GetString(rs, k + 1);
  o.user_id = rs.getInt64(k + 2);
  o.appid = GetString(rs, k + 3);
  o.mchid = GetString(rs, k + 4);
  o.sub_mchid = GetString(rs, k + 5);
  o.amount_fen = rs.getInt64(k + 6);
  std::string status = GetString(rs, k + 7);
  if (!domain::ParseRechargeState(status, &o.state)) {
    throw internal::ValueError(
        absl::StatusCode::kInternal,
        absl::StrCat("order ", o.order_no, " has unknown status '", status, "'"));
  }
  o.trade_state = GetString(rs, k + 8);
  o.transaction_id = GetString(rs, k + 9);
  o.paid_at = GetOptionalTime(rs, k + 10);
  o.credited = rs.getInt(k + 11) != 0;
  o.last_queried_at = GetOptionalTime(rs, k + 12);
  o.created_at = GetTime(rs, k + 13);
  o.next_check_at = GetOptionalTime(rs, k + 14);
  o.check_attempts = rs.getInt(k + 15);
  return o;
}

}  // namespace orderquery::storage::internal
