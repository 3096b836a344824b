// QueryRechargeOrder end to end (issue 5, seed 000): orderqueryd as a process on a real MariaDB
// database, the payment sandbox playing WeChat Pay over loopback, called through the generated
// stubs. Every assertion is on answers, rows, balances or the sandbox's request counters.
#include <cppconn/prepared_statement.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "storage/mysql_pool.h"
#include "tests/e2e/harness/calls.h"
#include "tests/e2e/harness/stack.h"
#include "tests/e2e/harness/suite.h"
#include "tests/support/storage_admin.h"

namespace orderquery::e2e {
namespace {

namespace admin = storage::admin;
using domain::RechargeState;
using ::testing::HasSubstr;

constexpr char kPaidTime[] = "2026-03-01T12:30:45+08:00";
constexpr char kPaidTimeAnswer[] = "2026-03-01T12:30:45.000+08:00";
// A refresh interval no round of calls can outlast on a busy machine: suites that assert "asked
// once within the interval" use it, and let it pass explicitly (LetTheIntervalPass), never by
// sleeping on the wall clock.
constexpr absl::Duration kLongInterval = absl::Minutes(10);
constexpr int kLongIntervalMs = 10 * 60 * 1000;

// The refresh interval passes for every recharge order asked about: last_queried_at moves back
// by more than kLongInterval, which is what the clock moving on looks like to orderqueryd.
void LetTheIntervalPass(Stack& s) {
  absl::Status st = storage::WithConnection(s.pool(), [](storage::Connection& c) {
    auto& stmt = c.Prepare(
        "UPDATE t_recharge_order SET last_queried_at = last_queried_at - INTERVAL ? SECOND "
        "WHERE last_queried_at IS NOT NULL");
    stmt.setInt64(1, absl::ToInt64Seconds(kLongInterval + absl::Minutes(1)));
    stmt.executeUpdate();
    return absl::OkStatus();
  });
  ASSERT_TRUE(st.ok()) << st;
}

RechargeArgs Args(const TestUser& user, const std::string& order_no, bool force = false) {
  RechargeArgs a;
  a.appid = user.appid;
  a.token = user.token;
  a.order_no = order_no;
  a.force_refresh = force;
  return a;
}

// The answer code as the seed's number.
int Code(const RechargeResult& r) { return static_cast<int>(r.response.code()); }

// ---------------------------------------------------------------------------------------------
// Every answer code reached through a sandbox scenario, with the rows it leaves.

struct CodeCase {
  std::string name;
  std::string trade_state;  // what the sandbox (WeChat) says
  int code;
  std::string msg;
  RechargeState state_after;
  v1::RechargeOrderState proto_state;
  bool state_changes;  // a t_recharge_order_log row NOTPAY -> state_after
  bool has_transaction_id;
  bool has_paid_time;
};

void PrintTo(const CodeCase& c, std::ostream* os) { *os << c.name; }

const CodeCase kCodeCases[] = {
    {"Success", "SUCCESS", 0, "订单支付成功", RechargeState::kSuccess,
     v1::RECHARGE_ORDER_STATE_SUCCESS, true, true, true},
    {"Refund", "REFUND", 2041, "订单转入退款", RechargeState::kRefund,
     v1::RECHARGE_ORDER_STATE_REFUND, true, true, true},
    {"NotPay", "NOTPAY", 2042, "订单未支付", RechargeState::kNotPay,
     v1::RECHARGE_ORDER_STATE_NOTPAY, false, false, false},
    {"Closed", "CLOSED", 2043, "订单已关闭", RechargeState::kClosed,
     v1::RECHARGE_ORDER_STATE_CLOSED, true, false, false},
    {"Revoked", "REVOKED", 2044, "订单已撤销(付款码支付)", RechargeState::kRevoked,
     v1::RECHARGE_ORDER_STATE_REVOKED, true, true, false},
    {"UserPaying", "USERPAYING", 2045, "用户支付中(付款码支付)", RechargeState::kUserPaying,
     v1::RECHARGE_ORDER_STATE_USERPAYING, true, true, false},
    {"PayError", "PAYERROR", 2046, "订单支付失败(其他原因,如银行返回失败)",
     RechargeState::kPayError, v1::RECHARGE_ORDER_STATE_PAYERROR, true, true, false},
};

class RechargeCodesE2E : public StackSuite<RechargeCodesE2E, ::testing::TestWithParam<CodeCase>> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "recharge_codes";
    o.recharge_refresh_interval_ms = kLongIntervalMs;  // "asked again" stays within it
    return o;
  }
};

TEST_P(RechargeCodesE2E, AnswerAndRows) {
  const CodeCase& c = GetParam();
  Stack& s = stack();
  const int64_t kBalance = 10000, kAmount = 2500;
  const std::string no = "RC" + c.name;
  const std::string tx = "42000000012026" + std::to_string(c.code) + "0001";
  auto user = s.CreateUser(kBalance);
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(s.CreateRechargeOrder(*user, no, kAmount).ok());
  ASSERT_TRUE(
      s.UpsertWechatOrder(
           *user, no, kAmount,
           {{"trade_state", c.trade_state}, {"transaction_id", tx}, {"success_time", kPaidTime}})
          .ok());

  RechargeResult r = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(Code(r), c.code);
  EXPECT_EQ(r.response.msg(), c.msg);
  ASSERT_TRUE(r.response.has_data());
  const v1::RechargeOrderData& d = r.response.data();
  EXPECT_EQ(d.order_no(), no);
  EXPECT_EQ(d.amount(), kAmount);
  EXPECT_EQ(d.state(), c.proto_state);
  EXPECT_EQ(d.trade_state(), c.trade_state);
  EXPECT_EQ(d.transaction_id(), c.has_transaction_id ? tx : "");
  EXPECT_EQ(d.paid_time(), c.has_paid_time ? kPaidTimeAnswer : "");
  const bool credited = c.code == 0;
  const int64_t balance_after = credited ? kBalance + kAmount : kBalance;
  EXPECT_EQ(d.balance(), balance_after);
  EXPECT_EQ(s.WechatRequests(no), 1);

  // t_user
  EXPECT_EQ(*s.Balance(user->id), balance_after);
  // t_recharge_order
  auto order = s.GetRechargeOrder(no);
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_EQ(order->state, c.state_after);
  EXPECT_EQ(order->credited, credited);
  EXPECT_EQ(order->transaction_id, c.has_transaction_id ? tx : "");
  EXPECT_EQ(order->paid_at.has_value(), c.has_paid_time);
  if (c.has_paid_time && order->paid_at) {
    EXPECT_EQ(*order->paid_at, absl::FromUnixSeconds(1772339445));  // 2026-03-01T04:30:45Z
  }
  EXPECT_TRUE(order->last_queried_at.has_value());
  // t_user_amount_log
  auto ledger = admin::ListAmountLogByOrder(s.pool(), no);
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  if (credited) {
    ASSERT_EQ(ledger->size(), 1u);
    EXPECT_EQ((*ledger)[0].user_id, user->id);
    EXPECT_EQ((*ledger)[0].entry_type, "RECHARGE");
    EXPECT_EQ((*ledger)[0].amount_before, kBalance);
    EXPECT_EQ((*ledger)[0].delta, kAmount);
    EXPECT_EQ((*ledger)[0].amount_after, kBalance + kAmount);
  } else {
    EXPECT_TRUE(ledger->empty());
  }
  // t_user_order_query_log: the one upstream query, with WeChat's state
  auto qlog = admin::ListQueryLog(s.pool(), no);
  ASSERT_TRUE(qlog.ok()) << qlog.status();
  ASSERT_EQ(qlog->size(), 1u);
  EXPECT_EQ((*qlog)[0].user_id, user->id);
  EXPECT_EQ((*qlog)[0].appid, kDirectAppid);
  EXPECT_EQ((*qlog)[0].trade_state, c.trade_state);
  EXPECT_EQ((*qlog)[0].error_code, "");
  EXPECT_GE((*qlog)[0].latency_ms, 0);
  // t_recharge_order_log
  auto olog = admin::ListRechargeOrderLog(s.pool(), no);
  ASSERT_TRUE(olog.ok()) << olog.status();
  if (c.state_changes) {
    ASSERT_EQ(olog->size(), 1u);
    EXPECT_EQ((*olog)[0].from_status, "NOTPAY");
    EXPECT_EQ((*olog)[0].to_status, c.trade_state);
    EXPECT_THAT((*olog)[0].reason, HasSubstr(c.trade_state));
  } else {
    EXPECT_TRUE(olog->empty());
  }

  // Asked again: final states come from the database without a request, with the same answer
  // and nothing written; the others are within the refresh interval, so also from the database.
  RechargeResult again = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(again.status.ok()) << Describe(again.status);
  EXPECT_EQ(Code(again), c.code);
  EXPECT_EQ(again.response.data().balance(), balance_after);
  EXPECT_EQ(s.WechatRequests(no), 1);
  EXPECT_EQ(admin::CountLogRows(s.pool(), no)->user_amount_log, credited ? 1 : 0);
  EXPECT_EQ(admin::CountLogRows(s.pool(), no)->query_log, 1);
}

INSTANTIATE_TEST_SUITE_P(Codes, RechargeCodesE2E, ::testing::ValuesIn(kCodeCases),
                         [](const ::testing::TestParamInfo<CodeCase>& i) { return i.param.name; });

// The two codes that are not a trade_state of their own.
class RechargeCodes2047E2E : public StackSuite<RechargeCodes2047E2E> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "recharge_codes_2047";
    return o;
  }
};

TEST_F(RechargeCodes2047E2E, UnknownAtWechatAnswers2047AndKeepsTheOrder) {
  Stack& s = stack();
  auto user = s.CreateUser(500);
  ASSERT_TRUE(user.ok()) << user.status();
  const std::string no = "RC2047WECHAT";
  ASSERT_TRUE(s.CreateRechargeOrder(*user, no, 700).ok());  // nothing at the sandbox

  RechargeResult r = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(Code(r), 2047);
  EXPECT_EQ(r.response.msg(), "订单不存在");
  EXPECT_FALSE(r.response.has_data());
  EXPECT_EQ(s.WechatRequests(no), 1);

  auto order = s.GetRechargeOrder(no);
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(order->state, RechargeState::kNotPay);
  EXPECT_FALSE(order->credited);
  auto qlog = admin::ListQueryLog(s.pool(), no);
  ASSERT_EQ(qlog->size(), 1u);
  EXPECT_EQ((*qlog)[0].error_code, "ORDER_NOT_EXIST");
  EXPECT_EQ((*qlog)[0].trade_state, "");
  EXPECT_EQ(admin::CountLogRows(s.pool(), no)->recharge_order_log, 0);
  EXPECT_EQ(admin::CountLogRows(s.pool(), no)->user_amount_log, 0);
  EXPECT_EQ(*s.Balance(user->id), 500);
}

TEST_F(RechargeCodes2047E2E, UnknownLocallyAnswers2047WithoutAskingWechat) {
  Stack& s = stack();
  auto user = s.CreateUser(500);
  ASSERT_TRUE(user.ok()) << user.status();
  const std::string no = "RC2047LOCAL";
  // WeChat knows it, paid; but it is not an order of ours.
  ASSERT_TRUE(s.UpsertWechatOrder(*user, no, 700, {{"trade_state", "SUCCESS"}}).ok());
  auto before = s.CountTables();
  ASSERT_TRUE(before.ok());

  RechargeResult r = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(Code(r), 2047);
  EXPECT_FALSE(r.response.has_data());
  EXPECT_EQ(s.WechatRequests(no), 0);
  EXPECT_EQ(*s.CountTables(), *before);
}

TEST_F(RechargeCodes2047E2E, UnknownTradeStateAnswers2048AndChangesNothing) {
  Stack& s = stack();
  auto user = s.CreateUser(500);
  ASSERT_TRUE(user.ok()) << user.status();
  const std::string no = "RC2048STATE";
  ASSERT_TRUE(s.CreateRechargeOrder(*user, no, 700).ok());
  ASSERT_TRUE(s.UpsertWechatOrder(*user, no, 700, {{"trade_state", "ACCEPT"}}).ok());

  RechargeResult r = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(Code(r), 2048);
  EXPECT_EQ(r.response.msg(), "订单未知状态");
  EXPECT_EQ(r.response.data().state(), v1::RECHARGE_ORDER_STATE_NOTPAY);
  EXPECT_EQ(r.response.data().balance(), 500);

  auto order = s.GetRechargeOrder(no);
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(order->state, RechargeState::kNotPay);
  EXPECT_FALSE(order->credited);
  auto qlog = admin::ListQueryLog(s.pool(), no);
  ASSERT_EQ(qlog->size(), 1u);
  EXPECT_EQ((*qlog)[0].trade_state, "ACCEPT");
  EXPECT_EQ(admin::CountLogRows(s.pool(), no)->recharge_order_log, 0);
  EXPECT_EQ(admin::CountLogRows(s.pool(), no)->user_amount_log, 0);
}

TEST_F(RechargeCodes2047E2E, PartnerModeOrderIsCredited) {
  Stack& s = stack();
  auto user = s.CreateUser(1000, kPartnerAppid);
  ASSERT_TRUE(user.ok()) << user.status();
  const std::string no = "RCPARTNER0001";
  ASSERT_TRUE(s.CreateRechargeOrder(*user, no, 3300).ok());
  ASSERT_TRUE(s.UpsertWechatOrder(
                   *user, no, 3300,
                   {{"trade_state", "SUCCESS"}, {"transaction_id", "4200000002202603010000000001"}})
                  .ok());

  RechargeResult r = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(Code(r), 0);
  EXPECT_EQ(r.response.data().balance(), 4300);
  EXPECT_EQ(r.response.data().transaction_id(), "4200000002202603010000000001");
  EXPECT_EQ(*s.Balance(user->id), 4300);
  auto ledger = admin::ListAmountLogByOrder(s.pool(), no);
  ASSERT_EQ(ledger->size(), 1u);
  EXPECT_EQ((*ledger)[0].delta, 3300);
  auto order = s.GetRechargeOrder(no);
  EXPECT_EQ(order->state, RechargeState::kSuccess);
  EXPECT_TRUE(order->credited);
  EXPECT_EQ(order->sub_mchid, kSubMchid);
  // The sandbox saw it on the partner route (it only answers partner orders there).
  auto stats = s.sandbox().Stats(no);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)["answered"], 1);
}

// ---------------------------------------------------------------------------------------------
// What must never credit: replies that fail verification, paid replies that fail the checks,
// and upstream failures. The sandbox says SUCCESS in every case, so a slip would credit.

// The order untouched and the balance as it was.
void ExpectNothingApplied(Stack& s, const TestUser& user, const std::string& no, int64_t balance) {
  auto order = s.GetRechargeOrder(no);
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_EQ(order->state, RechargeState::kNotPay);
  EXPECT_FALSE(order->credited);
  EXPECT_EQ(order->transaction_id, "");
  EXPECT_FALSE(order->paid_at.has_value());
  EXPECT_EQ(*s.Balance(user.id), balance);
  auto counts = admin::CountLogRows(s.pool(), no);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->user_amount_log, 0);
  EXPECT_EQ(counts->recharge_order_log, 0);
}

struct FailureCase {
  std::string name;
  nlohmann::json fault;
  grpc::StatusCode status;
  std::string message_part;
  std::string logged_code;  // t_user_order_query_log.error_code
  int64_t requests;         // upstream requests the sandbox saw (retries included)
};

void PrintTo(const FailureCase& c, std::ostream* os) { *os << c.name; }

std::vector<FailureCase> FailureCases() {
  using nlohmann::json;
  return {
      // 429 and 5xx are retried (3 attempts), then reported as such.
      {"RateLimited", json{{"type", "http_429"}}, grpc::StatusCode::RESOURCE_EXHAUSTED,
       "rate limit", "RATELIMIT_EXCEEDED", 3},
      {"ServerError", json{{"type", "http_500"}}, grpc::StatusCode::UNAVAILABLE, "SYSTEM_ERROR",
       "SYSTEM_ERROR", 3},
      // The per-attempt timeout (1 s here) is not retried. The connection was open (kept alive
      // from the cases before), so it is the request timeout, not the connect timeout.
      {"Timeout", json{{"type", "timeout"}, {"sleep_ms", 2500}},
       grpc::StatusCode::DEADLINE_EXCEEDED, "request timeout", "DEADLINE_EXCEEDED", 1},
      // Verification failures: INTERNAL, never "not paid".
      {"ForgedSignature", json{{"type", "wrong_signature"}}, grpc::StatusCode::INTERNAL,
       "verification", "INTERNAL", 1},
      {"SigntestSignature", json{{"type", "signtest_signature"}}, grpc::StatusCode::INTERNAL,
       "verification", "INTERNAL", 1},
      {"StaleTimestamp", json{{"type", "stale_timestamp"}}, grpc::StatusCode::INTERNAL,
       "verification", "INTERNAL", 1},
      {"UnsignedReply", json{{"type", "missing_signature_headers"}}, grpc::StatusCode::INTERNAL,
       "verification", "INTERNAL", 1},
      {"UnknownSerial", json{{"type", "unknown_serial"}}, grpc::StatusCode::INTERNAL,
       "verification", "INTERNAL", 1},
      // WeChat refuses our signature: our misconfiguration.
      {"SignError", json{{"type", "sign_error"}}, grpc::StatusCode::INTERNAL, "signature",
       "SIGN_ERROR", 1},
      // Verified but unreadable: unknown, ask again.
      {"TruncatedBody", json{{"type", "truncated_body"}}, grpc::StatusCode::UNAVAILABLE,
       "unreadable", "UNAVAILABLE", 1},
      {"HtmlBody", json{{"type", "non_json_body"}}, grpc::StatusCode::UNAVAILABLE, "unreadable",
       "UNAVAILABLE", 1},
  };
}

class RechargeFailuresE2E
    : public StackSuite<RechargeFailuresE2E, ::testing::TestWithParam<FailureCase>> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "recharge_failures";
    return o;
  }
};

TEST_P(RechargeFailuresE2E, StatusQueryLogAndNoCredit) {
  const FailureCase& c = GetParam();
  Stack& s = stack();
  const std::string no = "RF" + c.name;
  auto user = s.CreateUser(1000);
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(s.CreateRechargeOrder(*user, no, 500).ok());
  ASSERT_TRUE(s.UpsertWechatOrder(
                   *user, no, 500,
                   {{"trade_state", "SUCCESS"}, {"faults", nlohmann::json::array({c.fault})}})
                  .ok());

  RechargeResult r = QueryRecharge(s.orders(), Args(*user, no));
  EXPECT_EQ(r.status.error_code(), c.status) << Describe(r.status);
  EXPECT_THAT(r.status.error_message(), HasSubstr(c.message_part)) << Describe(r.status);
  EXPECT_EQ(s.WechatRequests(no), c.requests);

  ExpectNothingApplied(s, *user, no, 1000);
  auto order = s.GetRechargeOrder(no);
  ASSERT_TRUE(order.ok());
  // A failure is not an answer: the next call asks again at once.
  EXPECT_FALSE(order->last_queried_at.has_value());
  auto qlog = admin::ListQueryLog(s.pool(), no);
  ASSERT_TRUE(qlog.ok());
  ASSERT_EQ(qlog->size(), 1u) << "the attempt is logged once, retries included";
  EXPECT_EQ((*qlog)[0].user_id, user->id);
  EXPECT_EQ((*qlog)[0].trade_state, "");
  EXPECT_EQ((*qlog)[0].error_code, c.logged_code);
  EXPECT_FALSE((*qlog)[0].error_message.empty());
}

INSTANTIATE_TEST_SUITE_P(Failures, RechargeFailuresE2E, ::testing::ValuesIn(FailureCases()),
                         [](const ::testing::TestParamInfo<FailureCase>& i) {
                           return i.param.name;
                         });

class RechargeChecksE2E : public StackSuite<RechargeChecksE2E> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "recharge_checks";
    return o;
  }

 protected:
  // A verified SUCCESS reply carrying `fault`: answered 2048, nothing credited.
  void ExpectRefused(const std::string& no, const nlohmann::json& fault) {
    Stack& s = stack();
    auto user = s.CreateUser(1000);
    ASSERT_TRUE(user.ok()) << user.status();
    ASSERT_TRUE(s.CreateRechargeOrder(*user, no, 500).ok());
    ASSERT_TRUE(s.UpsertWechatOrder(
                     *user, no, 500,
                     {{"trade_state", "SUCCESS"}, {"faults", nlohmann::json::array({fault})}})
                    .ok());
    RechargeResult r = QueryRecharge(s.orders(), Args(*user, no));
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    EXPECT_EQ(Code(r), 2048);
    EXPECT_EQ(r.response.msg(), "订单未知状态");
    EXPECT_EQ(r.response.data().balance(), 1000);
    EXPECT_EQ(s.WechatRequests(no), 1);
    ExpectNothingApplied(s, *user, no, 1000);
    auto qlog = admin::ListQueryLog(s.pool(), no);
    ASSERT_EQ(qlog->size(), 1u);
    EXPECT_EQ((*qlog)[0].trade_state, "SUCCESS");
    // The mismatch is logged at error level.
    EXPECT_THAT(s.ServerLog(0), HasSubstr("recharge_credit_refused"));
    EXPECT_THAT(s.ServerLog(0), HasSubstr(no));
  }
};

TEST_F(RechargeChecksE2E, AmountMismatchIsNotCredited) {
  ExpectRefused("RKAMOUNT", {{"type", "amount_mismatch"}, {"delta", 1}});
}

TEST_F(RechargeChecksE2E, WrongMchidIsNotCredited) {
  ExpectRefused("RKMCHID", {{"type", "wrong_mchid"}});
}

TEST_F(RechargeChecksE2E, WrongAppidIsNotCredited) {
  ExpectRefused("RKAPPID", {{"type", "wrong_appid"}});
}

// Asked again within the refresh interval, a paid-but-refused order must not be reported as
// "not paid" (2042): WeChat said SUCCESS; the answer stays 2048 until the amounts agree.
TEST_F(RechargeChecksE2E, RefusedPaidReplyIsNotReportedAsUnpaidLater) {
  Stack& s = stack();
  auto user = s.CreateUser(1000);
  ASSERT_TRUE(user.ok()) << user.status();
  const std::string no = "RKAMOUNTAGAIN";
  ASSERT_TRUE(s.CreateRechargeOrder(*user, no, 500).ok());
  ASSERT_TRUE(
      s.UpsertWechatOrder(*user, no, 500,
                          {{"trade_state", "SUCCESS"},
                           {"faults", nlohmann::json::array({{{"type", "amount_mismatch"}}})}})
          .ok());
  RechargeResult first = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(first.status.ok()) << Describe(first.status);
  EXPECT_EQ(Code(first), 2048);
  RechargeResult again = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(again.status.ok()) << Describe(again.status);
  EXPECT_NE(Code(again), 2042) << "WeChat said SUCCESS (with another amount); 2042 says not paid";
  EXPECT_EQ(*s.Balance(user->id), 1000);
}

// ---------------------------------------------------------------------------------------------
// Requests refused before any work: the documented status, and nothing written anywhere.

class RechargeRejectionsE2E : public StackSuite<RechargeRejectionsE2E> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "recharge_rejections";
    return o;
  }

 protected:
  void SetUp() override {
    StackSuite::SetUp();
    if (HasFatalFailure()) return;
    Stack& s = stack();
    auto user = s.CreateUser(1000);
    ASSERT_TRUE(user.ok()) << user.status();
    user_ = *user;
    order_no_ = "RJ" + std::to_string(user_.id);
    ASSERT_TRUE(s.CreateRechargeOrder(user_, order_no_, 500).ok());
    ASSERT_TRUE(s.UpsertWechatOrder(user_, order_no_, 500, {{"trade_state", "SUCCESS"}}).ok());
    auto counts = s.CountTables();
    ASSERT_TRUE(counts.ok()) << counts.status();
    before_ = *counts;
    requests_before_ = s.TotalSandboxRequests();
    ASSERT_GE(requests_before_, 0);
  }

  // The call was refused with `code` and left no trace.
  void ExpectRefusedCleanly(const RechargeArgs& args, grpc::StatusCode code) {
    Stack& s = stack();
    RechargeResult r = QueryRecharge(s.orders(), args);
    EXPECT_EQ(r.status.error_code(), code)
        << Describe(r.status) << " for order_no \"" << args.order_no << "\"";
    auto after = s.CountTables();
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_EQ(*after, before_) << "for order_no \"" << args.order_no << "\"";
    EXPECT_EQ(s.TotalSandboxRequests(), requests_before_);
    EXPECT_EQ(*s.Balance(user_.id), 1000);
  }

  TestUser user_;
  std::string order_no_;
  TableCounts before_;
  int64_t requests_before_ = 0;
};

TEST_F(RechargeRejectionsE2E, UnknownToken) {
  RechargeArgs a = Args(user_, order_no_);
  a.token = "no-such-token";
  ExpectRefusedCleanly(a, grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(RechargeRejectionsE2E, ExpiredToken) {
  auto expired = stack().CreateToken(user_, absl::Now() - absl::Minutes(1));
  ASSERT_TRUE(expired.ok()) << expired.status();
  before_.session += 1;
  RechargeArgs a = Args(user_, order_no_);
  a.token = *expired;
  ExpectRefusedCleanly(a, grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(RechargeRejectionsE2E, TokenOfAnotherAppid) {
  RechargeArgs a = Args(user_, order_no_);
  a.appid = kPartnerAppid;
  ExpectRefusedCleanly(a, grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(RechargeRejectionsE2E, MissingToken) {
  RechargeArgs a = Args(user_, order_no_);
  a.token.clear();
  ExpectRefusedCleanly(a, grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(RechargeRejectionsE2E, MissingAppid) {
  RechargeArgs a = Args(user_, order_no_);
  a.appid.clear();
  ExpectRefusedCleanly(a, grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(RechargeRejectionsE2E, MalformedOrderNumbers) {
  const std::vector<std::string> bad = {
      "",
      std::string(33, '7'),
      "'; DROP TABLE t_user; --",
      "R1' OR '1'='1",
      "订单20260301",
      "R1\xC3\xA9",  // é
      "R1 2",
      "R1/../2",
  };
  for (const std::string& no : bad) {
    ExpectRefusedCleanly(Args(user_, no), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // 32 characters of the allowed set are fine (and unknown here: 2047, nothing asked).
  RechargeResult ok = QueryRecharge(stack().orders(), Args(user_, std::string(32, '7')));
  ASSERT_TRUE(ok.status.ok()) << Describe(ok.status);
  EXPECT_EQ(Code(ok), 2047);
  EXPECT_EQ(stack().TotalSandboxRequests(), requests_before_);
  EXPECT_TRUE(admin::CountRows(stack().pool(), "t_user").ok()) << "t_user is still there";
}

TEST_F(RechargeRejectionsE2E, AnotherUsersOrderLooksMissing) {
  Stack& s = stack();
  auto other = s.CreateUser(70);
  ASSERT_TRUE(other.ok()) << other.status();
  before_.user += 1;
  before_.session += 1;
  // `other` asks about user_'s order, which WeChat says is paid.
  RechargeResult r = QueryRecharge(s.orders(), Args(*other, order_no_));
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(Code(r), 2047);
  EXPECT_EQ(r.response.msg(), "订单不存在");
  EXPECT_FALSE(r.response.has_data()) << "no data about another user's order";
  EXPECT_EQ(*s.CountTables(), before_);
  EXPECT_EQ(s.WechatRequests(order_no_), 0);
  EXPECT_EQ(*s.Balance(other->id), 70);
  EXPECT_EQ(*s.Balance(user_.id), 1000);
  auto order = s.GetRechargeOrder(order_no_);
  EXPECT_EQ(order->state, RechargeState::kNotPay);
  EXPECT_FALSE(order->last_queried_at.has_value());
  // The same order asked about with a missing order number answers alike.
  RechargeResult missing = QueryRecharge(s.orders(), Args(*other, "RJNOSUCHORDER"));
  ASSERT_TRUE(missing.status.ok());
  EXPECT_EQ(missing.response.SerializeAsString(), r.response.SerializeAsString());
}

TEST_F(RechargeRejectionsE2E, TokenInTheRequestFieldWorks) {
  RechargeArgs a = Args(user_, order_no_);
  a.token_in_field = true;
  RechargeResult r = QueryRecharge(stack().orders(), a);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(Code(r), 0);
  EXPECT_EQ(r.response.data().balance(), 1500);
}

// ---------------------------------------------------------------------------------------------
// Freshness: final orders from the database, the refresh interval, force_refresh, coalescing,
// and a payment WeChat only learns of late.

class RechargeFreshnessE2E : public StackSuite<RechargeFreshnessE2E> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "recharge_freshness";
    o.recharge_refresh_interval_ms = kLongIntervalMs;
    return o;
  }
};

TEST_F(RechargeFreshnessE2E, FinalOrdersAreAnsweredWithoutAskingWechat) {
  Stack& s = stack();
  auto user = s.CreateUser(800);
  ASSERT_TRUE(user.ok()) << user.status();
  struct Final {
    std::string no;
    RechargeState state;
    bool credited;
    int code;
  };
  const std::vector<Final> finals = {{"RSFINALPAID", RechargeState::kSuccess, true, 0},
                                     {"RSFINALREFUND", RechargeState::kRefund, false, 2041},
                                     {"RSFINALCLOSED", RechargeState::kClosed, false, 2043},
                                     {"RSFINALREVOKED", RechargeState::kRevoked, false, 2044},
                                     {"RSFINALPAYERROR", RechargeState::kPayError, false, 2046}};
  for (const Final& f : finals) {
    domain::RechargeOrder o;
    o.order_no = f.no;
    o.user_id = user->id;
    o.appid = kDirectAppid;
    o.mchid = kMchid;
    o.amount_fen = 100;
    o.state = f.state;
    o.credited = f.credited;
    ASSERT_TRUE(admin::CreateRechargeOrder(s.pool(), o).ok());
    // WeChat would say something else: it must not be asked.
    ASSERT_TRUE(s.UpsertWechatOrder(*user, f.no, 100, {{"trade_state", "NOTPAY"}}).ok());
  }
  auto before = s.CountTables();
  ASSERT_TRUE(before.ok());
  for (const Final& f : finals) {
    for (bool twice : {false, true}) {
      RechargeResult r = QueryRecharge(s.orders(), Args(*user, f.no));
      ASSERT_TRUE(r.status.ok()) << Describe(r.status);
      EXPECT_EQ(Code(r), f.code) << f.no << (twice ? " (again)" : "");
      EXPECT_EQ(r.response.data().balance(), 800);
    }
    EXPECT_EQ(s.WechatRequests(f.no), 0) << f.no;
  }
  EXPECT_EQ(*s.CountTables(), *before) << "answers from the database write nothing";
}

// Paid at WeChat, SUCCESS here but never credited (a crash between two writes in an older
// version, or a repair by hand): "SUCCESS once credited" is final, this is not.
TEST_F(RechargeFreshnessE2E, PaidButUncreditedOrderIsCreditedOnTheNextQuery) {
  Stack& s = stack();
  auto user = s.CreateUser(800);
  ASSERT_TRUE(user.ok()) << user.status();
  const std::string no = "RSUNCREDITED";
  ASSERT_TRUE(s.CreateRechargeOrder(*user, no, 150, RechargeState::kSuccess).ok());
  ASSERT_TRUE(s.UpsertWechatOrder(*user, no, 150, {{"trade_state", "SUCCESS"}}).ok());
  RechargeResult r = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(Code(r), 0);
  EXPECT_EQ(*s.Balance(user->id), 950) << "code 0 promises the balance was credited";
  EXPECT_EQ(admin::CountLogRows(s.pool(), no)->user_amount_log, 1);
  EXPECT_TRUE(s.GetRechargeOrder(no)->credited);
}

TEST_F(RechargeFreshnessE2E, PendingOrderIsAskedAtMostOncePerInterval) {
  Stack& s = stack();
  auto user = s.CreateUser(800);
  ASSERT_TRUE(user.ok()) << user.status();
  const std::string no = "RSINTERVAL";
  ASSERT_TRUE(s.CreateRechargeOrder(*user, no, 100).ok());
  ASSERT_TRUE(s.UpsertWechatOrder(*user, no, 100, {{"trade_state", "NOTPAY"}}).ok());

  const absl::Time start = absl::Now();
  for (int i = 0; i < 5; ++i) {
    RechargeResult r = QueryRecharge(s.orders(), Args(*user, no));
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    EXPECT_EQ(Code(r), 2042);
  }
  ASSERT_LT(absl::Now() - start, kLongInterval) << "machine too slow for this check";
  EXPECT_EQ(s.WechatRequests(no), 1);
  EXPECT_EQ(admin::CountLogRows(s.pool(), no)->query_log, 1);

  LetTheIntervalPass(s);
  RechargeResult r = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(Code(r), 2042);
  EXPECT_EQ(s.WechatRequests(no), 2);
  EXPECT_EQ(admin::CountLogRows(s.pool(), no)->query_log, 2);
}

TEST_F(RechargeFreshnessE2E, ForceRefreshBypassesTheInterval) {
  Stack& s = stack();
  auto user = s.CreateUser(800);
  ASSERT_TRUE(user.ok()) << user.status();
  const std::string no = "RSFORCE";
  ASSERT_TRUE(s.CreateRechargeOrder(*user, no, 100).ok());
  ASSERT_TRUE(s.UpsertWechatOrder(*user, no, 100,
                                  {{"trade_state", "NOTPAY"},
                                   {"transitions", {{{"to", "SUCCESS"}, {"after_queries", 1}}}}})
                  .ok());
  RechargeResult first = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(first.status.ok()) << Describe(first.status);
  EXPECT_EQ(Code(first), 2042);
  // Paid at WeChat now; within the interval a plain query does not see it...
  RechargeResult plain = QueryRecharge(s.orders(), Args(*user, no));
  EXPECT_EQ(Code(plain), 2042);
  EXPECT_EQ(s.WechatRequests(no), 1);
  // ...a forced one does, and credits.
  RechargeResult forced = QueryRecharge(s.orders(), Args(*user, no, /*force=*/true));
  ASSERT_TRUE(forced.status.ok()) << Describe(forced.status);
  EXPECT_EQ(Code(forced), 0);
  EXPECT_EQ(forced.response.data().balance(), 900);
  EXPECT_EQ(s.WechatRequests(no), 2);
  // Forcing a final order asks again, and credits nothing more.
  RechargeResult again = QueryRecharge(s.orders(), Args(*user, no, /*force=*/true));
  EXPECT_EQ(Code(again), 0);
  EXPECT_EQ(s.WechatRequests(no), 3);
  EXPECT_EQ(*s.Balance(user->id), 900);
  EXPECT_EQ(admin::CountLogRows(s.pool(), no)->user_amount_log, 1);
  EXPECT_EQ(admin::CountLogRows(s.pool(), no)->query_log, 3);
}

TEST_F(RechargeFreshnessE2E, ConcurrentCallsForOnePendingOrderShareOneRequest) {
  Stack& s = stack();
  auto user = s.CreateUser(800);
  ASSERT_TRUE(user.ok()) << user.status();
  const std::string no = "RSCOALESCE";
  ASSERT_TRUE(s.CreateRechargeOrder(*user, no, 100).ok());
  ASSERT_TRUE(
      s.UpsertWechatOrder(*user, no, 100, {{"trade_state", "NOTPAY"}, {"latency_ms", 300}}).ok());

  std::vector<RechargeArgs> calls(100, Args(*user, no));
  std::vector<RechargeResult> results = QueryRechargeConcurrently({&s.orders()}, calls);
  for (const RechargeResult& r : results) {
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    EXPECT_EQ(Code(r), 2042);
  }
  auto stats = s.sandbox().Stats(no);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)["requests"], 1);
  EXPECT_EQ((*stats)["max_inflight"], 1);
  EXPECT_EQ(admin::CountLogRows(s.pool(), no)->query_log, 1);

  // force_refresh calls are coalesced too.
  for (RechargeArgs& a : calls) a.force_refresh = true;
  calls.resize(50);
  results = QueryRechargeConcurrently({&s.orders()}, calls);
  for (const RechargeResult& r : results) {
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    EXPECT_EQ(Code(r), 2042);
  }
  EXPECT_EQ(s.WechatRequests(no), 2);
}

TEST_F(RechargeFreshnessE2E, LatePaymentIsCreditedOnTheNextQuery) {
  Stack& s = stack();
  auto user = s.CreateUser(800);
  ASSERT_TRUE(user.ok()) << user.status();
  const std::string no = "RSLATE";
  ASSERT_TRUE(s.CreateRechargeOrder(*user, no, 450).ok());
  // WeChat does not know the order yet.
  RechargeResult first = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(first.status.ok()) << Describe(first.status);
  EXPECT_EQ(Code(first), 2047);
  auto order = s.GetRechargeOrder(no);
  EXPECT_EQ(order->state, RechargeState::kNotPay) << "404 must not change the order";
  EXPECT_EQ(admin::CountLogRows(s.pool(), no)->recharge_order_log, 0);

  // Now it shows up, paid.
  ASSERT_TRUE(s.UpsertWechatOrder(
                   *user, no, 450,
                   {{"trade_state", "SUCCESS"}, {"transaction_id", "4200000004202603010000000001"}})
                  .ok());
  LetTheIntervalPass(s);
  RechargeResult late = QueryRecharge(s.orders(), Args(*user, no));
  ASSERT_TRUE(late.status.ok()) << Describe(late.status);
  EXPECT_EQ(Code(late), 0);
  EXPECT_EQ(late.response.data().balance(), 1250);
  EXPECT_EQ(late.response.data().transaction_id(), "4200000004202603010000000001");
  EXPECT_EQ(*s.Balance(user->id), 1250);
  auto olog = admin::ListRechargeOrderLog(s.pool(), no);
  ASSERT_EQ(olog->size(), 1u);
  EXPECT_EQ((*olog)[0].from_status, "NOTPAY");
  EXPECT_EQ((*olog)[0].to_status, "SUCCESS");
  auto qlog = admin::ListQueryLog(s.pool(), no);
  ASSERT_EQ(qlog->size(), 2u);
  EXPECT_EQ((*qlog)[0].error_code, "ORDER_NOT_EXIST");
  EXPECT_EQ((*qlog)[1].trade_state, "SUCCESS");
}

// ---------------------------------------------------------------------------------------------
// Exactly once across processes: three orderqueryd on one database.

class RechargeExactlyOnceE2E : public StackSuite<RechargeExactlyOnceE2E> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "recharge_once";
    o.servers = 3;
    return o;
  }

 protected:
  static std::vector<v1::OrderQueryService::Stub*> AllServers() {
    std::vector<v1::OrderQueryService::Stub*> stubs;
    for (int i = 0; i < stack().servers(); ++i) stubs.push_back(&stack().orders(i));
    return stubs;
  }
};

TEST_F(RechargeExactlyOnceE2E, TwoHundredConcurrentCallsCreditOnce) {
  Stack& s = stack();
  const int64_t kBalance = 12345, kAmount = 9900;
  auto user = s.CreateUser(kBalance);
  ASSERT_TRUE(user.ok()) << user.status();
  const std::string no = "REONCE200";
  ASSERT_TRUE(s.CreateRechargeOrder(*user, no, kAmount).ok());
  // Slow enough that every server's own request is in flight at once.
  ASSERT_TRUE(
      s.UpsertWechatOrder(*user, no, kAmount, {{"trade_state", "SUCCESS"}, {"latency_ms", 300}})
          .ok());

  std::vector<RechargeArgs> calls;
  for (int i = 0; i < 200; ++i) calls.push_back(Args(*user, no, /*force=*/i % 4 == 3));
  std::vector<RechargeResult> results = QueryRechargeConcurrently(AllServers(), calls);
  for (const RechargeResult& r : results) {
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    EXPECT_EQ(Code(r), 0);
    EXPECT_EQ(r.response.data().balance(), kBalance + kAmount);
  }

  EXPECT_EQ(*s.Balance(user->id), kBalance + kAmount);
  auto ledger = admin::ListAmountLogByOrder(s.pool(), no);
  ASSERT_TRUE(ledger.ok());
  ASSERT_EQ(ledger->size(), 1u);
  EXPECT_EQ((*ledger)[0].amount_before, kBalance);
  EXPECT_EQ((*ledger)[0].delta, kAmount);
  EXPECT_EQ((*ledger)[0].amount_after, kBalance + kAmount);
  auto olog = admin::ListRechargeOrderLog(s.pool(), no);
  ASSERT_EQ(olog->size(), 1u);
  EXPECT_EQ((*olog)[0].to_status, "SUCCESS");
  auto order = s.GetRechargeOrder(no);
  EXPECT_EQ(order->state, RechargeState::kSuccess);
  EXPECT_TRUE(order->credited);
  // Each server asked on its own (coalescing is per process), so the database saw a real race.
  const int64_t requests = s.WechatRequests(no);
  EXPECT_GE(requests, 3);
  EXPECT_LE(requests, 200);
  EXPECT_EQ(admin::CountLogRows(s.pool(), no)->query_log, requests);
}

TEST_F(RechargeExactlyOnceE2E, BatchOfOrdersPaidAtOnceEachCreditedOnce) {
  Stack& s = stack();
  const int64_t kBalance = 1000;
  constexpr int kOrders = 20, kCallsPerOrder = 10;
  // One user for most orders (every credit contends for the same balance row), another for a few.
  auto alice = s.CreateUser(kBalance);
  auto bob = s.CreateUser(kBalance);
  ASSERT_TRUE(alice.ok() && bob.ok());
  std::vector<std::string> nos;
  std::vector<RechargeArgs> calls;
  int64_t alice_total = 0, bob_total = 0;
  for (int i = 0; i < kOrders; ++i) {
    const TestUser& u = i % 5 == 4 ? *bob : *alice;
    const std::string no = "REBATCH" + std::to_string(i);
    const int64_t amount = 100 + i;
    (i % 5 == 4 ? bob_total : alice_total) += amount;
    ASSERT_TRUE(s.CreateRechargeOrder(u, no, amount).ok());
    ASSERT_TRUE(
        s.UpsertWechatOrder(u, no, amount, {{"trade_state", "SUCCESS"}, {"latency_ms", 100}}).ok());
    nos.push_back(no);
    for (int k = 0; k < kCallsPerOrder; ++k) calls.push_back(Args(u, no));
  }
  std::vector<RechargeResult> results = QueryRechargeConcurrently(AllServers(), calls);
  for (const RechargeResult& r : results) {
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    EXPECT_EQ(Code(r), 0);
  }
  for (const std::string& no : nos) {
    EXPECT_EQ(admin::CountLogRows(s.pool(), no)->user_amount_log, 1) << no;
    EXPECT_EQ(admin::CountLogRows(s.pool(), no)->recharge_order_log, 1) << no;
    EXPECT_TRUE(s.GetRechargeOrder(no)->credited) << no;
  }
  EXPECT_EQ(*s.Balance(alice->id), kBalance + alice_total);
  EXPECT_EQ(*s.Balance(bob->id), kBalance + bob_total);
  // Each user's ledger is one unbroken chain: every entry starts where the previous ended.
  for (const TestUser* u : {&*alice, &*bob}) {
    auto ledger = admin::ListAmountLogByUser(s.pool(), u->id);
    ASSERT_TRUE(ledger.ok());
    int64_t running = kBalance;
    for (const admin::AmountLogRow& row : *ledger) {
      EXPECT_EQ(row.amount_before, running) << row.order_no;
      EXPECT_EQ(row.amount_after, row.amount_before + row.delta) << row.order_no;
      running = row.amount_after;
    }
    EXPECT_EQ(running, *s.Balance(u->id));
  }
}

}  // namespace
}  // namespace orderquery::e2e
