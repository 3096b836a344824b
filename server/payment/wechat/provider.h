// The WeChat Pay provider ("wechat"): answers the recharge order-status and close ports, the
// vehicle port, and POST /notify/wechat/{merchant}. It owns WeChat's vocabulary (trade_state
// strings, mchid/sub_mchid routing, its error table) and its config section (settings.h).
#ifndef ORDERQUERY_SERVER_PAYMENT_WECHAT_PROVIDER_H_
#define ORDERQUERY_SERVER_PAYMENT_WECHAT_PROVIDER_H_

#include "absl/strings/string_view.h"
#include "server/domain/recharge_policy.h"
#include "server/payment/registry.h"
#include "server/payment/wechat/model.h"

namespace orderquery::payment::wechat {

inline constexpr char kProviderName[] = "wechat";

// Registers the module (its settings and its factory) with `registry`.
void RegisterProvider(Registry& registry);

// A verified WeChat transaction as the domain sees it. In partner mode the user-facing AppID
// may be the provider's (sp_appid) or the sub-merchant's (sub_appid): `user_appid` picks.
domain::UpstreamTransaction ToUpstream(const Transaction& tx, absl::string_view user_appid);

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_PROVIDER_H_
