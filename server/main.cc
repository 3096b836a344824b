// orderqueryd: flags -> config -> wiring -> serve -> drain.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/app.h"
#include "server/common/log.h"
#include "server/config/config.h"
#include "storage/mysql_pool.h"

namespace {

constexpr char kUsage[] =
    "orderqueryd: answers the state of payment orders over gRPC and credits recharges once.\n"
    "\n"
    "Usage: orderqueryd [--config FILE] [--migrate-only] [--help]\n"
    "  --config FILE    JSON configuration (also ORDERQUERY_CONFIG); every key can be set by env\n"
    "  --migrate-only   apply database migrations and exit\n"
    "  --help           this text and every configuration key\n"
    "\n"
    "Exit codes: 0 clean stop, 1 runtime failure (database unreachable, bind failed),\n"
    "2 bad flags or configuration.\n\n";

}  // namespace

int main(int argc, char** argv) {
#ifdef NDEBUG
  // Debian's Abseil is built without NDEBUG, so by default every absl::Mutex::Lock (gRPC's and
  // ours) runs the lock-order deadlock detector under one process-wide lock. callgrind put it at
  // several per cent of a Health/Check call (issue 13, bench/RESULTS.md); debug builds keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  using orderquery::log::Error;
  using orderquery::log::Info;
  std::string config_path;
  if (const char* p = std::getenv("ORDERQUERY_CONFIG")) config_path = p;
  bool migrate_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage << orderquery::config::KeysHelp();
      return 0;
    } else if (a == "--migrate-only") {
      migrate_only = true;
    } else if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else {
      std::fprintf(stderr, "orderqueryd: unknown flag %s (see --help)\n", a.c_str());
      return 2;
    }
  }

  auto cfg = orderquery::config::Load(config_path, orderquery::config::ProcessEnv());
  if (!cfg.ok()) {
    std::fprintf(stderr, "orderqueryd: config: %s\n", std::string(cfg.status().message()).c_str());
    return 2;
  }
  orderquery::log::Level level;
  orderquery::log::ParseLevel(cfg->log_level, &level);
  orderquery::log::SetMinLevel(level);

  if (migrate_only) {
    auto pool = orderquery::ConnectAndMigrate(*cfg);
    if (!pool.ok()) {
      Error("migrate_failed", {{"error", pool.status().ToString()}});
      return 1;
    }
    Info("migrate_done");
    return 0;
  }

  // Block the stop signals in every thread; this one waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto app = orderquery::App::Create(*cfg);
  if (!app.ok()) {
    Error("startup_failed", {{"error", app.status().ToString()}});
    return 1;
  }
  auto addr = (*app)->Start();
  if (!addr.ok()) {
    Error("startup_failed", {{"error", addr.status().ToString()}});
    return 1;
  }
  // Scripts wait for this exact line on stdout.
  std::printf("orderqueryd listening on %s\n", addr->c_str());
  if (!(*app)->notify_address().empty()) {
    std::printf("orderqueryd notifications on http://%s/notify/wechat/{merchant}\n",
                (*app)->notify_address().c_str());
  }
  if (!(*app)->admin_address().empty()) {
    std::printf("orderqueryd metrics on http://%s/metrics\n", (*app)->admin_address().c_str());
  }
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  Info("shutdown_started",
       {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}, {"grace_ms", cfg->shutdown_grace_ms}});
  (*app)->Shutdown(absl::Milliseconds(cfg->shutdown_grace_ms));
  app->reset();
  Info("shutdown_complete");
  return 0;
}
