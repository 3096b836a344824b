// The merchant trade API provider's configuration section (seed 001): trade.merchants.NAME.KEY
// and trade.default_merchant, read with the shared engine (server/common/settings.h).
#ifndef ORDERQUERY_SERVER_PAYMENT_TRADEAPI_SETTINGS_H_
#define ORDERQUERY_SERVER_PAYMENT_TRADEAPI_SETTINGS_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/common/settings.h"
#include "server/payment/registry.h"

namespace orderquery::payment::tradeapi {

// A merchant of the aggregated-payment trade API.
struct MerchantSettings {
  std::string name;
  std::string base_url;
  std::string mch_id;
  std::string app_id;
  std::string key;  // secret signing key
  std::string key_file;
  std::string sign_type = "MD5";  // MD5 | HMAC-SHA256
};

struct Settings final : ProviderSettings {
  std::map<std::string, MerchantSettings> merchants;
  std::string default_merchant;  // used when a request names none; may be empty
  int accounts() const override { return static_cast<int>(merchants.size()); }
};

// Reads and validates trade.* (errors name the key, never a secret's value).
absl::StatusOr<std::unique_ptr<Settings>> ParseSettings(const settings::Source& source,
                                                        bool production);
bool OwnsKey(const std::string& key);
std::string KeysHelp();

}  // namespace orderquery::payment::tradeapi

#endif  // ORDERQUERY_SERVER_PAYMENT_TRADEAPI_SETTINGS_H_
