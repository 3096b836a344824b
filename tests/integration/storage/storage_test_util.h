// Shared by the storage integration tests: a fresh database per test and small helpers.
#ifndef ORDERQUERY_TESTS_INTEGRATION_STORAGE_STORAGE_TEST_UTIL_H_
#define ORDERQUERY_TESTS_INTEGRATION_STORAGE_STORAGE_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
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

}  // namespace orderquery::storage_test

#endif  // ORDERQUERY_TESTS_INTEGRATION_STORAGE_STORAGE_TEST_UTIL_H_
