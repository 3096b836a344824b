// WeChat's payment notifications: POST /notify/wechat/{merchant} handled by the wechat provider.
#ifndef ORDERQUERY_SERVER_PAYMENT_WECHAT_NOTIFICATION_HANDLER_H_
#define ORDERQUERY_SERVER_PAYMENT_WECHAT_NOTIFICATION_HANDLER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/time/time.h"
#include "server/common/metrics.h"
#include "server/http/listener.h"
#include "server/payment/wechat/merchant.h"

namespace orderquery::usecase {
class RechargeQuery;
}

namespace orderquery::payment::wechat {

// POST /notify/wechat/{merchant}: WeChat's payment notifications, verified over the exact bytes,
// decrypted, matched with the merchant and applied through the recharge flow. Answers 204 only
// after the commit; otherwise {"code":"FAIL","message":...} with 400/401/404/500 so that WeChat
// delivers again (see README, "Payment notifications").
class NotificationHandler {
 public:
  using Clock = std::function<absl::Time()>;
  NotificationHandler(
      const std::vector<MerchantConfig>* merchants, usecase::RechargeQuery* recharge,
      metrics::CounterFamily* failures, Clock clock = [] { return absl::Now(); })
      : merchants_(merchants),
        recharge_(recharge),
        clock_(std::move(clock)),
        verification_failures_(failures) {}
  ::orderquery::http::Response Handle(const ::orderquery::http::Request& request);

  struct Counters {
    std::atomic<int64_t> applied{0}, duplicate{0}, rejected{0}, unknown_order{0}, failed{0};
  };
  const Counters& counters() const { return counters_; }

 private:
  const std::vector<MerchantConfig>* merchants_;
  usecase::RechargeQuery* recharge_;
  Clock clock_;
  Counters counters_;
  metrics::CounterFamily* verification_failures_;
};

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_NOTIFICATION_HANDLER_H_
