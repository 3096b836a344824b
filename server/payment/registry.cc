#include "server/payment/registry.h"

#include "absl/strings/str_cat.h"

namespace orderquery::payment {

Registry& Registry::Global() {
  static auto* registry = new Registry();
  return *registry;
}

void Registry::Add(ProviderModule module) {
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
  Provider* p = For(order);
  if (p == nullptr) return done(NoProvider(order));
  p->orders()->Query(order, deadline, std::move(done));
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
