#include "tests/chaos/bank_check.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/sql_util.h"

namespace orderquery::chaos {
namespace {

struct Rule {
  const char* invariant;
  const char* sql;  // the rows that break it
};

// One query per rule of kInvariants, same order. Plain SQL over the service's tables and the
// two fact tables; each returns the offending rows with the columns that show why.
const Rule kRules[] = {
    {kInvariants[0],
     "SELECT p.order_no, COUNT(l.id) AS ledger_rows FROM chaos_paid p "
     "LEFT JOIN t_user_amount_log l ON l.order_no = p.order_no "
     "GROUP BY p.order_no HAVING COUNT(l.id) <> 1 ORDER BY p.order_no"},
    {kInvariants[1],
     "SELECT order_no, COUNT(*) AS ledger_rows FROM t_user_amount_log "
     "GROUP BY order_no HAVING COUNT(*) > 1 ORDER BY order_no"},
    {kInvariants[2],
     "SELECT l.id, l.order_no, l.user_id, l.delta FROM t_user_amount_log l "
     "LEFT JOIN chaos_paid p ON p.order_no = l.order_no WHERE p.order_no IS NULL ORDER BY l.id"},
    {kInvariants[3],
     "SELECT s.user_id, u.amount, s.start_amount, COALESCE(SUM(l.delta), 0) AS ledger_sum "
     "FROM chaos_start s LEFT JOIN t_user u ON u.id = s.user_id "
     "LEFT JOIN t_user_amount_log l ON l.user_id = s.user_id "
     "GROUP BY s.user_id, u.amount, s.start_amount "
     "HAVING u.amount IS NULL OR u.amount <> s.start_amount + COALESCE(SUM(l.delta), 0) "
     "ORDER BY s.user_id"},
    {kInvariants[4],
     "SELECT id, user_id, order_no, amount_before, delta, amount_after, previous_after FROM ("
     "  SELECT l.id, l.user_id, l.order_no, l.amount_before, l.delta, l.amount_after,"
     "    COALESCE(LAG(l.amount_after) OVER (PARTITION BY l.user_id ORDER BY l.id),"
     "             s.start_amount) AS previous_after"
     "  FROM t_user_amount_log l LEFT JOIN chaos_start s ON s.user_id = l.user_id) x "
     "WHERE amount_after <> amount_before + delta OR previous_after IS NULL "
     "   OR amount_before <> previous_after ORDER BY id"},
    {kInvariants[5],
     "SELECT l.id, l.order_no, l.user_id, l.delta, l.entry_type, o.user_id AS order_user, "
     "o.amount AS order_amount FROM t_user_amount_log l "
     "LEFT JOIN t_recharge_order o ON o.order_no = l.order_no "
     "WHERE o.order_no IS NULL OR o.user_id <> l.user_id OR o.amount <> l.delta "
     "   OR l.entry_type <> 'RECHARGE' ORDER BY l.id"},
    {kInvariants[6],
     "SELECT o.order_no, o.credited, o.status, COUNT(l.id) AS ledger_rows "
     "FROM t_recharge_order o LEFT JOIN t_user_amount_log l ON l.order_no = o.order_no "
     "GROUP BY o.order_no, o.credited, o.status "
     "HAVING (o.credited = 1) <> (COUNT(l.id) > 0) ORDER BY o.order_no"},
    {kInvariants[7],
     "SELECT p.order_no, o.status FROM chaos_paid p "
     "LEFT JOIN t_recharge_order o ON o.order_no = p.order_no "
     "WHERE o.status IS NULL OR o.status NOT IN ('SUCCESS', 'REFUND') ORDER BY p.order_no"},
};
static_assert(std::size(kRules) == std::size(kInvariants), "one query per invariant");

std::string Describe(sql::ResultSet& rs) {
  sql::ResultSetMetaData* meta = rs.getMetaData();
  std::string out;
  for (unsigned int i = 1; i <= meta->getColumnCount(); ++i) {
    absl::StrAppend(&out, i > 1 ? " " : "", std::string(meta->getColumnLabel(i)), "=",
                    rs.isNull(i) ? std::string("NULL") : std::string(rs.getString(i)));
  }
  return out;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Violation& v) {
  return os << v.invariant << ": " << v.row;
}

void LoadFacts(storage::Connection& c, const BankFacts& facts) {
  c.Execute("DROP TEMPORARY TABLE IF EXISTS chaos_start");
  c.Execute("DROP TEMPORARY TABLE IF EXISTS chaos_paid");
  c.Execute(
      "CREATE TEMPORARY TABLE chaos_start (user_id BIGINT NOT NULL PRIMARY KEY, "
      "start_amount BIGINT NOT NULL) ENGINE=InnoDB");
  c.Execute(
      "CREATE TEMPORARY TABLE chaos_paid (order_no VARCHAR(32) COLLATE utf8mb4_bin NOT NULL "
      "PRIMARY KEY) ENGINE=InnoDB");
  sql::PreparedStatement& start =
      c.Prepare("INSERT INTO chaos_start (user_id, start_amount) VALUES (?, ?)");
  for (const auto& [user, amount] : facts.start_balance) {
    start.setInt64(1, user);
    start.setInt64(2, amount);
    start.executeUpdate();
  }
  sql::PreparedStatement& paid = c.Prepare("INSERT INTO chaos_paid (order_no) VALUES (?)");
  for (const std::string& no : facts.paid) {
    storage::internal::BindString(paid, 1, no);
    paid.executeUpdate();
  }
}

std::vector<Violation> CheckInvariants(storage::Connection& c, int max_rows_per_rule) {
  std::vector<Violation> out;
  for (const Rule& rule : kRules) {
    sql::PreparedStatement& q = c.Prepare(rule.sql);
    std::unique_ptr<sql::ResultSet> rs = storage::internal::Query(q);
    int n = 0;
    while (rs->next()) {
      if (++n > max_rows_per_rule) {
        out.push_back({rule.invariant, "(more rows)"});
        break;
      }
      out.push_back({rule.invariant, Describe(*rs)});
    }
  }
  return out;
}

}  // namespace orderquery::chaos
