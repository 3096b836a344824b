#include "server/domain/lifecycle.h"

#include "absl/strings/str_cat.h"

namespace orderquery::domain {

bool IsPending(RechargeState s) {
  return s == RechargeState::kNotPay || s == RechargeState::kUserPaying;
}

Move CheckMove(RechargeState from, RechargeState to, bool credit_checks_passed) {
  if (from == to) return Move::kSame;
  if (to == RechargeState::kSuccess && !credit_checks_passed) return Move::kRefused;
  if (IsPending(from)) return Move::kAllowed;
  switch (from) {
    case RechargeState::kSuccess:
      return to == RechargeState::kRefund ? Move::kAllowed : Move::kRefused;
    case RechargeState::kClosed:
    case RechargeState::kRevoked:
    case RechargeState::kPayError:
      // A payment that lands after a local close happens: WeChat's verified word wins.
      return to == RechargeState::kSuccess ? Move::kAllowed : Move::kRefused;
    case RechargeState::kRefund:
    case RechargeState::kNotPay:
    case RechargeState::kUserPaying:
      return Move::kRefused;
  }
  return Move::kRefused;
}

std::string MoveName(RechargeState from, RechargeState to) {
  return absl::StrCat(RechargeStateName(from), "->", RechargeStateName(to));
}

Move CheckVehicleMove(absl::string_view from, absl::string_view to) {
  if (from == to) return Move::kSame;
  if (from == "ACCEPTED" || from.empty()) return Move::kAllowed;
  if (from == "SUCCESS") return to == "REFUND" ? Move::kAllowed : Move::kRefused;
  if (from == "PAY_FAIL") return to == "SUCCESS" ? Move::kAllowed : Move::kRefused;
  if (from == "REFUND") return Move::kRefused;
  return Move::kAllowed;  // a state we do not know yet: WeChat's word stands
}

bool IsFinalVehicleState(absl::string_view state) { return state == "REFUND"; }

Move CheckTradeMove(int from, int to) {
  if (from == to) return Move::kSame;
  switch (from) {
    case 0:
      return Move::kAllowed;
    case 1:
      return to == 0 ? Move::kRefused : Move::kAllowed;
    case 2:
    case 4:
      return to == 4 || to == 5 ? Move::kAllowed : Move::kRefused;
    case 6:
      return to == 7 ? Move::kAllowed : Move::kRefused;
    case -1:
    case 5:
    case 7:
      return Move::kRefused;
    default:
      return Move::kAllowed;  // unknown stored status: the merchant API's word stands
  }
}

}  // namespace orderquery::domain
