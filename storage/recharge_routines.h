// Stored procedures the recharge repository calls (issue 13, target (c)): each does in one
// round trip what would otherwise take a statement per step inside START TRANSACTION ... COMMIT.
//
// Procedures are not versioned migrations (storage/migrations/*.sql): EnsureRoutines runs at
// the end of every ApplyMigrations and creates each one that is missing, or replaces it when its
// text differs (the procedure's COMMENT carries the SHA-256 of its text). A change to a
// procedure's parameters or results gets a new name (the _vN suffix), so that binaries of two
// releases can run side by side during a rolling upgrade. The database user needs the CREATE
// ROUTINE privilege (and gets EXECUTE on what it creates). The repository falls back to plain
// statements when a procedure is missing (a database restored from a dump without routines).
#ifndef ORDERQUERY_STORAGE_RECHARGE_ROUTINES_H_
#define ORDERQUERY_STORAGE_RECHARGE_ROUTINES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "storage/mysql_pool.h"

namespace orderquery::storage {

struct Routine {
  std::string name;
  std::string checksum;     // SHA-256 hex of the text below the COMMENT
  std::string create_sql;   // CREATE PROCEDURE IF NOT EXISTS ...
  std::string replace_sql;  // CREATE OR REPLACE PROCEDURE ...
};

// Every routine this binary calls.
const std::vector<Routine>& Routines();

// Creates the routines that are missing and replaces those whose checksum differs.
absl::Status EnsureRoutines(ConnectionPool& pool);

namespace internal {

// oq_record_query_v1: the write of one answer that changes nothing about the order (the
// polling case, NOTPAY -> NOTPAY, and a failed query's log row) in one CALL:
//   CALL oq_record_query_v1(order_no, expect_status, expect_credited, queried_at, next_check_at,
//                           write_log, log user_id, appid, order_no, trade_state, error_code,
//                           error_message, latency_ms)
// NULL for expect_status / expect_credited: no expectation; NULL queried_at: keep
// last_queried_at; NULL next_check_at: keep the schedule of a pending order (a final order
// always leaves it). Locks the order row (SELECT ... FOR UPDATE), compares, and then writes the
// query-log row, last_queried_at and next_check_at in one transaction, or nothing. One result
// set, one row: outcome ('ok', 'conflict' or 'missing'; only that when missing), then the
// order's kOrderColumns and the user's balance (NULL when there is no such user), as they are
// after the call (for a conflict: as they are, nothing written).
inline constexpr char kRecordQueryProcedure[] = "oq_record_query_v1";
// Columns before the order's in that result set.
inline constexpr unsigned int kRecordQueryOrderColumn = 2;

}  // namespace internal
}  // namespace orderquery::storage

#endif  // ORDERQUERY_STORAGE_RECHARGE_ROUTINES_H_
