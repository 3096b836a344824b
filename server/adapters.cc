#include "server/adapters.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/log.h"
#include "server/payment/wechat/errors.h"
#include "server/payment/wechat/model.h"
#include "server/payment/wechat/notification.h"
#include "server/payment/wechat/verifier.h"

namespace orderquery {

namespace wechat = payment::wechat;

domain::UpstreamTransaction ToUpstream(const wechat::Transaction& tx,
                                       absl::string_view user_appid) {
  domain::UpstreamTransaction u;
  u.out_trade_no = tx.out_trade_no;
  u.trade_state = tx.trade_state_name;
  u.transaction_id = tx.transaction_id;
  u.success_time = tx.success_at;
  u.total_fen = tx.amount ? tx.amount->total : -1;
  if (tx.amount) {
    u.payer_total_fen = tx.amount->payer_total;
    u.currency = tx.amount->currency;
  }
  if (tx.mode == wechat::ApiMode::kDirect) {
    u.appid = tx.appid;
    u.mchid = tx.mchid;
  } else {
    u.appid = !tx.sub_appid.empty() && tx.sub_appid == user_appid ? tx.sub_appid : tx.sp_appid;
    u.mchid = tx.sp_mchid;
    u.sub_mchid = tx.sub_mchid;
  }
  return u;
}

absl::StatusOr<const wechat::MerchantConfig*> WechatRechargeQuerier::MerchantFor(
    const domain::RechargeOrder& order) const {
  // The merchant the order was placed with: it serves the order's appid and is its mchid.
  for (const auto& m : *merchants_) {
    const bool serves = std::find(m.appids.begin(), m.appids.end(), order.appid) != m.appids.end();
    // A partner-mode order belongs to one sub-merchant: an order without a sub_mchid never
    // falls through to "the first partner merchant".
    const bool same = m.mchid == order.mchid &&
                      (m.mode == wechat::ApiMode::kDirect ? order.sub_mchid.empty()
                                                          : m.sub_mchid == order.sub_mchid);
    if (serves && same) return &m;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "configuration: no WeChat merchant serves appid ", order.appid, ", mchid ", order.mchid,
      order.sub_mchid.empty() ? std::string(" (direct mode; a partner-mode order needs its "
                                            "sub_mchid in t_recharge_order.sub_mchid)")
                              : absl::StrCat(" and sub_mchid ", order.sub_mchid)));
}

namespace {

// A reply that failed verification, counted by why (the status carries the reason).
void CountUnverified(metrics::CounterFamily* failures, const absl::Status& status) {
  if (failures == nullptr) return;
  if (std::optional<std::string> reason = wechat::VerificationFailureOf(status)) {
    failures->WithLabels({"wechat", *reason})->Inc();
  }
}

}  // namespace

void WechatRechargeQuerier::Query(
    const domain::RechargeOrder& order, absl::Time deadline,
    std::function<void(absl::StatusOr<domain::UpstreamTransaction>)> done) {
  auto merchant = MerchantFor(order);
  if (!merchant.ok()) return done(merchant.status());
  const std::string order_appid = order.appid;
  client_->QueryOrder(**merchant, order.order_no, deadline,
                      [done, order_appid,
                       failures = verification_failures_](absl::StatusOr<wechat::Transaction> tx) {
                        if (!tx.ok()) {
                          CountUnverified(failures, tx.status());
                          return done(tx.status());
                        }
                        done(ToUpstream(*tx, order_appid));
                      });
}

void WechatRechargeQuerier::Close(const domain::RechargeOrder& order, absl::Time deadline,
                                  std::function<void(absl::Status)> done) {
  auto merchant = MerchantFor(order);
  if (!merchant.ok()) return done(merchant.status());
  client_->CloseOrder(**merchant, order.order_no, order.sub_mchid, deadline,
                      [done = std::move(done), failures = verification_failures_](absl::Status s) {
                        CountUnverified(failures, s);
                        done(std::move(s));
                      });
}

bool WechatRechargeQuerier::IsAlreadyPaid(const absl::Status& status) const {
  return wechat::WechatCode(status).value_or("") == "ORDERPAID";
}

namespace {

http::Response Fail(int status, absl::string_view message) {
  http::Response r;
  r.status = status;
  nlohmann::json body = {{"code", "FAIL"}, {"message", std::string(message)}};
  r.body = body.dump();
  return r;
}

}  // namespace

WechatNotificationHandler::WechatNotificationHandler(
    const std::vector<wechat::MerchantConfig>* merchants, usecase::RechargeQuery* recharge,
    Clock clock)
    : merchants_(merchants), recharge_(recharge), clock_(std::move(clock)) {}

http::Response WechatNotificationHandler::Handle(const http::Request& request) {
  const std::string name = request.captures.empty() ? "" : request.captures[0];
  const wechat::MerchantConfig* merchant = nullptr;
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
  auto parsed = wechat::ParseNotification(*merchant, header("wechatpay-timestamp"),
                                          header("wechatpay-nonce"), header("wechatpay-signature"),
                                          header("wechatpay-serial"), request.body, clock_());
  if (!parsed.ok()) {
    counters_.rejected.fetch_add(1);
    const absl::Status& st = parsed.status();
    log::Warn("notification_rejected",
              {{"merchant", name}, {"remote", request.remote_addr}, {"error", st.ToString()}});
    if (absl::IsUnauthenticated(st)) {
      if (verification_failures_ != nullptr) {
        verification_failures_
            ->WithLabels({"wechat", std::string(wechat::VerificationFailureReason(st))})
            ->Inc();
      }
      return Fail(401, "verification failed");
    }
    if (absl::IsFailedPrecondition(st))
      return Fail(500, "merchant not configured for notifications");
    return Fail(400, "malformed notification");
  }
  const wechat::Notification& n = *parsed;
  if (n.event_type != "TRANSACTION.SUCCESS") {
    counters_.rejected.fetch_add(1);
    log::Warn("notification_rejected",
              {{"merchant", name}, {"id", n.id}, {"why", "event_type " + n.event_type}});
    return Fail(400, "unsupported event_type");
  }
  if (absl::Status m = wechat::MatchesMerchant(n.transaction, *merchant); !m.ok()) {
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
      http::Response ok;
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
      [done, failures = verification_failures_](absl::StatusOr<wechat::VehicleResult> r) {
        if (!r.ok()) {
          CountUnverified(failures, r.status());
          return done(r.status());
        }
        done(usecase::VehicleAnswer{std::move(r->transaction), std::move(r->body)});
      });
}

absl::StatusOr<v1::VehicleTransaction> WechatVehicleQuerier::Decode(
    const std::string& body_json) const {
  return wechat::DecodeVehicleTransaction(body_json);
}

}  // namespace orderquery
