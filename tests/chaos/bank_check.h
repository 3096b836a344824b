// The bank invariants of the chaos suite, checked in SQL on the service's own tables.
//
// What the run knows from outside the service (the facts): each user's balance before the run,
// and which orders the payment provider (the sandbox) has as paid at the end (SUCCESS, or REFUND,
// which only follows SUCCESS). Everything else is read from t_user, t_recharge_order and
// t_user_amount_log. The facts are written to two temporary tables of the checking session, and
// each invariant is one query returning the rows that break it.
//
//   LoadFacts(c, facts);                       // autocommitted: temporary tables of this session
//   c.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT");
//   std::vector<Violation> v = CheckInvariants(c);
//   c.Execute("ROLLBACK");
//
// Call inside storage::WithConnection (the functions throw sql::SQLException like any code that
// uses a Connection).
#ifndef ORDERQUERY_TESTS_CHAOS_BANK_CHECK_H_
#define ORDERQUERY_TESTS_CHAOS_BANK_CHECK_H_

#include <cstdint>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "storage/mysql_pool.h"

namespace orderquery::chaos {

struct BankFacts {
  std::map<int64_t, int64_t> start_balance;  // user id -> balance in fen before the run
  std::set<std::string> paid;                // orders the provider has as paid at the end
};

struct Violation {
  std::string invariant;  // which rule (one of kInvariants)
  std::string row;        // the offending row, "column=value ..."
};
std::ostream& operator<<(std::ostream& os, const Violation& v);

// The rules, in the order CheckInvariants runs them.
inline constexpr const char* kInvariants[] = {
    "paid order has exactly one ledger row",
    "no order has two ledger rows",
    "no ledger row for an order never paid",
    "balance = start + its ledger",
    "ledger row chains (after = before + delta, before = previous after)",
    "ledger row matches its order (user, amount)",
    "credited flag agrees with the ledger",
    "paid order is SUCCESS or REFUND here",
};

// (Re)creates the temporary tables chaos_start(user_id, start_amount) and chaos_paid(order_no).
void LoadFacts(storage::Connection& c, const BankFacts& facts);
// Every violation of every rule (at most `max_rows_per_rule` rows per rule).
std::vector<Violation> CheckInvariants(storage::Connection& c, int max_rows_per_rule = 20);

}  // namespace orderquery::chaos

#endif  // ORDERQUERY_TESTS_CHAOS_BANK_CHECK_H_
