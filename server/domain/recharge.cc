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

}  // namespace orderquery::domain
