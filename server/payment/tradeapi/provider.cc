#include "server/payment/tradeapi/provider.h"

#include <memory>
#include <string>

#include "server/payment/tradeapi/http_client.h"
#include "server/payment/tradeapi/settings.h"

namespace orderquery::payment::tradeapi {
namespace {

// The configured merchants' client, with the default merchant the settings name.
class TradeProvider final : public Provider, public usecase::TradeStatusProvider {
 public:
  TradeProvider(std::unique_ptr<HttpMerchantTradeClient> client, std::string default_merchant)
      : client_(std::move(client)), default_merchant_(std::move(default_merchant)) {}
  usecase::TradeStatusProvider* trades() override { return this; }
  bool HasMerchant(absl::string_view merchant) const override {
    return client_->HasMerchant(merchant);
  }
  std::string DefaultMerchant() const override { return default_merchant_; }
  void GetTradeOrder(absl::string_view merchant, absl::string_view trade_order_id,
                     absl::Time deadline, Callback done) override {
    client_->GetTradeOrder(merchant, trade_order_id, deadline, std::move(done));
  }

 private:
  std::unique_ptr<HttpMerchantTradeClient> client_;
  std::string default_merchant_;
};

}  // namespace

void RegisterProvider(Registry& registry) {
  ProviderModule module = MakeModule<Settings>(
      kProviderName, KeysHelp, OwnsKey, ParseSettings,
      [](const Settings& s,
         const ProviderContext& ctx) -> absl::StatusOr<std::unique_ptr<Provider>> {
        auto client = HttpMerchantTradeClient::Create(s.merchants, ctx.transport);
        if (!client.ok()) return client.status();
        return std::unique_ptr<Provider>(
            std::make_unique<TradeProvider>(*std::move(client), s.default_merchant));
      });
  module.display_name = "the merchant API";
  registry.Add(std::move(module));
}

}  // namespace orderquery::payment::tradeapi
