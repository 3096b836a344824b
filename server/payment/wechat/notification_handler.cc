#include "server/payment/wechat/notification_handler.h"

#include <algorithm>
#include <string>

#include "nlohmann/json.hpp"
#include "server/common/log.h"
#include "server/payment/wechat/errors.h"
#include "server/payment/wechat/notification.h"
#include "server/payment/wechat/provider.h"
#include "server/payment/wechat/verifier.h"
#include "server/usecase/recharge_query.h"

namespace orderquery::payment::wechat {

namespace listener = ::orderquery::http;

namespace {

listener::Response Fail(int status, absl::string_view message) {
  listener::Response r;
  r.status = status;
  nlohmann::json body = {{"code", "FAIL"}, {"message", std::string(message)}};
  r.body = body.dump();
  return r;
}

}  // namespace

listener::Response NotificationHandler::Handle(const listener::Request& request) {
  const std::string name = request.captures.empty() ? "" : request.captures[0];
  const MerchantConfig* merchant = nullptr;
  for (const auto& m : *merchants_) {
    if (m.name == name) merchant = &m;
  }
  if (merchant == nullptr) {
    counters_.rejected.fetch_add(1);
    return Fail(404, "unknown merchant");
  }
  auto header = [&](const char* key) -> std::string {
    auto it = request.headers.find(key);
    return it == request.headers.end() ? "" : it->second;
  };
  for (const std::string& h : request.repeated_headers) {
    if (h.rfind("wechatpay-", 0) == 0) {
      counters_.rejected.fetch_add(1);
      if (verification_failures_ != nullptr) {
        verification_failures_->WithLabels({"wechat", "repeated_header"})->Inc();
      }
      log::Warn("notification_rejected", {{"merchant", name}, {"why", "repeated " + h}});
      return Fail(401, "signature headers must appear once");
    }
  }
  auto parsed = ParseNotification(*merchant, header("wechatpay-timestamp"),
                                  header("wechatpay-nonce"), header("wechatpay-signature"),
                                  header("wechatpay-serial"), request.body, clock_());
  if (!parsed.ok()) {
    counters_.rejected.fetch_add(1);
    const absl::Status& st = parsed.status();
    log::Warn("notification_rejected",
              {{"merchant", name}, {"remote", request.remote_addr}, {"error", st.ToString()}});
    if (absl::IsUnauthenticated(st)) {
      if (verification_failures_ != nullptr) {
        verification_failures_->WithLabels({"wechat", std::string(VerificationFailureReason(st))})
            ->Inc();
      }
      return Fail(401, "verification failed");
    }
    if (absl::IsFailedPrecondition(st))
      return Fail(500, "merchant not configured for notifications");
    return Fail(400, "malformed notification");
  }
  const Notification& n = *parsed;
  if (n.event_type != "TRANSACTION.SUCCESS") {
    counters_.rejected.fetch_add(1);
    log::Warn("notification_rejected",
              {{"merchant", name}, {"id", n.id}, {"why", "event_type " + n.event_type}});
    return Fail(400, "unsupported event_type");
  }
  if (absl::Status m = MatchesMerchant(n.transaction, *merchant); !m.ok()) {
    counters_.rejected.fetch_add(1);
    log::Error("notification_rejected",
               {{"merchant", name}, {"id", n.id}, {"error", m.ToString()}});
    return Fail(400, "payment is not this merchant's");
  }
  // The user-facing AppID in partner mode: the sub-merchant's when we serve it.
  const std::string& sub_appid = n.transaction.sub_appid;
  const bool sub_served = !sub_appid.empty() &&
                          std::find(merchant->appids.begin(), merchant->appids.end(), sub_appid) !=
                              merchant->appids.end();
  domain::NotificationRecord record;
  record.id = n.id;
  record.provider = "wechat";
  record.merchant = name;
  record.event_type = n.event_type;
  record.order_no = n.transaction.out_trade_no;
  record.trade_state = n.transaction.trade_state_name;
  record.body = request.body;
  auto result = recharge_->ApplyNotification(
      record, ToUpstream(n.transaction, sub_served ? sub_appid : std::string()));
  using Outcome = usecase::RechargeQuery::NotifyOutcome;
  switch (result.outcome) {
    case Outcome::kApplied:
    case Outcome::kDuplicate: {
      (result.outcome == Outcome::kApplied ? counters_.applied : counters_.duplicate).fetch_add(1);
      log::Info("notification_acknowledged",
                {{"merchant", name},
                 {"id", n.id},
                 {"order_no", record.order_no},
                 {"duplicate", result.outcome == Outcome::kDuplicate}});
      listener::Response ok;
      ok.status = 204;
      ok.content_type = "text/plain";
      return ok;
    }
    case Outcome::kUnknownOrder:
      counters_.unknown_order.fetch_add(1);
      log::Warn("notification_unknown_order",
                {{"merchant", name}, {"id", n.id}, {"order_no", record.order_no}});
      return Fail(404, "order not found; retry later");
    case Outcome::kRefused:
      counters_.rejected.fetch_add(1);
      return Fail(400, result.message);
    case Outcome::kFailed:
      counters_.failed.fetch_add(1);
      return Fail(500, "temporarily unable to apply; retry");
  }
  return Fail(500, "temporarily unable to apply; retry");
}

}  // namespace orderquery::payment::wechat
