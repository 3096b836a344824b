// Shared by the storage integration tests: a fresh database per test and small helpers.
#ifndef ORDERQUERY_TESTS_INTEGRATION_STORAGE_STORAGE_TEST_UTIL_H_
#define ORDERQUERY_TESTS_INTEGRATION_STORAGE_STORAGE_TEST_UTIL_H_

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/mysql_pool.h"
#include "storage/sql_util.h"
#include "tests/support/test_database.h"

#define OQ_ASSERT_OK(expr)                      \
  do {                                          \
    const absl::Status oq_status_ = (expr);     \
    ASSERT_TRUE(oq_status_.ok()) << oq_status_; \
  } while (0)

#define OQ_EXPECT_OK(expr)                      \
  do {                                          \
    const absl::Status oq_status_ = (expr);     \
    EXPECT_TRUE(oq_status_.ok()) << oq_status_; \
  } while (0)

namespace orderquery::storage_test {

// The value of a StatusOr that the test requires to be OK (fails the test otherwise).
template <typename T>
T Unwrap(absl::StatusOr<T> v, const char* what) {
  EXPECT_TRUE(v.ok()) << what << ": " << v.status();
  if (!v.ok()) return T{};
  return *std::move(v);
}
#define OQ_UNWRAP(expr) ::orderquery::storage_test::Unwrap((expr), #expr)

inline std::string CurrentTestName() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info == nullptr ? "t" : info->name();
}

// A fresh migrated database for every test.
class StorageTest : public ::testing::Test {
 protected:
  virtual test_support::TestDatabaseOptions DatabaseOptions() {
    test_support::TestDatabaseOptions o;
    o.name_hint = CurrentTestName();
    return o;
  }
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<test_support::TestDatabase>> db =
        test_support::TestDatabase::Create(DatabaseOptions());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
  }
  storage::ConnectionPool& pool() { return db_->pool(); }

  std::unique_ptr<test_support::TestDatabase> db_;
};

// Releases all waiting threads at once, so that concurrent calls really overlap.
class StartLine {
 public:
  explicit StartLine(int parties) : waiting_(parties) {}
  void ArriveAndWait() {
    waiting_.fetch_sub(1);
    while (waiting_.load() > 0) std::this_thread::yield();
  }

 private:
  std::atomic<int> waiting_;
};

// Polls `done` every 10 ms until it holds or `limit` passes; its last answer.
template <typename F>
bool WaitFor(F done, absl::Duration limit = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

// Statements of `db`'s sessions that are running a locking read (`... FOR UPDATE`) right now,
// waiting on a row lock included, as the server's process list shows them; -1 when unknown. A
// session waiting for a row lock shows its statement (state "Statistics" or "Sending data"); the
// holder meanwhile sleeps between statements. INNODB_TRX is not used: it does not always list a
// waiter that is still in the optimizer's const-row lookup.
inline int64_t LockingReadsInProgress(test_support::TestDatabase& db) {
  int64_t n = -1;
  OQ_EXPECT_OK(storage::WithConnection(db.admin_pool(), [&](storage::Connection& c) {
    sql::PreparedStatement& q = c.Prepare(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ?"
        " AND COMMAND IN ('Query', 'Execute') AND INFO LIKE '%FOR UPDATE%'");
    storage::internal::BindString(q, 1, db.name());
    std::unique_ptr<sql::ResultSet> rs = storage::internal::Query(q);
    n = rs->next() ? rs->getInt64(1) : -1;
    return absl::OkStatus();
  }));
  return n;
}

// A second session that locks one order row (SELECT ... FOR UPDATE) in its own transaction,
// holds it until Release(), then moves the order to `to` (status and trade_state) and commits:
// what another replica does while a write of ours waits for the lock.
class RowLockHolder {
 public:
  // Starts the holder on `pool` (not the pool the code under test uses). With `expect` set, the
  // holder fails unless the row it locked has that status.
  RowLockHolder(storage::ConnectionPool& pool, std::string order_no, std::string to,
                std::string expect = "")
      : thread_([this, &pool, order_no, to, expect] {
          storage::TransactionOptions once;
          once.name = "test holder";
          once.max_attempts = 1;
          status_ = storage::RunInTransaction(
              pool,
              [&](storage::Connection& c) {
                sql::PreparedStatement& q =
                    c.Prepare("SELECT status FROM t_recharge_order WHERE order_no = ? FOR UPDATE");
                storage::internal::BindString(q, 1, order_no);
                {
                  std::unique_ptr<sql::ResultSet> rs = storage::internal::Query(q);
                  if (!expect.empty() &&
                      (!rs->next() || storage::internal::GetString(*rs, 1) != expect)) {
                    return absl::InternalError("holder did not read " + expect);
                  }
                }
                locked_ = true;
                if (!WaitFor([&] { return release_.load(); }, absl::Seconds(40))) {
                  return absl::DeadlineExceededError("never released");
                }
                sql::PreparedStatement& up = c.Prepare(
                    "UPDATE t_recharge_order SET status = ?, trade_state = ? WHERE order_no = ?");
                storage::internal::BindString(up, 1, to);
                storage::internal::BindString(up, 2, to);
                storage::internal::BindString(up, 3, order_no);
                if (up.executeUpdate() != 1) return absl::InternalError("holder update");
                return absl::OkStatus();
              },
              once);
        }) {}
  ~RowLockHolder() {
    release_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Whether the holder has the lock (waits up to 20 s).
  bool WaitLocked() {
    return WaitFor([&] { return locked_.load(); });
  }
  // Lets the holder write and commit; its transaction's outcome.
  absl::Status Release() {
    release_ = true;
    if (thread_.joinable()) thread_.join();
    return status_;
  }

  // What happened to a write run against the locked row (WriteWhileLocked).
  struct Contended {
    bool waited = false;          // its locking read was seen waiting in `db`'s process list
    bool finished_early = false;  // it returned while the row was still locked
    absl::Status holder;          // the holder's own transaction, released afterwards
  };
  // Runs `write` on its own thread while this holder keeps the row locked, watches it wait on
  // the lock, then releases the holder and joins the write.
  template <typename F>
  Contended WriteWhileLocked(test_support::TestDatabase& db, F write) {
    std::atomic<bool> done{false};
    std::thread writer([&] {
      write();
      done = true;
    });
    Contended c;
    c.waited = WaitFor([&] { return LockingReadsInProgress(db) >= 1; });
    c.finished_early = done.load();
    c.holder = Release();
    writer.join();
    return c;
  }

 private:
  std::atomic<bool> locked_{false}, release_{false};
  absl::Status status_ = absl::UnknownError("not run");
  std::thread thread_;  // last: it starts in the constructor and uses the members above
};

}  // namespace orderquery::storage_test

#endif  // ORDERQUERY_TESTS_INTEGRATION_STORAGE_STORAGE_TEST_UTIL_H_
