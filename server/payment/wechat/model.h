// Decoders for WeChat Pay v3 query replies. They run only on bodies that already passed
// ResponseVerifier. Money is integer fen: a money field that is not a JSON integer (1.0, "1",
// 1e2) is an error, never converted.
//
// Required fields are those our decisions read: ids, the order number, the trade state and the
// amounts. A missing or mistyped one is an error (the caller answers UNAVAILABLE: unknown, ask
// again). Descriptive fields the documentation marks required (description, device_id, …)
// decode to empty when absent: refusing a paid order's answer over a missing description would
// help no one. A field present with the wrong JSON type is always an error; null counts as
// absent.
#ifndef ORDERQUERY_SERVER_PAYMENT_WECHAT_MODEL_H_
#define ORDERQUERY_SERVER_PAYMENT_WECHAT_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/vehicle.h"

namespace orderquery::payment::wechat {

// Direct merchant (普通商户) or service provider acting for a sub-merchant (服务商).
enum class ApiMode { kDirect, kPartner };

// trade_state of the ordinary order query.
enum class TradeState {
  kUnknown = 0,  // a value WeChat may add later; the service answers "unknown state"
  kSuccess,      // SUCCESS 支付成功
  kRefund,       // REFUND 转入退款
  kNotPay,       // NOTPAY 未支付
  kClosed,       // CLOSED 已关闭
  kRevoked,      // REVOKED 已撤销(付款码支付)
  kUserPaying,   // USERPAYING 用户支付中(付款码支付)
  kPayError,     // PAYERROR 支付失败
};

// "SUCCESS" -> kSuccess, …; anything else -> kUnknown.
TradeState ParseTradeState(absl::string_view name);
absl::string_view TradeStateName(TradeState state);

struct TransactionAmount {
  int64_t total = 0;                   // order total, fen (required when present)
  std::optional<int64_t> payer_total;  // what the user paid, fen
  std::string currency;
  std::string payer_currency;
};

// Reply of GET /v3/pay/transactions/out-trade-no/{no}?mchid= (direct) or
// GET /v3/pay/partner/transactions/out-trade-no/{no}?sp_mchid=&sub_mchid= (partner).
struct Transaction {
  ApiMode mode = ApiMode::kDirect;
  // Direct mode: appid, mchid. Partner mode: sp_appid, sp_mchid (the service provider),
  // sub_appid (optional), sub_mchid. The fields of the other mode stay empty.
  std::string appid;
  std::string mchid;
  std::string sp_appid;
  std::string sp_mchid;
  std::string sub_appid;
  std::string sub_mchid;

  std::string out_trade_no;
  std::string transaction_id;  // absent until paid
  TradeState trade_state = TradeState::kUnknown;
  std::string trade_state_name;  // exactly as WeChat sent it (also when kUnknown)
  std::string trade_state_desc;
  std::string trade_type;
  std::string bank_type;
  std::string attach;
  std::string success_time;              // RFC 3339 as sent; empty unless paid
  std::optional<absl::Time> success_at;  // success_time parsed
  std::string payer_openid;              // payer.openid (direct) / payer.sp_openid (partner)
  std::string payer_sub_openid;          // payer.sub_openid (partner)
  // Required when trade_state is SUCCESS or REFUND (crediting compares it with the order).
  std::optional<TransactionAmount> amount;
};

// Decodes an ordinary query reply. Required: appid+mchid (direct) or sp_appid+sp_mchid+
// sub_mchid (partner), out_trade_no, trade_state; for SUCCESS/REFUND also transaction_id and
// amount.total. INVALID_ARGUMENT naming the field otherwise.
absl::StatusOr<Transaction> DecodeTransaction(absl::string_view body, ApiMode mode);

// Decodes the parking reply (seed 002) into every field of domain::VehicleTransaction.
// Required: appid, sp_mchid, sub_mchid, out_trade_no, trade_state, amount.total, and inside
// present objects: promotion_detail[].amount is an integer. Unknown enum strings (a new trade
// state or plate colour) decode to kUnspecified, not an error.
absl::StatusOr<domain::VehicleTransaction> DecodeVehicleTransaction(absl::string_view body);

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_MODEL_H_
