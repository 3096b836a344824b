// Adapters from the use cases' small upstream interfaces to the WeChat Pay adapter: which
// configured merchant serves an order, and what of WeChat's reply the domain needs.
#ifndef ORDERQUERY_SERVER_ADAPTERS_H_
#define ORDERQUERY_SERVER_ADAPTERS_H_

#include <string>
#include <vector>

#include "server/payment/wechat/client.h"
#include "server/payment/wechat/merchant.h"
#include "server/usecase/recharge_query.h"
#include "server/usecase/vehicle_query.h"

namespace orderquery {

class WechatRechargeQuerier final : public usecase::TransactionQuerier {
 public:
  WechatRechargeQuerier(payment::wechat::WechatPayClient* client,
                        const std::vector<payment::wechat::MerchantConfig>* merchants)
      : client_(client), merchants_(merchants) {}
  void Query(const domain::RechargeOrder& order, absl::Time deadline,
             std::function<void(absl::StatusOr<domain::UpstreamTransaction>)> done) override;
  std::string ErrorCode(const absl::Status& status) const override;

 private:
  payment::wechat::WechatPayClient* client_;
  const std::vector<payment::wechat::MerchantConfig>* merchants_;
};

class WechatVehicleQuerier final : public usecase::VehicleQuerier {
 public:
  WechatVehicleQuerier(payment::wechat::WechatPayClient* client,
                       const std::vector<payment::wechat::MerchantConfig>* merchants)
      : client_(client), merchants_(merchants) {}
  void Query(const std::string& out_trade_no, const std::string& sub_mchid, absl::Time deadline,
             std::function<void(absl::StatusOr<usecase::VehicleAnswer>)> done) override;
  absl::StatusOr<v1::VehicleTransaction> Decode(const std::string& body_json) const override;

 private:
  payment::wechat::WechatPayClient* client_;
  const std::vector<payment::wechat::MerchantConfig>* merchants_;
};

}  // namespace orderquery

#endif  // ORDERQUERY_SERVER_ADAPTERS_H_
