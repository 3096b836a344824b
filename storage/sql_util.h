// Internal to storage/: the one place database errors become absl::Status, and the small
// helpers for binding and reading values. Not for use outside storage/ (it exposes the
// Connector/C++ types that must not leak).
#ifndef ORDERQUERY_STORAGE_SQL_UTIL_H_
#define ORDERQUERY_STORAGE_SQL_UTIL_H_

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/common/text.h"
#include "storage/mysql_pool.h"

namespace orderquery::storage::internal {

// Thrown by the binders and readers below for a value that cannot be stored or was stored
// malformed; Guarded turns it into `code` without condemning the session.
class ValueError : public std::runtime_error {
 public:
  ValueError(absl::StatusCode code, const std::string& what)
      : std::runtime_error(what), code_(code) {}
  absl::StatusCode code() const { return code_; }

 private:
  absl::StatusCode code_;
};

// Client/server error numbers after which the session cannot be used any more.
bool IsConnectionLost(int mysql_errno);

// 2002/2003/2006/2013/2055 and other lost-session errors -> UNAVAILABLE; 1213 deadlock and
// 1205 lock wait timeout -> ABORTED; 1062 duplicate key -> ALREADY_EXISTS; anything else
// INTERNAL. The message keeps the server's text and number, prefixed by `context`.
absl::Status StatusFromSqlError(int mysql_errno, absl::string_view message,
                                absl::string_view context);

// Runs fn on the leased connection, converting sql::SQLException (and any other exception) to
// a Status, and marking the lease broken when the session is no longer usable.
absl::Status Guarded(ConnectionLease& lease, absl::string_view context,
                     absl::FunctionRef<absl::Status(Connection&)> fn);

// DATETIME(3) text in UTC ("2024-05-06 07:08:09.123"); sub-millisecond parts are dropped.
// Throws ValueError (INVALID_ARGUMENT) outside DATETIME's range (years 1000-9999).
std::string FormatDateTime(absl::Time t);
// What a DATETIME(3) column keeps of t (floor to the millisecond).
absl::Time TruncateToMillis(absl::Time t);
// Parses what the server returns for DATETIME(n) columns.
absl::StatusOr<absl::Time> ParseDateTime(absl::string_view text);

// Values are cut with the common TruncateUtf8, which never splits a UTF-8 sequence: strict mode
// would reject an over-long value, and a log message must not be the reason a state change is
// lost.
using ::orderquery::text::TruncateUtf8;

inline void BindString(sql::PreparedStatement& st, unsigned int index, absl::string_view v) {
  st.setString(index, std::string(v));
}
void BindTime(sql::PreparedStatement& st, unsigned int index, absl::Time t);
void BindOptionalTime(sql::PreparedStatement& st, unsigned int index,
                      const std::optional<absl::Time>& t);
void BindOptionalInt64(sql::PreparedStatement& st, unsigned int index,
                       const std::optional<int64_t>& v);

// Readers; a malformed value throws ValueError (INTERNAL).
std::string GetString(const sql::ResultSet& rs, unsigned int column);
absl::Time GetTime(const sql::ResultSet& rs, unsigned int column);
std::optional<absl::Time> GetOptionalTime(const sql::ResultSet& rs, unsigned int column);
std::optional<int64_t> GetOptionalInt64(const sql::ResultSet& rs, unsigned int column);

inline TransactionOptions Txn(absl::string_view name) {
  TransactionOptions options;
  options.name = name;
  return options;
}

inline std::unique_ptr<sql::ResultSet> Query(sql::PreparedStatement& st) {
  return std::unique_ptr<sql::ResultSet>(st.executeQuery());
}

// Executes `st`, a CALL of a stored procedure that returns one result set, hands that result
// set to `read`, then reads the call's final status: an error the procedure raised after its
// result set (its COMMIT failing, say) throws here like any other. Without that last read the
// session would wait for an answer to its next command that never comes.
void CallProcedure(sql::PreparedStatement& st, absl::FunctionRef<void(sql::ResultSet&)> read);

}  // namespace orderquery::storage::internal

#endif  // ORDERQUERY_STORAGE_SQL_UTIL_H_
