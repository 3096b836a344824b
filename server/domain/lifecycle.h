// The recharge order state machine (ARCHITECTURE.md, "The order lifecycle"): which moves a
// reply, a notification or the reconciler may make. Pure; table-tested.
//
//   from \ to            SUCCESS                 REFUND   CLOSED/REVOKED/PAYERROR  pending
//   NOTPAY, USERPAYING   credit (checks pass)    record   record                   record
//   SUCCESS              -                       record   refused                  refused
//   CLOSED/REVOKED/      credit (late payment,   refused  refused                  refused
//   PAYERROR             verified, checks pass)
//   REFUND               refused                 -        refused                  refused
#ifndef ORDERQUERY_SERVER_DOMAIN_LIFECYCLE_H_
#define ORDERQUERY_SERVER_DOMAIN_LIFECYCLE_H_

#include "absl/strings/string_view.h"
#include "server/domain/recharge.h"

namespace orderquery::domain {

// NOTPAY and USERPAYING: the provider may still report anything.
bool IsPending(RechargeState s);

enum class Move {
  kSame,     // nothing to change
  kAllowed,  // write it
  kRefused,  // a final state would move back (or sideways): write nothing, log and count it
};

// `credit_checks_passed`: the move is to SUCCESS on a verified reply whose amount, currency, ids
// and payer total all passed the crediting checks. Only such a reply may revive a closed order.
Move CheckMove(RechargeState from, RechargeState to, bool credit_checks_passed);

// "NOTPAY->SUCCESS", for logs and order-log reasons.
std::string MoveName(RechargeState from, RechargeState to);

// Parking transactions (seed 002; trade_state names as WeChat sends them): ACCEPTED may become
// anything; SUCCESS only REFUND; PAY_FAIL only SUCCESS (a late payment); REFUND nothing.
// Only REFUND is final: a SUCCESS snapshot is refreshed on the interval, not served forever.
Move CheckVehicleMove(absl::string_view from, absl::string_view to);
bool IsFinalVehicleState(absl::string_view state);

// Trade orders (seed 001's status numbers): created 0 and processing 1 may become anything
// (processing never back to created); paid 2 and partly refunded 4 only move on to a (further)
// refund 4/5; an unsettled deposit 6 only to returned 7; failed -1, fully refunded 5 and
// deposit returned 7 move nowhere.
Move CheckTradeMove(int from, int to);

}  // namespace orderquery::domain

#endif  // ORDERQUERY_SERVER_DOMAIN_LIFECYCLE_H_
