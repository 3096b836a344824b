// Adapters from the use cases' small upstream interfaces to the WeChat Pay adapter: which
// configured merchant serves an order, and what of WeChat's reply the domain needs.
#ifndef ORDERQUERY_SERVER_ADAPTERS_H_
#define ORDERQUERY_SERVER_ADAPTERS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "server/common/metrics.h"
#include "server/http/listener.h"
#include "server/payment/wechat/client.h"
#include "server/payment/wechat/merchant.h"
#include "server/usecase/recharge_query.h"
#include "server/usecase/vehicle_query.h"

namespace orderquery {

// A verified WeChat transaction as the domain sees it. In partner mode the user-facing AppID
// may be the provider's (sp_appid) or the sub-merchant's (sub_appid): `user_appid` picks.
domain::UpstreamTransaction ToUpstream(const payment::wechat::Transaction& tx,
                                       absl::string_view user_appid);

class WechatRechargeQuerier final : public usecase::TransactionQuerier,
                                    public usecase::OrderCloser {
 public:
  WechatRechargeQuerier(payment::wechat::WechatPayClient* client,
                        const std::vector<payment::wechat::MerchantConfig>* merchants)
      : client_(client), merchants_(merchants) {}
  void Query(const domain::RechargeOrder& order, absl::Time deadline,
             std::function<void(absl::StatusOr<domain::UpstreamTransaction>)> done) override;
  std::string ErrorCode(const absl::Status& status) const override;
  // POST .../close for the order's merchant (partner mode: the order's sub_mchid).
  void Close(const domain::RechargeOrder& order, absl::Time deadline,
             std::function<void(absl::Status)> done) override;
  bool IsAlreadyPaid(const absl::Status& status) const override;
  // Counts replies that failed verification, by {provider, reason}; null counts nothing.
  void set_verification_failures(metrics::CounterFamily* f) { verification_failures_ = f; }

 private:
  // The merchant the order was placed with, or FAILED_PRECONDITION naming what is missing.
  absl::StatusOr<const payment::wechat::MerchantConfig*> MerchantFor(
      const domain::RechargeOrder& order) const;

  payment::wechat::WechatPayClient* client_;
  const std::vector<payment::wechat::MerchantConfig>* merchants_;
  metrics::CounterFamily* verification_failures_ = nullptr;
};

// POST /notify/wechat/{merchant}: WeChat's payment notifications, verified over the exact bytes,
// decrypted, matched with the merchant and applied through the recharge flow. Answers 204 only
// after the commit; otherwise {"code":"FAIL","message":...} with 400/401/404/500 so that WeChat
// delivers again (see README, "Payment notifications").
class WechatNotificationHandler {
 public:
  using Clock = std::function<absl::Time()>;
  WechatNotificationHandler(
      const std::vector<payment::wechat::MerchantConfig>* merchants,
      usecase::RechargeQuery* recharge, Clock clock = [] { return absl::Now(); });
  http::Response Handle(const http::Request& request);

  struct Counters {
    std::atomic<int64_t> applied{0}, duplicate{0}, rejected{0}, unknown_order{0}, failed{0};
  };
  const Counters& counters() const { return counters_; }
  // Counts notifications that failed verification, by {provider, reason}; null counts nothing.
  void set_verification_failures(metrics::CounterFamily* f) { verification_failures_ = f; }

 private:
  const std::vector<payment::wechat::MerchantConfig>* merchants_;
  usecase::RechargeQuery* recharge_;
  Clock clock_;
  Counters counters_;
  metrics::CounterFamily* verification_failures_ = nullptr;
};

class WechatVehicleQuerier final : public usecase::VehicleQuerier {
 public:
  WechatVehicleQuerier(payment::wechat::WechatPayClient* client,
                       const std::vector<payment::wechat::MerchantConfig>* merchants)
      : client_(client), merchants_(merchants) {}
  void Query(const std::string& out_trade_no, const std::string& sub_mchid, absl::Time deadline,
             std::function<void(absl::StatusOr<usecase::VehicleAnswer>)> done) override;
  absl::StatusOr<v1::VehicleTransaction> Decode(const std::string& body_json) const override;
  void set_verification_failures(metrics::CounterFamily* f) { verification_failures_ = f; }

 private:
  payment::wechat::WechatPayClient* client_;
  const std::vector<payment::wechat::MerchantConfig>* merchants_;
  metrics::CounterFamily* verification_failures_ = nullptr;
};

}  // namespace orderquery

#endif  // ORDERQUERY_SERVER_ADAPTERS_H_
