// orderqueryd configuration: one JSON file, every key overridable by an environment variable
// ORDERQUERY_<KEY> (dots and the key's own underscores become '_', upper-cased), secrets
// included. Validated at start: the first bad key is reported in one line naming it.
#ifndef ORDERQUERY_SERVER_CONFIG_CONFIG_H_
#define ORDERQUERY_SERVER_CONFIG_CONFIG_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/common/settings.h"
#include "server/payment/registry.h"

namespace orderquery::config {

struct TlsConfig {
  std::string cert_file;       // server certificate chain (PEM); empty = plaintext
  std::string key_file;        // its private key (PEM)
  std::string client_ca_file;  // set = mTLS: clients must present a cert signed by this CA
};

struct DbConfig {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string user = "orderquery";
  std::string password;  // secret
  std::string database = "orderquery";
  std::string socket;  // unix socket path; empty = TCP
  int pool_size = 8;
  int acquire_timeout_ms = 2000;
  int connect_timeout_ms = 3000;
  int startup_timeout_ms = 15000;  // how long start-up waits for the DB before giving up
};

struct UpstreamConfig {
  int connect_timeout_ms = 2000;
  int request_timeout_ms = 5000;
  std::string ca_file;  // empty = system CAs
  std::string proxy;
  int max_attempts = 3;
  int initial_backoff_ms = 100;
  int max_backoff_ms = 1000;
  int max_inflight_per_merchant = 64;
  // Platform certificates (merchants with download_certificates): downloaded this often, and
  // at most once per certificate_min_refresh_ms when a reply names an unknown serial.
  int certificate_refresh_ms = 12 * 3600 * 1000;
  int certificate_min_refresh_ms = 60 * 1000;
};

// The HTTP listener for provider notifications (POST /notify/wechat/{merchant}).
struct NotifyConfig {
  std::string listen;  // host:port; empty = no listener
  int max_body_bytes = 64 * 1024;
  int threads = 8;        // requests handled at once; more wait in the kernel's accept queue
  int timeout_ms = 5000;  // reading a request, and the whole apply
};

// Reconciliation: pending recharge orders asked about without anybody calling.
struct ReconcileConfig {
  bool enabled = true;
  int first_delay_ms = 60000;
  std::vector<std::string> backoff_ms = {"120000", "300000", "600000", "1800000", "3600000"};
  int expire_after_ms = 7200000;
  int interval_ms = 5000;
  int lease_ms = 60000;
  int batch = 50;
  int max_inflight = 4;
};

// The admin HTTP listener: GET /metrics (Prometheus text format).
struct AdminConfig {
  std::string listen;  // host:port; empty = off
};

// A service that may call the internal RPCs (GetVehicleTransaction, GetTradeOrder): it
// presents its API key as gRPC metadata `x-api-key`. Exactly one of key, key_file, key_sha256.
struct CallerConfig {
  std::string name;
  std::string key;                   // secret
  std::string key_file;              // file holding the key
  std::string key_sha256;            // hex SHA-256 of the key (the config then holds no secret)
  std::vector<std::string> methods;  // full method names ("/pkg.Service/Method") or "*"
  bool operator_ = false;            // may set force_refresh
};

// Who may call what. With no callers, env development leaves the internal RPCs open (the
// demo's default) and env production refuses them.
struct AuthConfig {
  std::map<std::string, CallerConfig> callers;
};

// How long rows that only grow are kept (deleted in bounded batches by a background task).
struct RetentionConfig {
  int query_log_days = 90;      // t_user_order_query_log; 0 = keep forever
  int notification_days = 180;  // t_payment_notification; 0 = keep forever
  int batch = 1000;             // rows per DELETE (one short transaction)
  int pause_ms = 200;           // between batches, so writers get the table
  int interval_ms = 3600000;    // how often a replica looks for expired rows
};

struct Config {
  // "development" (the default: the demo's plaintext, http:// sandbox URLs) or "production":
  // http:// provider URLs are refused and plaintext listeners are warned about at start.
  std::string env = "development";
  std::string listen = "127.0.0.1:50051";
  bool reflection = true;
  std::string log_level = "info";
  int shutdown_grace_ms = 10000;
  int workers = 0;  // 0 = db.pool_size
  int max_queue = 1024;
  int health_interval_ms = 1000;
  TlsConfig tls;
  DbConfig db;
  UpstreamConfig upstream;
  int recharge_refresh_interval_ms = 2000;
  // Process-memory caches of the polling path (0 = off): sessions, and credited final answers.
  int recharge_session_cache_ms = 3000;
  int recharge_final_cache_ms = 2000;
  int recharge_cache_max_entries = 100000;
  int recharge_cache_max_bytes = 64 << 20;
  // After an upstream failure an order is not asked again for this long, doubling to the max.
  int recharge_failure_backoff_ms = 1000;
  int recharge_failure_backoff_max_ms = 30000;
  int trade_refresh_interval_ms = 2000;
  int vehicle_refresh_interval_ms = 60000;
  // Each registered payment provider's section ("wechat.*", "trade.*"), parsed by the provider
  // (server/payment/<name>/settings.h). Every registered provider has an entry.
  std::map<std::string, std::shared_ptr<const payment::ProviderSettings>> providers;
  // The section of provider `name` as its own type, e.g.
  // cfg.provider<payment::wechat::Settings>("wechat"); null when absent or of another type.
  template <typename T>
  const T* provider(const std::string& name) const {
    auto it = providers.find(name);
    return it == providers.end() ? nullptr : dynamic_cast<const T*>(it->second.get());
  }
  NotifyConfig notify;
  ReconcileConfig reconcile;
  AdminConfig admin;
  RetentionConfig retention;
  AuthConfig auth;
};

using Env = settings::Env;
// Environment variable name of a key, e.g. "db.pool_size" -> "ORDERQUERY_DB_POOL_SIZE".
using settings::EnvName;

// Reads the JSON file at `path` (may be empty: defaults + env only), applies env overrides and
// validates; each provider registered in payment::Providers() reads its own section. Errors are
// INVALID_ARGUMENT with one line "KEY (ENV_NAME): why".
absl::StatusOr<Config> Load(const std::string& path, const Env& env);
// The process environment as an Env.
Env ProcessEnv();
// The list of keys with their env names, defaults and meaning, for --help.
std::string KeysHelp();

}  // namespace orderquery::config

#endif  // ORDERQUERY_SERVER_CONFIG_CONFIG_H_
