// RechargeQuery against an in-memory repository and a controllable upstream (unit level; the
// real MariaDB and the sandbox are exercised by the integration and e2e suites).
#include "server/usecase/recharge_query.h"

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <vector>

#include "gtest/gtest.h"
#include "server/usecase/ttl_cache.h"
#include "tests/fakes/repositories.h"
#include "tests/unit/usecase/fake_timer.h"

namespace orderquery::usecase {
namespace {

using domain::RechargeOrder;
using domain::RechargeState;
using domain::ResultCode;

// The shared in-memory repository (tests/fakes), held to MySQL's contract by tests/contract.
using FakeRepo = fakes::InMemoryRechargeRepository;

// Holds upstream callbacks until the test releases them, and counts queries.
class FakeUpstream : public OrderStatusProvider {
 public:
  void Query(const RechargeOrder& order, absl::Time deadline,
             std::function<void(absl::StatusOr<domain::UpstreamTransaction>)> done) override {
    std::lock_guard<std::mutex> l(mu);
    ++queries;
    deadlines.push_back(deadline);
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
      t.provider = "wechat";
      t.provider_state = *state;
      if (RechargeState known; domain::ParseRechargeState(*state, &known)) t.state = known;
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
  std::vector<absl::Time> deadlines;
  std::vector<
      std::pair<RechargeOrder, std::function<void(absl::StatusOr<domain::UpstreamTransaction>)>>>
      pending;
};

class RechargeQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_.sessions["tok-alice"] = {1, "wxapp", now_ + absl::Hours(1)};
    repo_.sessions["tok-bob"] = {2, "wxapp", now_ + absl::Hours(1)};
    repo_.sessions["tok-old"] = {1, "wxapp", now_ - absl::Seconds(1)};
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
  // Bounded only against a hang (a busy machine may take long to get there).
  void WaitPending(size_t n) {
    for (int i = 0; i < 15000 && upstream_.Pending() < n; ++i) {
      absl::SleepFor(absl::Milliseconds(2));
    }
  }

  FakeRepo repo_;
  FakeUpstream upstream_;
  BlockingExecutor executor_{4, 1000};
  // The clock stands still unless a test moves it: "within the refresh interval" cannot be
  // outlasted by a slow machine.
  absl::Time now_ = absl::Now();
  RechargeQuery query_{&repo_, &upstream_, &executor_, absl::Seconds(2), [this] { return now_; }};
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
  // The other 49 join the query under way (bounded only against a hang).
  for (int i = 0; i < 15000 && query_.coalesced_joins() < 49; ++i) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  ASSERT_EQ(query_.coalesced_joins(), 49);
  upstream_.ReleaseAll(std::string("NOTPAY"));
  for (auto& c : calls) {
    auto r = c.get();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->code, ResultCode::kNotPay);
  }
  EXPECT_EQ(upstream_.queries.load(), 1);
  EXPECT_EQ(repo_.query_log.size(), 1u);
}

// Issue 15, finding 6: a follower with a longer deadline is not failed by the leader's, and the
// upstream query is bounded by config, not by whoever started it.
TEST_F(RechargeQueryTest, CoalescedCallersKeepTheirOwnDeadlines) {
  FakeDeadlineTimer timer;
  RechargeQuery q{&repo_, &upstream_, &executor_, absl::Seconds(2), [this] { return now_; },
                  &timer};
  q.SetUpstreamBudget(absl::Seconds(40));
  auto leader = std::make_shared<std::promise<absl::StatusOr<RechargeQueryResult>>>();
  auto follower = std::make_shared<std::promise<absl::StatusOr<RechargeQueryResult>>>();
  q.Run({"wxapp", "tok-alice", "R1", false, now_ + absl::Seconds(1)},
        [leader](absl::StatusOr<RechargeQueryResult> r) { leader->set_value(std::move(r)); });
  WaitPending(1);
  q.Run({"wxapp", "tok-alice", "R1", false, now_ + absl::Seconds(30)},
        [follower](absl::StatusOr<RechargeQueryResult> r) { follower->set_value(std::move(r)); });
  for (int i = 0; i < 15000 && q.coalesced_joins() < 1; ++i) absl::SleepFor(absl::Milliseconds(2));
  ASSERT_EQ(q.coalesced_joins(), 1);
  {
    std::lock_guard<std::mutex> l(upstream_.mu);
    ASSERT_EQ(upstream_.deadlines.size(), 1u);
    EXPECT_EQ(upstream_.deadlines[0], now_ + absl::Seconds(40));
  }

  // WeChat answers 5 s later: the leader left at its deadline, the follower gets the answer.
  EXPECT_EQ(timer.FireDue(now_ + absl::Seconds(5)), 1);
  auto l = leader->get_future().get();
  EXPECT_TRUE(absl::IsDeadlineExceeded(l.status())) << l.status();
  upstream_.ReleaseAll(std::string("SUCCESS"));
  auto f = follower->get_future().get();
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->code, ResultCode::kSuccess);
  EXPECT_EQ(f->balance_fen, 1500);
  EXPECT_EQ(repo_.credits, 1);
  EXPECT_EQ(upstream_.queries.load(), 1);
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

// True when `s` is well-formed UTF-8 (what a utf8mb4 column in strict mode accepts).
bool IsUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80           ? 1
                     : (c >> 5) == 0x6  ? 2
                     : (c >> 4) == 0xE  ? 3
                     : (c >> 3) == 0x1E ? 4
                                        : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// Issue 15, finding 5: the use case cut the provider's message at byte 250, inside a UTF-8
// character, and strict sql_mode then refused the whole query-log row. The message is now
// handed over whole; storage cuts it on a character boundary.
TEST_F(RechargeQueryTest, QueryLogMessageIsNeverCutInsideACharacter) {
  std::string message = "x";
  for (int i = 0; i < 100; ++i) message += "错";  // byte 250 falls inside a character
  auto f = Start("R1");
  WaitPending(1);
  upstream_.ReleaseAll(absl::UnavailableError(message));
  ASSERT_FALSE(f.get().ok());
  ASSERT_EQ(repo_.query_log.size(), 1u);
  EXPECT_TRUE(IsUtf8(repo_.query_log[0].error_message));
  EXPECT_EQ(repo_.query_log[0].error_message, message);
}

// The polling path's caches: correct, not fast (speed is bench/'s business).
class RechargeCacheTest : public RechargeQueryTest {
 protected:
  void SetUp() override {
    RechargeQueryTest::SetUp();
    RechargeQuery::CacheOptions c;
    c.session_ttl = absl::Seconds(3);
    c.final_ttl = absl::Seconds(2);
    cached_.ConfigureCaches(c);
  }
  absl::StatusOr<RechargeQueryResult> Ask(const std::string& token, const std::string& no) {
    std::promise<absl::StatusOr<RechargeQueryResult>> p;
    auto f = p.get_future();
    cached_.Run({"wxapp", token, no, false, absl::InfiniteFuture()},
                [&p](absl::StatusOr<RechargeQueryResult> r) { p.set_value(std::move(r)); });
    return f.get();
  }
  // Credits R1 through the flow (the upstream says SUCCESS) and returns the answer.
  RechargeQueryResult CreditR1() {
    auto f = std::async(std::launch::async, [this] { return Ask("tok-alice", "R1"); });
    for (int i = 0; i < 15000 && upstream_.Pending() < 1; ++i)
      absl::SleepFor(absl::Milliseconds(2));
    upstream_.ReleaseAll(std::string("SUCCESS"));
    auto r = f.get();
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }
  int Calls() {
    std::lock_guard<std::mutex> l(repo_.mu);
    return repo_.calls;
  }

  // now_ is the base fixture's clock.
  RechargeQuery cached_{&repo_, &upstream_, &executor_, absl::Seconds(2), [this] { return now_; }};
};

TEST_F(RechargeCacheTest, CreditedAnswerFromMemoryEqualsTheDatabasesAnswer) {
  RechargeQueryResult credited = CreditR1();
  ASSERT_EQ(credited.code, ResultCode::kSuccess);
  EXPECT_EQ(credited.balance_fen, 1500);
  // First poll: from the database (it remembers the answer), second: from memory.
  auto from_db = Ask("tok-alice", "R1");
  ASSERT_TRUE(from_db.ok());
  const int calls = Calls();
  auto from_memory = Ask("tok-alice", "R1");
  ASSERT_TRUE(from_memory.ok());
  EXPECT_EQ(Calls(), calls) << "a cached credited answer reads nothing";
  EXPECT_EQ(from_memory->code, from_db->code);
  EXPECT_EQ(from_memory->balance_fen, from_db->balance_fen);
  EXPECT_EQ(from_memory->balance_fen, 1500);  // the balance right after this order's credit
  ASSERT_TRUE(from_memory->order && from_db->order);
  EXPECT_EQ(from_memory->order->state, from_db->order->state);
  EXPECT_EQ(from_memory->order->transaction_id, from_db->order->transaction_id);
  EXPECT_EQ(upstream_.queries.load(), 1);
  EXPECT_EQ(cached_.cache_stats().final_hits, 1);
  // Another user's token never gets the cached answer: the long way, 2047.
  auto bob = Ask("tok-bob", "R1");
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(bob->code, ResultCode::kOrderNotExist);
  EXPECT_FALSE(bob->order.has_value());
}

TEST_F(RechargeCacheTest, RevokedSessionIsRefusedOnceTheLifetimePasses) {
  CreditR1();
  ASSERT_TRUE(Ask("tok-alice", "R1").ok());
  {
    std::lock_guard<std::mutex> l(repo_.mu);
    repo_.sessions.erase("tok-alice");  // revoked
  }
  now_ += absl::Seconds(1);  // within session_ttl: still trusted from memory (documented)
  EXPECT_TRUE(Ask("tok-alice", "R1").ok());
  now_ += absl::Seconds(3);  // past it: asked again, refused
  auto r = Ask("tok-alice", "R1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(RechargeCacheTest, CachedSessionNeverOutlivesItsExpiry) {
  {
    std::lock_guard<std::mutex> l(repo_.mu);
    repo_.sessions["tok-short"] = {1, "wxapp", now_ + absl::Milliseconds(500)};
  }
  CreditR1();
  ASSERT_TRUE(Ask("tok-short", "R1").ok());
  ASSERT_TRUE(Ask("tok-short", "R1").ok());
  now_ += absl::Seconds(1);  // the session expired; the cache's 3 s must not keep it alive
  auto r = Ask("tok-short", "R1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(RechargeCacheTest, ARefundRecordedElsewhereIsSeenWithinTheBound) {
  CreditR1();
  ASSERT_EQ(Ask("tok-alice", "R1")->code, ResultCode::kSuccess);
  {
    std::lock_guard<std::mutex> l(repo_.mu);
    repo_.orders["R1"].state = RechargeState::kRefund;  // another replica's notification
  }
  EXPECT_EQ(Ask("tok-alice", "R1")->code, ResultCode::kSuccess);  // within final_ttl
  now_ += absl::Seconds(2) + absl::Milliseconds(1);
  auto r = Ask("tok-alice", "R1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, ResultCode::kRefund);
}

TEST_F(RechargeCacheTest, AChangeMadeHereEvictsAtOnce) {
  CreditR1();
  ASSERT_EQ(Ask("tok-alice", "R1")->code, ResultCode::kSuccess);  // cached now
  domain::RechargeOrder o;
  {
    std::lock_guard<std::mutex> l(repo_.mu);
    o = repo_.orders["R1"];
  }
  domain::UpstreamTransaction refund;
  refund.out_trade_no = "R1";
  refund.provider = "wechat";
  refund.provider_state = "REFUND";
  refund.state = RechargeState::kRefund;
  auto applied = cached_.ApplyAnswer(o, refund, domain::QueryOutcome{}, Source::kNotification);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(Ask("tok-alice", "R1")->code, ResultCode::kRefund);  // no wait for the TTL
}

// Issue 15, finding 3: a failure never started any interval, so a caller's loop on an order
// WeChat answers with 429 sent one upstream request per call.
TEST_F(RechargeCacheTest, AFailureBacksOffPerOrderAndTheWaitGrows) {
  cached_.ConfigureFailureBackoff({absl::Seconds(1), absl::Seconds(8)});
  auto fail_next = [this](const absl::StatusOr<std::string>& reply) {
    auto f = std::async(std::launch::async, [this] { return Ask("tok-alice", "R1"); });
    for (int i = 0; i < 15000 && upstream_.Pending() < 1; ++i)
      absl::SleepFor(absl::Milliseconds(2));
    upstream_.ReleaseAll(reply);
    return f.get();
  };
  auto first = fail_next(absl::ResourceExhaustedError("RATELIMIT_EXCEEDED"));
  EXPECT_EQ(first.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(upstream_.queries.load(), 1);
  // Within the window: the same answer, no upstream request.
  auto again = Ask("tok-alice", "R1");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(upstream_.queries.load(), 1);
  // After it: asked again; a second failure in a row doubles the window (2 s).
  now_ += absl::Seconds(1) + absl::Milliseconds(1);
  auto second = fail_next(absl::UnavailableError("SYSTEM_ERROR"));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(upstream_.queries.load(), 2);
  now_ += absl::Milliseconds(1500);
  EXPECT_EQ(Ask("tok-alice", "R1").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(upstream_.queries.load(), 2);
  // Past the doubled window, a success ends the streak.
  now_ += absl::Seconds(1);
  auto ok = fail_next(std::string("NOTPAY"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->code, ResultCode::kNotPay);
  EXPECT_EQ(upstream_.queries.load(), 3);
}

TEST_F(RechargeCacheTest, NotFoundIsRememberedAs2047AndForceRefreshBypassesIt) {
  cached_.ConfigureFailureBackoff({absl::Seconds(5), absl::Seconds(30)});
  auto f = std::async(std::launch::async, [this] { return Ask("tok-alice", "R1"); });
  for (int i = 0; i < 15000 && upstream_.Pending() < 1; ++i) absl::SleepFor(absl::Milliseconds(2));
  upstream_.ReleaseAll(absl::NotFoundError("ORDER_NOT_EXIST"));
  ASSERT_EQ(f.get()->code, ResultCode::kOrderNotExist);
  auto cached = Ask("tok-alice", "R1");
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(cached->code, ResultCode::kOrderNotExist);
  EXPECT_FALSE(cached->order.has_value());
  EXPECT_EQ(upstream_.queries.load(), 1);
  // An operator's force_refresh still asks.
  auto forced = std::async(std::launch::async, [this] {
    std::promise<absl::StatusOr<RechargeQueryResult>> p;
    auto fut = p.get_future();
    cached_.Run({"wxapp", "tok-alice", "R1", true, absl::InfiniteFuture()},
                [&p](absl::StatusOr<RechargeQueryResult> r) { p.set_value(std::move(r)); });
    return fut.get();
  });
  for (int i = 0; i < 15000 && upstream_.Pending() < 1; ++i) absl::SleepFor(absl::Milliseconds(2));
  upstream_.ReleaseAll(std::string("SUCCESS"));
  ASSERT_TRUE(forced.get().ok());
  EXPECT_EQ(upstream_.queries.load(), 2);
}

TEST(TtlCacheTest, StaysWithinItsEntryAndByteBoundsUnder100kOrders) {
  TtlCache<std::string> cache(1000, 64 * 1024);
  const absl::Time now = absl::Now();
  for (int i = 0; i < 100000; ++i) {
    const std::string key = "R" + std::to_string(i);
    cache.Put(key, std::string(20, 'x'), now + absl::Minutes(1), key.size() + 20 + 32);
    ASSERT_LE(cache.size(), 1000u);
    ASSERT_LE(cache.bytes(), 64u * 1024u);
  }
  EXPECT_GT(cache.evictions(), 90000);
  // The newest are kept, the oldest went first.
  EXPECT_TRUE(cache.Get("R99999", now).has_value());
  EXPECT_FALSE(cache.Get("R0", now).has_value());
}

TEST(TtlCacheTest, ExpiresReplacesAndErases) {
  TtlCache<int> cache(10, 1000);
  const absl::Time now = absl::Now();
  cache.Put("a", 1, now + absl::Seconds(1), 10);
  EXPECT_EQ(cache.Get("a", now), 1);
  EXPECT_FALSE(cache.Get("a", now + absl::Seconds(1)).has_value());  // expired, dropped
  EXPECT_EQ(cache.size(), 0u);
  cache.Put("b", 2, now + absl::Seconds(5), 10);
  cache.Put("b", 3, now + absl::Seconds(5), 20);  // replaced: one entry, its new weight
  EXPECT_EQ(cache.Get("b", now), 3);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.bytes(), 20u);
  cache.Erase("b");
  EXPECT_FALSE(cache.Get("b", now).has_value());
  EXPECT_EQ(cache.bytes(), 0u);
  cache.Put("huge", 4, now + absl::Seconds(5), 5000);  // heavier than the budget: not kept
  EXPECT_FALSE(cache.Get("huge", now).has_value());
  for (int i = 0; i < 20; ++i) {  // replacing one key many times keeps it and bounds the queue
    cache.Put("k", i, now + absl::Seconds(5), 10);
  }
  EXPECT_EQ(cache.Get("k", now), 19);
}

}  // namespace
}  // namespace orderquery::usecase
