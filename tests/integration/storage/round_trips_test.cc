// Issue 13, target (c): the write of a pending query's answer that changes nothing (NOTPAY ->
// NOTPAY, the polling case) costs one database round trip, a CALL of the stored procedure
// oq_record_query_v1 (storage/recharge_routines.h), instead of six statements; and it keeps what
// the six gave: the compare-and-set under the row lock, all-or-nothing writes, NOT_FOUND.
//
// Round trips are counted by the server: the session's `Questions` status (statements a client
// sent; not those a procedure runs) on a pool of one connection, read before and after.
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/domain/recharge.h"
#include "storage/migrations.h"
#include "storage/recharge_repository.h"
#include "storage/recharge_routines.h"
#include "storage/sql_util.h"
#include "tests/integration/storage/recharge_storage_test.h"
#include "tests/integration/storage/storage_test_util.h"
#include "tests/support/storage_admin.h"

namespace orderquery::storage {
namespace {

using domain::RechargeState;
using internal::BindString;
using internal::Query;
using storage_test::RowLockHolder;

class RoundTripsTest : public storage_test::RechargeStorageTest {
 protected:
  void SetUp() override {
    RechargeStorageTest::SetUp();
    if (HasFatalFailure()) return;
    auto one = db_->NewPool(1, absl::Seconds(30));
    ASSERT_TRUE(one.ok()) << one.status();
    one_ = *std::move(one);
    repo_ = std::make_unique<MysqlRechargeRepository>(*one_);
  }

  // What the query path writes after the provider said NOTPAY about a NOTPAY order.
  static domain::QueryOutcome StillNotPaid(const std::string& order_no, absl::Time asked) {
    domain::QueryOutcome o;
    o.order_no = order_no;
    o.query_log = LogRow(order_no, "NOTPAY");
    o.expect_state = RechargeState::kNotPay;
    o.expect_credited = false;
    o.queried_at = asked;
    return o;
  }
  static domain::QueryOutcome Paid(const std::string& order_no) {
    domain::QueryOutcome o;
    o.order_no = order_no;
    o.query_log = LogRow(order_no, "SUCCESS");
    o.expect_state = RechargeState::kNotPay;
    o.expect_credited = false;
    o.queried_at = absl::Now();
    domain::StateChange c = PaidFromNotPay(order_no);
    c.paid_at = absl::Now() - absl::Seconds(5);
    o.change = c;
    return o;
  }

  // Statements the one pooled session has sent so far (this query included).
  int64_t Questions() {
    int64_t n = -1;
    OQ_EXPECT_OK(WithConnection(*one_, [&](Connection& c) {
      std::unique_ptr<sql::ResultSet> rs = Query(c.Prepare("SHOW SESSION STATUS LIKE 'Questions'"));
      n = rs->next() ? rs->getInt64(2) : -1;
      return absl::OkStatus();
    }));
    return n;
  }
  // Round trips of `call` on the one pooled session (the status query itself not counted).
  template <typename F>
  int64_t RoundTrips(F call) {
    const int64_t before = Questions();
    call();
    return Questions() - before - 1;
  }
  void Exec(const std::string& sql) {
    OQ_ASSERT_OK(WithConnection(pool(), [&](Connection& c) {
      c.Execute(sql);
      return absl::OkStatus();
    }));
  }
  std::optional<std::string> ProcedureComment() {
    std::optional<std::string> comment;
    OQ_EXPECT_OK(WithConnection(pool(), [&](Connection& c) {
      sql::PreparedStatement& q = c.Prepare(
          "SELECT ROUTINE_COMMENT FROM information_schema.ROUTINES"
          " WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = ?");
      BindString(q, 1, internal::kRecordQueryProcedure);
      std::unique_ptr<sql::ResultSet> rs = Query(q);
      if (rs->next()) comment = internal::GetString(*rs, 1);
      return absl::OkStatus();
    }));
    return comment;
  }

  std::unique_ptr<ConnectionPool> one_;
  std::unique_ptr<MysqlRechargeRepository> repo_;
};

// The polling case: one CALL, and everything the statements wrote is written.
TEST_F(RoundTripsTest, PollingAnswerThatChangesNothingIsOneRoundTrip) {
  const int64_t user = NewUser("u-poll", 4321);
  NewOrder("POLL1", user, 100);
  ASSERT_TRUE(repo_->RecordOutcome(StillNotPaid("POLL1", absl::Now())).ok());  // prepares

  const absl::Time asked = internal::TruncateToMillis(absl::Now());
  absl::StatusOr<domain::ApplyResult> r = absl::UnknownError("not run");
  const int64_t trips = RoundTrips([&] { r = repo_->RecordOutcome(StillNotPaid("POLL1", asked)); });
  std::printf("round trips, NOTPAY -> NOTPAY: %lld\n", static_cast<long long>(trips));
  EXPECT_LE(trips, 1);
  EXPECT_GE(trips, 1) << "the count is not measuring";

  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->conflict);
  EXPECT_FALSE(r->state_changed);
  EXPECT_FALSE(r->credited_now);
  EXPECT_EQ(r->balance_fen, 4321);
  EXPECT_EQ(r->order.order_no, "POLL1");
  EXPECT_EQ(r->order.state, RechargeState::kNotPay);
  EXPECT_EQ(r->order.amount_fen, 100);
  EXPECT_EQ(r->order.last_queried_at, asked);
  EXPECT_EQ(Order("POLL1").last_queried_at, asked);
  EXPECT_EQ(Counts("POLL1").query_log, 2);
  EXPECT_EQ(Counts("POLL1").recharge_order_log, 0);
}

// Without the procedure (a database restored from a dump without routines) the same outcome
// takes the statements' path with the same effects; the next start-up's migrations create the
// procedure again. Also prints the statements' count, the figure before this change.
TEST_F(RoundTripsTest, WithoutTheProcedureTheStatementsDoTheSameAndStartUpRestoresIt) {
  const int64_t user = NewUser("u-noproc", 50);
  NewOrder("NP1", user, 100);
  Exec(absl::StrCat("DROP PROCEDURE ", internal::kRecordQueryProcedure));
  ASSERT_TRUE(repo_->RecordOutcome(StillNotPaid("NP1", absl::Now())).ok());  // prepares

  const absl::Time asked = internal::TruncateToMillis(absl::Now());
  absl::StatusOr<domain::ApplyResult> r = absl::UnknownError("not run");
  const int64_t trips = RoundTrips([&] { r = repo_->RecordOutcome(StillNotPaid("NP1", asked)); });
  std::printf("round trips, NOTPAY -> NOTPAY without the procedure: %lld\n",
              static_cast<long long>(trips));
  EXPECT_LE(trips, 6) << "the statements' path: START, lock, insert, update, balance, COMMIT";
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->conflict);
  EXPECT_EQ(r->balance_fen, 50);
  EXPECT_EQ(r->order.last_queried_at, asked);
  EXPECT_EQ(Order("NP1").last_queried_at, asked);
  EXPECT_EQ(Counts("NP1").query_log, 2);

  EXPECT_FALSE(ProcedureComment().has_value());
  OQ_ASSERT_OK(ApplyMigrations(pool()));
  ASSERT_TRUE(ProcedureComment().has_value());
  repo_ = std::make_unique<MysqlRechargeRepository>(*one_);  // the restarted process's
  ASSERT_TRUE(repo_->RecordOutcome(StillNotPaid("NP1", absl::Now())).ok());  // prepares the CALL
  EXPECT_EQ(RoundTrips([&] { r = repo_->RecordOutcome(StillNotPaid("NP1", asked)); }), 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Counts("NP1").query_log, 4);
}

// A procedure of that name with other text (an older build's) is replaced at start-up; an
// unchanged one is left alone.
TEST_F(RoundTripsTest, StartUpReplacesAProcedureWhoseTextDiffers) {
  const std::optional<std::string> good = ProcedureComment();
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(*good, absl::StrCat("orderquery ", Routines()[0].checksum));
  Exec(absl::StrCat("CREATE OR REPLACE PROCEDURE ", internal::kRecordQueryProcedure,
                    "() COMMENT 'stale' SELECT 1"));
  OQ_ASSERT_OK(ApplyMigrations(pool()));
  EXPECT_EQ(ProcedureComment(), good);
  OQ_ASSERT_OK(ApplyMigrations(pool()));
  EXPECT_EQ(ProcedureComment(), good);
}

// The compare-and-set stays: an answer decided on NOTPAY, arriving after the order was paid
// and credited, writes nothing (not its query-log row, not last_queried_at) and hands back the
// row as it is now, still in one round trip.
TEST_F(RoundTripsTest, StaleAnswerConflictsAndWritesNothing) {
  const int64_t user = NewUser("u-stale", 0);
  NewOrder("ST0", user, 300);
  NewOrder("ST1", user, 300);
  ASSERT_TRUE(repo_->RecordOutcome(Paid("ST0")).ok());  // prepares
  domain::QueryOutcome paid = Paid("ST1");
  paid.queried_at = internal::TruncateToMillis(absl::Now() - absl::Seconds(30));
  absl::StatusOr<domain::ApplyResult> r = absl::UnknownError("not run");
  const int64_t credit_trips = RoundTrips([&] { r = repo_->RecordOutcome(paid); });
  std::printf("round trips, NOTPAY -> SUCCESS with credit: %lld\n",
              static_cast<long long>(credit_trips));
  // START, lock, query log, order log, one order UPDATE, balance add, balance read, ledger,
  // COMMIT (it was twelve: the order row took four UPDATEs and a second read).
  EXPECT_LE(credit_trips, 9);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->credited_now);
  EXPECT_EQ(r->balance_fen, 600);  // ST0's 300, then ST1's
  EXPECT_EQ(r->order.state, RechargeState::kSuccess);
  EXPECT_TRUE(r->order.credited);
  EXPECT_EQ(r->order.transaction_id, "wx-ST1");
  EXPECT_EQ(r->order.last_queried_at, paid.queried_at);
  {
    // The row as RecordOutcome answered it is the row as stored.
    const domain::RechargeOrder stored = Order("ST1");
    EXPECT_EQ(stored.state, r->order.state);
    EXPECT_EQ(stored.credited, r->order.credited);
    EXPECT_EQ(stored.trade_state, r->order.trade_state);
    EXPECT_EQ(stored.transaction_id, r->order.transaction_id);
    EXPECT_EQ(stored.paid_at, r->order.paid_at);
    EXPECT_EQ(stored.last_queried_at, r->order.last_queried_at);
    EXPECT_EQ(stored.next_check_at, r->order.next_check_at);
    EXPECT_EQ(stored.check_attempts, r->order.check_attempts);
  }
  const admin::LogCounts before = Counts("ST1");

  ASSERT_TRUE(repo_->RecordOutcome(StillNotPaid("ST0", absl::Now())).ok());  // prepares the CALL
  const int64_t trips =
      RoundTrips([&] { r = repo_->RecordOutcome(StillNotPaid("ST1", absl::Now())); });
  EXPECT_EQ(trips, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->conflict);
  EXPECT_FALSE(r->state_changed);
  EXPECT_EQ(r->order.state, RechargeState::kSuccess) << "the caller re-decides on this row";
  EXPECT_TRUE(r->order.credited);
  EXPECT_EQ(Order("ST1").last_queried_at, paid.queried_at);
  const admin::LogCounts after = Counts("ST1");
  EXPECT_EQ(after.query_log, before.query_log);
  EXPECT_EQ(after.recharge_order_log, before.recharge_order_log);
  EXPECT_EQ(after.user_amount_log, 1);

  // expect_credited alone is compared as well.
  domain::QueryOutcome uncredited;
  uncredited.order_no = "ST1";
  uncredited.query_log = LogRow("ST1", "SUCCESS");
  uncredited.expect_credited = false;
  r = repo_->RecordOutcome(uncredited);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->conflict);
  EXPECT_EQ(Counts("ST1").query_log, before.query_log);
}

// The procedure compares under the row lock: while another session holds the lock and moves
// the order to CLOSED, the polling write waits, then finds the row moved and writes nothing.
TEST_F(RoundTripsTest, PollingWriteBlockedOnTheRowLockWhileAnotherSessionClosesItConflicts) {
  const int64_t user = NewUser("u-race", 10);
  NewOrder("RC1", user, 100);
  auto other = db_->NewPool(2, absl::Seconds(30));
  ASSERT_TRUE(other.ok()) << other.status();

  RowLockHolder holder(**other, "RC1", /*to=*/"CLOSED");
  ASSERT_TRUE(holder.WaitLocked()) << "the second session never locked";

  absl::StatusOr<domain::ApplyResult> result = absl::UnknownError("not run");
  const RowLockHolder::Contended c = holder.WriteWhileLocked(
      *db_, [&] { result = repo_->RecordOutcome(StillNotPaid("RC1", absl::Now())); });
  // The CALL really waits on the lock: the process list shows its locking read running.
  EXPECT_TRUE(c.waited) << "the CALL never waited for the row lock";
  EXPECT_FALSE(c.finished_early) << "the CALL finished while the row was locked";
  OQ_ASSERT_OK(c.holder);

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->conflict);
  EXPECT_EQ(result->order.state, RechargeState::kClosed);
  EXPECT_FALSE(Order("RC1").last_queried_at.has_value()) << "refresh interval beside CLOSED";
  EXPECT_EQ(Counts("RC1").query_log, 0);
}

// All or nothing inside the procedure: when the order update fails after the query-log row was
// inserted, neither stays, the error reaches the caller, and the session goes back to the pool
// outside any transaction.
TEST_F(RoundTripsTest, AFailureInsideTheCallWritesNothingAndLeavesNoTransactionOpen) {
  const int64_t user = NewUser("u-fail", 0);
  NewOrder("FL1", user, 100);
  const absl::Time poison =
      absl::FromCivil(absl::CivilSecond(2030, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  Exec(
      "CREATE TRIGGER t_fail_poll BEFORE UPDATE ON t_recharge_order FOR EACH ROW"
      " IF NEW.last_queried_at = '2030-01-01 00:00:00.000' THEN"
      " SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure'; END IF");

  absl::StatusOr<domain::ApplyResult> r = repo_->RecordOutcome(StillNotPaid("FL1", poison));
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("injected failure"), std::string::npos) << r.status();
  EXPECT_EQ(Counts("FL1").query_log, 0) << "the query-log row outlived the failed update";
  EXPECT_FALSE(Order("FL1").last_queried_at.has_value());

  int64_t in_transaction = -1;
  OQ_EXPECT_OK(WithConnection(*one_, [&](Connection& c) {
    std::unique_ptr<sql::ResultSet> rs = Query(c.Prepare("SELECT @@in_transaction"));
    in_transaction = rs->next() ? rs->getInt64(1) : -1;
    return absl::OkStatus();
  }));
  EXPECT_EQ(in_transaction, 0);

  const absl::Time asked = internal::TruncateToMillis(absl::Now());
  r = repo_->RecordOutcome(StillNotPaid("FL1", asked));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Order("FL1").last_queried_at, asked);
  EXPECT_EQ(Counts("FL1").query_log, 1);
}

// No such order: NOT_FOUND and nothing written, in one round trip.
TEST_F(RoundTripsTest, UnknownOrderIsNotFoundAndWritesNothing) {
  ASSERT_EQ(repo_->RecordOutcome(StillNotPaid("NOSUCH0", absl::Now())).status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<domain::ApplyResult> r = absl::UnknownError("not run");
  EXPECT_EQ(RoundTrips([&] { r = repo_->RecordOutcome(StillNotPaid("NOSUCH1", absl::Now())); }), 1);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_EQ(Counts("NOSUCH1").query_log, 0);
}

}  // namespace
}  // namespace orderquery::storage
