// Writing the merchant trade API's replies (seed 001), for the payment sandbox and the adapter's
// tests: the inverse of server/payment/tradeapi/decoder.h, with one switch per upstream quirk so
// that every variant the decoder must accept can be served. Not shipped: orderqueryd only reads.
#ifndef ORDERQUERY_TESTS_FAKES_TRADEAPI_ENCODER_H_
#define ORDERQUERY_TESTS_FAKES_TRADEAPI_ENCODER_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "server/domain/snapshots.h"

namespace orderquery::payment::tradeapi {

struct EncodeOptions {
  bool numbers_as_strings = false;      // "orderAmount": "1"
  bool capitalized_trade_type = false;  // "TradeType" instead of "tradeType"
  bool goods_desc_as_string = false;    // "goodsDesc": "[{…}]"
  bool rfc3339_times = false;           // 2019-08-23T11:12:21Z instead of …21.000+0000
};

// The `data` object for `r` (absent values as null, productType/tradeType 0 as null).
std::string EncodeTradeOrderData(const domain::TradeOrderRecord& r,
                                 const EncodeOptions& options = {});
// {"code":0,"msg":"success","data":…}.
std::string EncodeTradeOrderReply(const domain::TradeOrderRecord& r,
                                  const EncodeOptions& options = {});
// {"code":code,"msg":msg,"data":null}.
std::string EncodeErrorReply(int64_t code, absl::string_view msg);

}  // namespace orderquery::payment::tradeapi

#endif  // ORDERQUERY_TESTS_FAKES_TRADEAPI_ENCODER_H_
