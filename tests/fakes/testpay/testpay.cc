#include "tests/fakes/testpay/testpay.h"

#include <atomic>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/validation.h"
#include "server/domain/recharge.h"
#include "server/payment/providers.h"

namespace orderquery::testpay {
namespace {

std::atomic<int> g_queries{0};

const std::vector<settings::KeyDef<Settings>>& Keys() {
  static const auto* keys = new std::vector<settings::KeyDef<Settings>>{
      settings::Str<Settings>("mchid", "merchant whose recharge orders testpay answers (digits)",
                              [](Settings& s) -> std::string& { return s.mchid; }),
      settings::Str<Settings>("state", "state every order is in at testpay (SUCCESS, NOTPAY, ...)",
                              [](Settings& s) -> std::string& { return s.state; }),
      settings::Str<Settings>("transaction_prefix", "prefix of testpay's transaction ids",
                              [](Settings& s) -> std::string& { return s.transaction_prefix; }),
  };
  return *keys;
}

absl::StatusOr<std::unique_ptr<Settings>> Parse(const settings::Source& source,
                                                bool /*production*/) {
  auto s = std::make_unique<Settings>();
  if (absl::Status st = source.Apply("testpay.", Keys(), s.get()); !st.ok()) return st;
  if (!s->mchid.empty()) {
    if (absl::Status st = ValidateMchId(s->mchid, "mchid"); !st.ok()) {
      return settings::KeyError("testpay.mchid", st.message());
    }
  }
  domain::RechargeState state;
  if (!domain::ParseRechargeState(s->state, &state)) {
    return settings::KeyError("testpay.state", "not a recharge state (SUCCESS, NOTPAY, ...)");
  }
  return s;
}

class TestPayOrders final : public usecase::OrderStatusProvider {
 public:
  explicit TestPayOrders(Settings settings) : settings_(std::move(settings)) {
    domain::ParseRechargeState(settings_.state, &state_);
  }
  bool Serves(const domain::RechargeOrder& order) const override {
    return !settings_.mchid.empty() && order.mchid == settings_.mchid && order.sub_mchid.empty();
  }
  void Query(const domain::RechargeOrder& order, absl::Time /*deadline*/,
             std::function<void(absl::StatusOr<domain::UpstreamTransaction>)> done) override {
    ++g_queries;
    domain::UpstreamTransaction tx;
    tx.provider = kName;
    tx.out_trade_no = order.order_no;
    tx.state = state_;
    tx.provider_state = settings_.state;
    tx.appid = order.appid;
    tx.mchid = settings_.mchid;
    tx.total_fen = order.amount_fen;
    tx.currency = "CNY";
    if (state_ == domain::RechargeState::kSuccess) {
      tx.payer_total_fen = order.amount_fen;
      tx.transaction_id = absl::StrCat(settings_.transaction_prefix, order.order_no);
      tx.success_time = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
    }
    done(std::move(tx));
  }
  std::string ErrorCode(const absl::Status& /*status*/) const override { return ""; }

 private:
  const Settings settings_;
  domain::RechargeState state_ = domain::RechargeState::kNotPay;
};

class TestPayProvider final : public payment::Provider {
 public:
  explicit TestPayProvider(const Settings& settings) : orders_(settings) {}
  usecase::OrderStatusProvider* orders() override { return &orders_; }

 private:
  TestPayOrders orders_;
};

}  // namespace

payment::ProviderModule Module() {
  return payment::MakeModule<Settings>(
      kName,
      [] {
        return "testpay (tests only):\n" +
               settings::KeyTableHelp("testpay.", "", Keys(), Settings{});
      },
      [](const std::string& key) { return key.rfind("testpay.", 0) == 0; }, Parse,
      [](const Settings& s, const payment::ProviderContext& /*ctx*/)
          -> absl::StatusOr<std::unique_ptr<payment::Provider>> {
        return std::unique_ptr<payment::Provider>(std::make_unique<TestPayProvider>(s));
      });
}

void Register() { payment::Providers().Add(Module()); }

int QueriesAnswered() { return g_queries.load(); }

}  // namespace orderquery::testpay
