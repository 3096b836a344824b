#include "server/domain/recharge.h"

namespace orderquery::domain {

absl::string_view RechargeStateName(RechargeState s) {
  switch (s) {
    case RechargeState::kNotPay:
      return "NOTPAY";
    case RechargeState::kSuccess:
      return "SUCCESS";
    case RechargeState::kRefund:
      return "REFUND";
    case RechargeState::kClosed:
      return "CLOSED";
    case RechargeState::kRevoked:
      return "REVOKED";
    case RechargeState::kUserPaying:
      return "USERPAYING";
    case RechargeState::kPayError:
      return "PAYERROR";
  }
  return "NOTPAY";
}

bool ParseRechargeState(absl::string_view name, RechargeState* out) {
  static constexpr RechargeState kAll[] = {RechargeState::kNotPay,  RechargeState::kSuccess,
                                           RechargeState::kRefund,  RechargeState::kClosed,
                                           RechargeState::kRevoked, RechargeState::kUserPaying,
                                           RechargeState::kPayError};
  for (RechargeState s : kAll) {
    if (RechargeStateName(s) == name) {
      *out = s;
      return true;
    }
  }
  return false;
}

bool IsFinal(RechargeState s) {
  switch (s) {
    case RechargeState::kSuccess:
    case RechargeState::kRefund:
    case RechargeState::kClosed:
    case RechargeState::kRevoked:
    case RechargeState::kPayError:
      return true;
    case RechargeState::kNotPay:
    case RechargeState::kUserPaying:
      return false;
  }
  return false;
}

absl::StatusOr<QueryView> RechargeRepository::LoadForQuery(absl::string_view token,
                                                           absl::string_view order_no,
                                                           absl::Time now) {
  auto session = ResolveToken(token, now);
  if (!session.ok()) return session.status();
  QueryView v;
  v.session = *session;
  auto order = GetOrder(order_no);
  if (order.ok()) {
    v.order = *std::move(order);
  } else if (!absl::IsNotFound(order.status())) {
    return order.status();
  }
  auto balance = GetBalance(v.session.user_id);
  if (balance.ok()) {
    v.balance_fen = *balance;
  } else if (!absl::IsNotFound(balance.status())) {
    return balance.status();
  }
  return v;
}

}  // namespace orderquery::domain
