#include "server/config/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/payment/providers.h"

extern char** environ;

namespace orderquery::config {
namespace {

using settings::Bool;
using settings::CheckReadable;
using settings::Int;
using settings::KeyDef;
using settings::KeyError;
using settings::List;
using settings::Str;

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

absl::Status Validate(const Config& c) {
  if (c.env != "development" && c.env != "production") {
    return KeyError("env", "must be development or production");
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
  auto source = settings::Source::Read(path, env);
  if (!source.ok()) return source.status();
  const payment::Registry& registry = payment::Providers();
  Config c;
  std::set<std::string> known;
  for (const auto& def : TopKeys()) known.insert(def.name);
  if (auto s = source->Apply("", TopKeys(), &c); !s.ok()) return s;
  for (const auto& [k, v] : source->flat()) {
    if (known.count(k) || k.rfind("auth.callers.", 0) == 0) continue;
    bool owned = false;
    for (const payment::ProviderModule* m : registry.modules()) owned = owned || m->owns_key(k);
    if (!owned) return KeyError(k, "unknown key");
  }
  if (auto s = source->ApplyGroup("auth.callers", CallerKeys(), &c.auth.callers); !s.ok()) return s;
  if (auto s = Validate(c); !s.ok()) return s;
  for (const payment::ProviderModule* m : registry.modules()) {
    auto parsed = m->parse(*source, c.env == "production");
    if (!parsed.ok()) return parsed.status();
    c.providers[m->name] = std::shared_ptr<const payment::ProviderSettings>(*std::move(parsed));
  }
  return c;
}

std::string KeysHelp() {
  std::ostringstream out;
  out << "Configuration keys (JSON file given by --config, nested objects for dotted keys;\n"
         "each key is overridden by the environment variable shown):\n"
      << settings::KeyTableHelp("", "", TopKeys(), Config{});
  for (const payment::ProviderModule* m : payment::Providers().modules()) {
    out << "\n" << m->keys_help();
  }
  out << "\nCallers of the internal RPCs (vehicle, trade; force_refresh): auth.callers.NAME.KEY "
         "(env list ORDERQUERY_AUTH_CALLERS):\n";
  out << settings::KeyTableHelp("auth.callers.NAME.", "ORDERQUERY_AUTH_CALLERS_NAME_", CallerKeys(),
                                CallerConfig{});
  return out.str();
}

}  // namespace orderquery::config
