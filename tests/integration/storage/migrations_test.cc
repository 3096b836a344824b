// Migrations against a real MariaDB: empty database, re-apply, concurrent appliers, edited
// migrations, failures.
#include "storage/migrations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "storage/mysql_pool.h"
#include "tests/integration/storage/storage_test_util.h"
#include "tests/support/storage_admin.h"

namespace orderquery::storage {
namespace {

using ::orderquery::storage_test::StartLine;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const std::vector<std::string> kSchemaTables = {"schema_migrations",
                                                "t_payment_notification",
                                                "t_recharge_order",
                                                "t_recharge_order_log",
                                                "t_trade_order",
                                                "t_trade_order_goods",
                                                "t_user",
                                                "t_user_amount_log",
                                                "t_user_order_query_log",
                                                "t_user_session",
                                                "t_vehicle_transaction"};

// Statements that fail or double up if they run twice, so that "applied once" is observable.
std::vector<Migration> ProbeMigrations() {
  return {
      MakeMigration(1, "create_probe",
                    "-- a probe table; the insert below is not idempotent on purpose\n"
                    "CREATE TABLE probe (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n"
                    "  note VARCHAR(16) NOT NULL);\n"
                    "INSERT INTO probe (note) VALUES ('one');\n"),
      MakeMigration(2, "insert_two", "INSERT INTO probe (note) VALUES ('two');\n"),
  };
}

class MigrationsTest : public storage_test::StorageTest {
 protected:
  test_support::TestDatabaseOptions DatabaseOptions() override {
    test_support::TestDatabaseOptions o = StorageTest::DatabaseOptions();
    o.migrate = false;  // these tests decide when and what to migrate
    return o;
  }

  std::vector<std::string> Tables() { return OQ_UNWRAP(admin::ListTables(pool())); }
  std::vector<AppliedMigration> Applied() { return OQ_UNWRAP(ListAppliedMigrations(pool())); }
  std::vector<int> AppliedVersions() {
    std::vector<int> v;
    for (const AppliedMigration& a : Applied()) v.push_back(a.version);
    return v;
  }
};

TEST_F(MigrationsTest, EmbeddedMigrationsAreOrderedNamedAndChecksummed) {
  const std::vector<Migration>& all = EmbeddedMigrations();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].version, 1);
  EXPECT_EQ(all[0].name, "init");
  EXPECT_EQ(all[1].version, 2);
  EXPECT_EQ(all[1].name, "upstream_snapshots");
  EXPECT_EQ(all[2].version, 3);
  EXPECT_EQ(all[2].name, "payment_lifecycle");
  for (const Migration& m : all) {
    EXPECT_THAT(m.sql, HasSubstr("CREATE TABLE IF NOT EXISTS"));
    EXPECT_EQ(m.checksum, MakeMigration(m.version, m.name, m.sql).checksum);
    EXPECT_EQ(m.checksum.size(), 64u);
  }
}

TEST_F(MigrationsTest, AppliesToAnEmptyDatabase) {
  EXPECT_THAT(Tables(), IsEmpty());
  EXPECT_EQ(OQ_UNWRAP(SchemaVersion(pool())), 0);
  EXPECT_THAT(Applied(), IsEmpty());

  OQ_ASSERT_OK(ApplyMigrations(pool()));

  EXPECT_THAT(Tables(), ElementsAreArray(kSchemaTables));
  EXPECT_EQ(OQ_UNWRAP(SchemaVersion(pool())), 3);
  std::vector<AppliedMigration> applied = Applied();
  ASSERT_EQ(applied.size(), EmbeddedMigrations().size());
  for (size_t i = 0; i < applied.size(); ++i) {
    EXPECT_EQ(applied[i].version, EmbeddedMigrations()[i].version);
    EXPECT_EQ(applied[i].name, EmbeddedMigrations()[i].name);
    EXPECT_EQ(applied[i].checksum, EmbeddedMigrations()[i].checksum);
    EXPECT_LT(absl::Now() - applied[i].applied_at, absl::Minutes(5));
  }
}

TEST_F(MigrationsTest, ReapplyingIsANoOp) {
  OQ_ASSERT_OK(ApplyMigrations(pool()));
  std::vector<AppliedMigration> first = Applied();
  ASSERT_EQ(first.size(), 3u);
  absl::SleepFor(absl::Milliseconds(20));  // a re-run would record a later applied_at

  OQ_ASSERT_OK(ApplyMigrations(pool()));
  OQ_ASSERT_OK(ApplyMigrations(pool()));

  std::vector<AppliedMigration> again = Applied();
  ASSERT_EQ(again.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(again[i].version, first[i].version);
    EXPECT_EQ(again[i].checksum, first[i].checksum);
    EXPECT_EQ(again[i].applied_at, first[i].applied_at);
  }
  EXPECT_THAT(Tables(), ElementsAreArray(kSchemaTables));
}

TEST_F(MigrationsTest, ConcurrentAppliersApplyEachMigrationOnce) {
  // Embedded migrations plus the non-idempotent probes: if two appliers both ran a probe, the
  // CREATE would fail or the probe table would hold extra rows.
  std::vector<Migration> all = EmbeddedMigrations();
  for (Migration m : ProbeMigrations()) {
    m.version += 100;
    all.push_back(m);
  }
  constexpr int kAppliers = 4;
  std::vector<std::unique_ptr<ConnectionPool>> pools;
  for (int i = 0; i < kAppliers; ++i) {
    // Separate pools: separate sessions, as separate processes would have.
    absl::StatusOr<std::unique_ptr<ConnectionPool>> p = db_->NewPool(1, absl::Seconds(30));
    ASSERT_TRUE(p.ok()) << p.status();
    pools.push_back(*std::move(p));
  }
  std::vector<absl::Status> results(kAppliers);
  StartLine start(kAppliers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kAppliers; ++i) {
    threads.emplace_back([&, i] {
      start.ArriveAndWait();
      results[i] = ApplyMigrations(*pools[i], all);
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& st : results) EXPECT_TRUE(st.ok()) << st;

  EXPECT_THAT(AppliedVersions(), ElementsAre(1, 2, 3, 101, 102));
  EXPECT_EQ(Tables().size(), kSchemaTables.size() + 1);  // + probe
  // Each probe migration inserted one row: a second run would have added more (or failed).
  EXPECT_EQ(OQ_UNWRAP(admin::CountRows(pool(), "probe")), 2);
  std::vector<AppliedMigration> applied = Applied();
  ASSERT_EQ(applied.size(), 5u);
  EXPECT_EQ(applied[3].checksum, all[3].checksum);
  EXPECT_EQ(applied[4].checksum, all[4].checksum);
  // A second round finds nothing to do.
  OQ_EXPECT_OK(ApplyMigrations(*pools[0], all));
  EXPECT_THAT(AppliedVersions(), ElementsAre(1, 2, 3, 101, 102));
  EXPECT_EQ(OQ_UNWRAP(admin::CountRows(pool(), "probe")), 2);
}

TEST_F(MigrationsTest, EditedMigrationIsRejectedAndNothingMoreIsApplied) {
  std::vector<Migration> original = ProbeMigrations();
  OQ_ASSERT_OK(ApplyMigrations(pool(), original));

  std::vector<Migration> edited = ProbeMigrations();
  edited[1] = MakeMigration(2, "insert_two", "INSERT INTO probe (note) VALUES ('TWO');\n");
  edited.push_back(MakeMigration(3, "later", "CREATE TABLE later (id INT PRIMARY KEY);\n"));
  absl::Status st = ApplyMigrations(pool(), edited);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(st.message(), HasSubstr("migration 2_insert_two"));
  EXPECT_THAT(st.message(), HasSubstr(original[1].checksum));
  EXPECT_THAT(st.message(), HasSubstr(edited[1].checksum));

  EXPECT_THAT(AppliedVersions(), ElementsAre(1, 2));
  std::vector<std::string> tables = Tables();
  EXPECT_EQ(std::count(tables.begin(), tables.end(), "later"), 0);
}

TEST_F(MigrationsTest, ConcurrentAppliersWithDifferentChecksumsOneWins) {
  std::vector<Migration> a = ProbeMigrations();
  std::vector<Migration> b = ProbeMigrations();
  b[1] = MakeMigration(2, "insert_two", "INSERT INTO probe (note) VALUES ('deux');\n");
  absl::StatusOr<std::unique_ptr<ConnectionPool>> other = db_->NewPool(1, absl::Seconds(30));
  ASSERT_TRUE(other.ok()) << other.status();

  absl::Status sa, sb;
  StartLine start(2);
  std::thread ta([&] {
    start.ArriveAndWait();
    sa = ApplyMigrations(pool(), a);
  });
  std::thread tb([&] {
    start.ArriveAndWait();
    sb = ApplyMigrations(**other, b);
  });
  ta.join();
  tb.join();

  // Exactly one applier ran version 2; the other found a different checksum recorded.
  ASSERT_NE(sa.ok(), sb.ok()) << sa << " / " << sb;
  const absl::Status& loser = sa.ok() ? sb : sa;
  EXPECT_EQ(loser.code(), absl::StatusCode::kFailedPrecondition) << loser;
  const std::vector<Migration>& winner = sa.ok() ? a : b;
  std::vector<AppliedMigration> applied = Applied();
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[0].checksum, winner[0].checksum);
  EXPECT_EQ(applied[1].checksum, winner[1].checksum);
  EXPECT_EQ(OQ_UNWRAP(admin::CountRows(pool(), "probe")), 2);
}

TEST_F(MigrationsTest, DuplicateVersionsAreRejectedBeforeAnyWork) {
  std::vector<Migration> dup = ProbeMigrations();
  dup.push_back(MakeMigration(2, "again", "CREATE TABLE again_t (id INT PRIMARY KEY);\n"));
  absl::Status st = ApplyMigrations(pool(), dup);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(st.message(), HasSubstr("version 2"));
  EXPECT_THAT(Tables(), IsEmpty());
}

TEST_F(MigrationsTest, FailedMigrationIsNotRecordedAndCanBeFixed) {
  std::vector<Migration> broken = {
      MakeMigration(1, "good", "CREATE TABLE IF NOT EXISTS good_t (id INT PRIMARY KEY);\n"),
      MakeMigration(2, "bad",
                    "CREATE TABLE IF NOT EXISTS half_t (id INT PRIMARY KEY);\n"
                    "CREATE TABLE broken_t (id INT PRIMARY KEY, oops NOSUCHTYPE);\n"),
  };
  absl::Status st = ApplyMigrations(pool(), broken);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal) << st;
  EXPECT_THAT(st.message(), HasSubstr("migration 2_bad statement 2 of 2"));
  EXPECT_THAT(AppliedVersions(), ElementsAre(1));

  // Idempotent statements let the fixed migration run again from the top.
  std::vector<Migration> fixed = broken;
  fixed[1] = MakeMigration(2, "bad",
                           "CREATE TABLE IF NOT EXISTS half_t (id INT PRIMARY KEY);\n"
                           "CREATE TABLE broken_t (id INT PRIMARY KEY, oops INT);\n");
  OQ_ASSERT_OK(ApplyMigrations(pool(), fixed));
  EXPECT_THAT(AppliedVersions(), ElementsAre(1, 2));
  EXPECT_THAT(Tables(), ElementsAre("broken_t", "good_t", "half_t", "schema_migrations"));
}

TEST_F(MigrationsTest, NewerSchemaThanBinaryIsAccepted) {
  std::vector<Migration> newer = ProbeMigrations();
  newer.push_back(MakeMigration(3, "more", "CREATE TABLE more_t (id INT PRIMARY KEY);\n"));
  OQ_ASSERT_OK(ApplyMigrations(pool(), newer));
  OQ_EXPECT_OK(ApplyMigrations(pool(), ProbeMigrations()));  // an older binary starting up
  EXPECT_EQ(OQ_UNWRAP(SchemaVersion(pool())), 3);
}

// Issue 15, finding 9: a legacy database whose ledger has no UNIQUE key and whose balance is in
// yuan (DECIMAL) is not adopted silently: start-up's migrations refuse it, naming both, and accept
// it once the tables are fixed.
TEST_F(MigrationsTest, LegacyTablesWithoutTheGuaranteesAreRefusedNamingWhatIsMissing) {
  auto exec = [this](const std::string& sql) {
    OQ_ASSERT_OK(WithConnection(pool(), [&](Connection& c) {
      c.Execute(sql);
      return absl::OkStatus();
    }));
  };
  exec(
      "CREATE TABLE t_user (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
      " appid VARCHAR(32) NOT NULL, openid VARCHAR(64) NOT NULL,"
      " amount DECIMAL(10,2) NOT NULL DEFAULT 0, UNIQUE KEY uk_u (appid, openid))");
  exec(
      "CREATE TABLE t_user_amount_log (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
      " user_id BIGINT NOT NULL, order_no VARCHAR(32) NOT NULL, entry_type VARCHAR(16) NOT NULL,"
      " amount_before BIGINT NOT NULL, delta BIGINT NOT NULL, amount_after BIGINT NOT NULL,"
      " KEY idx_order (order_no, entry_type))");
  exec(
      "CREATE TABLE t_payment_notification (id VARCHAR(64) NOT NULL, provider VARCHAR(16),"
      " KEY idx_id (id))");

  absl::Status st = ApplyMigrations(pool());
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  const std::string msg(st.message());
  EXPECT_THAT(msg, HasSubstr(db_->name()));
  EXPECT_THAT(msg, HasSubstr("t_user.amount is decimal(10,2), must be BIGINT (integer fen)"));
  EXPECT_THAT(msg, HasSubstr("t_user_amount_log has no PRIMARY or UNIQUE key on "
                             "(order_no, entry_type)"));
  EXPECT_THAT(msg, HasSubstr("t_payment_notification has no PRIMARY or UNIQUE key on (id)"));
  // Everything else came from the migrations and is fine: nothing more is named.
  EXPECT_THAT(msg, Not(HasSubstr("t_recharge_order"))) << msg;
  EXPECT_THAT(msg, Not(HasSubstr("t_user_session"))) << msg;
  // Start-up keeps refusing (the migrations are recorded, the check runs every time).
  EXPECT_EQ(ApplyMigrations(pool()).code(), absl::StatusCode::kFailedPrecondition);

  exec("ALTER TABLE t_user MODIFY amount BIGINT NOT NULL DEFAULT 0");
  exec("ALTER TABLE t_user_amount_log ADD UNIQUE KEY uk_order_entry (order_no, entry_type)");
  exec("DROP TABLE t_payment_notification");
  exec("DELETE FROM schema_migrations WHERE version = 3");  // recreates the table
  OQ_EXPECT_OK(ApplyMigrations(pool()));
}

TEST_F(MigrationsTest, NeedsADatabase) {
  absl::Status st = ApplyMigrations(db_->admin_pool());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
}

}  // namespace
}  // namespace orderquery::storage
