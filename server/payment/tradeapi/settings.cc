#include "server/payment/tradeapi/settings.h"

namespace orderquery::payment::tradeapi {
namespace {

using settings::CheckReadable;
using settings::KeyDef;
using settings::KeyError;
using settings::Str;

const std::vector<KeyDef<MerchantSettings>>& Keys() {
  using T = MerchantSettings;
  static const auto* keys = new std::vector<KeyDef<T>>{
      Str<T>(
          "base_url", "merchant API base URL", [](T & m) -> auto& { return m.base_url; }),
      Str<T>(
          "mch_id", "merchant id (mchId)", [](T & m) -> auto& { return m.mch_id; }),
      Str<T>(
          "app_id", "application id (appId)", [](T & m) -> auto& { return m.app_id; }),
      Str<T>(
          "key", "signing key (secret)", [](T & m) -> auto& { return m.key; }, true),
      Str<T>(
          "key_file", "file holding the signing key", [](T & m) -> auto& { return m.key_file; }),
      Str<T>(
          "sign_type", "MD5 | HMAC-SHA256", [](T & m) -> auto& { return m.sign_type; }),
  };
  return *keys;
}

absl::Status Validate(const Settings& s, bool production) {
  for (const auto& [name, m] : s.merchants) {
    std::string p = "trade.merchants." + name + ".";
    if (auto st = settings::CheckHttpUrl(p + "base_url", m.base_url); !st.ok()) return st;
    if (m.mch_id.empty()) return KeyError(p + "mch_id", "is required");
    if (m.key.empty() && m.key_file.empty())
      return KeyError(p + "key", "key or key_file is required");
    if (auto st = CheckReadable(p + "key_file", m.key_file); !st.ok()) return st;
    if (m.sign_type != "MD5" && m.sign_type != "HMAC-SHA256") {
      return KeyError(p + "sign_type", "must be MD5 or HMAC-SHA256");
    }
  }
  if (!s.default_merchant.empty() && !s.merchants.count(s.default_merchant)) {
    return KeyError("trade.default_merchant", "names no configured trade merchant");
  }
  return production ? settings::RequireHttps("trade.merchants", s.merchants) : absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Settings>> ParseSettings(const settings::Source& source,
                                                        bool production) {
  auto s = std::make_unique<Settings>();
  source.Get("trade.default_merchant", &s->default_merchant);
  if (absl::Status st = source.ApplyGroup("trade.merchants", Keys(), &s->merchants); !st.ok()) {
    return st;
  }
  if (absl::Status st = Validate(*s, production); !st.ok()) return st;
  return s;
}

bool OwnsKey(const std::string& key) {
  return key == "trade.default_merchant" || key.rfind("trade.merchants.", 0) == 0;
}

std::string KeysHelp() {
  return "  trade.default_merchant  [ORDERQUERY_TRADE_DEFAULT_MERCHANT]  trade merchant used when "
         "a request names none\n"
         "Trade API merchants (seed 001): trade.merchants.NAME.KEY (env list "
         "ORDERQUERY_TRADE_MERCHANTS):\n" +
         settings::KeyTableHelp("trade.merchants.NAME.", "ORDERQUERY_TRADE_MERCHANTS_NAME_", Keys(),
                                MerchantSettings{});
}

}  // namespace orderquery::payment::tradeapi
