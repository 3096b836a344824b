// The contract of domain::RechargeRepository and domain::CheckSchedule, as one value-parameterized
// GoogleTest suite that every implementation runs: the in-memory fake (tests/fakes, a unit test)
// and the MySQL repository on MariaDB (an integration test). A fake that drifts from the real
// repository fails here, not in a unit test that silently trusts it.
//
// Include this header in exactly one source file per test program, and instantiate it there
// with a factory for the backend:
//
//   INSTANTIATE_TEST_SUITE_P(InMemory, RechargeRepositoryContract,
//                            ::testing::Values(&MakeInMemoryRechargeStore));
//
// Every time the suite uses is whole milliseconds (what DATETIME(3) keeps), far from now, so
// nothing depends on the clock.
#ifndef ORDERQUERY_TESTS_CONTRACT_RECHARGE_REPOSITORY_CONTRACT_H_
#define ORDERQUERY_TESTS_CONTRACT_RECHARGE_REPOSITORY_CONTRACT_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "server/domain/recharge.h"

namespace orderquery::contract {

// A backend under test: the interfaces, and what the suite needs besides them to seed rows (as
// sign-up and checkout would) and to count rows the interfaces never read back.
class RechargeStore {
 public:
  virtual ~RechargeStore() = default;
  virtual domain::RechargeRepository& repository() = 0;
  virtual domain::CheckSchedule& schedule() = 0;

  // A new user with this balance; returns its id. openid is unique per store.
  virtual absl::StatusOr<int64_t> AddUser(absl::string_view openid, int64_t balance_fen) = 0;
  virtual absl::Status AddSession(int64_t user_id, absl::string_view appid, absl::string_view token,
                                  absl::Time expires_at) = 0;
  // Stores every field as given (created_at is set by the suite).
  virtual absl::Status AddOrder(const domain::RechargeOrder& order) = 0;
  // Sets the credited flag alone (a repair tool's write, to build an inconsistent row).
  virtual absl::Status SetCredited(absl::string_view order_no, bool credited) = 0;

  struct Rows {
    int64_t order_log = 0;  // state changes of the order
    int64_t ledger = 0;     // balance changes of the order
    int64_t query_log = 0;  // query-log rows of the order
  };
  virtual absl::StatusOr<Rows> CountRows(absl::string_view order_no) = 0;
  // Stored notifications, all orders.
  virtual absl::StatusOr<int64_t> CountNotifications() = 0;
};

using RechargeStoreFactory = absl::StatusOr<std::unique_ptr<RechargeStore>> (*)();

class RechargeRepositoryContract : public ::testing::TestWithParam<RechargeStoreFactory> {
 protected:
  using State = domain::RechargeState;

  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RechargeStore>> store = GetParam()();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  domain::RechargeRepository& repo() { return store_->repository(); }
  domain::CheckSchedule& schedule() { return store_->schedule(); }

  // 2030-01-02 03:04:05.678 UTC plus `offset`.
  static absl::Time T(absl::Duration offset = absl::ZeroDuration()) {
    return absl::FromCivil(absl::CivilSecond(2030, 1, 2, 3, 4, 5), absl::UTCTimeZone()) +
           absl::Milliseconds(678) + offset;
  }

  int64_t NewUser(absl::string_view openid, int64_t balance_fen) {
    absl::StatusOr<int64_t> id = store_->AddUser(openid, balance_fen);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : -1;
  }
  // A pending (or `state`) order created at T(created).
  domain::RechargeOrder NewOrder(absl::string_view order_no, int64_t user_id, int64_t amount_fen,
                                 State state = State::kNotPay,
                                 absl::Duration created = absl::ZeroDuration()) {
    domain::RechargeOrder o;
    o.order_no = std::string(order_no);
    o.user_id = user_id;
    o.appid = "wx-app";
    o.mchid = "1230000109";
    o.amount_fen = amount_fen;
    o.state = state;
    o.trade_state = state == State::kNotPay ? "" : std::string(domain::RechargeStateName(state));
    o.created_at = T(created);
    absl::Status st = store_->AddOrder(o);
    EXPECT_TRUE(st.ok()) << st;
    return o;
  }
  domain::RechargeOrder Order(absl::string_view order_no) {
    absl::StatusOr<domain::RechargeOrder> o = repo().GetOrder(order_no);
    EXPECT_TRUE(o.ok()) << o.status();
    return o.ok() ? *o : domain::RechargeOrder{};
  }
  int64_t Balance(int64_t user_id) {
    absl::StatusOr<int64_t> b = repo().GetBalance(user_id);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? *b : -1;
  }
  RechargeStore::Rows Rows(absl::string_view order_no) {
    absl::StatusOr<RechargeStore::Rows> r = store_->CountRows(order_no);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RechargeStore::Rows{-1, -1, -1};
  }
  int64_t Notifications() {
    absl::StatusOr<int64_t> n = store_->CountNotifications();
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }

  // A paid answer decided on an unpaid, uncredited order.
  static domain::StateChange Paid(absl::string_view order_no) {
    domain::StateChange c;
    c.order_no = std::string(order_no);
    c.to = State::kSuccess;
    c.trade_state = "SUCCESS";
    c.transaction_id = absl::StrCat("4200-", order_no);
    c.paid_at = T(absl::Minutes(1));
    c.reason = "provider says SUCCESS (contract)";
    c.credit = true;
    c.from = State::kNotPay;
    c.from_credited = false;
    return c;
  }
  static domain::QueryLogEntry LogEntry(absl::string_view order_no, absl::string_view state) {
    domain::QueryLogEntry e;
    e.appid = "wx-app";
    e.order_no = std::string(order_no);
    e.trade_state = std::string(state);
    e.latency_ms = 12;
    return e;
  }
  static domain::NotificationRecord Notification(absl::string_view id, absl::string_view order_no) {
    domain::NotificationRecord n;
    n.id = std::string(id);
    n.provider = "wechat";
    n.merchant = "1230000109";
    n.event_type = "TRANSACTION.SUCCESS";
    n.order_no = std::string(order_no);
    n.trade_state = "SUCCESS";
    n.body = R"({"id":"contract"})";
    return n;
  }

  std::unique_ptr<RechargeStore> store_;
};

// ----- reads

TEST_P(RechargeRepositoryContract, ResolveTokenGivesTheSessionUntilItExpires) {
  const int64_t user = NewUser("o-token", 0);
  ASSERT_TRUE(store_->AddSession(user, "wx-app", "tok-contract", T(absl::Hours(1))).ok());

  absl::StatusOr<domain::Session> s = repo().ResolveToken("tok-contract", T());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->user_id, user);
  EXPECT_EQ(s->appid, "wx-app");
  EXPECT_EQ(s->expires_at, T(absl::Hours(1)));
  // Expired at its expiry instant, and after it.
  EXPECT_TRUE(
      absl::IsUnauthenticated(repo().ResolveToken("tok-contract", T(absl::Hours(1))).status()));
  EXPECT_TRUE(
      absl::IsUnauthenticated(repo().ResolveToken("tok-contract", T(absl::Hours(2))).status()));
}

TEST_P(RechargeRepositoryContract, UnknownAndEmptyTokensAreUnauthenticated) {
  const int64_t user = NewUser("o-unknown", 0);
  ASSERT_TRUE(store_->AddSession(user, "wx-app", "tok-known", T(absl::Hours(1))).ok());
  EXPECT_TRUE(absl::IsUnauthenticated(repo().ResolveToken("tok-other", T()).status()));
  EXPECT_TRUE(absl::IsUnauthenticated(repo().ResolveToken("", T()).status()));
  EXPECT_TRUE(absl::IsUnauthenticated(repo().LoadForQuery("tok-other", "R1", T()).status()));
  EXPECT_TRUE(absl::IsUnauthenticated(repo().LoadForQuery("", "R1", T()).status()));
  EXPECT_TRUE(
      absl::IsUnauthenticated(repo().LoadForQuery("tok-known", "R1", T(absl::Hours(1))).status()));
}

TEST_P(RechargeRepositoryContract, GetOrderGivesEveryFieldAndNotFoundForNoOrder) {
  const int64_t user = NewUser("o-get", 0);
  domain::RechargeOrder o;
  o.order_no = "GET1";
  o.user_id = user;
  o.appid = "wx-app";
  o.mchid = "1900000100";
  o.sub_mchid = "1900000109";
  o.amount_fen = 1234;
  o.state = State::kSuccess;
  o.trade_state = "SUCCESS";
  o.transaction_id = "4200000000000000001";
  o.paid_at = T(absl::Seconds(30));
  o.credited = true;
  o.last_queried_at = T(absl::Seconds(40));
  o.created_at = T();
  ASSERT_TRUE(store_->AddOrder(o).ok());

  const domain::RechargeOrder got = Order("GET1");
  EXPECT_EQ(got.order_no, "GET1");
  EXPECT_EQ(got.user_id, user);
  EXPECT_EQ(got.appid, "wx-app");
  EXPECT_EQ(got.mchid, "1900000100");
  EXPECT_EQ(got.sub_mchid, "1900000109");
  EXPECT_EQ(got.amount_fen, 1234);
  EXPECT_EQ(got.state, State::kSuccess);
  EXPECT_EQ(got.trade_state, "SUCCESS");
  EXPECT_EQ(got.transaction_id, "4200000000000000001");
  EXPECT_EQ(got.paid_at, T(absl::Seconds(30)));
  EXPECT_TRUE(got.credited);
  EXPECT_EQ(got.last_queried_at, T(absl::Seconds(40)));
  EXPECT_EQ(got.created_at, T());
  EXPECT_FALSE(got.next_check_at.has_value());
  EXPECT_EQ(got.check_attempts, 0);

  EXPECT_TRUE(absl::IsNotFound(repo().GetOrder("NO-SUCH-ORDER").status()));
}

TEST_P(RechargeRepositoryContract, GetBalanceIsNotFoundForNoUser) {
  const int64_t user = NewUser("o-balance", 1500);
  EXPECT_EQ(Balance(user), 1500);
  EXPECT_TRUE(absl::IsNotFound(repo().GetBalance(user + 1000).status()));
}

TEST_P(RechargeRepositoryContract, LoadForQueryReadsSessionOrderBalanceAndCreditedBalance) {
  const int64_t user = NewUser("o-view", 500);
  ASSERT_TRUE(store_->AddSession(user, "wx-app", "tok-view", T(absl::Hours(1))).ok());
  NewOrder("VIEW1", user, 300);

  absl::StatusOr<domain::QueryView> v = repo().LoadForQuery("tok-view", "VIEW1", T());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->session.user_id, user);
  EXPECT_EQ(v->session.appid, "wx-app");
  ASSERT_TRUE(v->order.has_value());
  EXPECT_EQ(v->order->order_no, "VIEW1");
  EXPECT_EQ(v->order->amount_fen, 300);
  EXPECT_EQ(v->balance_fen, 500);
  EXPECT_FALSE(v->credited_balance_fen.has_value()) << "no ledger row yet";

  // No such order: the session and the balance still come back.
  absl::StatusOr<domain::QueryView> none = repo().LoadForQuery("tok-view", "NO-SUCH", T());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->order.has_value());
  EXPECT_EQ(none->balance_fen, 500);

  // After the credit: the balance right after it, which later changes do not move.
  ASSERT_TRUE(repo().ApplyStateChange(Paid("VIEW1")).ok());
  NewOrder("VIEW2", user, 50);
  ASSERT_TRUE(repo().ApplyStateChange(Paid("VIEW2")).ok());
  absl::StatusOr<domain::QueryView> paid = repo().LoadForQuery("tok-view", "VIEW1", T());
  ASSERT_TRUE(paid.ok()) << paid.status();
  EXPECT_EQ(paid->credited_balance_fen, 800);
  EXPECT_EQ(paid->balance_fen, 850);
}

TEST_P(RechargeRepositoryContract, LoadForQueryOfASessionWithoutItsUserHasNoBalance) {
  ASSERT_TRUE(store_->AddSession(987654, "wx-app", "tok-orphan", T(absl::Hours(1))).ok());
  absl::StatusOr<domain::QueryView> v = repo().LoadForQuery("tok-orphan", "R", T());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->session.user_id, 987654);
  EXPECT_FALSE(v->balance_fen.has_value());
  EXPECT_FALSE(v->order.has_value());
}

TEST_P(RechargeRepositoryContract, TouchLastQueriedSetsTheTimeAndIgnoresNoOrder) {
  const int64_t user = NewUser("o-touch", 0);
  NewOrder("TOUCH1", user, 1);
  ASSERT_TRUE(repo().TouchLastQueried("TOUCH1", T(absl::Seconds(5))).ok());
  EXPECT_EQ(Order("TOUCH1").last_queried_at, T(absl::Seconds(5)));
  EXPECT_TRUE(repo().TouchLastQueried("NO-SUCH", T()).ok());
  EXPECT_TRUE(absl::IsNotFound(repo().GetOrder("NO-SUCH").status())) << "touching created it";
}

TEST_P(RechargeRepositoryContract, AppendQueryLogAddsOneRow) {
  ASSERT_TRUE(repo().AppendQueryLog(LogEntry("QL1", "NOTPAY")).ok());
  domain::QueryLogEntry failed = LogEntry("QL1", "");
  failed.error_code = "UNAVAILABLE";
  failed.error_message = "upstream down";
  ASSERT_TRUE(repo().AppendQueryLog(failed).ok());
  EXPECT_EQ(Rows("QL1").query_log, 2);
}

// ----- writing an outcome

TEST_P(RechargeRepositoryContract, PaidOutcomeCreditsOnceWithEveryRow) {
  const int64_t user = NewUser("o-paid", 1000);
  NewOrder("PAID1", user, 250);
  domain::QueryOutcome out;
  out.order_no = "PAID1";
  out.query_log = LogEntry("PAID1", "SUCCESS");
  out.change = Paid("PAID1");
  out.expect_state = State::kNotPay;
  out.expect_credited = false;
  out.queried_at = T(absl::Minutes(2));

  absl::StatusOr<domain::ApplyResult> r = repo().RecordOutcome(out);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->conflict);
  EXPECT_FALSE(r->duplicate_notification);
  EXPECT_TRUE(r->state_changed);
  EXPECT_TRUE(r->credited_now);
  EXPECT_EQ(r->balance_fen, 1250);
  EXPECT_EQ(r->order.state, State::kSuccess);
  EXPECT_TRUE(r->order.credited);
  EXPECT_EQ(r->order.trade_state, "SUCCESS");
  EXPECT_EQ(r->order.transaction_id, "4200-PAID1");
  EXPECT_EQ(r->order.paid_at, T(absl::Minutes(1)));
  EXPECT_EQ(r->order.last_queried_at, T(absl::Minutes(2)));

  const domain::RechargeOrder stored = Order("PAID1");
  EXPECT_EQ(stored.state, State::kSuccess);
  EXPECT_TRUE(stored.credited);
  EXPECT_EQ(stored.transaction_id, "4200-PAID1");
  EXPECT_EQ(stored.paid_at, T(absl::Minutes(1)));
  EXPECT_EQ(stored.last_queried_at, T(absl::Minutes(2)));
  EXPECT_EQ(Balance(user), 1250);
  RechargeStore::Rows rows = Rows("PAID1");
  EXPECT_EQ(rows.order_log, 1);
  EXPECT_EQ(rows.ledger, 1);
  EXPECT_EQ(rows.query_log, 1);

  // The same answer again without a compare-and-set: SUCCESS stays, nothing is credited twice.
  domain::StateChange again = Paid("PAID1");
  again.from.reset();
  again.from_credited.reset();
  absl::StatusOr<domain::ApplyResult> r2 = repo().ApplyStateChange(again);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_FALSE(r2->state_changed);
  EXPECT_FALSE(r2->credited_now);
  EXPECT_EQ(r2->balance_fen, 1250);
  EXPECT_EQ(Balance(user), 1250);
  rows = Rows("PAID1");
  EXPECT_EQ(rows.order_log, 1);
  EXPECT_EQ(rows.ledger, 1);
}

TEST_P(RechargeRepositoryContract, ConcurrentCreditsOfOneOrderCreditOnce) {
  const int64_t user = NewUser("o-race", 100);
  NewOrder("RACE1", user, 40);
  constexpr int kCallers = 8;
  std::vector<absl::StatusOr<domain::ApplyResult>> results(kCallers, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      domain::StateChange c = Paid("RACE1");
      c.from.reset();  // no compare-and-set: only the credited flag guards the money
      c.from_credited.reset();
      results[i] = repo().ApplyStateChange(c);
    });
  }
  for (std::thread& t : threads) t.join();
  int credited = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    credited += r->credited_now ? 1 : 0;
  }
  EXPECT_EQ(credited, 1);
  EXPECT_EQ(Balance(user), 140);
  EXPECT_EQ(Rows("RACE1").ledger, 1);
  EXPECT_EQ(Rows("RACE1").order_log, 1);
}

TEST_P(RechargeRepositoryContract, ChangeDecidedOnAnotherStateConflictsAndWritesNothing) {
  const int64_t user = NewUser("o-cas", 1000);
  NewOrder("CAS1", user, 300, State::kClosed);
  domain::QueryOutcome out;
  out.order_no = "CAS1";
  out.query_log = LogEntry("CAS1", "SUCCESS");
  out.notification = Notification("N-CAS1", "CAS1");
  out.change = Paid("CAS1");  // decided on NOTPAY
  out.queried_at = T(absl::Minutes(2));
  out.next_check_at = T(absl::Minutes(3));

  absl::StatusOr<domain::ApplyResult> r = repo().RecordOutcome(out);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->conflict);
  EXPECT_FALSE(r->state_changed);
  EXPECT_FALSE(r->credited_now);
  EXPECT_EQ(r->order.state, State::kClosed) << "the row as it is, to decide again on";
  EXPECT_EQ(r->order.order_no, "CAS1");

  const domain::RechargeOrder stored = Order("CAS1");
  EXPECT_EQ(stored.state, State::kClosed);
  EXPECT_FALSE(stored.credited);
  EXPECT_FALSE(stored.last_queried_at.has_value());
  EXPECT_EQ(Balance(user), 1000);
  const RechargeStore::Rows rows = Rows("CAS1");
  EXPECT_EQ(rows.order_log, 0);
  EXPECT_EQ(rows.ledger, 0);
  EXPECT_EQ(rows.query_log, 0);
  EXPECT_EQ(Notifications(), 0);

  // The same through ApplyStateChange.
  absl::StatusOr<domain::ApplyResult> direct = repo().ApplyStateChange(Paid("CAS1"));
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_TRUE(direct->conflict);
  EXPECT_EQ(Balance(user), 1000);
}

TEST_P(RechargeRepositoryContract, ChangeDecidedOnAnotherCreditedFlagConflicts) {
  const int64_t user = NewUser("o-cas-credited", 1000);
  NewOrder("CASC1", user, 300);
  ASSERT_TRUE(store_->SetCredited("CASC1", true).ok());
  absl::StatusOr<domain::ApplyResult> r = repo().ApplyStateChange(Paid("CASC1"));  // credited=0
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->conflict);
  EXPECT_EQ(Order("CASC1").state, State::kNotPay);
  EXPECT_EQ(Rows("CASC1").order_log, 0);
}

TEST_P(RechargeRepositoryContract, OutcomeExpectingAnotherRowConflictsEvenWithoutAChange) {
  const int64_t user = NewUser("o-expect", 0);
  NewOrder("EXP1", user, 300, State::kUserPaying);
  domain::QueryOutcome out;
  out.order_no = "EXP1";
  out.query_log = LogEntry("EXP1", "NOTPAY");
  out.expect_state = State::kNotPay;
  out.queried_at = T(absl::Minutes(2));
  absl::StatusOr<domain::ApplyResult> r = repo().RecordOutcome(out);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->conflict);
  EXPECT_EQ(r->order.state, State::kUserPaying);
  EXPECT_FALSE(Order("EXP1").last_queried_at.has_value());
  EXPECT_EQ(Rows("EXP1").query_log, 0);

  out.expect_state = State::kUserPaying;
  out.expect_credited = true;
  r = repo().RecordOutcome(out);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->conflict);
  EXPECT_EQ(Rows("EXP1").query_log, 0);

  // As read: the query log and the refresh interval are written, nothing else changes.
  out.expect_credited = false;
  r = repo().RecordOutcome(out);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->conflict);
  EXPECT_FALSE(r->state_changed);
  EXPECT_EQ(r->order.last_queried_at, T(absl::Minutes(2)));
  EXPECT_EQ(Order("EXP1").last_queried_at, T(absl::Minutes(2)));
  EXPECT_EQ(Order("EXP1").state, State::kUserPaying);
  EXPECT_EQ(Rows("EXP1").query_log, 1);
  EXPECT_EQ(Rows("EXP1").order_log, 0);
}

TEST_P(RechargeRepositoryContract, DuplicateNotificationWritesNothing) {
  const int64_t user = NewUser("o-notify", 0);
  NewOrder("NTF1", user, 500);
  domain::QueryOutcome first;
  first.order_no = "NTF1";
  first.notification = Notification("N-1", "NTF1");
  first.query_log = LogEntry("NTF1", "SUCCESS");
  first.change = Paid("NTF1");
  absl::StatusOr<domain::ApplyResult> r = repo().RecordOutcome(first);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->duplicate_notification);
  EXPECT_TRUE(r->credited_now);
  EXPECT_EQ(Notifications(), 1);

  // Delivered again (as a change with no compare-and-set, to show the id alone stops it).
  domain::QueryOutcome again = first;
  again.change->to = State::kRefund;
  again.change->credit = false;
  again.change->from.reset();
  again.change->from_credited.reset();
  again.queried_at = T(absl::Minutes(5));
  r = repo().RecordOutcome(again);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->duplicate_notification);
  EXPECT_FALSE(r->state_changed);
  EXPECT_FALSE(r->credited_now);
  EXPECT_EQ(Notifications(), 1);
  const domain::RechargeOrder stored = Order("NTF1");
  EXPECT_EQ(stored.state, State::kSuccess);
  EXPECT_FALSE(stored.last_queried_at.has_value());
  EXPECT_EQ(Balance(user), 500);
  const RechargeStore::Rows rows = Rows("NTF1");
  EXPECT_EQ(rows.query_log, 1);
  EXPECT_EQ(rows.order_log, 1);
  EXPECT_EQ(rows.ledger, 1);

  // The id is the key, whatever order it names.
  NewOrder("NTF2", user, 1);
  domain::QueryOutcome other;
  other.order_no = "NTF2";
  other.notification = Notification("N-1", "NTF2");
  other.query_log = LogEntry("NTF2", "NOTPAY");
  r = repo().RecordOutcome(other);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->duplicate_notification);
  EXPECT_EQ(Rows("NTF2").query_log, 0);
}

TEST_P(RechargeRepositoryContract, OutcomeForNoOrderIsNotFoundAndWritesNothing) {
  domain::QueryOutcome out;
  out.order_no = "GHOST";
  out.notification = Notification("N-GHOST", "GHOST");
  out.query_log = LogEntry("GHOST", "SUCCESS");
  out.queried_at = T();
  EXPECT_TRUE(absl::IsNotFound(repo().RecordOutcome(out).status()));
  EXPECT_EQ(Notifications(), 0);
  EXPECT_EQ(Rows("GHOST").query_log, 0);

  domain::StateChange c = Paid("GHOST");
  EXPECT_TRUE(absl::IsNotFound(repo().ApplyStateChange(c).status()));
  EXPECT_TRUE(absl::IsNotFound(repo().GetOrder("GHOST").status()));
}

TEST_P(RechargeRepositoryContract, MalformedChangesAreInvalidArguments) {
  const int64_t user = NewUser("o-invalid", 0);
  NewOrder("INV1", user, 10);
  domain::StateChange closed_credit = Paid("INV1");
  closed_credit.to = State::kClosed;
  EXPECT_TRUE(absl::IsInvalidArgument(repo().ApplyStateChange(closed_credit).status()));

  domain::QueryOutcome mismatched;
  mismatched.order_no = "INV1";
  mismatched.change = Paid("OTHER");
  EXPECT_TRUE(absl::IsInvalidArgument(repo().RecordOutcome(mismatched).status()));
  EXPECT_EQ(Order("INV1").state, State::kNotPay);
  EXPECT_EQ(Balance(user), 0);
}

TEST_P(RechargeRepositoryContract, CreditForAMissingUserFailsAndChangesNothing) {
  NewOrder("NOUSER1", 424242, 10);
  absl::StatusOr<domain::ApplyResult> r = repo().ApplyStateChange(Paid("NOUSER1"));
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  const domain::RechargeOrder stored = Order("NOUSER1");
  EXPECT_EQ(stored.state, State::kNotPay);
  EXPECT_FALSE(stored.credited);
  EXPECT_EQ(Rows("NOUSER1").order_log, 0);
}

TEST_P(RechargeRepositoryContract, LedgerRowWithoutTheCreditedFlagRefusesASecondCredit) {
  const int64_t user = NewUser("o-ledger", 100);
  NewOrder("LEDGER1", user, 10);
  ASSERT_TRUE(repo().ApplyStateChange(Paid("LEDGER1")).ok());
  ASSERT_TRUE(store_->SetCredited("LEDGER1", false).ok());  // the flag lost, the ledger kept

  domain::StateChange c = Paid("LEDGER1");
  c.from = State::kSuccess;
  absl::StatusOr<domain::ApplyResult> r = repo().ApplyStateChange(c);
  EXPECT_TRUE(absl::IsAlreadyExists(r.status())) << r.status();
  EXPECT_EQ(Balance(user), 110);
  EXPECT_EQ(Rows("LEDGER1").ledger, 1);
  EXPECT_FALSE(Order("LEDGER1").credited);
}

TEST_P(RechargeRepositoryContract, ChangeKeepsDetailsItDoesNotReport) {
  const int64_t user = NewUser("o-details", 0);
  NewOrder("DET1", user, 10);
  ASSERT_TRUE(repo().ApplyStateChange(Paid("DET1")).ok());

  domain::StateChange refund;
  refund.order_no = "DET1";
  refund.to = State::kRefund;
  refund.reason = "provider says REFUND (contract)";
  refund.from = State::kSuccess;
  absl::StatusOr<domain::ApplyResult> r = repo().ApplyStateChange(refund);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->state_changed);
  EXPECT_FALSE(r->credited_now);
  const domain::RechargeOrder stored = Order("DET1");
  EXPECT_EQ(stored.state, State::kRefund);
  EXPECT_EQ(stored.trade_state, "SUCCESS") << "no trade_state reported: ours is kept";
  EXPECT_EQ(stored.transaction_id, "4200-DET1");
  EXPECT_EQ(stored.paid_at, T(absl::Minutes(1)));
  EXPECT_TRUE(stored.credited) << "a refund does not take the credit back";
  EXPECT_EQ(Rows("DET1").order_log, 2);
}

TEST_P(RechargeRepositoryContract, OutcomeSchedulesAPendingOrderAndAFinalOneLeavesTheSchedule) {
  const int64_t user = NewUser("o-next", 0);
  NewOrder("NEXT1", user, 10);
  domain::QueryOutcome pending;
  pending.order_no = "NEXT1";
  pending.expect_state = State::kNotPay;
  pending.next_check_at = T(absl::Minutes(10));
  absl::StatusOr<domain::ApplyResult> r = repo().RecordOutcome(pending);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->order.next_check_at, T(absl::Minutes(10)));
  EXPECT_EQ(Order("NEXT1").next_check_at, T(absl::Minutes(10)));

  // Without a new time the schedule stays.
  domain::QueryOutcome quiet;
  quiet.order_no = "NEXT1";
  quiet.queried_at = T(absl::Minutes(1));
  ASSERT_TRUE(repo().RecordOutcome(quiet).ok());
  EXPECT_EQ(Order("NEXT1").next_check_at, T(absl::Minutes(10)));

  domain::QueryOutcome closed;
  closed.order_no = "NEXT1";
  closed.change = Paid("NEXT1");
  closed.change->to = State::kClosed;
  closed.change->trade_state = "CLOSED";
  closed.change->credit = false;
  closed.next_check_at = T(absl::Minutes(20));  // ignored: a final order is not checked
  r = repo().RecordOutcome(closed);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->order.next_check_at.has_value());
  EXPECT_FALSE(Order("NEXT1").next_check_at.has_value());
}

// ----- the reconciler's schedule

TEST_P(RechargeRepositoryContract, ScheduleNewOrdersGivesPendingUnscheduledOrdersAFirstCheck) {
  const int64_t user = NewUser("o-schedule", 0);
  NewOrder("S-NOTPAY", user, 1, State::kNotPay, absl::Minutes(0));
  NewOrder("S-PAYING", user, 1, State::kUserPaying, absl::Minutes(1));
  NewOrder("S-PAID", user, 1, State::kSuccess, absl::Minutes(2));
  domain::RechargeOrder scheduled = NewOrder("S-SCHEDULED", user, 1);
  domain::QueryOutcome keep;
  keep.order_no = "S-SCHEDULED";
  keep.next_check_at = T(absl::Hours(5));
  ASSERT_TRUE(repo().RecordOutcome(keep).ok());

  absl::StatusOr<int> n = schedule().ScheduleNewOrders(absl::Seconds(90), 100);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(Order("S-NOTPAY").next_check_at, T(absl::Seconds(90)));
  EXPECT_EQ(Order("S-PAYING").next_check_at, T(absl::Minutes(1) + absl::Seconds(90)));
  EXPECT_FALSE(Order("S-PAID").next_check_at.has_value());
  EXPECT_EQ(Order("S-SCHEDULED").next_check_at, T(absl::Hours(5)));
  n = schedule().ScheduleNewOrders(absl::Seconds(90), 100);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
}

TEST_P(RechargeRepositoryContract, ScheduleNewOrdersStopsAtTheLimit) {
  const int64_t user = NewUser("o-limit", 0);
  for (int i = 0; i < 5; ++i) NewOrder(absl::StrCat("L", i), user, 1);
  absl::StatusOr<int> n = schedule().ScheduleNewOrders(absl::Seconds(1), 3);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 3);
  n = schedule().ScheduleNewOrders(absl::Seconds(1), 3);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
}

TEST_P(RechargeRepositoryContract, ClaimTakesDueOrdersOldestFirstAndLeasesThem) {
  const int64_t user = NewUser("o-claim", 0);
  // Due at +1m, +2m, +3m (created then, first check after zero delay); one not due; one final.
  NewOrder("C3", user, 1, State::kNotPay, absl::Minutes(3));
  NewOrder("C1", user, 1, State::kUserPaying, absl::Minutes(1));
  NewOrder("C2", user, 1, State::kNotPay, absl::Minutes(2));
  NewOrder("C-LATER", user, 1, State::kNotPay, absl::Hours(1));
  NewOrder("C-FINAL", user, 1, State::kClosed, absl::Minutes(0));
  ASSERT_TRUE(schedule().ScheduleNewOrders(absl::ZeroDuration(), 100).ok());

  const absl::Time now = T(absl::Minutes(10));
  absl::StatusOr<std::vector<domain::RechargeOrder>> claimed =
      schedule().ClaimDueOrders(now, absl::Minutes(5), 2);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ((*claimed)[0].order_no, "C1");
  EXPECT_EQ((*claimed)[1].order_no, "C2");
  for (const domain::RechargeOrder& o : *claimed) {
    EXPECT_EQ(o.next_check_at, now + absl::Minutes(5)) << o.order_no;
    EXPECT_EQ(o.check_attempts, 1) << o.order_no;
    EXPECT_EQ(Order(o.order_no).next_check_at, now + absl::Minutes(5)) << o.order_no;
    EXPECT_EQ(Order(o.order_no).check_attempts, 1) << o.order_no;
  }

  // Leased: the next claim at the same time takes only what is left.
  claimed = schedule().ClaimDueOrders(now, absl::Minutes(5), 10);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].order_no, "C3");
  claimed = schedule().ClaimDueOrders(now, absl::Minutes(5), 10);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_TRUE(claimed->empty());

  // The lease lapses (the claimant died): due again, a second attempt.
  claimed = schedule().ClaimDueOrders(now + absl::Minutes(5), absl::Minutes(5), 10);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  std::vector<std::string> names;
  for (const domain::RechargeOrder& o : *claimed) {
    names.push_back(o.order_no);
    EXPECT_EQ(o.check_attempts, 2) << o.order_no;
  }
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("C1", "C2", "C3"));
  EXPECT_EQ(Order("C-LATER").check_attempts, 0);
  EXPECT_EQ(Order("C-FINAL").check_attempts, 0);
}

TEST_P(RechargeRepositoryContract, ScheduleStatsCountOverdueUnscheduledAndPendingByAge) {
  const int64_t user = NewUser("o-stats", 0);
  const absl::Time now = T(absl::Hours(3));
  // Ages at `now`: 2h55m, 1h30m, 30m, 5m; one paid order that no figure counts.
  NewOrder("A-OLD", user, 1, State::kNotPay, absl::Minutes(5));
  NewOrder("A-90M", user, 1, State::kUserPaying, absl::Minutes(90));
  NewOrder("A-30M", user, 1, State::kNotPay, absl::Minutes(150));
  NewOrder("A-NEW", user, 1, State::kNotPay, absl::Minutes(175));
  NewOrder("A-PAID", user, 1, State::kSuccess, absl::Minutes(175));
  auto schedule_at = [&](const char* order_no, absl::Time at) {
    domain::QueryOutcome o;
    o.order_no = order_no;
    o.next_check_at = at;
    ASSERT_TRUE(repo().RecordOutcome(o).ok());
  };
  schedule_at("A-OLD", now - absl::Minutes(20));  // overdue, the oldest
  schedule_at("A-90M", now - absl::Minutes(1));   // overdue
  schedule_at("A-30M", now + absl::Minutes(1));   // not due yet
  // A-NEW stays unscheduled.

  absl::StatusOr<domain::ScheduleStats> stats = schedule().GetScheduleStats(now);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->overdue, 2);
  EXPECT_EQ(stats->oldest_due, now - absl::Minutes(20));
  EXPECT_EQ(stats->unscheduled, 1);
  std::vector<std::tuple<std::string, std::string, int64_t>> buckets;
  for (const auto& b : stats->pending) buckets.emplace_back(b.state, b.age, b.count);
  EXPECT_THAT(buckets, ::testing::UnorderedElementsAre(std::make_tuple("NOTPAY", "ge_2h", 1),
                                                       std::make_tuple("USERPAYING", "lt_2h", 1),
                                                       std::make_tuple("NOTPAY", "lt_1h", 1),
                                                       std::make_tuple("NOTPAY", "lt_10m", 1)));
}

TEST_P(RechargeRepositoryContract, ScheduleStatsOfAnEmptyScheduleAreZero) {
  absl::StatusOr<domain::ScheduleStats> stats = schedule().GetScheduleStats(T());
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->overdue, 0);
  EXPECT_FALSE(stats->oldest_due.has_value());
  EXPECT_EQ(stats->unscheduled, 0);
  EXPECT_TRUE(stats->pending.empty());
}

}  // namespace orderquery::contract

#endif  // ORDERQUERY_TESTS_CONTRACT_RECHARGE_REPOSITORY_CONTRACT_H_
