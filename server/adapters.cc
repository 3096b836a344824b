#include "server/adapters.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/payment/wechat/errors.h"
#include "server/payment/wechat/model.h"

namespace orderquery {

namespace wechat = payment::wechat;

void WechatRechargeQuerier::Query(
    const domain::RechargeOrder& order, absl::Time deadline,
    std::function<void(absl::StatusOr<domain::UpstreamTransaction>)> done) {
  // The merchant the order was placed with: it serves the order's appid and is its mchid.
  const wechat::MerchantConfig* merchant = nullptr;
  for (const auto& m : *merchants_) {
    const bool serves = std::find(m.appids.begin(), m.appids.end(), order.appid) != m.appids.end();
    // A partner-mode order belongs to one sub-merchant: an order without a sub_mchid never
    // falls through to "the first partner merchant".
    const bool same = m.mchid == order.mchid &&
                      (m.mode == wechat::ApiMode::kDirect ? order.sub_mchid.empty()
                                                          : m.sub_mchid == order.sub_mchid);
    if (serves && same) {
      merchant = &m;
      break;
    }
  }
  if (merchant == nullptr) {
    return done(absl::FailedPreconditionError(absl::StrCat(
        "configuration: no WeChat merchant serves appid ", order.appid, ", mchid ", order.mchid,
        order.sub_mchid.empty() ? std::string(" (direct mode; a partner-mode order needs its "
                                              "sub_mchid in t_recharge_order.sub_mchid)")
                                : absl::StrCat(" and sub_mchid ", order.sub_mchid))));
  }
  const std::string order_appid = order.appid;
  client_->QueryOrder(*merchant, order.order_no, deadline,
                      [done, order_appid](absl::StatusOr<wechat::Transaction> tx) {
                        if (!tx.ok()) return done(tx.status());
                        domain::UpstreamTransaction u;
                        u.out_trade_no = tx->out_trade_no;
                        u.trade_state = tx->trade_state_name;
                        u.transaction_id = tx->transaction_id;
                        u.success_time = tx->success_at;
                        u.total_fen = tx->amount ? tx->amount->total : -1;
                        if (tx->amount) {
                          u.payer_total_fen = tx->amount->payer_total;
                          u.currency = tx->amount->currency;
                        }
                        if (tx->mode == wechat::ApiMode::kDirect) {
                          u.appid = tx->appid;
                          u.mchid = tx->mchid;
                        } else {
                          // The user-facing AppID may be the provider's or the sub-merchant's.
                          u.appid = tx->sub_appid == order_appid ? tx->sub_appid : tx->sp_appid;
                          u.mchid = tx->sp_mchid;
                          u.sub_mchid = tx->sub_mchid;
                        }
                        done(u);
                      });
}

std::string WechatRechargeQuerier::ErrorCode(const absl::Status& status) const {
  return wechat::WechatCode(status).value_or("");
}

void WechatVehicleQuerier::Query(const std::string& out_trade_no, const std::string& sub_mchid,
                                 absl::Time deadline,
                                 std::function<void(absl::StatusOr<usecase::VehicleAnswer>)> done) {
  // Partner mode only (seed 002): the provider bound to this sub-merchant, else the first one.
  const wechat::MerchantConfig* merchant = nullptr;
  for (const auto& m : *merchants_) {
    if (m.mode != wechat::ApiMode::kPartner) continue;
    if (merchant == nullptr || m.sub_mchid == sub_mchid) merchant = &m;
    if (m.sub_mchid == sub_mchid) break;
  }
  if (merchant == nullptr) {
    return done(absl::FailedPreconditionError(
        "no partner-mode WeChat merchant is configured; vehicle transactions need one"));
  }
  client_->QueryVehicleTransaction(
      *merchant, out_trade_no, sub_mchid, deadline,
      [done](absl::StatusOr<wechat::VehicleResult> r) {
        if (!r.ok()) return done(r.status());
        done(usecase::VehicleAnswer{std::move(r->transaction), std::move(r->body)});
      });
}

absl::StatusOr<v1::VehicleTransaction> WechatVehicleQuerier::Decode(
    const std::string& body_json) const {
  return wechat::DecodeVehicleTransaction(body_json);
}

}  // namespace orderquery
