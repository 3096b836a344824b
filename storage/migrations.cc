#include "storage/migrations.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/log.h"
#include "storage/embedded_migrations.h"
#include "storage/recharge_routines.h"
#include "storage/schema_check.h"
#include "storage/sha256.h"
#include "storage/sql_util.h"

namespace orderquery::storage {
namespace {

using internal::Guarded;

constexpr char kCreateMigrationsTable[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INT NOT NULL,"
    " name VARCHAR(128) NOT NULL,"
    " checksum CHAR(64) NOT NULL COMMENT 'SHA-256 hex of the migration file',"
    " applied_at DATETIME(3) NOT NULL,"
    " PRIMARY KEY (version)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

// One lock per database (named after a digest so that any database name fits the 64-character
// limit on lock names): appliers of different databases on one server do not wait on each other.
constexpr char kGetLock[] = "SELECT GET_LOCK(CONCAT('orderquery.migrate.', MD5(DATABASE())), ?)";
constexpr char kReleaseLock[] =
    "SELECT RELEASE_LOCK(CONCAT('orderquery.migrate.', MD5(DATABASE())))";
constexpr char kMigrationsTableExists[] =
    "SELECT COUNT(*) FROM information_schema.tables"
    " WHERE table_schema = DATABASE() AND table_name = 'schema_migrations'";
constexpr char kSelectApplied[] =
    "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version";
constexpr char kInsertApplied[] =
    "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
    " VALUES (?, ?, ?, UTC_TIMESTAMP(3))";

// Releases the named lock when the applier is done, whatever happened. If the session died the
// server has already released it.
class LockRelease {
 public:
  explicit LockRelease(Connection& c) : c_(c) {}
  ~LockRelease() {
    try {
      std::unique_ptr<sql::ResultSet> rs(c_.Prepare(kReleaseLock).executeQuery());
    } catch (const std::exception& e) {
      log::Warn("mysql.migration_lock_release_failed", {{"error", e.what()}});
    }
  }
  LockRelease(const LockRelease&) = delete;
  LockRelease& operator=(const LockRelease&) = delete;

 private:
  Connection& c_;
};

bool MigrationsTableExists(Connection& c) {
  std::unique_ptr<sql::ResultSet> rs(c.Prepare(kMigrationsTableExists).executeQuery());
  return rs->next() && rs->getInt64(1) > 0;
}

std::vector<AppliedMigration> ReadApplied(Connection& c) {
  std::vector<AppliedMigration> out;
  std::unique_ptr<sql::ResultSet> rs(c.Prepare(kSelectApplied).executeQuery());
  while (rs->next()) {
    AppliedMigration a;
    a.version = rs->getInt(1);
    a.name = internal::GetString(*rs, 2);
    a.checksum = internal::GetString(*rs, 3);
    a.applied_at = internal::GetTime(*rs, 4);
    out.push_back(std::move(a));
  }
  return out;
}

std::string Label(const Migration& m) { return absl::StrCat(m.version, "_", m.name); }

std::vector<Migration> ParseEmbedded() {
  std::vector<Migration> out;
  for (size_t i = 0; i < internal::kEmbeddedMigrationFileCount; ++i) {
    const internal::EmbeddedMigrationFile& f = internal::kEmbeddedMigrationFiles[i];
    absl::string_view file_name(f.file_name);
    // The build already checked the NNN_name.sql shape.
    size_t underscore = file_name.find('_');
    int version = 0;
    if (underscore == absl::string_view::npos ||
        !absl::SimpleAtoi(file_name.substr(0, underscore), &version)) {
      continue;
    }
    absl::string_view name = file_name.substr(underscore + 1);
    absl::ConsumeSuffix(&name, ".sql");
    out.push_back(MakeMigration(version, name,
                                absl::string_view(reinterpret_cast<const char*>(f.data), f.size)));
  }
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  return out;
}

}  // namespace

Migration MakeMigration(int version, absl::string_view name, absl::string_view sql) {
  Migration m;
  m.version = version;
  m.name = std::string(name);
  m.sql = std::string(sql);
  m.checksum = Sha256Hex(sql);
  return m;
}

const std::vector<Migration>& EmbeddedMigrations() {
  static const std::vector<Migration>* const kMigrations =
      new std::vector<Migration>(ParseEmbedded());
  return *kMigrations;
}

std::vector<std::string> SplitSqlStatements(absl::string_view script) {
  std::vector<std::string> out;
  std::string current;
  bool has_code = false;
  auto flush = [&] {
    if (has_code) out.emplace_back(absl::StripAsciiWhitespace(current));
    current.clear();
    has_code = false;
  };
  for (absl::string_view line : absl::StrSplit(script, '\n')) {
    absl::ConsumeSuffix(&line, "\r");
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    bool comment = absl::StartsWith(trimmed, "--") || absl::StartsWith(trimmed, "#");
    if (trimmed.empty() || comment) {
      // A semicolon at the end of a comment ends nothing.
      absl::StrAppend(&current, line, "\n");
      continue;
    }
    has_code = true;
    absl::string_view right = absl::StripTrailingAsciiWhitespace(line);
    if (absl::ConsumeSuffix(&right, ";")) {
      absl::StrAppend(&current, right);
      flush();
    } else {
      absl::StrAppend(&current, line, "\n");
    }
  }
  flush();
  return out;
}

absl::Status ApplyMigrations(ConnectionPool& pool, const MigrationOptions& options) {
  absl::Status applied = ApplyMigrations(pool, EmbeddedMigrations(), options);
  if (!applied.ok()) return applied;
  // CREATE TABLE IF NOT EXISTS kept any table that was there before: check what it lacks.
  absl::Status verified = VerifySchema(pool);
  if (!verified.ok()) return verified;
  // The stored procedures the repositories call (not versioned: recharge_routines.h).
  return EnsureRoutines(pool);
}

absl::Status ApplyMigrations(ConnectionPool& pool, const std::vector<Migration>& migrations,
                             const MigrationOptions& options) {
  if (pool.options().database.empty()) {
    return absl::InvalidArgumentError("apply migrations: the mysql options name no database");
  }
  std::vector<Migration> sorted = migrations;
  std::sort(sorted.begin(), sorted.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i].version <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("migration '", sorted[i].name,
                                                     "' has version ", sorted[i].version,
                                                     "; versions start at 1"));
    }
    if (i > 0 && sorted[i].version == sorted[i - 1].version) {
      return absl::InvalidArgumentError(absl::StrCat("two migrations share version ",
                                                     sorted[i].version, ": '", sorted[i - 1].name,
                                                     "' and '", sorted[i].name, "'"));
    }
  }

  absl::StatusOr<ConnectionLease> lease = pool.Acquire();
  if (!lease.ok()) return lease.status();

  // What failed, for the error message: the statement of a migration, or the bookkeeping.
  std::string step = "prepare";
  absl::Status result = Guarded(*lease, "apply migrations", [&](Connection& c) -> absl::Status {
    step = "take the migration lock";
    {
      // Wait in slices shorter than the session's read timeout, which would otherwise cut a
      // long GET_LOCK wait short with a lost-connection error.
      const absl::Duration slice = std::max(absl::Seconds(1), pool.options().io_timeout / 2);
      const absl::Time deadline = absl::Now() + options.lock_timeout;
      bool locked = false;
      for (;;) {
        absl::Duration wait = std::min(slice, deadline - absl::Now());
        if (wait < absl::ZeroDuration()) wait = absl::ZeroDuration();
        sql::PreparedStatement& get_lock = c.Prepare(kGetLock);
        get_lock.setDouble(1, absl::ToDoubleSeconds(wait));
        std::unique_ptr<sql::ResultSet> rs(get_lock.executeQuery());
        if (!rs->next() || rs->isNull(1)) {
          return absl::InternalError("GET_LOCK returned no result");
        }
        locked = rs->getInt(1) == 1;
        if (locked || absl::Now() >= deadline) break;
      }
      if (!locked) {
        return absl::UnavailableError(absl::StrCat(
            "another process held the migration lock of database '", pool.options().database,
            "' for more than ", absl::FormatDuration(options.lock_timeout)));
      }
    }
    LockRelease release(c);

    // Everything below is decided under the lock, so two appliers never both apply a version.
    step = "create schema_migrations";
    c.Execute(kCreateMigrationsTable);
    step = "read schema_migrations";
    std::map<int, AppliedMigration> applied;
    for (AppliedMigration& a : ReadApplied(c)) applied.emplace(a.version, std::move(a));

    for (const Migration& m : sorted) {
      auto it = applied.find(m.version);
      if (it != applied.end() && it->second.checksum != m.checksum) {
        return absl::FailedPreconditionError(
            absl::StrCat("migration ", Label(m), " was applied with checksum ", it->second.checksum,
                         " but this binary's file has checksum ", m.checksum,
                         ": an applied migration must not be edited; add a new migration instead"));
      }
    }
    int known_max = sorted.empty() ? 0 : sorted.back().version;
    if (!applied.empty() && applied.rbegin()->first > known_max) {
      log::Warn("mysql.schema_newer_than_binary", {{"database", pool.options().database},
                                                   {"schema_version", applied.rbegin()->first},
                                                   {"binary_version", known_max}});
    }

    for (const Migration& m : sorted) {
      if (applied.count(m.version) > 0) continue;
      absl::Time start = absl::Now();
      std::vector<std::string> statements = SplitSqlStatements(m.sql);
      for (size_t i = 0; i < statements.size(); ++i) {
        step =
            absl::StrCat("migration ", Label(m), " statement ", i + 1, " of ", statements.size());
        c.Execute(statements[i]);
      }
      step = absl::StrCat("record migration ", Label(m));
      sql::PreparedStatement& insert = c.Prepare(kInsertApplied);
      insert.setInt(1, m.version);
      internal::BindString(insert, 2, m.name);
      internal::BindString(insert, 3, m.checksum);
      insert.executeUpdate();
      log::Info("mysql.migration_applied",
                {{"database", pool.options().database},
                 {"version", m.version},
                 {"name", m.name},
                 {"statements", static_cast<int64_t>(statements.size())},
                 {"ms", absl::ToInt64Milliseconds(absl::Now() - start)}});
    }
    return absl::OkStatus();
  });
  if (!result.ok()) {
    return absl::Status(result.code(), absl::StrCat(step, ": ", result.message()));
  }
  return result;
}

absl::StatusOr<int> SchemaVersion(ConnectionPool& pool) {
  int version = 0;
  absl::Status st = WithConnection(
      pool,
      [&](Connection& c) {
        version = 0;
        if (!MigrationsTableExists(c)) return absl::OkStatus();
        std::unique_ptr<sql::ResultSet> rs(
            c.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").executeQuery());
        if (rs->next()) version = rs->getInt(1);
        return absl::OkStatus();
      },
      "schema version");
  if (!st.ok()) return st;
  return version;
}

absl::StatusOr<std::vector<AppliedMigration>> ListAppliedMigrations(ConnectionPool& pool) {
  std::vector<AppliedMigration> out;
  absl::Status st = WithConnection(
      pool,
      [&](Connection& c) {
        out.clear();
        if (MigrationsTableExists(c)) out = ReadApplied(c);
        return absl::OkStatus();
      },
      "list applied migrations");
  if (!st.ok()) return st;
  return out;
}

}  // namespace orderquery::storage
