// Storage pieces that need no database: statement splitting, error classification, hashing,
// the embedded migration set.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "storage/migrations.h"
#include "storage/sha256.h"
#include "storage/sql_util.h"

namespace orderquery::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(SplitSqlStatementsTest, SplitsOnSemicolonAtLineEnd) {
  EXPECT_THAT(SplitSqlStatements("CREATE TABLE a (x INT);\nCREATE TABLE b (y INT);  \n"),
              ElementsAre("CREATE TABLE a (x INT)", "CREATE TABLE b (y INT)"));
}

TEST(SplitSqlStatementsTest, KeepsMultiLineStatementsTogether) {
  EXPECT_THAT(SplitSqlStatements("CREATE TABLE a (\n  x INT,\n  y INT\n);\r\n"),
              ElementsAre("CREATE TABLE a (\n  x INT,\n  y INT\n)"));
}

TEST(SplitSqlStatementsTest, CommentsAndBlanksAloneAreNotStatements) {
  EXPECT_THAT(SplitSqlStatements("-- only a comment;\n\n# another;\n   \n"), IsEmpty());
  EXPECT_THAT(SplitSqlStatements("-- header;\nSELECT 1;\n-- trailer\n"),
              ElementsAre("-- header;\nSELECT 1"));
}

TEST(SplitSqlStatementsTest, SemicolonInsideALineDoesNotSplit) {
  EXPECT_THAT(SplitSqlStatements("SELECT 'a;b' AS x;\n"), ElementsAre("SELECT 'a;b' AS x"));
  EXPECT_THAT(SplitSqlStatements("SELECT 1"), ElementsAre("SELECT 1"));
}

TEST(SplitSqlStatementsTest, EmbeddedMigrationsSplitIntoTheirTables) {
  const std::vector<Migration>& all = EmbeddedMigrations();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(SplitSqlStatements(all[0].sql).size(), 6u);  // the five seed tables + sessions
  EXPECT_EQ(SplitSqlStatements(all[1].sql).size(), 3u);  // vehicle, trade order, goods
  for (size_t i = 0; i < 2; ++i) {
    for (const std::string& st : SplitSqlStatements(all[i].sql)) {
      EXPECT_THAT(st, HasSubstr("CREATE TABLE IF NOT EXISTS"));
      EXPECT_THAT(st, HasSubstr("ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"));
    }
  }
  // The lifecycle: schedule columns, their index, the notifications table; each idempotent.
  std::vector<std::string> lifecycle = SplitSqlStatements(all[2].sql);
  ASSERT_EQ(lifecycle.size(), 3u);
  EXPECT_THAT(lifecycle[0], HasSubstr("ADD COLUMN IF NOT EXISTS next_check_at"));
  EXPECT_THAT(lifecycle[1], HasSubstr("CREATE INDEX IF NOT EXISTS idx_recharge_order_due"));
  EXPECT_THAT(lifecycle[2], HasSubstr("CREATE TABLE IF NOT EXISTS t_payment_notification"));
}

struct ErrorCase {
  int mysql_errno;
  absl::StatusCode code;
};

TEST(StatusFromSqlErrorTest, MapsServerAndClientErrors) {
  const ErrorCase cases[] = {
      {2002, absl::StatusCode::kUnavailable},   {2003, absl::StatusCode::kUnavailable},
      {2006, absl::StatusCode::kUnavailable},   {2013, absl::StatusCode::kUnavailable},
      {2055, absl::StatusCode::kUnavailable},   {1927, absl::StatusCode::kUnavailable},
      {1213, absl::StatusCode::kAborted},       {1205, absl::StatusCode::kAborted},
      {1062, absl::StatusCode::kAlreadyExists}, {1146, absl::StatusCode::kInternal},
      {1064, absl::StatusCode::kInternal},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.mysql_errno);
    absl::Status st = internal::StatusFromSqlError(c.mysql_errno, "server text", "ctx");
    EXPECT_EQ(st.code(), c.code);
    EXPECT_THAT(st.message(), HasSubstr("ctx"));
    EXPECT_THAT(st.message(), HasSubstr("server text"));
    EXPECT_THAT(st.message(), HasSubstr(std::to_string(c.mysql_errno)));
    EXPECT_EQ(internal::IsConnectionLost(c.mysql_errno), c.code == absl::StatusCode::kUnavailable);
  }
}

TEST(DateTimeTest, FormatsAndParsesUtcMilliseconds) {
  absl::Time t = absl::FromCivil(absl::CivilSecond(2024, 5, 6, 7, 8, 9), absl::UTCTimeZone()) +
                 absl::Microseconds(123999);
  EXPECT_EQ(internal::FormatDateTime(t), "2024-05-06 07:08:09.123");
  absl::StatusOr<absl::Time> back = internal::ParseDateTime("2024-05-06 07:08:09.123000");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, internal::TruncateToMillis(t));
  EXPECT_TRUE(internal::ParseDateTime("2024-05-06 07:08:09").ok());
  EXPECT_FALSE(internal::ParseDateTime("yesterday").ok());
  EXPECT_THROW(internal::FormatDateTime(absl::InfiniteFuture()), internal::ValueError);
}

TEST(TruncateUtf8Test, NeverSplitsACharacter) {
  EXPECT_EQ(internal::TruncateUtf8("abc", 5), "abc");
  EXPECT_EQ(internal::TruncateUtf8("abcdef", 3), "abc");
  // "中" is 3 bytes: a 4-byte cut of "a中中" keeps "a中", a 3-byte cut keeps only "a".
  EXPECT_EQ(internal::TruncateUtf8("a中中", 4), "a中");
  EXPECT_EQ(internal::TruncateUtf8("a中中", 3), "a");
}

TEST(Sha256HexTest, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace orderquery::storage
