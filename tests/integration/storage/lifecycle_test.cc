// The payment lifecycle's storage promises (issue 11) against a real MariaDB: RecordOutcome
// applies a change only from the state it was decided on (compare-and-set under the row lock,
// also when another session holds that lock and moves the row meanwhile), writes the refresh
// interval only together with the state, stores a notification id once; and the reconciler's
// schedule (ScheduleNewOrders / ClaimDueOrders) hands each due order to one claimant per lease.
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/domain/recharge.h"
#include "storage/recharge_repository.h"
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

// A fixed instant, so that schedule times are exact.
absl::Time T0() {
  return absl::FromCivil(absl::CivilSecond(2026, 1, 2, 3, 4, 5), absl::UTCTimeZone());
}

class LifecycleStorageTest : public storage_test::RechargeStorageTest {
 protected:
  int64_t Balance(int64_t user) {
    MysqlRechargeRepository repo(pool());
    return OQ_UNWRAP(repo.GetBalance(user));
  }
  // Rows of t_payment_notification for an order.
  int64_t NotificationRows(const std::string& order_no) {
    int64_t n = -1;
    OQ_EXPECT_OK(WithConnection(pool(), [&](Connection& c) {
      sql::PreparedStatement& q =
          c.Prepare("SELECT COUNT(*) FROM t_payment_notification WHERE order_no = ?");
      BindString(q, 1, order_no);
      std::unique_ptr<sql::ResultSet> rs = Query(q);
      n = rs->next() ? rs->getInt64(1) : -1;
      return absl::OkStatus();
    }));
    return n;
  }
};

// ---------------------------------------------------------------------------------------------
// Compare-and-set

// Issue 11's race: a second session holds the row lock and moves the order to REFUND while a
// SUCCESS decided on NOTPAY waits for that lock. The waiting write must find the row moved and
// write nothing: no credit, no ledger row, no query-log row, no refresh interval.
TEST_F(LifecycleStorageTest, WriteBlockedOnTheRowLockWhileAnotherSessionRefundsItConflicts) {
  const int64_t user = NewUser("u-race", 1000);
  NewOrder("RACE1", user, 300);
  auto other = db_->NewPool(2, absl::Seconds(30));
  ASSERT_TRUE(other.ok()) << other.status();

  RowLockHolder holder(**other, "RACE1", /*to=*/"REFUND", /*expect=*/"NOTPAY");
  ASSERT_TRUE(holder.WaitLocked()) << "the second session never locked";

  MysqlRechargeRepository repo(pool());
  domain::QueryOutcome outcome;
  outcome.order_no = "RACE1";
  outcome.query_log = LogRow("RACE1", "SUCCESS");
  outcome.change = PaidFromNotPay("RACE1");
  outcome.expect_state = RechargeState::kNotPay;
  outcome.expect_credited = false;
  outcome.queried_at = absl::Now();
  absl::StatusOr<domain::ApplyResult> result = absl::UnknownError("not run");
  const RowLockHolder::Contended c =
      holder.WriteWhileLocked(*db_, [&] { result = repo.RecordOutcome(outcome); });
  // The write really waits on the lock (it is not merely slow).
  EXPECT_TRUE(c.waited) << "RecordOutcome never waited for the row lock";
  EXPECT_FALSE(c.finished_early) << "RecordOutcome finished while the row was locked";
  OQ_ASSERT_OK(c.holder);

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->conflict);
  EXPECT_FALSE(result->credited_now);
  EXPECT_FALSE(result->state_changed);
  EXPECT_EQ(result->order.state, RechargeState::kRefund) << "the caller re-decides on this row";

  const domain::RechargeOrder now = Order("RACE1");
  EXPECT_EQ(now.state, RechargeState::kRefund);
  EXPECT_FALSE(now.credited);
  EXPECT_EQ(now.transaction_id, "");
  EXPECT_FALSE(now.last_queried_at.has_value()) << "refresh interval started beside REFUND";
  EXPECT_EQ(Balance(user), 1000);
  const admin::LogCounts counts = Counts("RACE1");
  EXPECT_EQ(counts.user_amount_log, 0);
  EXPECT_EQ(counts.recharge_order_log, 0);
  EXPECT_EQ(counts.query_log, 0);
}

// The same without a held lock: an outcome decided on NOTPAY arrives after the order was
// credited. Nothing of it is written, not even its query-log row.
TEST_F(LifecycleStorageTest, LaggingOutcomeDecidedOnAnOlderStateWritesNothing) {
  const int64_t user = NewUser("u-lag", 500);
  NewOrder("LAG1", user, 200);
  MysqlRechargeRepository repo(pool());

  domain::QueryOutcome paid;
  paid.order_no = "LAG1";
  paid.change = PaidFromNotPay("LAG1");
  paid.query_log = LogRow("LAG1", "SUCCESS");
  const absl::Time first_query = internal::TruncateToMillis(absl::Now() - absl::Seconds(30));
  paid.queried_at = first_query;
  auto r = repo.RecordOutcome(paid);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->credited_now);
  ASSERT_EQ(Balance(user), 700);

  // A reply decided on the NOTPAY row read before that credit, applied late.
  domain::QueryOutcome lagging = paid;
  lagging.change->to = RechargeState::kClosed;
  lagging.change->trade_state = "CLOSED";
  lagging.change->credit = false;
  lagging.change->transaction_id.clear();
  lagging.query_log = LogRow("LAG1", "CLOSED");
  lagging.queried_at = absl::Now();
  r = repo.RecordOutcome(lagging);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->conflict);
  EXPECT_EQ(r->order.state, RechargeState::kSuccess);
  EXPECT_TRUE(r->order.credited);

  // And a second credit decided on the uncredited row is refused the same way.
  r = repo.RecordOutcome(paid);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->conflict);
  EXPECT_FALSE(r->credited_now);

  const domain::RechargeOrder now = Order("LAG1");
  EXPECT_EQ(now.state, RechargeState::kSuccess);
  EXPECT_TRUE(now.credited);
  EXPECT_EQ(now.trade_state, "SUCCESS");
  EXPECT_EQ(now.last_queried_at, first_query);
  EXPECT_EQ(Balance(user), 700);
  const admin::LogCounts counts = Counts("LAG1");
  EXPECT_EQ(counts.user_amount_log, 1);
  EXPECT_EQ(counts.recharge_order_log, 1);
  EXPECT_EQ(counts.query_log, 1) << "the lagging outcome's query-log row was written";

  // expect_state alone (an answer with no change, decided on NOTPAY) conflicts as well.
  domain::QueryOutcome no_change;
  no_change.order_no = "LAG1";
  no_change.query_log = LogRow("LAG1", "NOTPAY");
  no_change.expect_state = RechargeState::kNotPay;
  no_change.expect_credited = false;
  no_change.queried_at = absl::Now();
  r = repo.RecordOutcome(no_change);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->conflict);
  EXPECT_EQ(Counts("LAG1").query_log, 1);
  EXPECT_EQ(Order("LAG1").last_queried_at, first_query);
}

// The refresh interval starts in the transaction that writes the state, never apart from it.
TEST_F(LifecycleStorageTest, RefreshIntervalIsWrittenOnlyWithTheState) {
  const int64_t user = NewUser("u-fresh", 0);
  NewOrder("FR1", user, 100);
  NewOrder("FR2", user, 100);
  MysqlRechargeRepository repo(pool());

  // Committed together: state, credit and last_queried_at.
  const absl::Time asked = internal::TruncateToMillis(absl::Now());
  domain::QueryOutcome paid;
  paid.order_no = "FR1";
  paid.change = PaidFromNotPay("FR1");
  paid.expect_state = RechargeState::kNotPay;
  paid.expect_credited = false;
  paid.queried_at = asked;
  auto r = repo.RecordOutcome(paid);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->conflict);
  EXPECT_EQ(r->order.last_queried_at, asked);
  domain::RechargeOrder fr1 = Order("FR1");
  EXPECT_EQ(fr1.state, RechargeState::kSuccess);
  EXPECT_TRUE(fr1.credited);
  EXPECT_EQ(fr1.last_queried_at, asked);

  // FR2 moved to CLOSED by someone else; an outcome decided on NOTPAY writes neither the
  // state nor the refresh interval.
  domain::QueryOutcome closed;
  closed.order_no = "FR2";
  closed.change = PaidFromNotPay("FR2");
  closed.change->to = RechargeState::kClosed;
  closed.change->trade_state = "CLOSED";
  closed.change->credit = false;
  closed.change->transaction_id.clear();
  closed.change->from = RechargeState::kNotPay;
  ASSERT_TRUE(repo.RecordOutcome(closed).ok());  // NOTPAY -> CLOSED, no refresh interval
  domain::RechargeOrder fr2 = Order("FR2");
  ASSERT_EQ(fr2.state, RechargeState::kClosed);
  ASSERT_FALSE(fr2.last_queried_at.has_value());

  domain::QueryOutcome late = paid;
  late.order_no = "FR2";
  late.change = PaidFromNotPay("FR2");
  late.change->to = RechargeState::kUserPaying;
  late.change->trade_state = "USERPAYING";
  late.change->credit = false;
  late.queried_at = absl::Now();
  r = repo.RecordOutcome(late);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->conflict);
  fr2 = Order("FR2");
  EXPECT_EQ(fr2.state, RechargeState::kClosed);
  EXPECT_EQ(fr2.trade_state, "CLOSED");
  EXPECT_FALSE(fr2.last_queried_at.has_value());
  EXPECT_EQ(Counts("FR2").recharge_order_log, 1);
}

// A notification id is stored once: the second delivery writes nothing at all, even when it
// carries a change that would otherwise be allowed.
TEST_F(LifecycleStorageTest, DuplicateNotificationIdWritesNothing) {
  const int64_t user = NewUser("u-notify", 50);
  NewOrder("NT1", user, 450);
  MysqlRechargeRepository repo(pool());

  domain::NotificationRecord n;
  n.id = "EV-duplicate-0001";
  n.provider = "wechat";
  n.merchant = "direct";
  n.event_type = "TRANSACTION.SUCCESS";
  n.order_no = "NT1";
  n.trade_state = "SUCCESS";
  n.body = R"({"id":"EV-duplicate-0001","first":true})";
  domain::QueryOutcome first;
  first.order_no = "NT1";
  first.notification = n;
  first.change = PaidFromNotPay("NT1");
  first.expect_state = RechargeState::kNotPay;
  first.expect_credited = false;
  const absl::Time asked = internal::TruncateToMillis(absl::Now() - absl::Seconds(5));
  first.queried_at = asked;
  auto r = repo.RecordOutcome(first);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->duplicate_notification);
  EXPECT_TRUE(r->credited_now);
  EXPECT_EQ(r->balance_fen, 500);
  EXPECT_EQ(NotificationRows("NT1"), 1);

  // Same id again, this time carrying an allowed SUCCESS -> REFUND and a query-log row.
  domain::QueryOutcome again;
  again.order_no = "NT1";
  again.notification = n;
  again.notification->body = R"({"id":"EV-duplicate-0001","first":false})";
  again.query_log = LogRow("NT1", "REFUND");
  again.change = PaidFromNotPay("NT1");
  again.change->to = RechargeState::kRefund;
  again.change->trade_state = "REFUND";
  again.change->credit = false;
  again.change->from = RechargeState::kSuccess;
  again.change->from_credited = true;
  again.expect_state = RechargeState::kSuccess;
  again.expect_credited = true;
  again.queried_at = absl::Now();
  r = repo.RecordOutcome(again);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->duplicate_notification);
  EXPECT_FALSE(r->conflict);
  EXPECT_FALSE(r->state_changed);
  EXPECT_FALSE(r->credited_now);

  const domain::RechargeOrder now = Order("NT1");
  EXPECT_EQ(now.state, RechargeState::kSuccess);
  EXPECT_TRUE(now.credited);
  EXPECT_EQ(now.last_queried_at, asked);
  EXPECT_EQ(Balance(user), 500);
  EXPECT_EQ(NotificationRows("NT1"), 1);
  const admin::LogCounts counts = Counts("NT1");
  EXPECT_EQ(counts.recharge_order_log, 1);
  EXPECT_EQ(counts.user_amount_log, 1);
  EXPECT_EQ(counts.query_log, 0);
  std::string stored_body;
  OQ_EXPECT_OK(WithConnection(pool(), [&](Connection& c) {
    sql::PreparedStatement& q = c.Prepare("SELECT body FROM t_payment_notification WHERE id = ?");
    BindString(q, 1, n.id);
    std::unique_ptr<sql::ResultSet> rs = Query(q);
    if (rs->next()) stored_body = internal::GetString(*rs, 1);
    return absl::OkStatus();
  }));
  EXPECT_EQ(stored_body, n.body);

  // Another id is another notification: it is stored (and applies its change).
  again.notification->id = "EV-duplicate-0002";
  r = repo.RecordOutcome(again);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->duplicate_notification);
  EXPECT_TRUE(r->state_changed);
  EXPECT_EQ(Order("NT1").state, RechargeState::kRefund);
  EXPECT_EQ(Balance(user), 500) << "a refund after a credit keeps the balance";
  EXPECT_EQ(NotificationRows("NT1"), 2);
}

// ---------------------------------------------------------------------------------------------
// The reconciler's schedule

TEST_F(LifecycleStorageTest, NewPendingOrdersAreFirstDueFirstDelayAfterCreation) {
  const int64_t user = NewUser("u-sched", 0);
  NewOrder("S-NOTPAY", user, 100, RechargeState::kNotPay, T0());
  NewOrder("S-PAYING", user, 100, RechargeState::kUserPaying, T0() + absl::Seconds(1));
  NewOrder("S-SUCCESS", user, 100, RechargeState::kSuccess, T0());
  NewOrder("S-CLOSED", user, 100, RechargeState::kClosed, T0());
  MysqlRechargeRepository repo(pool());

  EXPECT_EQ(OQ_UNWRAP(repo.ScheduleNewOrders(absl::Seconds(90), 1)), 1) << "limit honoured";
  EXPECT_EQ(OQ_UNWRAP(repo.ScheduleNewOrders(absl::Seconds(90), 100)), 1);
  EXPECT_EQ(OQ_UNWRAP(repo.ScheduleNewOrders(absl::Seconds(90), 100)), 0) << "scheduled once";

  EXPECT_EQ(Order("S-NOTPAY").next_check_at, T0() + absl::Seconds(90));
  EXPECT_EQ(Order("S-PAYING").next_check_at, T0() + absl::Seconds(91));
  EXPECT_FALSE(Order("S-SUCCESS").next_check_at.has_value());
  EXPECT_FALSE(Order("S-CLOSED").next_check_at.has_value());
  EXPECT_EQ(Order("S-NOTPAY").check_attempts, 0);

  // Not due a millisecond early.
  EXPECT_TRUE(
      OQ_UNWRAP(repo.ClaimDueOrders(T0() + absl::Milliseconds(89999), absl::Seconds(30), 10))
          .empty());
}

TEST_F(LifecycleStorageTest, AClaimedOrderComesDueAgainOnlyWhenItsLeaseLapses) {
  const int64_t user = NewUser("u-lease", 0);
  NewOrder("L-A", user, 100, RechargeState::kNotPay, T0());
  NewOrder("L-B", user, 100, RechargeState::kNotPay, T0() + absl::Seconds(1));
  MysqlRechargeRepository repo(pool());
  ASSERT_EQ(OQ_UNWRAP(repo.ScheduleNewOrders(absl::Seconds(90), 100)), 2);

  const absl::Duration lease = absl::Seconds(30);
  std::vector<domain::RechargeOrder> got =
      OQ_UNWRAP(repo.ClaimDueOrders(T0() + absl::Seconds(90), lease, 10));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].order_no, "L-A");
  EXPECT_EQ(got[0].check_attempts, 1);
  EXPECT_EQ(got[0].next_check_at, T0() + absl::Seconds(120));
  EXPECT_EQ(Order("L-A").next_check_at, T0() + absl::Seconds(120));
  EXPECT_EQ(Order("L-A").check_attempts, 1);

  got = OQ_UNWRAP(repo.ClaimDueOrders(T0() + absl::Seconds(100), lease, 10));
  ASSERT_EQ(got.size(), 1u) << "L-A is leased until +120 s";
  EXPECT_EQ(got[0].order_no, "L-B");

  EXPECT_TRUE(OQ_UNWRAP(repo.ClaimDueOrders(T0() + absl::Milliseconds(119999), lease, 10)).empty());
  got = OQ_UNWRAP(repo.ClaimDueOrders(T0() + absl::Seconds(120), lease, 10));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].order_no, "L-A");
  EXPECT_EQ(got[0].check_attempts, 2);
  EXPECT_EQ(Order("L-A").next_check_at, T0() + absl::Seconds(150));

  // The worker's outcome sets the next slot (the reconciler's backoff), replacing the lease.
  domain::QueryOutcome asked;
  asked.order_no = "L-B";
  asked.query_log = LogRow("L-B", "NOTPAY");
  asked.expect_state = RechargeState::kNotPay;
  asked.next_check_at = T0() + absl::Minutes(10);
  ASSERT_TRUE(repo.RecordOutcome(asked).ok());
  EXPECT_EQ(Order("L-B").next_check_at, T0() + absl::Minutes(10));
  EXPECT_TRUE(
      OQ_UNWRAP(repo.ClaimDueOrders(T0() + absl::Seconds(150) - absl::Milliseconds(1), lease, 10))
          .empty());
}

TEST_F(LifecycleStorageTest, AFinalOrderLeavesTheSchedule) {
  const int64_t user = NewUser("u-final", 0);
  NewOrder("F-A", user, 100, RechargeState::kNotPay, T0());
  NewOrder("F-B", user, 100, RechargeState::kNotPay, T0());
  MysqlRechargeRepository repo(pool());
  ASSERT_EQ(OQ_UNWRAP(repo.ScheduleNewOrders(absl::Seconds(1), 100)), 2);
  ASSERT_EQ(OQ_UNWRAP(repo.ClaimDueOrders(T0() + absl::Seconds(1), absl::Seconds(30), 10)).size(),
            2u);

  domain::QueryOutcome paid;
  paid.order_no = "F-A";
  paid.change = PaidFromNotPay("F-A");
  paid.next_check_at = T0() + absl::Minutes(5);  // ignored: the order is final now
  auto r = repo.RecordOutcome(paid);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->order.state, RechargeState::kSuccess);
  EXPECT_FALSE(r->order.next_check_at.has_value());
  EXPECT_FALSE(Order("F-A").next_check_at.has_value());
  EXPECT_TRUE(Order("F-B").next_check_at.has_value());

  // Never claimed again, never rescheduled.
  EXPECT_EQ(OQ_UNWRAP(repo.ScheduleNewOrders(absl::Seconds(1), 100)), 0);
  std::vector<domain::RechargeOrder> got =
      OQ_UNWRAP(repo.ClaimDueOrders(T0() + absl::Hours(24), absl::Seconds(30), 10));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].order_no, "F-B");
  domain::ScheduleStats stats = OQ_UNWRAP(repo.GetScheduleStats(T0() + absl::Hours(48)));
  EXPECT_EQ(stats.overdue, 1);
  EXPECT_EQ(stats.unscheduled, 0);
}

// Two pools (two replicas) claiming the same due orders at once: every order goes to exactly
// one of them.
TEST_F(LifecycleStorageTest, TwoReplicasClaimingAtOnceNeverGetTheSameOrder) {
  constexpr int kOrders = 60;
  const int64_t user = NewUser("u-claim", 0);
  for (int i = 0; i < kOrders; ++i) {
    NewOrder(absl::StrCat("CL", i), user, 100, RechargeState::kNotPay,
             T0() + absl::Milliseconds(i));
  }
  auto other = db_->NewPool(4, absl::Seconds(30));
  ASSERT_TRUE(other.ok()) << other.status();
  MysqlRechargeRepository repo_a(pool());
  MysqlRechargeRepository repo_b(**other);
  ASSERT_EQ(OQ_UNWRAP(repo_a.ScheduleNewOrders(absl::Seconds(1), 1000)), kOrders);

  constexpr int kClaimers = 4;  // two per replica
  std::vector<std::vector<std::string>> claimed(kClaimers);
  std::vector<absl::Status> errors(kClaimers);
  storage_test::StartLine start(kClaimers);
  std::vector<std::thread> threads;
  for (int t = 0; t < kClaimers; ++t) {
    threads.emplace_back([&, t] {
      MysqlRechargeRepository& repo = t % 2 == 0 ? repo_a : repo_b;
      start.ArriveAndWait();
      for (int round = 0; round < 100; ++round) {
        auto got = repo.ClaimDueOrders(T0() + absl::Minutes(1), absl::Minutes(10), 3);
        if (!got.ok()) {
          errors[t] = got.status();
          return;
        }
        if (got->empty()) return;
        for (const auto& o : *got) claimed[t].push_back(o.order_no);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& e : errors) OQ_EXPECT_OK(e);

  std::map<std::string, int> times;
  for (const auto& list : claimed) {
    for (const std::string& no : list) ++times[no];
  }
  EXPECT_EQ(times.size(), static_cast<size_t>(kOrders)) << "some due order was never claimed";
  for (const auto& [no, n] : times) EXPECT_EQ(n, 1) << no << " was claimed " << n << " times";
  for (int i = 0; i < kOrders; ++i) {
    const domain::RechargeOrder o = Order(absl::StrCat("CL", i));
    EXPECT_EQ(o.check_attempts, 1) << o.order_no;
    EXPECT_EQ(o.next_check_at, T0() + absl::Minutes(11)) << o.order_no;
  }
}

// What operators watch: pending orders by state and age (a final order is not counted).
TEST_F(LifecycleStorageTest, PendingOrdersAreCountedByStateAndAge) {
  MysqlRechargeRepository repo(pool());
  int64_t user = NewUser("u-ages", 0);
  const absl::Time now = T0() + absl::Hours(3);
  NewOrder("A-NEW", user, 100, RechargeState::kNotPay, now - absl::Minutes(1));
  NewOrder("A-NEW2", user, 100, RechargeState::kNotPay, now - absl::Minutes(2));
  NewOrder("A-HOUR", user, 100, RechargeState::kUserPaying, now - absl::Minutes(30));
  NewOrder("A-TWO", user, 100, RechargeState::kNotPay, now - absl::Minutes(90));
  NewOrder("A-OLD", user, 100, RechargeState::kNotPay, now - absl::Hours(3));
  NewOrder("A-PAID", user, 100, RechargeState::kSuccess, now - absl::Minutes(1));
  domain::ScheduleStats st = OQ_UNWRAP(repo.GetScheduleStats(now));
  std::map<std::string, int64_t> got;
  for (const auto& b : st.pending) got[b.state + "/" + b.age] = b.count;
  const std::map<std::string, int64_t> want = {
      {"NOTPAY/lt_10m", 2}, {"USERPAYING/lt_1h", 1}, {"NOTPAY/lt_2h", 1}, {"NOTPAY/ge_2h", 1}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(st.unscheduled, 5);
}

}  // namespace
}  // namespace orderquery::storage
