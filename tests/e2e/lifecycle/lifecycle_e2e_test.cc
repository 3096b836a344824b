// The payment lifecycle end to end (issue 11, "Done when"): orderqueryd processes on a real
// MariaDB database, the payment sandbox playing WeChat Pay over loopback (queries, the close API
// and signed, encrypted notifications). Nobody calls QueryRechargeOrder unless a test says so:
// the reconciler and the notification listener must do the work. Every wait polls with a
// deadline far above what the work needs; every assertion is on rows, balances, HTTP answers
// or the sandbox's counters.
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/mysql_pool.h"
#include "storage/sql_util.h"
#include "tests/e2e/harness/calls.h"
#include "tests/e2e/harness/stack.h"
#include "tests/e2e/harness/suite.h"
#include "tests/support/storage_admin.h"

namespace orderquery::e2e {
namespace {

namespace admin = storage::admin;
using domain::RechargeState;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kPaidTime[] = "2026-03-01T12:30:45+08:00";

// Polls `done` every 50 ms until it holds or `limit` passes.
template <typename F>
bool WaitUntil(F done, absl::Duration limit = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return done();
}

RechargeArgs Args(const TestUser& user, const std::string& order_no, bool force = false) {
  RechargeArgs a;
  a.appid = user.appid;
  a.token = user.token;
  a.order_no = order_no;
  a.force_refresh = force;
  a.deadline = absl::Seconds(20);
  return a;
}

int Code(const RechargeResult& r) { return static_cast<int>(r.response.code()); }

// A recharge order of the (direct-mode) user created `age` ago.
absl::Status CreateAgedOrder(Stack& s, const TestUser& user, const std::string& order_no,
                             int64_t amount_fen, absl::Duration age) {
  domain::RechargeOrder o;
  o.order_no = order_no;
  o.user_id = user.id;
  o.appid = user.appid;
  o.mchid = kMchid;
  o.amount_fen = amount_fen;
  o.state = RechargeState::kNotPay;
  o.created_at = storage::internal::TruncateToMillis(absl::Now() - age);
  return admin::CreateRechargeOrder(s.pool(), o);
}

// Rows of t_payment_notification for an order; -1 on error.
int64_t NotificationRows(Stack& s, const std::string& order_no) {
  int64_t n = -1;
  absl::Status st = storage::WithConnection(s.pool(), [&](storage::Connection& c) {
    sql::PreparedStatement& q =
        c.Prepare("SELECT COUNT(*) FROM t_payment_notification WHERE order_no = ?");
    storage::internal::BindString(q, 1, order_no);
    std::unique_ptr<sql::ResultSet> rs = storage::internal::Query(q);
    n = rs->next() ? rs->getInt64(1) : -1;
    return absl::OkStatus();
  });
  EXPECT_TRUE(st.ok()) << st;
  return n;
}

// One per-order sandbox counter (requests, inflight, closes, close_requests,
// notifications_sent, notifications_acked); -1 on error.
int64_t SandboxCounter(Stack& s, const std::string& order_no, const std::string& key) {
  auto stats = s.sandbox().Stats(order_no);
  if (!stats.ok()) return -1;
  return stats->value(key, int64_t{-1});
}

// The sandbox's order state (its trade_state now), "" on error.
std::string SandboxState(Stack& s, const std::string& order_no) {
  auto o = s.sandbox().GetOrder(order_no);
  if (!o.ok()) return "";
  return o->value("trade_state", std::string());
}

// What the order's rows say, for one-line assertions.
struct Rows {
  domain::RechargeOrder order;
  int64_t balance = -1;
  std::vector<admin::AmountLogRow> ledger;
  std::vector<admin::OrderLogRow> order_log;
  std::vector<admin::QueryLogRow> query_log;
};

Rows ReadRows(Stack& s, const TestUser& user, const std::string& order_no) {
  Rows r;
  auto order = s.GetRechargeOrder(order_no);
  EXPECT_TRUE(order.ok()) << order.status();
  if (order.ok()) r.order = *order;
  auto balance = s.Balance(user.id);
  EXPECT_TRUE(balance.ok()) << balance.status();
  if (balance.ok()) r.balance = *balance;
  auto ledger = admin::ListAmountLogByOrder(s.pool(), order_no);
  EXPECT_TRUE(ledger.ok()) << ledger.status();
  if (ledger.ok()) r.ledger = *ledger;
  auto log = admin::ListRechargeOrderLog(s.pool(), order_no);
  EXPECT_TRUE(log.ok()) << log.status();
  if (log.ok()) r.order_log = *log;
  auto queries = admin::ListQueryLog(s.pool(), order_no);
  EXPECT_TRUE(queries.ok()) << queries.status();
  if (queries.ok()) r.query_log = *queries;
  return r;
}

// Credited exactly once: SUCCESS, the flag, one ledger row before -> after, one order-log row
// from NOTPAY, the balance moved by the amount.
void ExpectCreditedOnce(Stack& s, const TestUser& user, const std::string& order_no,
                        int64_t balance_before, int64_t amount) {
  Rows r = ReadRows(s, user, order_no);
  EXPECT_EQ(r.order.state, RechargeState::kSuccess) << order_no;
  EXPECT_TRUE(r.order.credited) << order_no;
  EXPECT_FALSE(r.order.next_check_at.has_value()) << order_no << " is still scheduled";
  ASSERT_EQ(r.ledger.size(), 1u) << order_no;
  EXPECT_EQ(r.ledger[0].entry_type, "RECHARGE");
  EXPECT_EQ(r.ledger[0].delta, amount);
  EXPECT_EQ(r.ledger[0].amount_after - r.ledger[0].amount_before, amount);
  ASSERT_EQ(r.order_log.size(), 1u) << order_no;
  EXPECT_EQ(r.order_log[0].from_status, "NOTPAY");
  EXPECT_EQ(r.order_log[0].to_status, "SUCCESS");
  if (balance_before >= 0) {
    EXPECT_EQ(r.balance, balance_before + amount) << order_no;
  }
}

// Nothing happened to a pending order: NOTPAY, uncredited, no ledger, no order log, balance.
void ExpectUntouched(Stack& s, const TestUser& user, const std::string& order_no, int64_t balance,
                     const std::string& context) {
  Rows r = ReadRows(s, user, order_no);
  EXPECT_EQ(r.order.state, RechargeState::kNotPay) << context;
  EXPECT_FALSE(r.order.credited) << context;
  EXPECT_TRUE(r.ledger.empty()) << context;
  EXPECT_TRUE(r.order_log.empty()) << context;
  EXPECT_EQ(r.balance, balance) << context;
  EXPECT_EQ(NotificationRows(s, order_no), 0) << context;
}

// Sum of `claimed=` over a server's reconcile_sweep log lines.
int64_t ClaimedInLog(const std::string& log) {
  int64_t total = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (line.find("event=reconcile_sweep") == absl::string_view::npos) continue;
    const size_t at = line.find(" claimed=");
    if (at == absl::string_view::npos) continue;
    absl::string_view rest = line.substr(at + 9);
    rest = rest.substr(0, rest.find(' '));
    int64_t n = 0;
    if (absl::SimpleAtoi(rest, &n)) total += n;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Reconciliation: a paid order nobody asks about is credited by the first scheduled check.

constexpr int kFirstDelayMs = 300;

class LifecycleReconcileE2E : public StackSuite<LifecycleReconcileE2E> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "lc_reconcile";
    o.config_patch = [](json& c) {
      c["reconcile"] = {{"enabled", true},
                        {"first_delay_ms", kFirstDelayMs},
                        {"interval_ms", 100},
                        {"backoff_ms", json::array({"600000"})},
                        {"expire_after_ms", 3600000},
                        {"lease_ms", 20000}};
    };
    return o;
  }
};

TEST_F(LifecycleReconcileE2E, PaidRechargeNobodyAsksAboutIsCreditedByTheFirstCheck) {
  Stack& s = stack();
  const int64_t kBalance = 10000, kAmount = 4200;
  const std::string no = "LCAUTO1";
  auto user = s.CreateUser(kBalance);
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(s.UpsertWechatOrder(*user, no, kAmount,
                                  {{"trade_state", "SUCCESS"},
                                   {"transaction_id", "4200000001202603010001"},
                                   {"success_time", kPaidTime}})
                  .ok());
  ASSERT_TRUE(s.CreateRechargeOrder(*user, no, kAmount).ok());

  ASSERT_TRUE(WaitUntil([&] {
    auto o = s.GetRechargeOrder(no);
    return o.ok() && o->credited;
  })) << "not credited within 20 s (first check due "
      << kFirstDelayMs << " ms after creation)";

  ExpectCreditedOnce(s, *user, no, kBalance, kAmount);
  Rows r = ReadRows(s, *user, no);
  EXPECT_EQ(r.order.transaction_id, "4200000001202603010001");
  EXPECT_EQ(r.order.check_attempts, 1) << "credited by the first scheduled check";
  ASSERT_EQ(r.ledger.size(), 1u);
  EXPECT_EQ(r.ledger[0].amount_before, kBalance);
  EXPECT_EQ(r.ledger[0].amount_after, kBalance + kAmount);
  EXPECT_EQ(r.ledger[0].user_id, user->id);
  ASSERT_EQ(r.order_log.size(), 1u);
  EXPECT_THAT(r.order_log[0].reason, HasSubstr("reconciler"));
  // Not before the first check was due.
  EXPECT_GE(r.order_log[0].created_at,
            r.order.created_at + absl::Milliseconds(kFirstDelayMs) - absl::Milliseconds(5));
  ASSERT_EQ(r.query_log.size(), 1u);
  EXPECT_EQ(r.query_log[0].trade_state, "SUCCESS");
  EXPECT_EQ(r.query_log[0].error_code, "");
  EXPECT_EQ(s.WechatRequests(no), 1) << "one scheduled query, nobody else asked";

  // What a caller now sees agrees, answered from the database.
  RechargeResult q = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(q.status.ok()) << Describe(q.status);
  EXPECT_EQ(Code(q), 0);
  EXPECT_EQ(q.response.data().balance(), kBalance + kAmount);
  EXPECT_EQ(s.WechatRequests(no), 1);
}

// ---------------------------------------------------------------------------------------------
// Notifications (reconciler off: only the listener and explicit queries act).

constexpr int kMaxBodyBytes = 8192;

class LifecycleNotifyE2E : public StackSuite<LifecycleNotifyE2E> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "lc_notify";
    o.upstream_request_timeout_ms = 5000;  // one test's WeChat answers after 1.5 s
    o.config_patch = [](json& c) {
      c["notify"] = {{"listen", "127.0.0.1:0"}, {"max_body_bytes", kMaxBodyBytes}};
    };
    return o;
  }

 protected:
  // A NOTPAY order of a fresh user here, SUCCESS at the sandbox.
  TestUser PendingOrderPaidAtSandbox(const std::string& no, int64_t balance, int64_t amount,
                                     const json& extra = json::object()) {
    Stack& s = stack();
    auto user = s.CreateUser(balance);
    EXPECT_TRUE(user.ok()) << user.status();
    if (!user.ok()) return {};
    json at_sandbox = {{"trade_state", "SUCCESS"},
                       {"transaction_id", absl::StrCat("42000000", no)},
                       {"success_time", kPaidTime}};
    for (const auto& item : extra.items()) at_sandbox[item.key()] = item.value();
    EXPECT_TRUE(s.UpsertWechatOrder(*user, no, amount, at_sandbox).ok());
    EXPECT_TRUE(s.CreateRechargeOrder(*user, no, amount).ok());
    return *user;
  }
  // POST /__sandbox/notify towards server 0's direct-merchant URL.
  json Notify(const std::string& no, json extra = json::object()) {
    json req = {{"out_trade_no", no}, {"url", stack().NotifyUrl(0, "direct")}};
    for (const auto& item : extra.items()) req[item.key()] = item.value();
    auto answer = stack().sandbox().Notify(req);
    EXPECT_TRUE(answer.ok()) << answer.status();
    return answer.ok() ? *answer : json::object();
  }
  static int Status(const json& answer, size_t i = 0) {
    if (!answer.contains("deliveries") || answer["deliveries"].size() <= i) return -1;
    return answer["deliveries"][i].value("status", -1);
  }
  // The "code" of a delivery's JSON answer ("" when none).
  static std::string AnswerCode(const json& answer, size_t i = 0) {
    if (!answer.contains("deliveries") || answer["deliveries"].size() <= i) return "";
    json body = json::parse(answer["deliveries"][i].value("body", std::string()), nullptr, false);
    return body.is_object() ? body.value("code", std::string()) : std::string();
  }
};

TEST_F(LifecycleNotifyE2E, ListenerUrlIsPrinted) {
  EXPECT_THAT(stack().NotifyUrl(0, "direct"), ::testing::StartsWith("http://127.0.0.1:"));
  EXPECT_THAT(stack().NotifyUrl(0, "direct"), ::testing::EndsWith("/notify/wechat/direct"));
}

TEST_F(LifecycleNotifyE2E, NotificationCreditsAPendingOrderBeforeAnyQuery) {
  Stack& s = stack();
  const int64_t kBalance = 1000, kAmount = 2300;
  const std::string no = "LCNFIRST";
  TestUser user = PendingOrderPaidAtSandbox(no, kBalance, kAmount);
  ASSERT_GT(user.id, 0);

  json answer = Notify(no, {{"id", "EV-lc-first-0001"}});
  ASSERT_EQ(answer["deliveries"].size(), 1u) << answer.dump();
  EXPECT_EQ(Status(answer), 204) << answer.dump();

  // Acknowledged only after the commit: the rows are there when the answer is.
  ExpectCreditedOnce(s, user, no, kBalance, kAmount);
  Rows r = ReadRows(s, user, no);
  EXPECT_EQ(r.order.transaction_id, absl::StrCat("42000000", no));
  EXPECT_TRUE(r.order.paid_at.has_value());
  ASSERT_EQ(r.order_log.size(), 1u);
  EXPECT_THAT(r.order_log[0].reason, HasSubstr("notification"));
  EXPECT_TRUE(r.query_log.empty()) << "nobody queried";
  EXPECT_EQ(NotificationRows(s, no), 1);
  EXPECT_EQ(s.WechatRequests(no), 0) << "credited without asking WeChat";
  EXPECT_EQ(SandboxCounter(s, no, "notifications_acked"), 1);

  RechargeResult q = QueryRecharge(s.orders(), Args(user, no));
  ASSERT_TRUE(q.status.ok()) << Describe(q.status);
  EXPECT_EQ(Code(q), 0);
  EXPECT_EQ(q.response.data().balance(), kBalance + kAmount);
  EXPECT_EQ(s.WechatRequests(no), 0) << "a credited order is answered from the database";
}

TEST_F(LifecycleNotifyE2E, FiveDeliveriesOneConcurrentWithAQueryCreditOnce) {
  Stack& s = stack();
  const int64_t kBalance = 500, kAmount = 1700;
  const std::string no = "LCNDUP";
  const std::string id = "EV-lc-duplicate-0001";
  // The query is slow at WeChat so that the first delivery lands while it is in flight.
  TestUser user = PendingOrderPaidAtSandbox(no, kBalance, kAmount, {{"latency_ms", 1500}});
  ASSERT_GT(user.id, 0);

  RechargeResult query;
  std::thread caller([&] { query = QueryRecharge(s.orders(), Args(user, no)); });
  const bool in_flight = WaitUntil([&] { return SandboxCounter(s, no, "inflight") >= 1; });
  json first = Notify(no, {{"id", id}});
  caller.join();
  ASSERT_TRUE(in_flight) << "the query never reached the sandbox";
  EXPECT_EQ(Status(first), 204) << first.dump();
  ASSERT_TRUE(query.status.ok()) << Describe(query.status);
  EXPECT_EQ(Code(query), 0);
  EXPECT_EQ(query.response.data().balance(), kBalance + kAmount);

  json rest = Notify(no, {{"id", id}, {"copies", 4}, {"concurrent", true}});
  ASSERT_EQ(rest["deliveries"].size(), 4u) << rest.dump();
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(Status(rest, i), 204) << rest.dump();

  ExpectCreditedOnce(s, user, no, kBalance, kAmount);
  EXPECT_EQ(NotificationRows(s, no), 1);
  EXPECT_EQ(SandboxCounter(s, no, "notifications_sent"), 5);
  EXPECT_EQ(SandboxCounter(s, no, "notifications_acked"), 5);
  EXPECT_EQ(s.WechatRequests(no), 1);
  Rows r = ReadRows(s, user, no);
  EXPECT_EQ(r.query_log.size(), 1u) << "the query's own row, once";
}

struct BadVariant {
  std::string variant;
  int status;
};

TEST_F(LifecycleNotifyE2E, EveryBadVariantCreditsNothingAndGetsItsDocumentedAnswer) {
  Stack& s = stack();
  const int64_t kBalance = 300, kAmount = 900;
  const std::string no = "LCNBAD";
  TestUser user = PendingOrderPaidAtSandbox(no, kBalance, kAmount);
  ASSERT_GT(user.id, 0);

  const BadVariant kVariants[] = {
      {"forged", 401},         {"stale", 401},           {"future", 401},        {"signtest", 401},
      {"unknown_serial", 401}, {"missing_headers", 401}, {"undecryptable", 400}, {"wrong_key", 400},
  };
  int n = 0;
  for (const BadVariant& v : kVariants) {
    json answer = Notify(no, {{"variant", v.variant}, {"id", absl::StrCat("EV-lc-bad-", ++n)}});
    EXPECT_EQ(Status(answer), v.status) << v.variant << ": " << answer.dump();
    EXPECT_EQ(AnswerCode(answer), "FAIL") << v.variant << ": " << answer.dump();
    ExpectUntouched(s, user, no, kBalance, v.variant);
  }
  // A verified, decryptable payment whose amount is not the order's.
  json mismatch =
      Notify(no, {{"id", "EV-lc-bad-amount"},
                  {"transaction_patch",
                   {{"amount", {{"total", kAmount + 1}, {"payer_total", kAmount + 1}}}}}});
  EXPECT_EQ(Status(mismatch), 400) << mismatch.dump();
  EXPECT_EQ(AnswerCode(mismatch), "FAIL") << mismatch.dump();
  ExpectUntouched(s, user, no, kBalance, "amount mismatch");
  EXPECT_EQ(SandboxCounter(s, no, "notifications_acked"), 0);
  EXPECT_EQ(s.WechatRequests(no), 0);

  // The same order and the same route do credit when the notification is genuine.
  json valid = Notify(no, {{"id", "EV-lc-good"}});
  EXPECT_EQ(Status(valid), 204) << valid.dump();
  ExpectCreditedOnce(s, user, no, kBalance, kAmount);
}

TEST_F(LifecycleNotifyE2E, NotificationForAnOrderWeDoNotHaveGetsFail) {
  Stack& s = stack();
  const std::string no = "LCNNOWHERE";
  auto user = s.CreateUser(0);
  ASSERT_TRUE(user.ok()) << user.status();
  // WeChat knows it; our database does not (its row not committed yet, or never).
  ASSERT_TRUE(s.UpsertWechatOrder(*user, no, 100, {{"trade_state", "SUCCESS"}}).ok());

  json answer = Notify(no, {{"id", "EV-lc-unknown-1"}});
  EXPECT_EQ(Status(answer), 404) << answer.dump();
  EXPECT_EQ(AnswerCode(answer), "FAIL") << answer.dump();
  EXPECT_EQ(NotificationRows(s, no), 0);
  EXPECT_EQ(SandboxCounter(s, no, "notifications_acked"), 0);
  EXPECT_FALSE(s.GetRechargeOrder(no).ok());
}

TEST_F(LifecycleNotifyE2E, BodyAboveTheLimitGets413) {
  Stack& s = stack();
  const int64_t kBalance = 50, kAmount = 100;
  const std::string no = "LCNBIG";
  TestUser user = PendingOrderPaidAtSandbox(no, kBalance, kAmount);
  ASSERT_GT(user.id, 0);

  json answer = Notify(no, {{"id", "EV-lc-big-1"},
                            {"transaction_patch", {{"attach", std::string(kMaxBodyBytes, 'x')}}}});
  EXPECT_EQ(Status(answer), 413) << answer.dump().substr(0, 600);
  EXPECT_EQ(AnswerCode(answer), "FAIL") << answer.dump().substr(0, 600);
  ExpectUntouched(s, user, no, kBalance, "oversized body");
}

// After a credit, WeChat's reply (or a notification) lags and says CLOSED: nothing moves back.
TEST_F(LifecycleNotifyE2E, LaggingClosedAfterACreditChangesNothing) {
  Stack& s = stack();
  const int64_t kBalance = 700, kAmount = 800;
  const std::string no = "LCNLAG";
  TestUser user = PendingOrderPaidAtSandbox(no, kBalance, kAmount);
  ASSERT_GT(user.id, 0);
  RechargeResult paid = QueryRecharge(s.orders(), Args(user, no));
  ASSERT_TRUE(paid.status.ok()) << Describe(paid.status);
  ASSERT_EQ(Code(paid), 0);
  ExpectCreditedOnce(s, user, no, kBalance, kAmount);

  // WeChat's side goes back to CLOSED (a lagging replica of theirs, say).
  ASSERT_TRUE(s.UpsertWechatOrder(user, no, kAmount, {{"trade_state", "CLOSED"}}).ok());
  ASSERT_EQ(SandboxState(s, no), "CLOSED");
  RechargeResult forced = QueryRecharge(s.orders(), Args(user, no, /*force=*/true));
  ASSERT_TRUE(forced.status.ok()) << Describe(forced.status);
  EXPECT_EQ(Code(forced), 0);
  EXPECT_EQ(forced.response.data().state(), v1::RECHARGE_ORDER_STATE_SUCCESS);
  EXPECT_EQ(forced.response.data().balance(), kBalance + kAmount);
  EXPECT_EQ(s.WechatRequests(no), 2) << "the forced refresh did ask WeChat";

  // The same lagging word through a (verified) notification: acknowledged, nothing moves.
  json answer = Notify(no, {{"id", "EV-lc-lag-closed"}});
  EXPECT_EQ(Status(answer), 204) << answer.dump();

  ExpectCreditedOnce(s, user, no, kBalance, kAmount);
  Rows r = ReadRows(s, user, no);
  EXPECT_EQ(r.order.trade_state, "SUCCESS");
  EXPECT_EQ(r.order.state, RechargeState::kSuccess);

  RechargeResult later = QueryRecharge(s.orders(), Args(user, no));
  ASSERT_TRUE(later.status.ok()) << Describe(later.status);
  EXPECT_EQ(Code(later), 0);
  EXPECT_EQ(later.response.data().balance(), kBalance + kAmount);
}

// ---------------------------------------------------------------------------------------------
// Expiry: close at the provider, then one more question.

constexpr int kExpireMs = 4000;

class LifecycleExpiryE2E : public StackSuite<LifecycleExpiryE2E> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "lc_expiry";
    o.config_patch = [](json& c) {
      c["reconcile"] = {{"enabled", true},
                        {"first_delay_ms", 200},
                        {"interval_ms", 100},
                        {"backoff_ms", json::array({"600000"})},
                        {"expire_after_ms", kExpireMs},
                        {"lease_ms", 20000}};
    };
    return o;
  }
};

TEST_F(LifecycleExpiryE2E, NeverPaidOrderIsClosedAtExpiryThroughTheCloseApiAndAnswers2043) {
  Stack& s = stack();
  const int64_t kBalance = 100, kAmount = 600;
  const std::string no = "LCEXPNEVER";
  auto user = s.CreateUser(kBalance);
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(s.UpsertWechatOrder(*user, no, kAmount, {{"trade_state", "NOTPAY"}}).ok());
  ASSERT_TRUE(s.CreateRechargeOrder(*user, no, kAmount).ok());

  ASSERT_TRUE(WaitUntil(
      [&] {
        auto o = s.GetRechargeOrder(no);
        return o.ok() && o->state == RechargeState::kClosed;
      },
      absl::Milliseconds(kExpireMs) + absl::Seconds(30)))
      << "not closed within 30 s of its expiry";

  EXPECT_EQ(SandboxCounter(s, no, "closes"), 1) << "closed through WeChat's close API";
  EXPECT_EQ(SandboxCounter(s, no, "close_requests"), 1);
  EXPECT_EQ(SandboxState(s, no), "CLOSED");
  Rows r = ReadRows(s, *user, no);
  EXPECT_FALSE(r.order.credited);
  EXPECT_FALSE(r.order.next_check_at.has_value()) << "a closed order leaves the schedule";
  EXPECT_TRUE(r.ledger.empty());
  EXPECT_EQ(r.balance, kBalance);
  ASSERT_EQ(r.order_log.size(), 1u);
  EXPECT_EQ(r.order_log[0].from_status, "NOTPAY");
  EXPECT_EQ(r.order_log[0].to_status, "CLOSED");
  EXPECT_GE(r.order_log[0].created_at, r.order.created_at + absl::Milliseconds(kExpireMs))
      << "closed before it expired";

  const int64_t requests = s.WechatRequests(no);
  RechargeResult q = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(q.status.ok()) << Describe(q.status);
  EXPECT_EQ(Code(q), 2043);
  EXPECT_EQ(q.response.data().state(), v1::RECHARGE_ORDER_STATE_CLOSED);
  EXPECT_EQ(q.response.data().balance(), kBalance);
  EXPECT_EQ(s.WechatRequests(no), requests) << "a closed order is answered from the database";
}

// The order was still NOTPAY when we last looked; by its expiry WeChat has it paid. The close
// is refused as ORDERPAID and the order is credited, not closed.
TEST_F(LifecycleExpiryE2E, OrderPaidJustBeforeExpiryIsCreditedNotClosed) {
  Stack& s = stack();
  const int64_t kBalance = 2000, kAmount = 1500;
  const std::string no = "LCEXPPAID";
  auto user = s.CreateUser(kBalance);
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(s.UpsertWechatOrder(*user, no, kAmount,
                                  {{"trade_state", "SUCCESS"}, {"success_time", kPaidTime}})
                  .ok());
  // Created a moment more than its expiry ago, never checked: its first check is the one at
  // expiry, and WeChat has it paid by then.
  ASSERT_TRUE(
      CreateAgedOrder(s, *user, no, kAmount, absl::Milliseconds(kExpireMs) + absl::Seconds(1))
          .ok());

  ASSERT_TRUE(WaitUntil([&] {
    auto o = s.GetRechargeOrder(no);
    return o.ok() && o->state != RechargeState::kNotPay;
  })) << "the expired order was not worked within 20 s";

  ExpectCreditedOnce(s, *user, no, kBalance, kAmount);
  Rows r = ReadRows(s, *user, no);
  ASSERT_EQ(r.order_log.size(), 1u);
  EXPECT_THAT(r.order_log[0].reason, HasSubstr("reconciler"));
  EXPECT_EQ(SandboxCounter(s, no, "close_requests"), 1) << "asked to close at expiry";
  EXPECT_EQ(SandboxCounter(s, no, "closes"), 0) << "WeChat refused: ORDERPAID";
  EXPECT_EQ(SandboxState(s, no), "SUCCESS");

  RechargeResult q = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(q.status.ok()) << Describe(q.status);
  EXPECT_EQ(Code(q), 0);
  EXPECT_EQ(q.response.data().balance(), kBalance + kAmount);
}

// ---------------------------------------------------------------------------------------------
// Replicas: three reconcilers share one schedule.

class LifecycleReplicasE2E : public StackSuite<LifecycleReplicasE2E> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "lc_replicas";
    o.servers = 3;
    o.config_patch = [](json& c) {
      // Small batches and a short interval so that the three sweeps overlap; a backoff so long
      // that no second slot starts within the test.
      c["reconcile"] = {{"enabled", true},
                        {"first_delay_ms", 500},
                        {"interval_ms", 50},
                        {"batch", 3},
                        {"max_inflight", 2},
                        {"backoff_ms", json::array({"600000"})},
                        {"expire_after_ms", 3600000},
                        {"lease_ms", 30000}};
    };
    return o;
  }
};

TEST_F(LifecycleReplicasE2E, ThreeReplicasQueryEachDueOrderOncePerSlot) {
  Stack& s = stack();
  constexpr int kOrders = 24;
  auto user = s.CreateUser(0);
  ASSERT_TRUE(user.ok()) << user.status();
  std::vector<std::string> orders;
  for (int i = 0; i < kOrders; ++i) {
    const std::string no = absl::StrCat("LCREP", i);
    orders.push_back(no);
    ASSERT_TRUE(s.UpsertWechatOrder(*user, no, 100, {{"trade_state", "NOTPAY"}}).ok());
  }
  for (const std::string& no : orders) ASSERT_TRUE(s.CreateRechargeOrder(*user, no, 100).ok());

  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const std::string& no : orders) {
          auto o = s.GetRechargeOrder(no);
          if (!o.ok() || !o->last_queried_at.has_value()) return false;
        }
        return true;
      },
      absl::Seconds(40)))
      << "not every order had its first check within 40 s";

  const absl::Time checked = absl::Now();
  for (const std::string& no : orders) {
    EXPECT_EQ(s.WechatRequests(no), 1) << no;
    auto o = s.GetRechargeOrder(no);
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_EQ(o->state, RechargeState::kNotPay) << no;
    EXPECT_EQ(o->check_attempts, 1) << no;
    ASSERT_TRUE(o->next_check_at.has_value()) << no;
    EXPECT_GT(*o->next_check_at, checked + absl::Minutes(5)) << no << ": next slot too soon";
    auto log = admin::ListQueryLog(s.pool(), no);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ(log->size(), 1u) << no;
  }
  // Sixty-odd further sweeps among the three: still one query per order.
  absl::SleepFor(absl::Seconds(3));
  int64_t claimed = 0;
  for (int i = 0; i < s.servers(); ++i) claimed += ClaimedInLog(s.ServerLog(i));
  EXPECT_EQ(claimed, kOrders) << "claims summed over the three replicas' sweep logs";
  for (const std::string& no : orders) EXPECT_EQ(s.WechatRequests(no), 1) << no;
}

// ---------------------------------------------------------------------------------------------
// A replica killed in the middle of a sweep: its claimed orders are worked by the others once
// its lease lapses.

constexpr int kCrashLeaseMs = 6000;
constexpr int kCrashLatencyMs = 2500;

class LifecycleCrashE2E : public StackSuite<LifecycleCrashE2E> {
 public:
  static void Patch(json& c) {
    c["reconcile"] = {{"enabled", true},
                      {"first_delay_ms", 0},
                      {"interval_ms", 100},
                      {"batch", 4},
                      {"max_inflight", 2},
                      {"backoff_ms", json::array({"600000"})},
                      {"expire_after_ms", 3600000},
                      {"lease_ms", kCrashLeaseMs}};
  }
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "lc_crash";
    o.servers = 1;  // the one to be killed; the others start after
    o.upstream_request_timeout_ms = 10000;
    o.config_patch = Patch;
    return o;
  }
};

TEST_F(LifecycleCrashE2E, ReplicaKilledMidSweepLeavesNothingUnworked) {
  Stack& s = stack();
  constexpr int kOrders = 8;
  const int64_t kBalance = 1000;
  auto user = s.CreateUser(kBalance);
  ASSERT_TRUE(user.ok()) << user.status();
  std::vector<std::string> orders;
  int64_t total = 0;
  for (int i = 0; i < kOrders; ++i) {
    const std::string no = absl::StrCat("LCKILL", i);
    orders.push_back(no);
    total += 100 + i;
    ASSERT_TRUE(s.UpsertWechatOrder(*user, no, 100 + i,
                                    {{"trade_state", "SUCCESS"}, {"latency_ms", kCrashLatencyMs}})
                    .ok());
  }
  for (int i = 0; i < kOrders; ++i) {
    ASSERT_TRUE(s.CreateRechargeOrder(*user, orders[i], 100 + i).ok());
  }

  // Replica 0 claims a batch and asks about it; each answer takes kCrashLatencyMs.
  ASSERT_TRUE(WaitUntil([&] {
    for (const std::string& no : orders) {
      if (SandboxCounter(s, no, "inflight") >= 1) return true;
    }
    return false;
  })) << "replica 0 never started a sweep";
  const pid_t victim = s.ServerPid(0);
  ASSERT_GT(victim, 0);
  EXPECT_EQ(s.KillServer(0), 128 + SIGKILL);

  // What it held when it died: claimed (attempt counted, lease set), not worked.
  std::map<std::string, absl::Time> held;
  for (const std::string& no : orders) {
    auto o = s.GetRechargeOrder(no);
    ASSERT_TRUE(o.ok()) << o.status();
    if (o->check_attempts >= 1 && o->state == RechargeState::kNotPay) {
      ASSERT_TRUE(o->next_check_at.has_value());
      held[no] = *o->next_check_at;
    }
  }
  ASSERT_FALSE(held.empty()) << "the killed replica held no claimed order";

  // Two more replicas.
  for (int i = 0; i < 2; ++i) {
    json config = s.BaseConfig();
    Patch(config);
    auto added = s.AddServer(config);
    ASSERT_TRUE(added.ok()) << added.status();
  }

  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const std::string& no : orders) {
          auto o = s.GetRechargeOrder(no);
          if (!o.ok() || !o->credited) return false;
        }
        return true;
      },
      absl::Milliseconds(kCrashLeaseMs) + absl::Seconds(60)))
      << "some order was never credited after the crash";

  for (int i = 0; i < kOrders; ++i) {
    ExpectCreditedOnce(s, *user, orders[i], /*balance_before=*/-1, 100 + i);
  }
  auto balance = s.Balance(user->id);
  ASSERT_TRUE(balance.ok()) << balance.status();
  EXPECT_EQ(*balance, kBalance + total);
  for (const auto& [no, lease_end] : held) {
    Rows r = ReadRows(s, *user, no);
    EXPECT_GE(r.order.check_attempts, 2) << no << " was not claimed again";
    ASSERT_EQ(r.order_log.size(), 1u) << no;
    EXPECT_GE(r.order_log[0].created_at, lease_end)
        << no << " was taken from the dead replica before its lease lapsed";
  }
}

}  // namespace
}  // namespace orderquery::e2e
