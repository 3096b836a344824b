#include "server/payment/registry.h"

#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace orderquery::payment {
namespace {

// A provider whose ports are decorated. The decorated ports share ownership of the provider
// (aliasing shared_ptrs), so the provider lives as long as the last of them.
class DecoratedProvider final : public Provider {
 public:
  DecoratedProvider(std::unique_ptr<Provider> provider, const usecase::PortDecoration& d)
      : inner_(std::move(provider)) {
    auto alias = [this](auto* port) {
      using Port = std::remove_pointer_t<decltype(port)>;
      return port == nullptr ? std::shared_ptr<Port>() : std::shared_ptr<Port>(inner_, port);
    };
    orders_ = usecase::Decorate(alias(inner_->orders()), d);
    closer_ = usecase::Decorate(alias(inner_->closer()), d);
    vehicles_ = usecase::Decorate(alias(inner_->vehicles()), d);
    trades_ = usecase::Decorate(alias(inner_->trades()), d);
  }
  usecase::OrderStatusProvider* orders() override { return orders_.get(); }
  usecase::OrderCloser* closer() override { return closer_.get(); }
  usecase::VehicleStatusProvider* vehicles() override { return vehicles_.get(); }
  usecase::TradeStatusProvider* trades() override { return trades_.get(); }
  std::vector<NotifyRoute> NotificationRoutes(usecase::RechargeQuery* recharge) override {
    return inner_->NotificationRoutes(recharge);
  }
  void Start() override { inner_->Start(); }
  void Stop() override { inner_->Stop(); }

 private:
  std::shared_ptr<Provider> inner_;
  std::shared_ptr<usecase::OrderStatusProvider> orders_;
  std::shared_ptr<usecase::OrderCloser> closer_;
  std::shared_ptr<usecase::VehicleStatusProvider> vehicles_;
  std::shared_ptr<usecase::TradeStatusProvider> trades_;
};

}  // namespace

std::unique_ptr<Provider> DecorateProvider(std::unique_ptr<Provider> provider,
                                           const usecase::PortDecoration& decoration) {
  if (provider == nullptr) return provider;
  return std::make_unique<DecoratedProvider>(std::move(provider), decoration);
}

// The decoration of `module`'s ports: its name, and its display name for callers' messages
// (the decorators fall back on the name when it has none).
usecase::PortDecoration DecorationOf(const ProviderModule& module) {
  usecase::PortDecoration d;
  d.provider = module.name;
  d.display_name = module.display_name;
  return d;
}

Registry& Registry::Global() {
  static auto* registry = new Registry();
  return *registry;
}

void Registry::Add(ProviderModule module) {
  if (module.build) {
    module.build = [build = std::move(module.build), decoration = DecorationOf(module)](
                       const ProviderSettings& settings,
                       const ProviderContext& ctx) -> absl::StatusOr<std::unique_ptr<Provider>> {
      auto built = build(settings, ctx);
      if (!built.ok()) return built.status();
      return DecorateProvider(*std::move(built), decoration);
    };
  }
  std::string name = module.name;
  modules_[name] = std::move(module);
}

const ProviderModule* Registry::Find(absl::string_view name) const {
  auto it = modules_.find(name);
  return it == modules_.end() ? nullptr : &it->second;
}

std::vector<const ProviderModule*> Registry::modules() const {
  std::vector<const ProviderModule*> out;
  for (const auto& [name, m] : modules_) out.push_back(&m);
  return out;
}

OrderRouter::OrderRouter(std::vector<Provider*> providers) {
  for (Provider* p : providers) {
    if (p != nullptr && p->orders() != nullptr) providers_.push_back(p);
  }
}

Provider* OrderRouter::For(const domain::RechargeOrder& order) const {
  for (Provider* p : providers_) {
    if (p->orders()->Serves(order)) return p;
  }
  return nullptr;
}

bool OrderRouter::Serves(const domain::RechargeOrder& order) const { return For(order) != nullptr; }

namespace {

absl::Status NoProvider(const domain::RechargeOrder& order) {
  return absl::FailedPreconditionError(absl::StrCat(
      "configuration: no payment provider serves appid ", order.appid, ", mchid ", order.mchid,
      order.sub_mchid.empty() ? std::string(" (direct mode; a partner-mode order needs its "
                                            "sub_mchid in t_recharge_order.sub_mchid)")
                              : absl::StrCat(" and sub_mchid ", order.sub_mchid)));
}

}  // namespace

void OrderRouter::Query(const domain::RechargeOrder& order, absl::Time deadline,
                        std::function<void(absl::StatusOr<domain::UpstreamTransaction>)> done) {
  // Each provider finds the order's account once: the one that has it takes the call.
  for (Provider* p : providers_) {
    if (p->orders()->QueryIfServed(order, deadline, &done)) return;
  }
  done(NoProvider(order));
}

std::string OrderRouter::ErrorCode(const absl::Status& status) const {
  for (Provider* p : providers_) {
    std::string code = p->orders()->ErrorCode(status);
    if (!code.empty()) return code;
  }
  return "";
}

void OrderRouter::Close(const domain::RechargeOrder& order, absl::Time deadline,
                        std::function<void(absl::Status)> done) {
  Provider* p = For(order);
  if (p == nullptr) return done(NoProvider(order));
  if (p->closer() == nullptr) {
    return done(absl::UnimplementedError("the order's payment provider cannot close orders"));
  }
  p->closer()->Close(order, deadline, std::move(done));
}

bool OrderRouter::IsAlreadyPaid(const absl::Status& status) const {
  for (Provider* p : providers_) {
    if (p->closer() != nullptr && p->closer()->IsAlreadyPaid(status)) return true;
  }
  return false;
}

}  // namespace orderquery::payment
