#include "server/payment/wechat/provider.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/log.h"
#include "server/domain/vehicle.h"
#include "server/payment/wechat/client.h"
#include "server/payment/wechat/errors.h"
#include "server/payment/wechat/key_store.h"
#include "server/payment/wechat/merchant.h"
#include "server/payment/wechat/notification_handler.h"
#include "server/payment/wechat/settings.h"
#include "server/payment/wechat/verifier.h"
#include "server/usecase/recharge_query.h"

namespace orderquery::payment::wechat {

namespace listener = ::orderquery::http;

namespace {

// WeChat's trade_state in the domain's words; nullopt for a state this service does not know.
std::optional<domain::RechargeState> StateOf(TradeState s) {
  using domain::RechargeState;
  switch (s) {
    case TradeState::kSuccess:
      return RechargeState::kSuccess;
    case TradeState::kRefund:
      return RechargeState::kRefund;
    case TradeState::kNotPay:
      return RechargeState::kNotPay;
    case TradeState::kClosed:
      return RechargeState::kClosed;
    case TradeState::kRevoked:
      return RechargeState::kRevoked;
    case TradeState::kUserPaying:
      return RechargeState::kUserPaying;
    case TradeState::kPayError:
      return RechargeState::kPayError;
    case TradeState::kUnknown:
      break;
  }
  return std::nullopt;
}

}  // namespace

domain::UpstreamTransaction ToUpstream(const Transaction& tx, absl::string_view user_appid) {
  domain::UpstreamTransaction u;
  u.out_trade_no = tx.out_trade_no;
  u.provider = kProviderName;
  u.provider_state = tx.trade_state_name;
  u.state = StateOf(tx.trade_state);
  u.transaction_id = tx.transaction_id;
  u.success_time = tx.success_at;
  u.total_fen = tx.amount ? tx.amount->total : -1;
  if (tx.amount) {
    u.payer_total_fen = tx.amount->payer_total;
    u.currency = tx.amount->currency;
  }
  if (tx.mode == ApiMode::kDirect) {
    u.appid = tx.appid;
    u.mchid = tx.mchid;
  } else {
    u.appid = !tx.sub_appid.empty() && tx.sub_appid == user_appid ? tx.sub_appid : tx.sp_appid;
    u.mchid = tx.sp_mchid;
    u.sub_mchid = tx.sub_mchid;
  }
  return u;
}

namespace {

// A reply that failed verification, counted by why (the status carries the reason).
void CountUnverified(metrics::CounterFamily* failures, const absl::Status& status) {
  if (failures == nullptr) return;
  if (std::optional<std::string> reason = VerificationFailureOf(status)) {
    failures->WithLabels({"wechat", *reason})->Inc();
  }
}

// The recharge order-status and close ports: the merchant the order was placed with, asked.
class OrderPort final : public usecase::OrderStatusProvider, public usecase::OrderCloser {
 public:
  OrderPort(HttpWechatPayClient* client, const std::vector<MerchantConfig>* merchants,
            metrics::CounterFamily* failures)
      : client_(client), merchants_(merchants), verification_failures_(failures) {}
  bool Serves(const domain::RechargeOrder& order) const override {
    return FindMerchant(order) != nullptr;
  }
  void Query(const domain::RechargeOrder& order, absl::Time deadline, QueryCallback done) override;
  bool QueryIfServed(const domain::RechargeOrder& order, absl::Time deadline,
                     QueryCallback* done) override;
  std::string ErrorCode(const absl::Status& status) const override;
  // POST .../close for the order's merchant (partner mode: the order's sub_mchid).
  void Close(const domain::RechargeOrder& order, absl::Time deadline,
             std::function<void(absl::Status)> done) override;
  bool IsAlreadyPaid(const absl::Status& status) const override;

 private:
  // The merchant the order was placed with; null when none is configured.
  const MerchantConfig* FindMerchant(const domain::RechargeOrder& order) const;
  // FindMerchant, or FAILED_PRECONDITION naming what is missing.
  absl::StatusOr<const MerchantConfig*> MerchantFor(const domain::RechargeOrder& order) const;
  // Asks `merchant` (the order's) about the order.
  void QueryAt(const MerchantConfig& merchant, const domain::RechargeOrder& order,
               absl::Time deadline, QueryCallback done);

  HttpWechatPayClient* client_;
  const std::vector<MerchantConfig>* merchants_;
  metrics::CounterFamily* verification_failures_;
};

class VehiclePort final : public usecase::VehicleStatusProvider {
 public:
  VehiclePort(HttpWechatPayClient* client, const std::vector<MerchantConfig>* merchants,
              metrics::CounterFamily* failures)
      : client_(client), merchants_(merchants), verification_failures_(failures) {}
  void Query(const std::string& out_trade_no, const std::string& sub_mchid, absl::Time deadline,
             std::function<void(absl::StatusOr<usecase::VehicleAnswer>)> done) override;
  absl::StatusOr<domain::VehicleTransaction> Decode(const std::string& body_json) const override;

 private:
  HttpWechatPayClient* client_;
  const std::vector<MerchantConfig>* merchants_;
  metrics::CounterFamily* verification_failures_;
};

const MerchantConfig* OrderPort::FindMerchant(const domain::RechargeOrder& order) const {
  // The merchant the order was placed with: it serves the order's appid and is its mchid.
  for (const auto& m : *merchants_) {
    const bool serves = std::find(m.appids.begin(), m.appids.end(), order.appid) != m.appids.end();
    // A partner-mode order belongs to one sub-merchant: an order without a sub_mchid never
    // falls through to "the first partner merchant".
    const bool same =
        m.mchid == order.mchid &&
        (m.mode == ApiMode::kDirect ? order.sub_mchid.empty() : m.sub_mchid == order.sub_mchid);
    if (serves && same) return &m;
  }
  return nullptr;
}

absl::StatusOr<const MerchantConfig*> OrderPort::MerchantFor(
    const domain::RechargeOrder& order) const {
  if (const MerchantConfig* m = FindMerchant(order)) return m;
  return absl::FailedPreconditionError(absl::StrCat(
      "configuration: no WeChat merchant serves appid ", order.appid, ", mchid ", order.mchid,
      order.sub_mchid.empty() ? std::string(" (direct mode; a partner-mode order needs its "
                                            "sub_mchid in t_recharge_order.sub_mchid)")
                              : absl::StrCat(" and sub_mchid ", order.sub_mchid)));
}

void OrderPort::Query(const domain::RechargeOrder& order, absl::Time deadline, QueryCallback done) {
  auto merchant = MerchantFor(order);
  if (!merchant.ok()) return done(merchant.status());
  QueryAt(**merchant, order, deadline, std::move(done));
}

bool OrderPort::QueryIfServed(const domain::RechargeOrder& order, absl::Time deadline,
                              QueryCallback* done) {
  const MerchantConfig* merchant = FindMerchant(order);
  if (merchant == nullptr) return false;
  QueryAt(*merchant, order, deadline, std::move(*done));
  return true;
}

void OrderPort::QueryAt(const MerchantConfig& merchant, const domain::RechargeOrder& order,
                        absl::Time deadline, QueryCallback done) {
  const std::string order_appid = order.appid;
  client_->QueryOrder(
      merchant, order.order_no, deadline,
      [done, order_appid, failures = verification_failures_](absl::StatusOr<Transaction> tx) {
        if (!tx.ok()) {
          CountUnverified(failures, tx.status());
          return done(tx.status());
        }
        done(ToUpstream(*tx, order_appid));
      });
}

void OrderPort::Close(const domain::RechargeOrder& order, absl::Time deadline,
                      std::function<void(absl::Status)> done) {
  auto merchant = MerchantFor(order);
  if (!merchant.ok()) return done(merchant.status());
  client_->CloseOrder(**merchant, order.order_no, order.sub_mchid, deadline,
                      [done = std::move(done), failures = verification_failures_](absl::Status s) {
                        CountUnverified(failures, s);
                        done(std::move(s));
                      });
}

bool OrderPort::IsAlreadyPaid(const absl::Status& status) const {
  return WechatCode(status).value_or("") == "ORDERPAID";
}

std::string OrderPort::ErrorCode(const absl::Status& status) const {
  return WechatCode(status).value_or("");
}

void VehiclePort::Query(const std::string& out_trade_no, const std::string& sub_mchid,
                        absl::Time deadline,
                        std::function<void(absl::StatusOr<usecase::VehicleAnswer>)> done) {
  // Partner mode only (seed 002): the provider bound to this sub-merchant, else the first one.
  const MerchantConfig* merchant = nullptr;
  for (const auto& m : *merchants_) {
    if (m.mode != ApiMode::kPartner) continue;
    if (merchant == nullptr || m.sub_mchid == sub_mchid) merchant = &m;
    if (m.sub_mchid == sub_mchid) break;
  }
  if (merchant == nullptr) {
    return done(absl::FailedPreconditionError(
        "no partner-mode WeChat merchant is configured; vehicle transactions need one"));
  }
  client_->QueryVehicleTransaction(
      *merchant, out_trade_no, sub_mchid, deadline,
      [done, failures = verification_failures_](absl::StatusOr<VehicleResult> r) {
        if (!r.ok()) {
          CountUnverified(failures, r.status());
          return done(r.status());
        }
        done(usecase::VehicleAnswer{std::move(r->transaction), std::move(r->body)});
      });
}

absl::StatusOr<domain::VehicleTransaction> VehiclePort::Decode(const std::string& body_json) const {
  return DecodeVehicleTransaction(body_json);
}

absl::StatusOr<std::vector<MerchantConfig>> LoadMerchants(const Settings& settings) {
  std::vector<MerchantConfig> out;
  for (const auto& [name, m] : settings.merchants) {
    MerchantConfig mc;
    mc.name = name;
    mc.appids = m.appids;
    mc.mode = m.mode == "partner" ? ApiMode::kPartner : ApiMode::kDirect;
    mc.mchid = m.mchid;
    mc.sub_mchid = m.sub_mchid;
    mc.serial_no = m.serial_no;
    mc.base_url = m.base_url;
    MerchantKeySources src;
    src.private_key = m.private_key_file;
    // The key itself: never read as a path; errors name the setting, never the text.
    src.private_key_pem = m.private_key_pem;
    src.private_key_pem_label = absl::StrCat("wechat.merchants.", name, ".private_key_pem");
    src.public_key_id = m.public_key_id;
    src.public_key = m.public_key_file;
    src.platform_certificates = m.platform_cert_files;
    src.merchant_certificate = m.merchant_cert_file;
    mc.download_certificates = m.download_certificates;
    mc.apiv3_key = m.apiv3_key;  // given as a value (env); a file is read by LoadMerchantKeys
    src.apiv3_key = m.apiv3_key_file;
    auto loaded = LoadMerchantKeys(std::move(mc), src);
    if (!loaded.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("wechat.merchants.", name, ": ", loaded.status().message()));
    }
    if (absl::Status v = loaded->Validate(); !v.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("wechat.merchants.", name, ": ", v.message()));
    }
    out.push_back(*std::move(loaded));
  }
  return out;
}

// One line per key and certificate with its expiry (public keys have none): what an operator
// must renew, and when.
void LogKeyExpiries(const std::vector<MerchantConfig>& merchants) {
  const absl::Time now = absl::Now();
  for (const auto& m : merchants) {
    if (!m.key_store) continue;
    for (const KeyExpiry& e : m.key_store->Expiries()) {
      if (!e.expires.has_value()) {
        log::Info("wechat_key_expiry", {{"merchant", e.merchant},
                                        {"kind", e.kind},
                                        {"serial", e.serial},
                                        {"expires", "never"}});
        continue;
      }
      const double days = DaysLeft(*e.expires, now);
      const std::initializer_list<log::Field> fields = {
          {"merchant", e.merchant},
          {"kind", e.kind},
          {"serial", e.serial},
          {"expires", absl::FormatTime(absl::RFC3339_sec, *e.expires, absl::UTCTimeZone())},
          {"days_left", days}};
      if (days < 14) {
        log::Warn("wechat_key_expiry", fields);
      } else {
        log::Info("wechat_key_expiry", fields);
      }
    }
  }
}

class WechatProvider final : public Provider {
 public:
  static absl::StatusOr<std::unique_ptr<Provider>> Build(const Settings& settings,
                                                         const ProviderContext& ctx);
  usecase::OrderStatusProvider* orders() override { return orders_.get(); }
  usecase::OrderCloser* closer() override { return orders_.get(); }
  usecase::VehicleStatusProvider* vehicles() override { return vehicles_.get(); }
  std::vector<NotifyRoute> NotificationRoutes(usecase::RechargeQuery* recharge) override;
  void Start() override { refresher_->Start(); }
  void Stop() override { refresher_->Stop(); }

 private:
  metrics::Registry* metrics_ = nullptr;
  metrics::CounterFamily* verification_failures_ = nullptr;
  std::vector<MerchantConfig> merchants_;
  std::unique_ptr<HttpWechatPayClient> client_;
  // Downloads platform certificates (merchants' key stores); stopped before the transport goes.
  std::unique_ptr<CertificateRefresher> refresher_;
  std::unique_ptr<OrderPort> orders_;
  std::unique_ptr<VehiclePort> vehicles_;
  std::unique_ptr<NotificationHandler> notifications_;
};

absl::StatusOr<std::unique_ptr<Provider>> WechatProvider::Build(const Settings& settings,
                                                                const ProviderContext& ctx) {
  // Credentials first: a bad key fails start-up before anything connects.
  auto merchants = LoadMerchants(settings);
  if (!merchants.ok()) return merchants.status();
  auto p = std::unique_ptr<WechatProvider>(new WechatProvider());
  p->metrics_ = ctx.metrics;
  if (ctx.metrics != nullptr) {
    p->verification_failures_ = &ctx.metrics->Counters(
        "orderquery_verification_failures_total",
        "Provider replies and notifications that failed verification", {"provider", "reason"});
  }
  p->merchants_ = *std::move(merchants);
  p->client_ = std::make_unique<HttpWechatPayClient>(ctx.transport);
  // Each merchant's key store; certificate-mode merchants with download_certificates download
  // now (bounded; a failure is logged and retried by the refresher once a minute).
  KeyStoreSettings ks;
  ks.refresh_interval = ctx.certificate_refresh;
  ks.min_refresh_gap = ctx.certificate_min_refresh;
  ks.download_timeout = ctx.request_budget;
  std::vector<std::shared_ptr<MerchantKeyStore>> stores;
  for (auto& m : p->merchants_) {
    if (absl::Status st = AttachKeyStore(m, p->client_.get(), ks); !st.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("wechat.merchants.", m.name, ": ", st.message()));
    }
    stores.push_back(m.key_store);
  }
  // Read at scrape time: downloads and expiries show without a restart.
  RegisterExpiryGauge(ctx.metrics, stores);
  p->refresher_ = std::make_unique<CertificateRefresher>(std::move(stores));
  p->refresher_->RunDue();
  LogKeyExpiries(p->merchants_);
  p->orders_ =
      std::make_unique<OrderPort>(p->client_.get(), &p->merchants_, p->verification_failures_);
  p->vehicles_ =
      std::make_unique<VehiclePort>(p->client_.get(), &p->merchants_, p->verification_failures_);
  return std::unique_ptr<Provider>(std::move(p));
}

std::vector<NotifyRoute> WechatProvider::NotificationRoutes(usecase::RechargeQuery* recharge) {
  notifications_ =
      std::make_unique<NotificationHandler>(&merchants_, recharge, verification_failures_);
  if (metrics_ != nullptr) {
    const NotificationHandler::Counters* nc = &notifications_->counters();
    auto read = [](const std::atomic<int64_t>& v) { return static_cast<double>(v.load()); };
    metrics_->AddCallback(
        "orderquery_notifications_total",
        "Provider notifications: verified (applied), duplicate, rejected, unknown_order, failed",
        metrics::Type::kCounter, {"result"}, [nc, read] {
          return std::vector<metrics::Sample>{{{"verified"}, read(nc->applied)},
                                              {{"duplicate"}, read(nc->duplicate)},
                                              {{"rejected"}, read(nc->rejected)},
                                              {{"unknown_order"}, read(nc->unknown_order)},
                                              {{"failed"}, read(nc->failed)}};
        });
  }
  NotificationHandler* handler = notifications_.get();
  return {NotifyRoute{"([A-Za-z0-9]+)",
                      [handler](const listener::Request& r) { return handler->Handle(r); }}};
}

}  // namespace

void RegisterProvider(Registry& registry) {
  ProviderModule module =
      MakeModule<Settings>(kProviderName, KeysHelp, OwnsKey, ParseSettings, WechatProvider::Build);
  module.display_name = "WeChat";
  registry.Add(std::move(module));
}

}  // namespace orderquery::payment::wechat
