// The provider registry: every payment provider (server/payment/<name>/) registers one
// ProviderModule here, and the wiring builds whatever modules the configuration names. Adding a
// provider is a new folder with its module and one call in its registration function (the build
// generates the list of those functions from the folders whose CMakeLists.txt calls
// oq_register_provider).
#ifndef ORDERQUERY_SERVER_PAYMENT_REGISTRY_H_
#define ORDERQUERY_SERVER_PAYMENT_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/common/metrics.h"
#include "server/common/settings.h"
#include "server/http/listener.h"
#include "server/payment/http/transport.h"
#include "server/usecase/port_logging.h"
#include "server/usecase/ports.h"

namespace orderquery::usecase {
class RechargeQuery;
}

namespace orderquery::payment {

// A provider's parsed configuration section ("<name>.*" keys). Each provider derives its own.
class ProviderSettings {
 public:
  virtual ~ProviderSettings() = default;
  // How many accounts (merchants) the section configures; 0 = the provider is not used.
  virtual int accounts() const = 0;
};

// What every provider may build on: the shared HTTP transport and upstream timing.
struct ProviderContext {
  http::Transport* transport = nullptr;
  metrics::Registry* metrics = nullptr;  // null: nothing is recorded
  // One upstream request's whole budget (attempts, timeouts and backoffs included).
  absl::Duration request_budget = absl::Seconds(15);
  absl::Duration certificate_refresh = absl::Hours(12);
  absl::Duration certificate_min_refresh = absl::Minutes(1);
  bool production = false;  // env: production
};

// A POST route of the notification listener: /notify/<provider>/<pattern>.
struct NotifyRoute {
  std::string pattern;  // a regex for the rest of the path, e.g. "([A-Za-z0-9]+)"
  std::function<orderquery::http::Response(const orderquery::http::Request&)> handle;
};

// One configured provider's running pieces. Ports it does not answer are null.
class Provider {
 public:
  virtual ~Provider() = default;
  virtual usecase::OrderStatusProvider* orders() { return nullptr; }
  virtual usecase::OrderCloser* closer() { return nullptr; }
  virtual usecase::VehicleStatusProvider* vehicles() { return nullptr; }
  virtual usecase::TradeStatusProvider* trades() { return nullptr; }
  // The notification routes, once the recharge flow they feed exists.
  virtual std::vector<NotifyRoute> NotificationRoutes(usecase::RechargeQuery* /*recharge*/) {
    return {};
  }
  // Starts background work (certificate downloads, ...) once the server serves; Stop() ends it
  // before the transport goes.
  virtual void Start() {}
  virtual void Stop() {}
};

struct ProviderModule {
  std::string name;  // config section, notification path and metrics label: "wechat"
  // How callers' messages name the provider ("WeChat"); "" = `name`.
  std::string display_name;
  // The section's keys for --help: "KEY  [ENV]  meaning".
  std::function<std::string()> keys_help;
  // Reads and validates the section's keys from the file and the environment; `production`
  // (env: production) refuses http:// URLs. Errors name the key, never a secret's value.
  std::function<absl::StatusOr<std::unique_ptr<ProviderSettings>>(const settings::Source&,
                                                                  bool production)>
      parse;
  // Whether a file key belongs to this section (the loader reports every other key unknown).
  std::function<bool(const std::string& key)> owns_key;
  // Builds the provider from its settings (credentials are loaded here: a bad key fails start-up
  // before anything connects).
  std::function<absl::StatusOr<std::unique_ptr<Provider>>(const ProviderSettings&,
                                                          const ProviderContext&)>
      build;
};

// A module from typed pieces: `parse` returns the provider's own settings type and `build` gets
// it back as that type (the registry keeps it as ProviderSettings).
template <typename SettingsT>
ProviderModule MakeModule(
    std::string name, std::function<std::string()> keys_help,
    std::function<bool(const std::string&)> owns_key,
    std::function<absl::StatusOr<std::unique_ptr<SettingsT>>(const settings::Source&, bool)> parse,
    std::function<absl::StatusOr<std::unique_ptr<Provider>>(const SettingsT&,
                                                            const ProviderContext&)>
        build) {
  ProviderModule m;
  m.name = std::move(name);
  m.keys_help = std::move(keys_help);
  m.owns_key = std::move(owns_key);
  m.parse = [parse = std::move(parse)](
                const settings::Source& source,
                bool production) -> absl::StatusOr<std::unique_ptr<ProviderSettings>> {
    auto s = parse(source, production);
    if (!s.ok()) return s.status();
    return std::unique_ptr<ProviderSettings>(*std::move(s));
  };
  m.build = [build = std::move(build)](
                const ProviderSettings& base,
                const ProviderContext& ctx) -> absl::StatusOr<std::unique_ptr<Provider>> {
    const auto* s = dynamic_cast<const SettingsT*>(&base);
    if (s == nullptr) return absl::InternalError("provider settings of another provider");
    return build(*s, ctx);
  };
  return m;
}

// `provider` with every port it answers wrapped in its port's decorator stack
// (usecase::Decorate: logging of failed upstream calls, ...); notification routes, Start and
// Stop are the provider's own. Null stays null.
std::unique_ptr<Provider> DecorateProvider(std::unique_ptr<Provider> provider,
                                           const usecase::PortDecoration& decoration);

class Registry {
 public:
  // The providers built into this binary (oq_register_provider in server/payment/*/), plus what a
  // test adds.
  static Registry& Global();
  // Adds a module; a second module with the same name replaces the first. The module's `build`
  // is wrapped so that every provider it builds comes decorated (DecorateProvider): the wiring
  // never sees an undecorated port.
  void Add(ProviderModule module);
  const ProviderModule* Find(absl::string_view name) const;
  std::vector<const ProviderModule*> modules() const;

 private:
  std::map<std::string, ProviderModule, std::less<>> modules_;
};

// Routes each recharge order to the first provider that serves it (a query through
// OrderStatusProvider::QueryIfServed, so each provider looks the order's account up once; a
// close through Serves), so the use cases see one port however many providers are configured.
class OrderRouter final : public usecase::OrderStatusProvider, public usecase::OrderCloser {
 public:
  explicit OrderRouter(std::vector<Provider*> providers);
  bool Serves(const domain::RechargeOrder& order) const override;
  void Query(const domain::RechargeOrder& order, absl::Time deadline,
             std::function<void(absl::StatusOr<domain::UpstreamTransaction>)> done) override;
  std::string ErrorCode(const absl::Status& status) const override;
  void Close(const domain::RechargeOrder& order, absl::Time deadline,
             std::function<void(absl::Status)> done) override;
  bool IsAlreadyPaid(const absl::Status& status) const override;

 private:
  Provider* For(const domain::RechargeOrder& order) const;
  std::vector<Provider*> providers_;
};

}  // namespace orderquery::payment

#endif  // ORDERQUERY_SERVER_PAYMENT_REGISTRY_H_
