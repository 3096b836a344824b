// RechargeQuery against an in-memory repository and a controllable upstream (unit level; the
// real MariaDB and the sandbox are exercised by the integration and e2e suites).
#include "server/usecase/recharge_query.h"

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <vector>

#include "gtest/gtest.h"

namespace orderquery::usecase {
namespace {

using domain::RechargeOrder;
using domain::RechargeState;
using domain::ResultCode;

class FakeRepo : public domain::RechargeRepository {
 public:
  absl::StatusOr<domain::Session> ResolveToken(absl::string_view token, absl::Time now) override {
    std::lock_guard<std::mutex> l(mu);
    ++calls;
    auto it = sessions.find(std::string(token));
    if (it == sessions.end() || it->second.expires_at <= now)
      return absl::UnauthenticatedError("unknown or expired token");
    return it->second;
  }
  absl::StatusOr<RechargeOrder> GetOrder(absl::string_view no) override {
    std::lock_guard<std::mutex> l(mu);
    ++calls;
    auto it = orders.find(std::string(no));
    if (it == orders.end()) return absl::NotFoundError("no order");
    return it->second;
  }
  absl::StatusOr<int64_t> GetBalance(int64_t user) override {
    std::lock_guard<std::mutex> l(mu);
    return balances[user];
  }
  absl::Status AppendQueryLog(const domain::QueryLogEntry& e) override {
    std::lock_guard<std::mutex> l(mu);
    query_log.push_back(e);
    return absl::OkStatus();
  }
  absl::Status TouchLastQueried(absl::string_view no, absl::Time at) override {
    std::lock_guard<std::mutex> l(mu);
    orders[std::string(no)].last_queried_at = at;
    return absl::OkStatus();
  }
  absl::StatusOr<domain::ApplyResult> ApplyStateChange(const domain::StateChange& c) override {
    std::lock_guard<std::mutex> l(mu);
    auto& o = orders[c.order_no];
    domain::ApplyResult r;
    if (o.state != c.to) {
      o.state = c.to;
      r.state_changed = true;
    }
    if (c.credit && !o.credited) {
      o.credited = true;
      balances[o.user_id] += o.amount_fen;
      r.credited_now = true;
      ++credits;
    }
    r.order = o;
    r.balance_fen = balances[o.user_id];
    return r;
  }
  // The same contract as the MySQL repository, in memory: compare-and-set on the row as read,
  // then the query log, the change, the refresh interval, all or nothing.
  absl::StatusOr<domain::ApplyResult> RecordOutcome(const domain::QueryOutcome& out) override {
    std::lock_guard<std::mutex> l(mu);
    auto it = orders.find(out.order_no);
    if (it == orders.end()) return absl::NotFoundError("no order");
    RechargeOrder& o = it->second;
    domain::ApplyResult r;
    if ((out.expect_state && o.state != *out.expect_state) ||
        (out.expect_credited && o.credited != *out.expect_credited) ||
        (out.change && out.change->from && o.state != *out.change->from)) {
      r.conflict = true;
      r.order = o;
      return r;
    }
    if (out.query_log) query_log.push_back(*out.query_log);
    if (out.change) {
      if (o.state != out.change->to) {
        o.state = out.change->to;
        r.state_changed = true;
      }
      if (out.change->credit && !o.credited) {
        o.credited = true;
        balances[o.user_id] += o.amount_fen;
        r.credited_now = true;
        ++credits;
      }
    }
    if (out.queried_at) o.last_queried_at = *out.queried_at;
    r.order = o;
    r.balance_fen = balances[o.user_id];
    return r;
  }

  std::mutex mu;
  int calls = 0;
  int credits = 0;
  std::map<std::string, domain::Session> sessions;
  std::map<std::string, RechargeOrder> orders;
  std::map<int64_t, int64_t> balances;
  std::vector<domain::QueryLogEntry> query_log;
};

// Holds upstream callbacks until the test releases them, and counts queries.
class FakeUpstream : public TransactionQuerier {
 public:
  void Query(const RechargeOrder& order, absl::Time,
             std::function<void(absl::StatusOr<domain::UpstreamTransaction>)> done) override {
    std::lock_guard<std::mutex> l(mu);
    ++queries;
    pending.push_back({order, std::move(done)});
  }
  std::string ErrorCode(const absl::Status& s) const override {
    return absl::IsResourceExhausted(s) ? "RATELIMIT_EXCEEDED" : "";
  }
  void ReleaseAll(const absl::StatusOr<std::string>& state, int64_t total = 1000) {
    std::vector<
        std::pair<RechargeOrder, std::function<void(absl::StatusOr<domain::UpstreamTransaction>)>>>
        p;
    {
      std::lock_guard<std::mutex> l(mu);
      p.swap(pending);
    }
    for (auto& [order, done] : p) {
      if (!state.ok()) {
        done(state.status());
        continue;
      }
      domain::UpstreamTransaction t;
      t.out_trade_no = order.order_no;
      t.trade_state = *state;
      t.appid = order.appid;
      t.mchid = order.mchid;
      t.total_fen = total;
      t.payer_total_fen = total;
      t.currency = "CNY";
      t.transaction_id = "4200000000000001";
      done(t);
    }
  }
  size_t Pending() {
    std::lock_guard<std::mutex> l(mu);
    return pending.size();
  }
  std::mutex mu;
  std::atomic<int> queries{0};
  std::vector<
      std::pair<RechargeOrder, std::function<void(absl::StatusOr<domain::UpstreamTransaction>)>>>
      pending;
};

class RechargeQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_.sessions["tok-alice"] = {1, "wxapp", absl::Now() + absl::Hours(1)};
    repo_.sessions["tok-bob"] = {2, "wxapp", absl::Now() + absl::Hours(1)};
    repo_.sessions["tok-old"] = {1, "wxapp", absl::Now() - absl::Seconds(1)};
    repo_.balances[1] = 500;
    repo_.balances[2] = 0;
    RechargeOrder o;
    o.order_no = "R1";
    o.user_id = 1;
    o.appid = "wxapp";
    o.mchid = "1230000109";
    o.amount_fen = 1000;
    o.state = RechargeState::kNotPay;
    repo_.orders["R1"] = o;
  }

  absl::StatusOr<RechargeQueryResult> Call(const std::string& token, const std::string& no,
                                           bool force = false) {
    std::promise<absl::StatusOr<RechargeQueryResult>> p;
    auto f = p.get_future();
    query_.Run({"wxapp", token, no, force, absl::InfiniteFuture()},
               [&p](absl::StatusOr<RechargeQueryResult> r) { p.set_value(std::move(r)); });
    return f.get();
  }
  // Starts a call whose upstream reply the test releases later.
  std::future<absl::StatusOr<RechargeQueryResult>> Start(const std::string& no,
                                                         bool force = false) {
    auto p = std::make_shared<std::promise<absl::StatusOr<RechargeQueryResult>>>();
    auto f = p->get_future();
    query_.Run({"wxapp", "tok-alice", no, force, absl::InfiniteFuture()},
               [p](absl::StatusOr<RechargeQueryResult> r) { p->set_value(std::move(r)); });
    return f;
  }
  void WaitPending(size_t n) {
    for (int i = 0; i < 500 && upstream_.Pending() < n; ++i) absl::SleepFor(absl::Milliseconds(2));
  }

  FakeRepo repo_;
  FakeUpstream upstream_;
  BlockingExecutor executor_{4, 1000};
  RechargeQuery query_{&repo_, &upstream_, &executor_, absl::Seconds(2)};
};

TEST_F(RechargeQueryTest, MalformedOrderNumberIsRejectedBeforeAnyIo) {
  for (const std::string& bad :
       std::vector<std::string>{"", std::string(33, '1'), "'; DROP TABLE t_user; --", "订单"}) {
    auto r = Call("tok-alice", bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(repo_.calls, 0);
  EXPECT_TRUE(repo_.query_log.empty());
}

TEST_F(RechargeQueryTest, TokenProblemsAreUnauthenticated) {
  EXPECT_EQ(Call("nope", "R1").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Call("tok-old", "R1").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Call("", "R1").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(upstream_.queries.load(), 0);
}

TEST_F(RechargeQueryTest, AnotherUsersOrderLooksMissing) {
  auto r = Call("tok-bob", "R1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, ResultCode::kOrderNotExist);
  EXPECT_FALSE(r->order.has_value());
  EXPECT_EQ(r->balance_fen, 0);
  EXPECT_EQ(upstream_.queries.load(), 0);
  auto missing = Call("tok-alice", "NOSUCH");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->code, ResultCode::kOrderNotExist);
}

TEST_F(RechargeQueryTest, PaidOrderIsCreditedOnceThenServedFromDatabase) {
  auto f = Start("R1");
  WaitPending(1);
  upstream_.ReleaseAll(std::string("SUCCESS"));
  auto r = f.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, ResultCode::kSuccess);
  EXPECT_EQ(r->balance_fen, 1500);
  EXPECT_EQ(repo_.credits, 1);
  ASSERT_EQ(repo_.query_log.size(), 1u);
  EXPECT_EQ(repo_.query_log[0].trade_state, "SUCCESS");
  // Final now: answered from the database without asking upstream.
  auto again = Call("tok-alice", "R1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->code, ResultCode::kSuccess);
  EXPECT_FALSE(again->asked_upstream);
  EXPECT_EQ(upstream_.queries.load(), 1);
  EXPECT_EQ(repo_.credits, 1);
}

TEST_F(RechargeQueryTest, ConcurrentCallsShareOneUpstreamQuery) {
  std::vector<std::future<absl::StatusOr<RechargeQueryResult>>> calls;
  for (int i = 0; i < 50; ++i) calls.push_back(Start("R1"));
  WaitPending(1);
  absl::SleepFor(absl::Milliseconds(50));  // let the other 49 join
  upstream_.ReleaseAll(std::string("NOTPAY"));
  for (auto& c : calls) {
    auto r = c.get();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->code, ResultCode::kNotPay);
  }
  EXPECT_EQ(upstream_.queries.load(), 1);
  EXPECT_EQ(repo_.query_log.size(), 1u);
}

TEST_F(RechargeQueryTest, PendingOrderAskedAtMostOncePerIntervalUnlessForced) {
  auto f = Start("R1");
  WaitPending(1);
  upstream_.ReleaseAll(std::string("USERPAYING"));
  ASSERT_EQ(f.get()->code, ResultCode::kUserPaying);
  auto again = Call("tok-alice", "R1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->code, ResultCode::kUserPaying);
  EXPECT_FALSE(again->asked_upstream);
  EXPECT_EQ(upstream_.queries.load(), 1);
  auto forced = Start("R1", /*force=*/true);
  WaitPending(1);
  upstream_.ReleaseAll(std::string("SUCCESS"));
  EXPECT_EQ(forced.get()->code, ResultCode::kSuccess);
  EXPECT_EQ(upstream_.queries.load(), 2);
}

TEST_F(RechargeQueryTest, UpstreamFailureIsAStatusAndIsLoggedButChangesNothing) {
  auto f = Start("R1");
  WaitPending(1);
  upstream_.ReleaseAll(absl::ResourceExhaustedError("429 after 3 attempts"));
  auto r = f.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_EQ(repo_.query_log.size(), 1u);
  EXPECT_EQ(repo_.query_log[0].error_code, "RATELIMIT_EXCEEDED");
  EXPECT_EQ(repo_.orders["R1"].state, RechargeState::kNotPay);
  EXPECT_FALSE(repo_.orders["R1"].last_queried_at.has_value())
      << "a failure must not delay the next ask";
  EXPECT_EQ(repo_.credits, 0);
}

TEST_F(RechargeQueryTest, UnknownAtWechatAnswers2047AndKeepsState) {
  auto f = Start("R1");
  WaitPending(1);
  upstream_.ReleaseAll(absl::NotFoundError("ORDER_NOT_EXIST"));
  auto r = f.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, ResultCode::kOrderNotExist);
  EXPECT_EQ(repo_.orders["R1"].state, RechargeState::kNotPay);
}

TEST_F(RechargeQueryTest, AmountMismatchCreditsNothingAndAnswers2048) {
  auto f = Start("R1");
  WaitPending(1);
  upstream_.ReleaseAll(std::string("SUCCESS"), /*total=*/999);
  auto r = f.get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, ResultCode::kUnknown);
  EXPECT_EQ(repo_.credits, 0);
  EXPECT_EQ(repo_.balances[1], 500);
  EXPECT_EQ(repo_.orders["R1"].state, RechargeState::kNotPay);
}

}  // namespace
}  // namespace orderquery::usecase
