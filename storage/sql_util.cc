#include "storage/sql_util.h"

#include <cppconn/datatype.h>

#include <exception>

#include "absl/strings/str_cat.h"

namespace orderquery::storage::internal {
namespace {

const absl::Time kMinDateTime =
    absl::FromCivil(absl::CivilSecond(1000, 1, 1, 0, 0, 0), absl::UTCTimeZone());
const absl::Time kMaxDateTime =
    absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59), absl::UTCTimeZone());

}  // namespace

std::string FormatDateTime(absl::Time t) {
  if (t < kMinDateTime || t > kMaxDateTime) {
    throw ValueError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("time ", absl::FormatTime(t), " is outside DATETIME's range"));
  }
  // Truncate (not round) to milliseconds so that a stored value never lies in the future of
  // the value it came from.
  return absl::FormatTime("%Y-%m-%d %H:%M:%E3S", TruncateToMillis(t), absl::UTCTimeZone());
}

absl::Time TruncateToMillis(absl::Time t) {
  return absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), absl::Milliseconds(1));
}

absl::StatusOr<absl::Time> ParseDateTime(absl::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime("%Y-%m-%d %H:%M:%E*S", text, absl::UTCTimeZone(), &t, &err)) {
    return absl::InternalError(absl::StrCat("malformed DATETIME '", text, "': ", err));
  }
  return t;
}

void BindTime(sql::PreparedStatement& st, unsigned int index, absl::Time t) {
  st.setString(index, FormatDateTime(t));
}

void BindOptionalTime(sql::PreparedStatement& st, unsigned int index,
                      const std::optional<absl::Time>& t) {
  if (t.has_value()) {
    BindTime(st, index, *t);
  } else {
    st.setNull(index, sql::DataType::TIMESTAMP);
  }
}

void BindOptionalInt64(sql::PreparedStatement& st, unsigned int index,
                       const std::optional<int64_t>& v) {
  if (v.has_value()) {
    st.setInt64(index, *v);
  } else {
    st.setNull(index, sql::DataType::BIGINT);
  }
}

std::string GetString(const sql::ResultSet& rs, unsigned int column) {
  return rs.getString(column).asStdString();
}

absl::Time GetTime(const sql::ResultSet& rs, unsigned int column) {
  absl::StatusOr<absl::Time> t = ParseDateTime(GetString(rs, column));
  if (!t.ok()) throw ValueError(absl::StatusCode::kInternal, std::string(t.status().message()));
  return *t;
}

std::optional<absl::Time> GetOptionalTime(const sql::ResultSet& rs, unsigned int column) {
  if (rs.isNull(column)) return std::nullopt;
  return GetTime(rs, column);
}

std::optional<int64_t> GetOptionalInt64(const sql::ResultSet& rs, unsigned int column) {
  if (rs.isNull(column)) return std::nullopt;
  return rs.getInt64(column);
}

void CallProcedure(sql::PreparedStatement& st, absl::FunctionRef<void(sql::ResultSet&)> read) {
  std::exception_ptr read_failed;
  {
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    try {
      read(*rs);
    } catch (...) {
      // A value we could not read (ValueError) leaves the session usable only once the call's
      // answer has been read to its end.
      read_failed = std::current_exception();
    }
  }
  // More result sets than one would be a procedure this binary does not know: drain them too.
  while (st.getMoreResults()) {
    std::unique_ptr<sql::ResultSet> extra(st.getResultSet());
  }
  if (read_failed) std::rethrow_exception(read_failed);
}

}  // namespace orderquery::storage::internal
