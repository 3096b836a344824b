// Retention (issue 14, "Data that grows") against a real MariaDB: rows older than the cut-off go
// in several bounded batches, newer rows stay, and the task's pass covers both tables.
#include "storage/retention.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "storage/mysql_pool.h"
#include "storage/sql_util.h"
#include "tests/integration/storage/storage_test_util.h"

namespace orderquery::storage {
namespace {

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 6, 1, 12, 0, 0), absl::UTCTimeZone());

class RetentionTest : public storage_test::StorageTest {
 protected:
  void AddQueryLog(int n, absl::Time at, const std::string& prefix) {
    OQ_ASSERT_OK(WithConnection(pool(), [&](Connection& c) -> absl::Status {
      auto& st = c.Prepare(
          "INSERT INTO t_user_order_query_log (order_no, trade_state, created_at) "
          "VALUES (?, 'NOTPAY', ?)");
      for (int i = 0; i < n; ++i) {
        st.setString(1, absl::StrCat(prefix, i));
        internal::BindTime(st, 2, at + absl::Seconds(i));
        st.executeUpdate();
      }
      return absl::OkStatus();
    }));
  }
  void AddNotifications(int n, absl::Time at, const std::string& prefix) {
    OQ_ASSERT_OK(WithConnection(pool(), [&](Connection& c) -> absl::Status {
      auto& st = c.Prepare(
          "INSERT INTO t_payment_notification (id, provider, merchant, event_type, order_no, "
          "body, received_at) VALUES (?, 'wechat', 'direct', 'TRANSACTION.SUCCESS', ?, '{}', ?)");
      for (int i = 0; i < n; ++i) {
        st.setString(1, absl::StrCat(prefix, i));
        st.setString(2, absl::StrCat("ORDER", i));
        internal::BindTime(st, 3, at + absl::Seconds(i));
        st.executeUpdate();
      }
      return absl::OkStatus();
    }));
  }
  // Rows of `table` whose key starts with `prefix` (order_no for the log, id for notifications).
  int64_t Count(const std::string& sql, const std::string& prefix) {
    int64_t n = -1;
    OQ_EXPECT_OK(WithConnection(pool(), [&](Connection& c) -> absl::Status {
      auto& st = c.Prepare(sql);
      st.setString(1, prefix + "%");
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      if (rs->next()) n = rs->getInt64(1);
      return absl::OkStatus();
    }));
    return n;
  }
  int64_t LogRows(const std::string& prefix) {
    return Count("SELECT COUNT(*) FROM t_user_order_query_log WHERE order_no LIKE ?", prefix);
  }
  int64_t NotificationRows(const std::string& prefix) {
    return Count("SELECT COUNT(*) FROM t_payment_notification WHERE id LIKE ?", prefix);
  }
};

TEST_F(RetentionTest, DeletesOlderRowsInSeveralBatchesAndKeepsNewerOnes) {
  AddQueryLog(25, kNow - absl::Hours(24 * 100), "OLD");
  AddQueryLog(7, kNow - absl::Hours(24 * 10), "NEW");
  // Exactly at the cut-off is kept (strictly older goes).
  AddQueryLog(1, kNow - absl::Hours(24 * 90), "EDGE");
  ASSERT_EQ(LogRows("OLD"), 25);

  int batches = 0;
  absl::StatusOr<int64_t> n =
      DeleteOlderThan(pool(), RetainedTable::kQueryLog, kNow - absl::Hours(24 * 90), 10,
                      absl::Milliseconds(1), [&] {
                        ++batches;
                        return false;
                      });
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 25);
  EXPECT_EQ(batches, 3);  // 10 + 10 + 5: the short batch ends the pass
  EXPECT_EQ(LogRows("OLD"), 0);
  EXPECT_EQ(LogRows("NEW"), 7);
  EXPECT_EQ(LogRows("EDGE"), 1);

  // Nothing left to delete: one empty batch.
  n = DeleteOlderThan(pool(), RetainedTable::kQueryLog, kNow - absl::Hours(24 * 90), 10,
                      absl::ZeroDuration());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
}

TEST_F(RetentionTest, StopsBetweenBatchesWhenAsked) {
  AddQueryLog(30, kNow - absl::Hours(24 * 100), "OLD");
  int batches = 0;
  absl::StatusOr<int64_t> n = DeleteOlderThan(pool(), RetainedTable::kQueryLog, kNow, 10,
                                              absl::ZeroDuration(), [&] { return ++batches > 1; });
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 10);
  EXPECT_EQ(LogRows("OLD"), 20);
}

TEST_F(RetentionTest, TaskPassCoversBothTablesWithTheirOwnAges) {
  AddQueryLog(12, kNow - absl::Hours(24 * 91), "OLD");
  AddQueryLog(3, kNow - absl::Hours(24 * 89), "NEW");
  // 100 days old: past the log's 90 but within the notifications' 180.
  AddNotifications(4, kNow - absl::Hours(24 * 100), "KEEP");
  AddNotifications(9, kNow - absl::Hours(24 * 181), "GONE");

  RetentionOptions o;
  o.query_log_age = absl::Hours(24 * 90);
  o.notification_age = absl::Hours(24 * 180);
  o.batch = 5;
  o.pause = absl::Milliseconds(1);
  o.clock = [] { return kNow; };
  RetentionTask task(&pool(), o);
  EXPECT_EQ(task.RunOnce(), 12 + 9);
  EXPECT_EQ(task.deleted(RetainedTable::kQueryLog), 12);
  EXPECT_EQ(task.deleted(RetainedTable::kNotifications), 9);
  EXPECT_EQ(LogRows("OLD"), 0);
  EXPECT_EQ(LogRows("NEW"), 3);
  EXPECT_EQ(NotificationRows("KEEP"), 4);
  EXPECT_EQ(NotificationRows("GONE"), 0);
  EXPECT_EQ(task.failures(), 0);
}

TEST_F(RetentionTest, ZeroDaysKeepsForever) {
  AddQueryLog(3, kNow - absl::Hours(24 * 1000), "OLD");
  RetentionOptions o;
  o.query_log_age = absl::ZeroDuration();
  o.notification_age = absl::ZeroDuration();
  o.clock = [] { return kNow; };
  RetentionTask task(&pool(), o);
  EXPECT_EQ(task.RunOnce(), 0);
  EXPECT_EQ(LogRows("OLD"), 3);
}

}  // namespace
}  // namespace orderquery::storage
