#include "server/domain/recharge_policy.h"

#include "absl/strings/str_cat.h"
#include "server/domain/lifecycle.h"

namespace orderquery::domain {

const char* ResultMessage(ResultCode code) {
  switch (code) {
    case ResultCode::kSuccess:
      return "订单支付成功";
    case ResultCode::kRefund:
      return "订单转入退款";
    case ResultCode::kNotPay:
      return "订单未支付";
    case ResultCode::kClosed:
      return "订单已关闭";
    case ResultCode::kRevoked:
      return "订单已撤销(付款码支付)";
    case ResultCode::kUserPaying:
      return "用户支付中(付款码支付)";
    case ResultCode::kPayError:
      return "订单支付失败(其他原因,如银行返回失败)";
    case ResultCode::kOrderNotExist:
      return "订单不存在";
    case ResultCode::kUnknown:
      return "订单未知状态";
  }
  return "订单未知状态";
}

ResultCode CodeForState(RechargeState s) {
  switch (s) {
    case RechargeState::kSuccess:
      return ResultCode::kSuccess;
    case RechargeState::kRefund:
      return ResultCode::kRefund;
    case RechargeState::kNotPay:
      return ResultCode::kNotPay;
    case RechargeState::kClosed:
      return ResultCode::kClosed;
    case RechargeState::kRevoked:
      return ResultCode::kRevoked;
    case RechargeState::kUserPaying:
      return ResultCode::kUserPaying;
    case RechargeState::kPayError:
      return ResultCode::kPayError;
  }
  return ResultCode::kUnknown;
}

namespace {

// Checks a SUCCESS reply against the order; empty when it may be credited.
std::string CreditCheck(const RechargeOrder& order, const UpstreamTransaction& tx) {
  if (tx.out_trade_no != order.order_no) {
    return absl::StrCat("reply is for out_trade_no ", tx.out_trade_no, ", not ", order.order_no);
  }
  if (tx.total_fen != order.amount_fen) {
    return absl::StrCat("paid total ", tx.total_fen, " fen differs from order amount ",
                        order.amount_fen, " fen");
  }
  if (tx.currency != "CNY") {
    return absl::StrCat("paid currency '", tx.currency, "' is not CNY");
  }
  if (!tx.payer_total_fen.has_value()) return "paid reply carries no payer_total";
  if (*tx.payer_total_fen > tx.total_fen) {
    return absl::StrCat("payer_total ", *tx.payer_total_fen, " fen is above total ", tx.total_fen,
                        " fen");
  }
  if (tx.mchid != order.mchid) {
    return absl::StrCat("reply mchid ", tx.mchid, " differs from order mchid ", order.mchid);
  }
  // Always compared: direct mode has none on either side; a partner-mode order is the
  // sub-merchant's, never "any sub-merchant of that provider".
  if (tx.sub_mchid != order.sub_mchid) {
    return absl::StrCat("reply sub_mchid '", tx.sub_mchid, "' differs from order sub_mchid '",
                        order.sub_mchid, "'");
  }
  if (tx.appid != order.appid) {
    return absl::StrCat("reply appid ", tx.appid, " differs from order appid ", order.appid);
  }
  if (tx.transaction_id.empty()) return "paid reply carries no transaction_id";
  return "";
}

}  // namespace

Decision Decide(const RechargeOrder& order, const UpstreamTransaction& tx) {
  Decision d;
  if (!tx.state) {
    d.code = ResultCode::kUnknown;  // a state this service does not know: change nothing
    return d;
  }
  const RechargeState to = *tx.state;
  d.code = CodeForState(to);
  bool checks_passed = false;
  if (to == RechargeState::kSuccess) {
    d.mismatch = CreditCheck(order, tx);
    if (!d.mismatch.empty()) {
      d.code = ResultCode::kUnknown;
      return d;
    }
    checks_passed = true;
  }
  switch (CheckMove(order.state, to, checks_passed)) {
    case Move::kRefused:
      // A lagging or conflicting reply never moves a final state back: our record stands.
      d.code = CodeForState(order.state);
      d.refused_move = MoveName(order.state, to);
      return d;
    case Move::kSame:
      if (!(to == RechargeState::kSuccess && !order.credited)) return d;  // nothing new
      break;
    case Move::kAllowed:
      break;
  }
  StateChange c;
  c.order_no = order.order_no;
  c.to = to;
  c.trade_state = tx.provider_state;
  c.transaction_id = tx.transaction_id;
  c.paid_at = tx.success_time;
  c.credit = to == RechargeState::kSuccess;
  c.reason = absl::StrCat(tx.provider, " trade_state ", tx.provider_state);
  c.from = order.state;
  c.from_credited = order.credited;
  d.late_payment = to == RechargeState::kSuccess && !IsPending(order.state) &&
                   order.state != RechargeState::kSuccess;
  if (d.late_payment) {
    c.reason = absl::StrCat("late payment: ", tx.provider, " trade_state ", tx.provider_state,
                            " after ", RechargeStateName(order.state));
  }
  if (order.state == RechargeState::kSuccess && to == RechargeState::kRefund && order.credited) {
    c.reason = absl::StrCat(tx.provider, " trade_state ", tx.provider_state,
                            " after a credit: balance kept, the refund owner debits it");
  }
  d.change = std::move(c);
  return d;
}

}  // namespace orderquery::domain
