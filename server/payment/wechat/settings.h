// The WeChat Pay provider's configuration section: wechat.merchants.NAME.KEY, read with the
// shared engine (server/common/settings.h). --help lists the keys from this table.
#ifndef ORDERQUERY_SERVER_PAYMENT_WECHAT_SETTINGS_H_
#define ORDERQUERY_SERVER_PAYMENT_WECHAT_SETTINGS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/common/settings.h"
#include "server/payment/registry.h"

namespace orderquery::payment::wechat {

// A WeChat Pay merchant: which official-account AppIDs it serves and its credentials.
struct MerchantSettings {
  std::string name;
  std::vector<std::string> appids;
  std::string mode = "direct";  // direct | partner
  std::string mchid;            // direct: the merchant; partner: the service provider (sp_mchid)
  std::string sub_mchid;        // partner mode: default sub-merchant
  std::string serial_no;        // merchant API certificate serial
  std::string private_key_file;
  std::string private_key_pem;  // secret; alternative to the file (e.g. from a Secret via env)
  std::string public_key_id;    // public-key mode: PUB_KEY_ID_...
  std::string public_key_file;
  std::vector<std::string> platform_cert_files;  // certificate mode (several during rotation)
  std::string base_url = "https://api.mch.weixin.qq.com";
  // APIv3 key: decrypts payment notifications (and downloaded certificates). Secret.
  std::string apiv3_key;
  std::string apiv3_key_file;
  // Certificate mode: download platform certificates from GET /v3/certificates (needs the
  // APIv3 key); with no public key or platform_cert_files the first list vouches for itself.
  bool download_certificates = false;
  // Optional merchant API certificate (apiclient_cert.pem): only its expiry is reported.
  std::string merchant_cert_file;
};

struct Settings final : ProviderSettings {
  std::map<std::string, MerchantSettings> merchants;
  int accounts() const override { return static_cast<int>(merchants.size()); }
};

// Reads and validates wechat.merchants.* (errors name the key, never a secret's value).
absl::StatusOr<std::unique_ptr<Settings>> ParseSettings(const settings::Source& source,
                                                        bool production);
bool OwnsKey(const std::string& key);
std::string KeysHelp();

}  // namespace orderquery::payment::wechat

#endif  // ORDERQUERY_SERVER_PAYMENT_WECHAT_SETTINGS_H_
