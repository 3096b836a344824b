// Start-up connect (storage::ConnectAndMigrate) with an injected clock: the waits between
// attempts are the retry policy's, counted on a fake clock, never slept.
#include "storage/connect.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/migrations.h"
#include "tests/integration/storage/storage_test_util.h"
#include "tests/support/child_process.h"

namespace orderquery::storage {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Now() moves only when SleepFor is called; the real connects take what they take.
class FakeClock final : public retry::Clock {
 public:
  absl::Time Now() override { return now_; }
  void SleepFor(absl::Duration d) override {
    sleeps.push_back(d);
    now_ += d;
  }
  absl::Duration Slept() const {
    absl::Duration total;
    for (absl::Duration d : sleeps) total += d;
    return total;
  }
  std::vector<absl::Duration> sleeps;

 private:
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

class ConnectTest : public storage_test::StorageTest {
 protected:
  test_support::TestDatabaseOptions DatabaseOptions() override {
    test_support::TestDatabaseOptions o = StorageTest::DatabaseOptions();
    o.migrate = false;  // ConnectAndMigrate does it
    return o;
  }
};

TEST_F(ConnectTest, ReachableDatabaseConnectsAndMigratesAtTheFirstAttempt) {
  FakeClock clock;
  absl::StatusOr<std::unique_ptr<ConnectionPool>> pool =
      ConnectAndMigrate(db_->options(), absl::Seconds(10), clock);
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_TRUE(clock.sleeps.empty());
  absl::StatusOr<std::vector<AppliedMigration>> applied = ListAppliedMigrations(**pool);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->size(), EmbeddedMigrations().size());
}

TEST_F(ConnectTest, UnreachableDatabaseIsRetriedUntilTheStartupTimeout) {
  MysqlOptions o = db_->options();
  o.port = ::orderquery::testing::FreePort();  // nothing listens there
  o.database = "y";
  FakeClock clock;
  const absl::Duration timeout = absl::Seconds(5);
  absl::StatusOr<std::unique_ptr<ConnectionPool>> pool = ConnectAndMigrate(o, timeout, clock);
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(pool.status().message(),
              HasSubstr(absl::StrCat("database 127.0.0.1:", o.port, "/y")));
  EXPECT_THAT(pool.status().message(), Not(HasSubstr(o.password)));
  // Several attempts, waits growing up to the policy's cap, none past the start-up timeout.
  ASSERT_GE(clock.sleeps.size(), 3u);
  const retry::BackoffPolicy policy = StartupConnectPolicy();
  for (size_t i = 0; i < clock.sleeps.size(); ++i) {
    EXPECT_LE(clock.sleeps[i], policy.max_backoff) << i;
    EXPECT_GE(clock.sleeps[i], policy.initial_backoff / 2) << i;
  }
  EXPECT_GT(clock.sleeps.back(), clock.sleeps.front());
  EXPECT_LE(clock.Slept(), timeout);
  // It stopped because the next wait (at most the cap) would have crossed it.
  EXPECT_GT(clock.Slept() + policy.max_backoff, timeout);
}

TEST_F(ConnectTest, NonRetryableFailureEndsAtOnce) {
  MysqlOptions o = db_->options();
  o.pool_size = 0;  // invalid options: INVALID_ARGUMENT, waiting cannot fix that
  FakeClock clock;
  absl::StatusOr<std::unique_ptr<ConnectionPool>> pool =
      ConnectAndMigrate(o, absl::Seconds(30), clock);
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(clock.sleeps.empty());
}

}  // namespace
}  // namespace orderquery::storage
