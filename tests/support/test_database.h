// One fresh MariaDB database per test, on the server the `mariadb` ctest fixture started
// (tests/support/mariadb.sh). Tests never share state: each TestDatabase has a unique name and
// is dropped when it goes away.
//
//   absl::StatusOr<std::unique_ptr<TestDatabase>> db = TestDatabase::Create();
//   ASSERT_TRUE(db.ok()) << db.status();
//   MysqlRechargeRepository repo((*db)->pool());
#ifndef ORDERQUERY_TESTS_SUPPORT_TEST_DATABASE_H_
#define ORDERQUERY_TESTS_SUPPORT_TEST_DATABASE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/mysql_pool.h"

namespace orderquery::test_support {

// Environment variable naming the fixture's connection file (set by oq_test(... INTEGRATION)).
inline constexpr char kMariadbEnvVar[] = "OQ_TEST_MARIADB_ENV";

// Reads a connection file written by `mariadb.sh start DIR` (DIR/env: host=, port=, user=,
// password=, socket= lines) into TCP options without a database.
absl::StatusOr<storage::MysqlOptions> ReadMariadbEnv(const std::string& path);
// The same for the file $OQ_TEST_MARIADB_ENV names; FAILED_PRECONDITION with instructions
// when it is not set.
absl::StatusOr<storage::MysqlOptions> ServerOptionsFromEnv();

struct TestDatabaseOptions {
  // Part of the database name, to find a test's leftovers (e.g. the test's name).
  std::string name_hint = "t";
  // Apply the embedded migrations after creating the database.
  bool migrate = true;
  int pool_size = 8;
  absl::Duration acquire_timeout = absl::Seconds(10);
};

class TestDatabase {
 public:
  static absl::StatusOr<std::unique_ptr<TestDatabase>> Create(TestDatabaseOptions options = {});
  // Closes the pool and drops the database.
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& name() const { return name_; }
  // Options of pool(): the fixture's server with database = name().
  const storage::MysqlOptions& options() const { return options_; }
  storage::ConnectionPool& pool() { return *pool_; }
  // A server-level pool (no default database) for KILL and other admin work.
  storage::ConnectionPool& admin_pool() { return *admin_; }
  // Another pool on this database, e.g. to play a second process.
  absl::StatusOr<std::unique_ptr<storage::ConnectionPool>> NewPool(
      int pool_size, absl::Duration acquire_timeout) const;

 private:
  TestDatabase() = default;

  std::string name_;
  storage::MysqlOptions options_;
  std::unique_ptr<storage::ConnectionPool> admin_;
  std::unique_ptr<storage::ConnectionPool> pool_;
};

}  // namespace orderquery::test_support

#endif  // ORDERQUERY_TESTS_SUPPORT_TEST_DATABASE_H_
