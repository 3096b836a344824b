// ApplyStateChange: state-change logging and crediting a balance exactly once under
// concurrency (many threads, two pools standing in for two processes).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/domain/recharge.h"
#include "storage/recharge_repository.h"
#include "tests/integration/storage/recharge_storage_test.h"
#include "tests/integration/storage/storage_test_util.h"
#include "tests/support/storage_admin.h"

namespace orderquery::storage {
namespace {

using domain::RechargeState;
using ::testing::HasSubstr;

class ExactlyOnceTest : public storage_test::RechargeStorageTest {
 protected:
  static domain::StateChange Paid(const std::string& order_no) {
    domain::StateChange c;
    c.order_no = order_no;
    c.to = RechargeState::kSuccess;
    c.trade_state = "SUCCESS";
    c.transaction_id = absl::StrCat("wx-", order_no);
    c.paid_at = absl::FromCivil(absl::CivilSecond(2024, 5, 1, 8, 0, 0), absl::UTCTimeZone());
    c.reason = "wechat trade_state=SUCCESS";
    c.credit = true;
    return c;
  }
};

TEST_F(ExactlyOnceTest, StateChangeWritesOneLogRowWithFromAndTo) {
  MysqlRechargeRepository repo(pool());
  int64_t user = NewUser("u-log", 500);
  NewOrder("L1", user, 100);

  domain::StateChange paying;
  paying.order_no = "L1";
  paying.to = RechargeState::kUserPaying;
  paying.trade_state = "USERPAYING";
  paying.reason = "wechat says the user is paying";
  absl::StatusOr<domain::ApplyResult> r = repo.ApplyStateChange(paying);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->state_changed);
  EXPECT_FALSE(r->credited_now);
  EXPECT_EQ(r->order.state, RechargeState::kUserPaying);
  EXPECT_EQ(r->order.trade_state, "USERPAYING");
  EXPECT_EQ(r->balance_fen, 500);

  std::vector<admin::OrderLogRow> log = OQ_UNWRAP(admin::ListRechargeOrderLog(pool(), "L1"));
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].from_status, "NOTPAY");
  EXPECT_EQ(log[0].to_status, "USERPAYING");
  EXPECT_EQ(log[0].reason, "wechat says the user is paying");
  EXPECT_LT(absl::Now() - log[0].created_at, absl::Minutes(5));

  // The same state again changes nothing and logs nothing.
  r = repo.ApplyStateChange(paying);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->state_changed);
  EXPECT_EQ(Counts("L1").recharge_order_log, 1);
  EXPECT_EQ(Counts("L1").user_amount_log, 0);
  EXPECT_EQ(OQ_UNWRAP(repo.GetBalance(user)), 500);
}

TEST_F(ExactlyOnceTest, CreditingAddsTheOrderAmountOnceWithALedgerRow) {
  MysqlRechargeRepository repo(pool());
  int64_t user = NewUser("u-credit", 1000);
  NewOrder("C1", user, 2500);

  absl::StatusOr<domain::ApplyResult> r = repo.ApplyStateChange(Paid("C1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->state_changed);
  EXPECT_TRUE(r->credited_now);
  EXPECT_EQ(r->balance_fen, 3500);
  EXPECT_TRUE(r->order.credited);
  EXPECT_EQ(r->order.state, RechargeState::kSuccess);
  EXPECT_EQ(r->order.transaction_id, "wx-C1");
  EXPECT_EQ(r->order.paid_at, Paid("C1").paid_at);

  std::vector<admin::AmountLogRow> ledger = OQ_UNWRAP(admin::ListAmountLogByOrder(pool(), "C1"));
  ASSERT_EQ(ledger.size(), 1u);
  EXPECT_EQ(ledger[0].user_id, user);
  EXPECT_EQ(ledger[0].entry_type, "RECHARGE");
  EXPECT_EQ(ledger[0].amount_before, 1000);
  EXPECT_EQ(ledger[0].delta, 2500);
  EXPECT_EQ(ledger[0].amount_after, 3500);

  // Asking again (a retried query, a duplicate notification) credits nothing more.
  r = repo.ApplyStateChange(Paid("C1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->state_changed);
  EXPECT_FALSE(r->credited_now);
  EXPECT_EQ(r->balance_fen, 3500);
  EXPECT_EQ(OQ_UNWRAP(repo.GetBalance(user)), 3500);
  EXPECT_EQ(Counts("C1").user_amount_log, 1);
  EXPECT_EQ(Counts("C1").recharge_order_log, 1);
}

TEST_F(ExactlyOnceTest, ManyConcurrentCallersOnOneOrderCreditOnce) {
  constexpr int kThreads = 32;
  const int64_t kStart = 777;
  const int64_t kAmount = 12345;
  int64_t user = NewUser("u-race", kStart);
  NewOrder("RACE1", user, kAmount);

  // Two pools: two "processes" racing, each with fewer connections than threads.
  absl::StatusOr<std::unique_ptr<ConnectionPool>> other = db_->NewPool(8, absl::Seconds(30));
  ASSERT_TRUE(other.ok()) << other.status();
  MysqlRechargeRepository repo_a(pool());
  MysqlRechargeRepository repo_b(**other);

  std::vector<absl::StatusOr<domain::ApplyResult>> results(kThreads, absl::UnknownError("not run"));
  storage_test::StartLine start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.ArriveAndWait();
      results[i] = (i % 2 == 0 ? repo_a : repo_b).ApplyStateChange(Paid("RACE1"));
    });
  }
  for (std::thread& t : threads) t.join();

  int credited_now = 0, state_changed = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    credited_now += r->credited_now ? 1 : 0;
    state_changed += r->state_changed ? 1 : 0;
    EXPECT_TRUE(r->order.credited);
    EXPECT_EQ(r->balance_fen, kStart + kAmount);
  }
  EXPECT_EQ(credited_now, 1);
  EXPECT_EQ(state_changed, 1);
  EXPECT_EQ(OQ_UNWRAP(repo_a.GetBalance(user)), kStart + kAmount);
  std::vector<admin::AmountLogRow> ledger = OQ_UNWRAP(admin::ListAmountLogByOrder(pool(), "RACE1"));
  ASSERT_EQ(ledger.size(), 1u);
  EXPECT_EQ(ledger[0].amount_before, kStart);
  EXPECT_EQ(ledger[0].delta, kAmount);
  EXPECT_EQ(ledger[0].amount_after, kStart + kAmount);
  EXPECT_EQ(Counts("RACE1").recharge_order_log, 1);
}

TEST_F(ExactlyOnceTest, BatchOfOrdersCreditedConcurrentlyEachOnce) {
  constexpr int kUsers = 4;
  constexpr int kOrdersPerUser = 10;
  constexpr int kThreads = 16;
  std::vector<int64_t> users;
  std::map<int64_t, int64_t> expected;  // user -> final balance
  std::vector<std::string> orders;
  for (int u = 0; u < kUsers; ++u) {
    int64_t start = 1000 * (u + 1);
    int64_t id = NewUser(absl::StrCat("batch-", u), start);
    users.push_back(id);
    expected[id] = start;
    for (int k = 0; k < kOrdersPerUser; ++k) {
      std::string no = absl::StrCat("B", u, "-", k);
      int64_t amount = 100 + 7 * k + u;
      NewOrder(no, id, amount);
      expected[id] += amount;
      orders.push_back(no);
    }
  }
  absl::StatusOr<std::unique_ptr<ConnectionPool>> other = db_->NewPool(6, absl::Seconds(30));
  ASSERT_TRUE(other.ok()) << other.status();
  MysqlRechargeRepository repo_a(pool());
  MysqlRechargeRepository repo_b(**other);

  // Every thread applies every order, each in its own shuffled order.
  std::atomic<int> credited_now{0};
  std::vector<absl::Status> failures(kThreads);
  storage_test::StartLine start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::string> mine = orders;
      std::shuffle(mine.begin(), mine.end(), std::mt19937(t));
      start.ArriveAndWait();
      for (const std::string& no : mine) {
        absl::StatusOr<domain::ApplyResult> r =
            (t % 2 == 0 ? repo_a : repo_b).ApplyStateChange(Paid(no));
        if (!r.ok()) {
          failures[t] = r.status();
          continue;
        }
        if (r->credited_now) credited_now.fetch_add(1);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (const absl::Status& st : failures) EXPECT_TRUE(st.ok()) << st;

  EXPECT_EQ(credited_now.load(), kUsers * kOrdersPerUser);
  for (const std::string& no : orders) {
    SCOPED_TRACE(no);
    EXPECT_EQ(Counts(no).user_amount_log, 1);
    EXPECT_EQ(Counts(no).recharge_order_log, 1);
  }
  for (int64_t id : users) {
    SCOPED_TRACE(absl::StrCat("user ", id));
    EXPECT_EQ(OQ_UNWRAP(repo_a.GetBalance(id)), expected[id]);
    // The ledger is a gapless chain: each row starts where the previous one ended.
    std::vector<admin::AmountLogRow> ledger = OQ_UNWRAP(admin::ListAmountLogByUser(pool(), id));
    ASSERT_EQ(ledger.size(), static_cast<size_t>(kOrdersPerUser));
    for (size_t i = 1; i < ledger.size(); ++i) {
      EXPECT_EQ(ledger[i].amount_before, ledger[i - 1].amount_after);
    }
    EXPECT_EQ(ledger.back().amount_after, expected[id]);
  }
}

TEST_F(ExactlyOnceTest, DuplicateLedgerRowRollsEverythingBack) {
  MysqlRechargeRepository repo(pool());
  int64_t user = NewUser("u-dup", 0);
  NewOrder("D1", user, 300);
  ASSERT_TRUE(repo.ApplyStateChange(Paid("D1")).ok());
  // Build the inconsistent state: order moved on to CLOSED and its flag cleared by hand,
  // while the ledger still has its RECHARGE row.
  domain::StateChange closed;
  closed.order_no = "D1";
  closed.to = RechargeState::kClosed;
  closed.reason = "test";
  ASSERT_TRUE(repo.ApplyStateChange(closed).ok());
  OQ_ASSERT_OK(admin::SetOrderCredited(pool(), "D1", false));
  const admin::LogCounts before = Counts("D1");

  absl::StatusOr<domain::ApplyResult> r = repo.ApplyStateChange(Paid("D1"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("D1"));

  // Nothing of the attempt survived: not the status change, its log row, the flag or money.
  domain::RechargeOrder o = OQ_UNWRAP(repo.GetOrder("D1"));
  EXPECT_EQ(o.state, RechargeState::kClosed);
  EXPECT_FALSE(o.credited);
  EXPECT_EQ(OQ_UNWRAP(repo.GetBalance(user)), 300);
  EXPECT_EQ(Counts("D1").recharge_order_log, before.recharge_order_log);
  EXPECT_EQ(Counts("D1").user_amount_log, 1);
}

TEST_F(ExactlyOnceTest, CreditIsOnlyForSuccess) {
  MysqlRechargeRepository repo(pool());
  int64_t user = NewUser("u-only", 10);
  NewOrder("S1", user, 90);
  domain::StateChange c = Paid("S1");
  c.to = RechargeState::kRefund;
  EXPECT_EQ(repo.ApplyStateChange(c).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OQ_UNWRAP(repo.GetOrder("S1")).state, RechargeState::kNotPay);
  EXPECT_EQ(Counts("S1").recharge_order_log, 0);
  EXPECT_EQ(OQ_UNWRAP(repo.GetBalance(user)), 10);

  // SUCCESS without credit (a check failed upstream of storage): state changes, money does not.
  c = Paid("S1");
  c.credit = false;
  absl::StatusOr<domain::ApplyResult> r = repo.ApplyStateChange(c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->state_changed);
  EXPECT_FALSE(r->credited_now);
  EXPECT_FALSE(r->order.credited);
  EXPECT_EQ(r->balance_fen, 10);
  EXPECT_EQ(Counts("S1").user_amount_log, 0);
}

TEST_F(ExactlyOnceTest, UnknownOrderAndMissingUser) {
  MysqlRechargeRepository repo(pool());
  EXPECT_EQ(repo.ApplyStateChange(Paid("NOPE")).status().code(), absl::StatusCode::kNotFound);

  NewOrder("ORPHAN", 987654321, 50);
  absl::StatusOr<domain::ApplyResult> r = repo.ApplyStateChange(Paid("ORPHAN"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  domain::RechargeOrder o = OQ_UNWRAP(repo.GetOrder("ORPHAN"));
  EXPECT_EQ(o.state, RechargeState::kNotPay);  // rolled back with the failed credit
  EXPECT_FALSE(o.credited);
  EXPECT_EQ(Counts("ORPHAN").recharge_order_log, 0);
}

}  // namespace
}  // namespace orderquery::storage
