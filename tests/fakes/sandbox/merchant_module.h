// The merchant trade API part of the payment sandbox (seed 001): GET /api/trade_order/get with
// the platform's sign check, trade orders from the scenario whose status changes over time,
// every tolerant-decoding variant and the faults orderqueryd must survive.
//
// Flag: --trade-merchant-key [MCHID=]KEY (repeatable). KEY without MCHID= signs for every
// merchant; without the flag every merchant uses kDefaultTradeKey. The request's signType
// (MD5 default, or HMAC-SHA256) picks the algorithm; reqTime must be within ±300 s.
//
// Platform answers (HTTP 200 with the {code, msg, data} envelope, Jeepay style):
//   bad sign or missing sign           {"code":9999,"msg":"验签失败"}
//   no key for the mchId               {"code":9999,"msg":"商户不存在"}
//   tradeOrderId / mchId missing,      {"code":11,"msg":"参数有误[…]"}
//     reqTime stale, unknown signType
//   unknown order, or another mchId's  {"code":9999,"msg":"订单不存在"}
//
// Scenario keys (top level, next to the WeChat module's; all optional):
//   "builtin_trade_orders": true       the seed's example order E01201908230414433510006
//                                      (mchId 20000000, status 1, its two goods), field for field
//   "trade_orders": [ORDER…]
//   "trade_templates": [{"prefix": "TBENCH", "order": {…ORDER without tradeOrderId}}]
//   "trade_defaults": {"latency_ms": N, "faults": [FAULT…]}
// ORDER: the seed's data fields by their seed names (tradeOrderId required; TradeType accepted
// for tradeType; validated by the adapter's own decoder; defaults mchId "20000000", status 1,
// tradeType 1, orderAmount = amount = mchIncome = 100) plus:
//   "transitions": [{"to": STATUS, "after_queries": N and/or "after_ms": T}]  (as WeChat's)
//   "variant": {"numbers_as_strings", "capitalized_trade_type", "goods_desc_as_string",
//               "rfc3339_times": bool}      how the reply is written
//               (tests/fakes/tradeapi_encoder.h EncodeOptions)
//   "raw_data": {…}    served verbatim as `data` (invalid values on purpose)
//   "raw_body": "…"    served verbatim as the whole 200 body
//   "latency_ms": N, "faults": [FAULT…]
// A transition stamps updateTime, and tradeSuccTime when it enters 2 (unless the order sets it).
//
// FAULT types ({"type": T, "first": K | "percent": P, …} as in faults.h):
//   http_429 (429 {"code":9999,"msg":"请求过于频繁"}), http_500 (500 {"code":10,"msg":"系统异常"}),
//   http_error (status, code, message), not_found, sign_error, param_error, system_error
//   (200 envelopes: 订单不存在 / 验签失败 / 参数有误 code 11 / 系统异常 code 10), error_reply (200,
//   code default 9999, message), timeout (sleep_ms), invalid_json (the seed's own mistake: no
//   comma after goodsDesc; with cut_at: the body cut there), non_json_body (HTML, status),
//   non_integer_amount (amount = value parsed as JSON, default "1.5" as a string),
//   unknown_status (status = value, default 3), wrong_mch_id (mchId = value, default 19999999).
//
// Control API: POST /__sandbox/trade_orders (ORDER, array, or {"trade_orders": […]}),
// GET /__sandbox/trade_orders/{id} ({"order", "status", "answered_in_state", "next_transition",
// "reply"}), POST /__sandbox/trade_defaults, GET /__sandbox/stats?trade_order_id=ID
// ({"trade_order_id", "known", "status", "requests", "verified", "answered", "sign_errors",
// "inflight", "max_inflight", "statuses": {"200": n}, "codes": {"0": n, "9999": n}, "faults"}) and
// ?trade_mch_id=M ({"trade_mch_id", "requests", "inflight", "max_inflight"}); the whole
// GET /__sandbox/stats has them under "merchant".
#ifndef ORDERQUERY_TESTS_FAKES_SANDBOX_MERCHANT_MODULE_H_
#define ORDERQUERY_TESTS_FAKES_SANDBOX_MERCHANT_MODULE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/fakes/sandbox/module.h"

namespace orderquery::sandbox {

inline constexpr char kDefaultTradeKey[] = "sandbox-trade-key";

absl::StatusOr<std::unique_ptr<SandboxModule>> MakeMerchantModule(
    const SandboxContext& context, const std::multimap<std::string, std::string>& flags);

}  // namespace orderquery::sandbox

#endif  // ORDERQUERY_TESTS_FAKES_SANDBOX_MERCHANT_MODULE_H_
