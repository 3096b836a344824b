#include "server/config/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace orderquery::config {
namespace {

using Json = nlohmann::json;

// One configuration key: how to set it from its text form and how to show its default.
template <typename T>
struct KeyDef {
  std::string name;
  std::string help;
  bool secret = false;
  std::function<absl::Status(T&, const std::string&)> set;
  std::function<std::string(const T&)> get;
};

template <typename T, typename Ref>
KeyDef<T> Str(std::string name, std::string help, Ref ref, bool secret = false) {
  return {std::move(name), std::move(help), secret,
          [ref](T& c, const std::string& v) {
            ref(c) = v;
            return absl::OkStatus();
          },
          [ref](const T& c) { return ref(const_cast<T&>(c)); }};
}

template <typename T, typename Ref>
KeyDef<T> Int(std::string name, std::string help, Ref ref, int min, int max) {
  return {std::move(name), std::move(help), false,
          [ref, min, max](T& c, const std::string& v) {
            int n = 0;
            if (!absl::SimpleAtoi(v, &n))
              return absl::InvalidArgumentError("not an integer: \"" + v + "\"");
            if (n < min || n > max) {
              return absl::InvalidArgumentError(
                  absl::StrCat("must be between ", min, " and ", max, " (got ", n, ")"));
            }
            ref(c) = n;
            return absl::OkStatus();
          },
          [ref](const T& c) { return std::to_string(ref(const_cast<T&>(c))); }};
}

template <typename T, typename Ref>
KeyDef<T> Bool(std::string name, std::string help, Ref ref) {
  return {std::move(name), std::move(help), false,
          [ref](T& c, const std::string& v) {
            if (v == "true" || v == "1")
              ref(c) = true;
            else if (v == "false" || v == "0")
              ref(c) = false;
            else
              return absl::InvalidArgumentError("must be true or false (got \"" + v + "\")");
            return absl::OkStatus();
          },
          [ref](const T& c) { return std::string(ref(const_cast<T&>(c)) ? "true" : "false"); }};
}

template <typename T, typename Ref>
KeyDef<T> List(std::string name, std::string help, Ref ref) {
  return {std::move(name), std::move(help), false,
          [ref](T& c, const std::string& v) {
            ref(c) = absl::StrSplit(v, ',', absl::SkipWhitespace());
            for (auto& s : ref(c)) s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
            return absl::OkStatus();
          },
          [ref](const T& c) { return absl::StrJoin(ref(const_cast<T&>(c)), ","); }};
}

const std::vector<KeyDef<Config>>& TopKeys() {
  static const auto* keys = new std::vector<KeyDef<Config>>{
      Str<Config>(
          "env", "development | production (production refuses http:// provider URLs)",
          [](Config & c) -> auto& { return c.env; }),
      Str<Config>(
          "listen", "gRPC listen address host:port", [](Config & c) -> auto& { return c.listen; }),
      Bool<Config>(
          "reflection", "serve gRPC server reflection",
          [](Config & c) -> auto& { return c.reflection; }),
      Str<Config>(
          "log_level", "debug | info | warn | error",
          [](Config & c) -> auto& { return c.log_level; }),
      Int<Config>(
          "shutdown_grace_ms", "on SIGTERM, how long in-flight calls may finish",
          [](Config & c) -> auto& { return c.shutdown_grace_ms; }, 0, 600000),
      Int<Config>(
          "workers", "threads for blocking work (0 = db.pool_size)",
          [](Config & c) -> auto& { return c.workers; }, 0, 1024),
      Int<Config>(
          "max_queue", "blocking work queued before RESOURCE_EXHAUSTED",
          [](Config & c) -> auto& { return c.max_queue; }, 1, 1000000),
      Int<Config>(
          "health_interval_ms", "how often the DB is pinged for grpc.health.v1",
          [](Config & c) -> auto& { return c.health_interval_ms; }, 100, 60000),
      Str<Config>(
          "tls.cert_file", "server certificate chain PEM (empty = plaintext)",
          [](Config & c) -> auto& { return c.tls.cert_file; }),
      Str<Config>(
          "tls.key_file", "server private key PEM",
          [](Config & c) -> auto& { return c.tls.key_file; }),
      Str<Config>(
          "tls.client_ca_file", "CA PEM for client certificates (set = mTLS)",
          [](Config & c) -> auto& { return c.tls.client_ca_file; }),
      Str<Config>(
          "db.host", "MariaDB/MySQL host", [](Config & c) -> auto& { return c.db.host; }),
      Int<Config>(
          "db.port", "MariaDB/MySQL port", [](Config & c) -> auto& { return c.db.port; }, 1, 65535),
      Str<Config>(
          "db.user", "database user", [](Config & c) -> auto& { return c.db.user; }),
      Str<Config>(
          "db.password", "database password (secret)",
          [](Config & c) -> auto& { return c.db.password; }, true),
      Str<Config>(
          "db.database", "database name", [](Config & c) -> auto& { return c.db.database; }),
      Str<Config>(
          "db.socket", "unix socket path (empty = TCP)",
          [](Config & c) -> auto& { return c.db.socket; }),
      Int<Config>(
          "db.pool_size", "connections in the pool",
          [](Config & c) -> auto& { return c.db.pool_size; }, 1, 256),
      Int<Config>(
          "db.acquire_timeout_ms", "wait for a free connection before UNAVAILABLE",
          [](Config & c) -> auto& { return c.db.acquire_timeout_ms; }, 1, 600000),
      Int<Config>(
          "db.connect_timeout_ms", "connect timeout",
          [](Config & c) -> auto& { return c.db.connect_timeout_ms; }, 1, 600000),
      Int<Config>(
          "db.startup_timeout_ms", "how long start-up waits for the database",
          [](Config & c) -> auto& { return c.db.startup_timeout_ms; }, 0, 3600000),
      Int<Config>(
          "upstream.connect_timeout_ms", "payment provider connect timeout",
          [](Config & c) -> auto& { return c.upstream.connect_timeout_ms; }, 1, 600000),
      Int<Config>(
          "upstream.request_timeout_ms", "payment provider request timeout (per attempt)",
          [](Config & c) -> auto& { return c.upstream.request_timeout_ms; }, 1, 600000),
      Str<Config>(
          "upstream.ca_file", "CA bundle for provider TLS (empty = system)",
          [](Config & c) -> auto& { return c.upstream.ca_file; }),
      Str<Config>(
          "upstream.proxy", "HTTP(S) proxy URL for provider calls",
          [](Config & c) -> auto& { return c.upstream.proxy; }),
      Int<Config>(
          "upstream.max_attempts", "attempts for idempotent calls on 429/5xx/connection errors",
          [](Config & c) -> auto& { return c.upstream.max_attempts; }, 1, 10),
      Int<Config>(
          "upstream.initial_backoff_ms", "first retry backoff (jittered, exponential)",
          [](Config & c) -> auto& { return c.upstream.initial_backoff_ms; }, 1, 60000),
      Int<Config>(
          "upstream.max_backoff_ms", "largest retry backoff",
          [](Config & c) -> auto& { return c.upstream.max_backoff_ms; }, 1, 600000),
      Int<Config>(
          "upstream.max_inflight_per_merchant", "concurrent provider calls per merchant",
          [](Config & c) -> auto& { return c.upstream.max_inflight_per_merchant; }, 1, 100000),
      Int<Config>(
          "upstream.certificate_refresh_ms",
          "WeChat platform certificates are downloaded this often (download_certificates)",
          [](Config & c) -> auto& { return c.upstream.certificate_refresh_ms; }, 60000, 604800000),
      Int<Config>(
          "upstream.certificate_min_refresh_ms",
          "an unknown serial triggers a certificates download at most this often",
          [](Config & c) -> auto& { return c.upstream.certificate_min_refresh_ms; }, 1000, 3600000),
      Int<Config>(
          "recharge.refresh_interval_ms",
          "a pending recharge order is asked upstream at most this often",
          [](Config & c) -> auto& { return c.recharge_refresh_interval_ms; }, 0, 86400000),
      Int<Config>(
          "recharge.session_cache_ms",
          "a resolved token is trusted from memory this long (never past its expiry; 0 = off)",
          [](Config & c) -> auto& { return c.recharge_session_cache_ms; }, 0, 600000),
      Int<Config>(
          "recharge.final_cache_ms",
          "a credited final answer is served from memory this long (0 = off); the bound for "
          "seeing another replica's change",
          [](Config & c) -> auto& { return c.recharge_final_cache_ms; }, 0, 600000),
      Int<Config>(
          "recharge.cache_max_entries", "entries per cache",
          [](Config & c) -> auto& { return c.recharge_cache_max_entries; }, 0, 100000000),
      Int<Config>(
          "recharge.cache_max_bytes", "bytes both caches may hold together",
          [](Config & c) -> auto& { return c.recharge_cache_max_bytes; }, 0, 2000000000),
      Int<Config>(
          "recharge.failure_backoff_ms",
          "after an upstream failure, the order is not asked again this long (doubling; 0 = off)",
          [](Config & c) -> auto& { return c.recharge_failure_backoff_ms; }, 0, 600000),
      Int<Config>(
          "recharge.failure_backoff_max_ms", "the longest such wait",
          [](Config & c) -> auto& { return c.recharge_failure_backoff_max_ms; }, 0, 3600000),
      Int<Config>(
          "trade.refresh_interval_ms",
          "a non-final trade order is asked upstream at most this often",
          [](Config & c) -> auto& { return c.trade_refresh_interval_ms; }, 0, 86400000),
      Int<Config>(
          "vehicle.refresh_interval_ms",
          "a stored SUCCESS parking transaction is asked again after this (it may be refunded)",
          [](Config & c) -> auto& { return c.vehicle_refresh_interval_ms; }, 0, 86400000),
      Str<Config>(
          "trade.default_merchant", "trade merchant used when a request names none",
          [](Config & c) -> auto& { return c.default_trade_merchant; }),
      Str<Config>(
          "notify.listen", "HTTP host:port for payment notifications (empty = off)",
          [](Config & c) -> auto& { return c.notify.listen; }),
      Int<Config>(
          "notify.max_body_bytes", "largest notification body accepted (413 above)",
          [](Config & c) -> auto& { return c.notify.max_body_bytes; }, 1024, 16 << 20),
      Int<Config>(
          "notify.threads", "notifications handled at once",
          [](Config & c) -> auto& { return c.notify.threads; }, 1, 1024),
      Int<Config>(
          "notify.timeout_ms", "reading a notification request",
          [](Config & c) -> auto& { return c.notify.timeout_ms; }, 100, 600000),
      Bool<Config>(
          "reconcile.enabled", "re-query pending recharge orders on a schedule",
          [](Config & c) -> auto& { return c.reconcile.enabled; }),
      Int<Config>(
          "reconcile.first_delay_ms", "first check this long after an order is created",
          [](Config & c) -> auto& { return c.reconcile.first_delay_ms; }, 0, 86400000),
      List<Config>(
          "reconcile.backoff_ms", "waits between later checks (comma list; the last repeats)",
          [](Config & c) -> auto& { return c.reconcile.backoff_ms; }),
      Int<Config>(
          "reconcile.expire_after_ms", "after creation: close at the provider, ask once more",
          [](Config & c) -> auto& { return c.reconcile.expire_after_ms; }, 1000, 2000000000),
      Int<Config>(
          "reconcile.interval_ms", "how often each replica looks for due orders",
          [](Config & c) -> auto& { return c.reconcile.interval_ms; }, 10, 3600000),
      Int<Config>(
          "reconcile.lease_ms", "a claimed order stays with its replica this long",
          [](Config & c) -> auto& { return c.reconcile.lease_ms; }, 100, 3600000),
      Int<Config>(
          "reconcile.batch", "orders claimed per sweep",
          [](Config & c) -> auto& { return c.reconcile.batch; }, 1, 10000),
      Int<Config>(
          "reconcile.max_inflight", "provider calls the reconciler has out at once",
          [](Config & c) -> auto& { return c.reconcile.max_inflight; }, 1, 1024),
      Str<Config>(
          "admin.listen", "HTTP host:port for GET /metrics (Prometheus; empty = off)",
          [](Config & c) -> auto& { return c.admin.listen; }),
      Int<Config>(
          "retention.query_log_days",
          "t_user_order_query_log rows older than this are deleted (0 = keep)",
          [](Config & c) -> auto& { return c.retention.query_log_days; }, 0, 36500),
      Int<Config>(
          "retention.notification_days",
          "t_payment_notification rows older than this are deleted (0 = keep)",
          [](Config & c) -> auto& { return c.retention.notification_days; }, 0, 36500),
      Int<Config>(
          "retention.batch", "rows deleted per statement (one short transaction)",
          [](Config & c) -> auto& { return c.retention.batch; }, 1, 100000),
      Int<Config>(
          "retention.pause_ms", "pause between deletion batches",
          [](Config & c) -> auto& { return c.retention.pause_ms; }, 0, 60000),
      Int<Config>(
          "retention.interval_ms", "how often each replica deletes expired rows",
          [](Config & c) -> auto& { return c.retention.interval_ms; }, 1000, 86400000),
  };
  return *keys;
}

const std::vector<KeyDef<WechatMerchantConfig>>& WechatKeys() {
  using W = WechatMerchantConfig;
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

const std::vector<KeyDef<TradeMerchantConfig>>& TradeKeys() {
  using T = TradeMerchantConfig;
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

const std::vector<KeyDef<CallerConfig>>& CallerKeys() {
  using C = CallerConfig;
  static const auto* keys = new std::vector<KeyDef<C>>{
      Str<C>(
          "key", "the caller's API key, sent as metadata x-api-key (secret)",
          [](C & c) -> auto& { return c.key; }, true),
      Str<C>(
          "key_file", "file holding the API key", [](C & c) -> auto& { return c.key_file; }),
      Str<C>(
          "key_sha256", "hex SHA-256 of the API key (instead of the key)",
          [](C & c) -> auto& { return c.key_sha256; }),
      List<C>(
          "methods", "full method names it may call, or * (comma list)",
          [](C & c) -> auto& { return c.methods; }),
      Bool<C>(
          "operator", "may set force_refresh", [](C & c) -> auto& { return c.operator_; }),
  };
  return *keys;
}

absl::Status KeyError(const std::string& key, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(key, " (", EnvName(key), "): ", why));
}

// Flattens the JSON file into "a.b.c" -> text. Merchant maps stay keyed by name.
absl::Status Flatten(const Json& j, const std::string& prefix,
                     std::map<std::string, std::string>* out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    const Json& v = it.value();
    if (v.is_object()) {
      if (auto s = Flatten(v, key, out); !s.ok()) return s;
    } else if (v.is_string()) {
      (*out)[key] = v.get<std::string>();
    } else if (v.is_boolean()) {
      (*out)[key] = v.get<bool>() ? "true" : "false";
    } else if (v.is_number_integer()) {
      (*out)[key] = std::to_string(v.get<int64_t>());
    } else if (v.is_array()) {
      std::vector<std::string> parts;
      for (const auto& e : v) {
        if (!e.is_string()) return KeyError(key, "must be an array of strings");
        parts.push_back(e.get<std::string>());
      }
      (*out)[key] = absl::StrJoin(parts, ",");
    } else if (v.is_null()) {
      continue;
    } else {
      return KeyError(key, "unsupported value (use a string, an integer, a boolean or a list)");
    }
  }
  return absl::OkStatus();
}

bool ValidName(const std::string& n) {
  return !n.empty() &&
         std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::isalnum(c); });
}

absl::Status CheckReadable(const std::string& key, const std::string& path) {
  if (path.empty()) return absl::OkStatus();
  std::ifstream f(path);
  if (!f.good()) return KeyError(key, "cannot read file " + path);
  return absl::OkStatus();
}

template <typename T>
absl::Status ApplyMerchantKeys(const std::string& group, const std::vector<KeyDef<T>>& defs,
                               const std::map<std::string, std::string>& flat, const Env& env,
                               std::map<std::string, T>* merchants) {
  // Names come from the file ("group.NAME.field") and from ORDERQUERY_<GROUP> lists.
  std::set<std::string> names;
  for (const auto& [k, v] : flat) {
    if (k.rfind(group + ".", 0) != 0) continue;
    std::string rest = k.substr(group.size() + 1);
    names.insert(rest.substr(0, rest.find('.')));
  }
  if (auto it = env.find(EnvName(group)); it != env.end()) {
    for (absl::string_view n : absl::StrSplit(it->second, ',', absl::SkipWhitespace())) {
      names.insert(std::string(n));
    }
  }
  for (const auto& name : names) {
    if (!ValidName(name))
      return KeyError(group + "." + name, "merchant names are letters and digits only");
    T m;
    m.name = name;
    for (const auto& def : defs) {
      std::string key = group + "." + name + "." + def.name;
      std::string value;
      bool have = false;
      if (auto it = flat.find(key); it != flat.end()) {
        value = it->second;
        have = true;
      }
      if (auto it = env.find(EnvName(key)); it != env.end()) {
        value = it->second;
        have = true;
      }
      if (!have) continue;
      if (auto s = def.set(m, value); !s.ok()) return KeyError(key, s.message());
    }
    (*merchants)[name] = std::move(m);
  }
  // Unknown merchant fields in the file.
  for (const auto& [k, v] : flat) {
    if (k.rfind(group + ".", 0) != 0) continue;
    std::string rest = k.substr(group.size() + 1);
    size_t dot = rest.find('.');
    std::string field = dot == std::string::npos ? "" : rest.substr(dot + 1);
    bool known =
        std::any_of(defs.begin(), defs.end(), [&](const auto& d) { return d.name == field; });
    if (!known) return KeyError(k, "unknown key");
  }
  return absl::OkStatus();
}

absl::Status Validate(const Config& c) {
  if (c.env != "development" && c.env != "production") {
    return KeyError("env", "must be development or production");
  }
  if (c.env == "production") {
    // Requests to a provider carry our signature and its replies money: never in clear text.
    for (const auto& [name, m] : c.wechat_merchants) {
      if (m.base_url.rfind("https://", 0) != 0) {
        return KeyError("wechat.merchants." + name + ".base_url",
                        "env production needs an https:// URL");
      }
    }
    for (const auto& [name, m] : c.trade_merchants) {
      if (m.base_url.rfind("https://", 0) != 0) {
        return KeyError("trade.merchants." + name + ".base_url",
                        "env production needs an https:// URL");
      }
    }
  }
  if (c.listen.find(':') == std::string::npos) return KeyError("listen", "must be host:port");
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error") {
    return KeyError("log_level", "must be debug, info, warn or error");
  }
  if (c.tls.cert_file.empty() != c.tls.key_file.empty()) {
    return KeyError(c.tls.cert_file.empty() ? "tls.cert_file" : "tls.key_file",
                    "tls.cert_file and tls.key_file go together");
  }
  if (!c.tls.client_ca_file.empty() && c.tls.cert_file.empty()) {
    return KeyError("tls.client_ca_file", "mTLS needs tls.cert_file and tls.key_file");
  }
  for (const auto& [key, path] :
       {std::pair<std::string, std::string>{"tls.cert_file", c.tls.cert_file},
        {"tls.key_file", c.tls.key_file},
        {"tls.client_ca_file", c.tls.client_ca_file},
        {"upstream.ca_file", c.upstream.ca_file}}) {
    if (auto s = CheckReadable(key, path); !s.ok()) return s;
  }
  if (c.upstream.max_backoff_ms < c.upstream.initial_backoff_ms) {
    return KeyError("upstream.max_backoff_ms", "must be >= upstream.initial_backoff_ms");
  }
  for (const auto& [name, m] : c.wechat_merchants) {
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
    if (auto s = CheckReadable(p + "private_key_file", m.private_key_file); !s.ok()) return s;
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
    if (auto s = CheckReadable(p + "merchant_cert_file", m.merchant_cert_file); !s.ok()) return s;
    if (auto s = CheckReadable(p + "public_key_file", m.public_key_file); !s.ok()) return s;
    for (const auto& f : m.platform_cert_files) {
      if (auto s = CheckReadable(p + "platform_cert_files", f); !s.ok()) return s;
    }
    if (m.base_url.rfind("http://", 0) != 0 && m.base_url.rfind("https://", 0) != 0) {
      return KeyError(p + "base_url", "must start with http:// or https://");
    }
    if (!m.apiv3_key.empty() && m.apiv3_key.size() != 32) {
      return KeyError(p + "apiv3_key", "must be 32 bytes (its value is not shown)");
    }
    if (!m.apiv3_key.empty() && !m.apiv3_key_file.empty()) {
      return KeyError(p + "apiv3_key_file", "give apiv3_key or apiv3_key_file, not both");
    }
    if (auto s = CheckReadable(p + "apiv3_key_file", m.apiv3_key_file); !s.ok()) return s;
  }
  if (c.upstream.certificate_refresh_ms < c.upstream.certificate_min_refresh_ms) {
    return KeyError("upstream.certificate_refresh_ms",
                    "must be >= upstream.certificate_min_refresh_ms");
  }
  if (!c.notify.listen.empty() && c.notify.listen.find(':') == std::string::npos) {
    return KeyError("notify.listen", "must be host:port");
  }
  if (!c.admin.listen.empty() && c.admin.listen.find(':') == std::string::npos) {
    return KeyError("admin.listen", "must be host:port");
  }
  if (c.reconcile.backoff_ms.empty()) return KeyError("reconcile.backoff_ms", "needs a value");
  for (const std::string& b : c.reconcile.backoff_ms) {
    int ms = 0;
    if (!absl::SimpleAtoi(b, &ms) || ms < 10) {
      return KeyError("reconcile.backoff_ms", "each wait is an integer of at least 10 ms");
    }
  }
  for (const auto& [name, m] : c.trade_merchants) {
    std::string p = "trade.merchants." + name + ".";
    if (m.base_url.rfind("http://", 0) != 0 && m.base_url.rfind("https://", 0) != 0) {
      return KeyError(p + "base_url", "must start with http:// or https://");
    }
    if (m.mch_id.empty()) return KeyError(p + "mch_id", "is required");
    if (m.key.empty() && m.key_file.empty())
      return KeyError(p + "key", "key or key_file is required");
    if (auto s = CheckReadable(p + "key_file", m.key_file); !s.ok()) return s;
    if (m.sign_type != "MD5" && m.sign_type != "HMAC-SHA256") {
      return KeyError(p + "sign_type", "must be MD5 or HMAC-SHA256");
    }
  }
  if (!c.default_trade_merchant.empty() && !c.trade_merchants.count(c.default_trade_merchant)) {
    return KeyError("trade.default_merchant", "names no configured trade merchant");
  }
  for (const auto& [name, caller] : c.auth.callers) {
    std::string p = "auth.callers." + name + ".";
    const int given = !caller.key.empty() + !caller.key_file.empty() + !caller.key_sha256.empty();
    if (given != 1) return KeyError(p + "key", "give exactly one of key, key_file, key_sha256");
    if (!caller.key.empty() && caller.key.size() < 16) {
      return KeyError(p + "key", "must be at least 16 characters (its value is not shown)");
    }
    if (!caller.key_sha256.empty() &&
        (caller.key_sha256.size() != 64 ||
         !std::all_of(caller.key_sha256.begin(), caller.key_sha256.end(), ::isxdigit))) {
      return KeyError(p + "key_sha256", "must be 64 hex digits");
    }
    if (auto s = CheckReadable(p + "key_file", caller.key_file); !s.ok()) return s;
    if (caller.methods.empty()) return KeyError(p + "methods", "at least one method (or *)");
  }
  return absl::OkStatus();
}

}  // namespace

std::string EnvName(const std::string& key) {
  std::string out = "ORDERQUERY_";
  for (char ch : key)
    out.push_back(ch == '.' ? '_'
                            : static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  return out;
}

Env ProcessEnv() {
  Env env;
  for (char** e = environ; e && *e; ++e) {
    absl::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == absl::string_view::npos) continue;
    if (kv.substr(0, 11) != "ORDERQUERY_") continue;
    env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  return env;
}

absl::StatusOr<Config> Load(const std::string& path, const Env& env) {
  std::map<std::string, std::string> flat;
  if (!path.empty()) {
    std::ifstream in(path);
    if (!in.good()) return absl::InvalidArgumentError("config file " + path + ": cannot read");
    Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return absl::InvalidArgumentError("config file " + path + ": not a JSON object");
    }
    if (auto s = Flatten(j, "", &flat); !s.ok()) return s;
  }
  Config c;
  std::set<std::string> known;
  for (const auto& def : TopKeys()) {
    known.insert(def.name);
    std::string value;
    bool have = false;
    if (auto it = flat.find(def.name); it != flat.end()) {
      value = it->second;
      have = true;
    }
    if (auto it = env.find(EnvName(def.name)); it != env.end()) {
      value = it->second;
      have = true;
    }
    if (!have) continue;
    if (auto s = def.set(c, value); !s.ok()) return KeyError(def.name, s.message());
  }
  for (const auto& [k, v] : flat) {
    if (known.count(k) || k.rfind("wechat.merchants.", 0) == 0 ||
        k.rfind("trade.merchants.", 0) == 0 || k.rfind("auth.callers.", 0) == 0)
      continue;
    return KeyError(k, "unknown key");
  }
  if (auto s = ApplyMerchantKeys("wechat.merchants", WechatKeys(), flat, env, &c.wechat_merchants);
      !s.ok())
    return s;
  if (auto s = ApplyMerchantKeys("trade.merchants", TradeKeys(), flat, env, &c.trade_merchants);
      !s.ok())
    return s;
  if (auto s = ApplyMerchantKeys("auth.callers", CallerKeys(), flat, env, &c.auth.callers); !s.ok())
    return s;
  if (auto s = Validate(c); !s.ok()) return s;
  return c;
}

std::string KeysHelp() {
  std::ostringstream out;
  Config defaults;
  out << "Configuration keys (JSON file given by --config, nested objects for dotted keys;\n"
         "each key is overridden by the environment variable shown):\n";
  for (const auto& def : TopKeys()) {
    std::string d = def.get(defaults);
    out << "  " << def.name << "  [" << EnvName(def.name) << "]  " << def.help;
    if (!d.empty() && !def.secret) out << " (default " << d << ")";
    out << "\n";
  }
  out << "\nWeChat Pay merchants: wechat.merchants.NAME.KEY (NAME = letters/digits; the env list\n"
         "ORDERQUERY_WECHAT_MERCHANTS=NAME1,NAME2 declares merchants from the environment "
         "alone):\n";
  WechatMerchantConfig wd;
  for (const auto& def : WechatKeys()) {
    std::string d = def.get(wd);
    out << "  wechat.merchants.NAME." << def.name << "  [ORDERQUERY_WECHAT_MERCHANTS_NAME_"
        << EnvName(def.name).substr(11) << "]  " << def.help;
    if (!d.empty() && !def.secret) out << " (default " << d << ")";
    out << "\n";
  }
  out << "\nTrade API merchants (seed 001): trade.merchants.NAME.KEY (env list "
         "ORDERQUERY_TRADE_MERCHANTS):\n";
  TradeMerchantConfig td;
  for (const auto& def : TradeKeys()) {
    std::string d = def.get(td);
    out << "  trade.merchants.NAME." << def.name << "  [ORDERQUERY_TRADE_MERCHANTS_NAME_"
        << EnvName(def.name).substr(11) << "]  " << def.help;
    if (!d.empty() && !def.secret) out << " (default " << d << ")";
    out << "\n";
  }
  out << "\nCallers of the internal RPCs (vehicle, trade; force_refresh): auth.callers.NAME.KEY "
         "(env list ORDERQUERY_AUTH_CALLERS):\n";
  CallerConfig cd;
  for (const auto& def : CallerKeys()) {
    std::string d = def.get(cd);
    out << "  auth.callers.NAME." << def.name << "  [ORDERQUERY_AUTH_CALLERS_NAME_"
        << EnvName(def.name).substr(11) << "]  " << def.help;
    if (!d.empty() && !def.secret) out << " (default " << d << ")";
    out << "\n";
  }
  return out.str();
}

}  // namespace orderquery::config
