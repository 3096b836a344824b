// What a WeChat answer means for a recharge order (seed 000): the answer code and message,
// the state change to record, and whether the balance may be credited. Pure; no I/O.
#ifndef ORDERQUERY_SERVER_DOMAIN_RECHARGE_POLICY_H_
#define ORDERQUERY_SERVER_DOMAIN_RECHARGE_POLICY_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "server/domain/recharge.h"

namespace orderquery::domain {

// Seed 000's answer codes.
enum class ResultCode : int {
  kSuccess = 0,
  kRefund = 2041,
  kNotPay = 2042,
  kClosed = 2043,
  kRevoked = 2044,
  kUserPaying = 2045,
  kPayError = 2046,
  kOrderNotExist = 2047,
  kUnknown = 2048,
};

// The seed's message for a code, e.g. 2042 -> "订单未支付".
const char* ResultMessage(ResultCode code);
// The code a stored state answers with (final states are answered from the database).
ResultCode CodeForState(RechargeState s);

// What a payment provider verifiably said about a recharge order, in the domain's words. The
// provider's adapter maps its own vocabulary onto `state`; the decision never reads provider
// strings.
struct UpstreamTransaction {
  std::string provider;  // who answered, e.g. "wechat" (order-log reasons, logs)
  std::string out_trade_no;
  // The order's state at the provider; nullopt when the provider answered with a state this
  // service does not know (then nothing changes).
  std::optional<RechargeState> state;
  std::string provider_state;              // the provider's own word for it, kept for the query log
  std::string appid;                       // appid (direct) or sp_appid/sub_appid as configured
  std::string mchid;                       // mchid (direct) or sp_mchid (partner)
  std::string sub_mchid;                   // partner mode
  int64_t total_fen = 0;                   // amount.total
  std::optional<int64_t> payer_total_fen;  // amount.payer_total: what the user paid
  std::string currency;                    // amount.currency (CNY)
  std::string transaction_id;
  std::optional<absl::Time> success_time;
};

struct Decision {
  ResultCode code = ResultCode::kUnknown;
  // The change to apply; nullopt = leave the order as it is.
  std::optional<StateChange> change;
  // Set when a paid reply failed a crediting check: logged at error level, nothing credited.
  std::string mismatch;
  // Set ("SUCCESS->CLOSED") when the reply would move a final state where the state machine
  // forbids: nothing is written, the answer is what the database holds, it is logged and counted.
  std::string refused_move;
  // A verified payment of an order we hold as CLOSED/REVOKED/PAYERROR: credited, logged at warning.
  bool late_payment = false;
};

// Decides for `order` (owned by the caller's user and appid) given WeChat's verified reply.
// Credit only when WeChat says SUCCESS, the paid total equals the order amount, the currency is
// CNY, the payer total is present and not above the total, the reply is for this order and the
// mchid/sub_mchid/appid match what the order was placed with. Moves follow lifecycle.h.
Decision Decide(const RechargeOrder& order, const UpstreamTransaction& tx);

}  // namespace orderquery::domain

#endif  // ORDERQUERY_SERVER_DOMAIN_RECHARGE_POLICY_H_
