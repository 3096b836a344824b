// The merchant trade API provider (seed 001), registered as "trade" (its config section): it
// answers the trade-order port with HttpMerchantTradeClient.
#ifndef ORDERQUERY_SERVER_PAYMENT_TRADEAPI_PROVIDER_H_
#define ORDERQUERY_SERVER_PAYMENT_TRADEAPI_PROVIDER_H_

#include "server/payment/registry.h"

namespace orderquery::payment::tradeapi {

inline constexpr char kProviderName[] = "trade";

// Registers the module (its settings and its factory) with `registry`.
void RegisterProvider(Registry& registry);

}  // namespace orderquery::payment::tradeapi

#endif  // ORDERQUERY_SERVER_PAYMENT_TRADEAPI_PROVIDER_H_
