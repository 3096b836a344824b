#include "tests/support/test_database.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "storage/migrations.h"
#include "tests/support/storage_admin.h"

namespace orderquery::test_support {
namespace {

// [a-z0-9_] only, so the name is a valid identifier; short enough for the 64-char limit.
std::string UniqueName(absl::string_view hint) {
  static std::atomic<int> counter{0};
  std::string clean;
  for (char ch : hint) {
    unsigned char u = static_cast<unsigned char>(ch);
    clean.push_back(absl::ascii_isalnum(u) ? static_cast<char>(absl::ascii_tolower(u)) : '_');
    if (clean.size() >= 32) break;
  }
  std::random_device rd;
  return absl::StrCat("oqt_", clean, "_", getpid(), "_", counter.fetch_add(1), "_",
                      absl::Hex(rd() & 0xffff));
}

}  // namespace

absl::StatusOr<storage::MysqlOptions> ReadMariadbEnv(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read MariaDB connection file ", path,
        " (is the server running? `tests/support/mariadb.sh start DIR` writes DIR/env)"));
  }
  storage::MysqlOptions o;
  bool have_port = false;
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key(absl::StripAsciiWhitespace(line.substr(0, eq)));
    std::string value = line.substr(eq + 1);
    if (key == "host") {
      o.host = value;
    } else if (key == "port") {
      have_port = absl::SimpleAtoi(value, &o.port);
    } else if (key == "user") {
      o.user = value;
    } else if (key == "password") {
      o.password = value;
    }
  }
  if (o.host.empty() || !have_port || o.user.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("MariaDB connection file ", path, " lacks host, port or user"));
  }
  return o;
}

absl::StatusOr<storage::MysqlOptions> ServerOptionsFromEnv() {
  const char* path = std::getenv(kMariadbEnvVar);
  if (path == nullptr || *path == '\0') {
    return absl::FailedPreconditionError(absl::StrCat(
        kMariadbEnvVar,
        " is not set: run this test through ctest (it starts the `mariadb` fixture), or run "
        "`tests/support/mariadb.sh start DIR` and export ",
        kMariadbEnvVar, "=DIR/env"));
  }
  return ReadMariadbEnv(path);
}

absl::StatusOr<std::unique_ptr<TestDatabase>> TestDatabase::Create(TestDatabaseOptions options) {
  absl::StatusOr<storage::MysqlOptions> server = ServerOptionsFromEnv();
  if (!server.ok()) return server.status();

  std::unique_ptr<TestDatabase> db(new TestDatabase());
  db->name_ = UniqueName(options.name_hint);

  storage::MysqlOptions admin_options = *server;
  admin_options.database.clear();
  admin_options.pool_size = 2;
  admin_options.acquire_timeout = absl::Seconds(10);
  absl::StatusOr<std::unique_ptr<storage::ConnectionPool>> admin =
      storage::ConnectionPool::Create(admin_options);
  if (!admin.ok()) return admin.status();
  db->admin_ = *std::move(admin);
  if (absl::Status st = storage::admin::CreateDatabase(*db->admin_, db->name_); !st.ok()) {
    return st;
  }

  db->options_ = *server;
  db->options_.database = db->name_;
  db->options_.pool_size = options.pool_size;
  db->options_.acquire_timeout = options.acquire_timeout;
  absl::StatusOr<std::unique_ptr<storage::ConnectionPool>> pool =
      storage::ConnectionPool::Create(db->options_);
  if (!pool.ok()) return pool.status();  // the destructor drops the database
  db->pool_ = *std::move(pool);

  if (options.migrate) {
    if (absl::Status st = storage::ApplyMigrations(*db->pool_); !st.ok()) return st;
  }
  return db;
}

TestDatabase::~TestDatabase() {
  pool_.reset();  // no session of ours may hold locks on the database while it is dropped
  if (admin_ != nullptr && !name_.empty()) {
    absl::Status st = storage::admin::DropDatabase(*admin_, name_);
    (void)st;  // the whole server is thrown away after the run anyway
  }
}

absl::StatusOr<std::unique_ptr<storage::ConnectionPool>> TestDatabase::NewPool(
    int pool_size, absl::Duration acquire_timeout) const {
  storage::MysqlOptions o = options_;
  o.pool_size = pool_size;
  o.acquire_timeout = acquire_timeout;
  return storage::ConnectionPool::Create(o);
}

}  // namespace orderquery::test_support
