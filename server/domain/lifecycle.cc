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

}  // namespace orderquery::domain
