#include "server/payment/wechat/settings.h"

#include <algorithm>
#include <cctype>

namespace orderquery::payment::wechat {
namespace {

using settings::Bool;
using settings::CheckReadable;
using settings::KeyDef;
using settings::KeyError;
using settings::List;
using settings::Str;

constexpr char kGroup[] = "wechat.merchants";

const std::vector<KeyDef<MerchantSettings>>& Keys() {
  using W = MerchantSettings;
  static const auto* keys = new std::vector<KeyDef<W>>{
      List<W>(
          "appids", "official-account AppIDs this merchant serves (comma list)",
          [](W & m) -> auto& { return m.appids; }),
      Str<W>(
          "mode", "direct | partner", [](W & m) -> auto& { return m.mode; }),
      Str<W>(
          "mchid", "merchant id (partner mode: the service provider's)",
          [](W & m) -> auto& { return m.mchid; }),
      Str<W>(
          "sub_mchid", "partner mode: default sub-merchant id",
          [](W & m) -> auto& { return m.sub_mchid; }),
      Str<W>(
          "serial_no", "merchant API certificate serial",
          [](W & m) -> auto& { return m.serial_no; }),
      Str<W>(
          "private_key_file", "merchant private key, PKCS#8 PEM file",
          [](W & m) -> auto& { return m.private_key_file; }),
      Str<W>(
          "private_key_pem", "merchant private key PEM itself (secret)",
          [](W & m) -> auto& { return m.private_key_pem; }, true),
      Str<W>(
          "public_key_id", "WeChat Pay public key id PUB_KEY_ID_...",
          [](W & m) -> auto& { return m.public_key_id; }),
      Str<W>(
          "public_key_file", "WeChat Pay public key PEM file",
          [](W & m) -> auto& { return m.public_key_file; }),
      List<W>(
          "platform_cert_files", "platform certificate PEM files (certificate mode)",
          [](W & m) -> auto& { return m.platform_cert_files; }),
      Str<W>(
          "base_url", "API base URL", [](W & m) -> auto& { return m.base_url; }),
      Str<W>(
          "apiv3_key", "APIv3 key, 32 bytes: decrypts notifications (secret)",
          [](W & m) -> auto& { return m.apiv3_key; }, true),
      Str<W>(
          "apiv3_key_file", "file holding the APIv3 key",
          [](W & m) -> auto& { return m.apiv3_key_file; }),
      Bool<W>(
          "download_certificates",
          "download platform certificates from GET /v3/certificates (needs the APIv3 key)",
          [](W & m) -> auto& { return m.download_certificates; }),
      Str<W>(
          "merchant_cert_file", "merchant API certificate PEM (only its expiry is reported)",
          [](W & m) -> auto& { return m.merchant_cert_file; }),
  };
  return *keys;
}

absl::Status Validate(const Settings& s, bool production) {
  for (const auto& [name, m] : s.merchants) {
    std::string p = "wechat.merchants." + name + ".";
    if (m.mode != "direct" && m.mode != "partner")
      return KeyError(p + "mode", "must be direct or partner");
    if (m.mchid.empty() || !std::all_of(m.mchid.begin(), m.mchid.end(), ::isdigit)) {
      return KeyError(p + "mchid", "must be the merchant id (digits)");
    }
    if (m.appids.empty()) return KeyError(p + "appids", "at least one AppID is required");
    if (m.serial_no.empty()) return KeyError(p + "serial_no", "is required");
    if (m.private_key_file.empty() && m.private_key_pem.empty()) {
      return KeyError(p + "private_key_file", "private_key_file or private_key_pem is required");
    }
    if (auto st = CheckReadable(p + "private_key_file", m.private_key_file); !st.ok()) return st;
    if (m.public_key_id.empty() != m.public_key_file.empty()) {
      return KeyError(p + "public_key_file", "public_key_id and public_key_file go together");
    }
    if (m.public_key_file.empty() && m.platform_cert_files.empty() && !m.download_certificates) {
      return KeyError(p + "public_key_file",
                      "a WeChat Pay public key (public_key_id + public_key_file), "
                      "platform_cert_files or download_certificates is required");
    }
    if (m.download_certificates && m.apiv3_key.empty() && m.apiv3_key_file.empty()) {
      return KeyError(p + "download_certificates",
                      "needs apiv3_key or apiv3_key_file (it decrypts the certificates)");
    }
    if (auto st = CheckReadable(p + "merchant_cert_file", m.merchant_cert_file); !st.ok())
      return st;
    if (auto st = CheckReadable(p + "public_key_file", m.public_key_file); !st.ok()) return st;
    for (const auto& f : m.platform_cert_files) {
      if (auto st = CheckReadable(p + "platform_cert_files", f); !st.ok()) return st;
    }
    if (auto st = settings::CheckHttpUrl(p + "base_url", m.base_url); !st.ok()) return st;
    if (!m.apiv3_key.empty() && m.apiv3_key.size() != 32) {
      return KeyError(p + "apiv3_key", "must be 32 bytes (its value is not shown)");
    }
    if (!m.apiv3_key.empty() && !m.apiv3_key_file.empty()) {
      return KeyError(p + "apiv3_key_file", "give apiv3_key or apiv3_key_file, not both");
    }
    if (auto st = CheckReadable(p + "apiv3_key_file", m.apiv3_key_file); !st.ok()) return st;
  }
  return production ? settings::RequireHttps(kGroup, s.merchants) : absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Settings>> ParseSettings(const settings::Source& source,
                                                        bool production) {
  auto s = std::make_unique<Settings>();
  if (absl::Status st = source.ApplyGroup(kGroup, Keys(), &s->merchants); !st.ok()) return st;
  if (absl::Status st = Validate(*s, production); !st.ok()) return st;
  return s;
}

bool OwnsKey(const std::string& key) { return key.rfind("wechat.merchants.", 0) == 0; }

std::string KeysHelp() {
  return "WeChat Pay merchants: wechat.merchants.NAME.KEY (NAME = letters/digits; the env list\n"
         "ORDERQUERY_WECHAT_MERCHANTS=NAME1,NAME2 declares merchants from the environment "
         "alone):\n" +
         settings::KeyTableHelp("wechat.merchants.NAME.", "ORDERQUERY_WECHAT_MERCHANTS_NAME_",
                                Keys(), MerchantSettings{});
}

}  // namespace orderquery::payment::wechat
