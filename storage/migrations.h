// Versioned schema migrations (storage/migrations/NNN_name.sql, compiled into the binary).
//
// ApplyMigrations runs at start-up (and for `orderqueryd --migrate-only`). It is safe to run
// any number of times and from several processes at once: a named lock (GET_LOCK) serialises
// the appliers, and what is applied is decided under that lock from schema_migrations.
#ifndef ORDERQUERY_STORAGE_MIGRATIONS_H_
#define ORDERQUERY_STORAGE_MIGRATIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/mysql_pool.h"

namespace orderquery::storage {

struct Migration {
  int version = 0;
  std::string name;      // "init" for 001_init.sql
  std::string sql;       // the whole file
  std::string checksum;  // SHA-256 hex of sql
};

// A migration from its parts; the checksum is computed.
Migration MakeMigration(int version, absl::string_view name, absl::string_view sql);

// The migrations compiled into this binary, in version order.
const std::vector<Migration>& EmbeddedMigrations();

struct MigrationOptions {
  // How long to wait for another process that is applying migrations to the same database.
  absl::Duration lock_timeout = absl::Seconds(60);
};

// Applies the embedded migrations that are not yet recorded in schema_migrations, in version
// order, recording each one. OK and no change when all are applied.
// FAILED_PRECONDITION when an applied migration's checksum differs from the binary's (the file
// was edited after it ran: add a new migration instead); INVALID_ARGUMENT when the pool has no
// database; UNAVAILABLE when the database is unreachable or the lock is not obtained in time.
// A database that has migrations this binary does not know (a newer release ran) is accepted.
// Then VerifySchema (schema_check.h): FAILED_PRECONDITION naming every key, column or type the
// guarantees need that a table adopted from before the migrations lacks. Then EnsureRoutines
// (recharge_routines.h): the stored procedures, created or replaced when they differ.
absl::Status ApplyMigrations(ConnectionPool& pool, const MigrationOptions& options = {});
// The same for an explicit list (tests; tools). Versions must be positive and unique.
absl::Status ApplyMigrations(ConnectionPool& pool, const std::vector<Migration>& migrations,
                             const MigrationOptions& options = {});

// Highest applied version; 0 when nothing was ever applied.
absl::StatusOr<int> SchemaVersion(ConnectionPool& pool);

struct AppliedMigration {
  int version = 0;
  std::string name;
  std::string checksum;
  absl::Time applied_at;
};
// The rows of schema_migrations in version order (empty when the table does not exist).
absl::StatusOr<std::vector<AppliedMigration>> ListAppliedMigrations(ConnectionPool& pool);

// Splits a migration file into statements: a statement ends with ';' at the end of a line
// (trailing spaces allowed). Pieces holding only blanks and `--` comments are dropped.
// Deliberately simple: migration files keep semicolons out of strings and comments mid-line.
std::vector<std::string> SplitSqlStatements(absl::string_view script);

}  // namespace orderquery::storage

#endif  // ORDERQUERY_STORAGE_MIGRATIONS_H_
