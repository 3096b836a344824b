#include "server/domain/recharge_policy.h"

#include <string>

#include "gtest/gtest.h"
#include "server/domain/lifecycle.h"

namespace orderquery::domain {
namespace {

RechargeOrder Order() {
  RechargeOrder o;
  o.order_no = "30037620190603135446976217590065";
  o.user_id = 7;
  o.appid = "wxd678efh567hg6787";
  o.mchid = "1230000109";
  o.amount_fen = 1000;
  o.state = RechargeState::kNotPay;
  return o;
}

UpstreamTransaction Reply(const std::string& state) {
  UpstreamTransaction t;
  t.out_trade_no = "30037620190603135446976217590065";
  t.provider = "wechat";
  t.provider_state = state;  // the provider's word; the state when it is one we know
  if (RechargeState known; ParseRechargeState(state, &known)) t.state = known;
  t.appid = "wxd678efh567hg6787";
  t.mchid = "1230000109";
  t.total_fen = 1000;
  t.payer_total_fen = 1000;
  t.currency = "CNY";
  t.transaction_id = state == "SUCCESS" ? "4200000001201906031234567890" : "";
  return t;
}

struct Row {
  std::string trade_state;
  int code;
  const char* msg;
  bool changes;
  bool credit;
};

// Seed 000's table, row by row.
TEST(DecideTest, EveryTradeStateMapsToTheSeedCode) {
  const Row rows[] = {
      {"SUCCESS", 0, "订单支付成功", true, true},
      {"REFUND", 2041, "订单转入退款", true, false},
      {"NOTPAY", 2042, "订单未支付", false, false},
      {"CLOSED", 2043, "订单已关闭", true, false},
      {"REVOKED", 2044, "订单已撤销(付款码支付)", true, false},
      {"USERPAYING", 2045, "用户支付中(付款码支付)", true, false},
      {"PAYERROR", 2046, "订单支付失败(其他原因,如银行返回失败)", true, false},
      {"ACCEPT", 2048, "订单未知状态", false, false},
      {"", 2048, "订单未知状态", false, false},
  };
  for (const auto& r : rows) {
    Decision d = Decide(Order(), Reply(r.trade_state));
    EXPECT_EQ(static_cast<int>(d.code), r.code) << r.trade_state;
    EXPECT_STREQ(ResultMessage(d.code), r.msg) << r.trade_state;
    EXPECT_EQ(d.change.has_value(), r.changes) << r.trade_state;
    if (d.change) {
      EXPECT_EQ(d.change->credit, r.credit) << r.trade_state;
      EXPECT_EQ(RechargeStateName(d.change->to), r.trade_state);
      EXPECT_EQ(d.change->reason, "wechat trade_state " + r.trade_state);
    }
    EXPECT_TRUE(d.mismatch.empty());
  }
  EXPECT_STREQ(ResultMessage(ResultCode::kOrderNotExist), "订单不存在");
}

TEST(DecideTest, PaidReplyThatFailsAChecksCreditsNothing) {
  struct Case {
    const char* name;
    void (*mutate)(UpstreamTransaction*);
    const char* expect;
  };
  const Case cases[] = {
      {"amount", [](UpstreamTransaction* t) { t->total_fen = 999; },
       "paid total 999 fen differs from order amount 1000 fen"},
      {"mchid", [](UpstreamTransaction* t) { t->mchid = "1999999999"; }, "reply mchid 1999999999"},
      {"appid", [](UpstreamTransaction* t) { t->appid = "wxother"; }, "reply appid wxother"},
      {"order", [](UpstreamTransaction* t) { t->out_trade_no = "OTHER"; },
       "reply is for out_trade_no OTHER"},
      {"txid", [](UpstreamTransaction* t) { t->transaction_id.clear(); }, "no transaction_id"},
  };
  for (const auto& c : cases) {
    UpstreamTransaction t = Reply("SUCCESS");
    c.mutate(&t);
    Decision d = Decide(Order(), t);
    EXPECT_EQ(d.code, ResultCode::kUnknown) << c.name;
    EXPECT_FALSE(d.change.has_value()) << c.name;
    EXPECT_NE(d.mismatch.find(c.expect), std::string::npos) << c.name << ": " << d.mismatch;
  }
}

TEST(DecideTest, PartnerOrderChecksSubMchid) {
  RechargeOrder o = Order();
  o.sub_mchid = "1900000109";
  UpstreamTransaction t = Reply("SUCCESS");
  t.sub_mchid = "1900000999";
  Decision d = Decide(o, t);
  EXPECT_EQ(d.code, ResultCode::kUnknown);
  EXPECT_FALSE(d.change.has_value());
  t.sub_mchid = "1900000109";
  d = Decide(o, t);
  EXPECT_EQ(d.code, ResultCode::kSuccess);
  ASSERT_TRUE(d.change.has_value());
  EXPECT_TRUE(d.change->credit);
}

TEST(DecideTest, SameStateAgainChangesNothing) {
  RechargeOrder o = Order();
  o.state = RechargeState::kUserPaying;
  Decision d = Decide(o, Reply("USERPAYING"));
  EXPECT_EQ(d.code, ResultCode::kUserPaying);
  EXPECT_FALSE(d.change.has_value());
  o.state = RechargeState::kSuccess;
  o.credited = true;
  d = Decide(o, Reply("SUCCESS"));
  EXPECT_EQ(d.code, ResultCode::kSuccess);
  EXPECT_FALSE(d.change.has_value());
}

TEST(DecideTest, RefundAfterCreditIsRecordedWithoutCredit) {
  RechargeOrder o = Order();
  o.state = RechargeState::kSuccess;
  o.credited = true;
  Decision d = Decide(o, Reply("REFUND"));
  EXPECT_EQ(d.code, ResultCode::kRefund);
  ASSERT_TRUE(d.change.has_value());
  EXPECT_FALSE(d.change->credit);
}

TEST(StatesTest, FinalStatesAndNames) {
  EXPECT_TRUE(IsFinal(RechargeState::kSuccess));
  EXPECT_TRUE(IsFinal(RechargeState::kClosed));
  EXPECT_TRUE(IsFinal(RechargeState::kRevoked));
  EXPECT_TRUE(IsFinal(RechargeState::kPayError));
  EXPECT_TRUE(IsFinal(RechargeState::kRefund));
  EXPECT_FALSE(IsFinal(RechargeState::kNotPay));
  EXPECT_FALSE(IsFinal(RechargeState::kUserPaying));
  RechargeState s;
  EXPECT_TRUE(ParseRechargeState("PAYERROR", &s));
  EXPECT_EQ(s, RechargeState::kPayError);
  EXPECT_FALSE(ParseRechargeState("paid", &s));
}

// The lifecycle: every (stored state, credited, reply) pair against the state machine table.
TEST(LifecycleTest, EveryStoredStateAgainstEveryReply) {
  const RechargeState kStates[] = {RechargeState::kNotPay,  RechargeState::kUserPaying,
                                   RechargeState::kSuccess, RechargeState::kRefund,
                                   RechargeState::kClosed,  RechargeState::kRevoked,
                                   RechargeState::kPayError};
  for (RechargeState from : kStates) {
    for (RechargeState to : kStates) {
      for (bool credited : {false, true}) {
        if (credited && from != RechargeState::kSuccess && from != RechargeState::kRefund) continue;
        RechargeOrder o = Order();
        o.state = from;
        o.credited = credited;
        const std::string name(RechargeStateName(to));
        Decision d = Decide(o, Reply(name));
        SCOPED_TRACE(MoveName(from, to) + (credited ? " credited" : ""));
        const bool pending = from == RechargeState::kNotPay || from == RechargeState::kUserPaying;
        const bool closed_like = from == RechargeState::kClosed ||
                                 from == RechargeState::kRevoked ||
                                 from == RechargeState::kPayError;
        bool allowed;
        if (from == to) {
          allowed = false;
        } else if (pending) {
          allowed = true;
        } else if (from == RechargeState::kSuccess) {
          allowed = to == RechargeState::kRefund;
        } else if (closed_like) {
          allowed = to == RechargeState::kSuccess;
        } else {
          allowed = false;  // REFUND moves nowhere
        }
        const bool uncredited_success =
            from == RechargeState::kSuccess && to == RechargeState::kSuccess && !credited;
        if (allowed || uncredited_success) {
          ASSERT_TRUE(d.change.has_value());
          EXPECT_EQ(d.change->to, to);
          EXPECT_EQ(d.change->credit, to == RechargeState::kSuccess);
          ASSERT_TRUE(d.change->from.has_value());
          EXPECT_EQ(*d.change->from, from);
          EXPECT_EQ(d.code, CodeForState(to));
          EXPECT_TRUE(d.refused_move.empty());
          EXPECT_EQ(d.late_payment, closed_like && to == RechargeState::kSuccess);
        } else if (from == to) {
          EXPECT_FALSE(d.change.has_value());
          EXPECT_EQ(d.code, CodeForState(to));
          EXPECT_TRUE(d.refused_move.empty());
        } else {
          // Refused: nothing written, our record answers, the move is named for the log.
          EXPECT_FALSE(d.change.has_value());
          EXPECT_EQ(d.code, CodeForState(from));
          EXPECT_EQ(d.refused_move, MoveName(from, to));
        }
      }
    }
  }
}

TEST(LifecycleTest, LaggingClosedAfterCreditChangesNothing) {
  RechargeOrder o = Order();
  o.state = RechargeState::kSuccess;
  o.credited = true;
  Decision d = Decide(o, Reply("CLOSED"));
  EXPECT_FALSE(d.change.has_value());
  EXPECT_EQ(d.code, ResultCode::kSuccess);
  EXPECT_EQ(d.refused_move, "SUCCESS->CLOSED");
}

TEST(LifecycleTest, ClosedOrderRevivesOnlyOnAPaidReplyThatPassesEveryCheck) {
  RechargeOrder o = Order();
  o.state = RechargeState::kClosed;
  UpstreamTransaction bad = Reply("SUCCESS");
  bad.total_fen = 1;
  Decision d = Decide(o, bad);
  EXPECT_FALSE(d.change.has_value());
  EXPECT_FALSE(d.mismatch.empty());
  d = Decide(o, Reply("SUCCESS"));
  ASSERT_TRUE(d.change.has_value());
  EXPECT_TRUE(d.change->credit);
  EXPECT_TRUE(d.late_payment);
  EXPECT_NE(d.change->reason.find("late payment"), std::string::npos);
}

TEST(LifecycleTest, NewCreditChecks) {
  struct Case {
    const char* name;
    void (*mutate)(UpstreamTransaction*);
    const char* expect;
  };
  const Case cases[] = {
      {"currency", [](UpstreamTransaction* t) { t->currency = "USD"; }, "not CNY"},
      {"no currency", [](UpstreamTransaction* t) { t->currency.clear(); }, "not CNY"},
      {"no payer_total", [](UpstreamTransaction* t) { t->payer_total_fen.reset(); },
       "no payer_total"},
      {"payer_total above", [](UpstreamTransaction* t) { t->payer_total_fen = 1001; },
       "payer_total 1001 fen is above total 1000 fen"},
      {"sub_mchid on a direct order", [](UpstreamTransaction* t) { t->sub_mchid = "1900000109"; },
       "sub_mchid"},
  };
  for (const auto& c : cases) {
    UpstreamTransaction t = Reply("SUCCESS");
    c.mutate(&t);
    Decision d = Decide(Order(), t);
    EXPECT_EQ(d.code, ResultCode::kUnknown) << c.name;
    EXPECT_FALSE(d.change.has_value()) << c.name;
    EXPECT_NE(d.mismatch.find(c.expect), std::string::npos) << c.name << ": " << d.mismatch;
  }
  // A discount leaves payer_total below total: still credited (the order amount was paid).
  UpstreamTransaction t = Reply("SUCCESS");
  t.payer_total_fen = 900;
  EXPECT_TRUE(Decide(Order(), t).change.has_value());
  // A partner-mode order with an empty sub_mchid never matches a sub-merchant's payment.
  RechargeOrder partner = Order();
  t = Reply("SUCCESS");
  t.sub_mchid = "1900000109";
  EXPECT_FALSE(Decide(partner, t).change.has_value());
}

TEST(LifecycleTest, VehicleSnapshotsMoveOnlyForward) {
  struct VehicleRow {
    const char* from;
    const char* to;
    Move move;
  };
  const VehicleRow rows[] = {
      {"ACCEPTED", "SUCCESS", Move::kAllowed}, {"ACCEPTED", "PAY_FAIL", Move::kAllowed},
      {"SUCCESS", "REFUND", Move::kAllowed},   {"SUCCESS", "ACCEPTED", Move::kRefused},
      {"SUCCESS", "PAY_FAIL", Move::kRefused}, {"PAY_FAIL", "SUCCESS", Move::kAllowed},
      {"PAY_FAIL", "REFUND", Move::kRefused},  {"REFUND", "SUCCESS", Move::kRefused},
      {"REFUND", "ACCEPTED", Move::kRefused},  {"SUCCESS", "SUCCESS", Move::kSame},
  };
  for (const VehicleRow& r : rows) {
    EXPECT_EQ(CheckVehicleMove(r.from, r.to), r.move) << r.from << "->" << r.to;
  }
  EXPECT_TRUE(IsFinalVehicleState("REFUND"));
  EXPECT_FALSE(IsFinalVehicleState("SUCCESS"));  // may still be refunded: refreshed, not kept
}

TEST(LifecycleTest, TradeStatusesMoveAsTheMerchantApiAllows) {
  struct TradeRow {
    int from;
    int to;
    Move move;
  };
  const TradeRow rows[] = {
      {0, 1, Move::kAllowed},  {0, 2, Move::kAllowed},  {1, 0, Move::kRefused},
      {1, -1, Move::kAllowed}, {2, 4, Move::kAllowed},  {2, 5, Move::kAllowed},
      {2, 0, Move::kRefused},  {2, -1, Move::kRefused}, {4, 5, Move::kAllowed},
      {4, 2, Move::kRefused},  {5, 4, Move::kRefused},  {5, 2, Move::kRefused},
      {-1, 2, Move::kRefused}, {6, 7, Move::kAllowed},  {6, 2, Move::kRefused},
      {7, 6, Move::kRefused},  {2, 2, Move::kSame},
  };
  for (const TradeRow& r : rows) {
    EXPECT_EQ(CheckTradeMove(r.from, r.to), r.move) << r.from << "->" << r.to;
  }
}

}  // namespace
}  // namespace orderquery::domain
