// payment-sandbox: plays the payment providers on loopback for tests, the demo and benchmarks.
// Usage and the control API: tests/fakes/README.md.
#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/fakes/sandbox/merchant_module.h"
#include "tests/fakes/sandbox/module.h"
#include "tests/fakes/sandbox/wechat_module.h"

namespace orderquery::sandbox {
namespace {

// Every upstream the sandbox plays, one module each. A new upstream adds its factory here and
// its flags to kModuleFlags.
constexpr ModuleFactory kModuleFactories[] = {&MakeWechatModule, &MakeMerchantModule};

const std::set<std::string> kModuleFlags = {"merchant-public-key", "platform-private-key",
                                            "platform-serial",     "trade-merchant-key",
                                            "apiv3-key",           "platform-cert"};
const std::set<std::string> kCoreFlags = {
    "host",           "port",    "scenario",         "tls-cert",
    "tls-key",        "threads", "timeout-fault-ms", "keep-alive-timeout-s",
    "keep-alive-max", "seed"};
const std::set<std::string> kSwitches = {"no-verify-requests", "log-requests", "help"};

constexpr char kUsage[] = R"(usage: payment-sandbox [flags]
  --host ADDR                   listen address (default 127.0.0.1)
  --port N                      0 picks a free port (default 0); the first stdout line says which
  --scenario FILE               orders, templates and default faults (JSON)
  --tls-cert FILE --tls-key FILE   serve HTTPS instead of HTTP
  --merchant-public-key [MCHID=]FILE   verifies request signatures (repeatable)
  --platform-private-key FILE   signs replies
  --platform-serial ID          Wechatpay-Serial of replies (PUB_KEY_ID_...)
  --apiv3-key KEY               32-byte APIv3 key that encrypts notifications (none: no notifications)
  --platform-cert CERT[,KEY]    a platform certificate GET /v3/certificates lists (repeatable); KEY
                                its private key (default --platform-private-key)
  --trade-merchant-key [MCHID=]KEY   merchant trade API sign key (repeatable; default sandbox-trade-key)
  --threads N                   worker threads = concurrent connections (default 1024)
  --timeout-fault-ms N          sleep of a "timeout" fault without sleep_ms (default 30000)
  --keep-alive-timeout-s N      idle keep-alive connections close after N s (default 5)
  --keep-alive-max N            requests per connection before close (default 100000)
  --seed N                      seed for percentage faults (default random)
  --no-verify-requests          accept unsigned requests (manual poking with curl)
  --log-requests                one stderr line per request
)";

// httplib listens with a backlog of 5 (compiled into Debian's library); a burst of hundreds of
// connects would then stall on SYN retransmits for a second or more. listen() again on the bound
// socket widens it.
template <typename Base>
class Listener : public Base {
 public:
  using Base::Base;
  void WidenBacklog(int backlog) { ::listen(this->svr_sock_.load(), backlog); }
};

bool ParseFlags(int argc, char** argv, std::multimap<std::string, std::string>* flags,
                std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      *error = absl::StrCat("unexpected argument '", arg, "'");
      return false;
    }
    arg = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    if (kSwitches.count(arg) > 0) {
      flags->emplace(arg, "1");
      continue;
    }
    if (kCoreFlags.count(arg) == 0 && kModuleFlags.count(arg) == 0) {
      *error = absl::StrCat("unknown flag --", arg);
      return false;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        *error = absl::StrCat("--", arg, " needs a value");
        return false;
      }
      value = argv[++i];
    }
    flags->emplace(arg, value);
  }
  return true;
}

std::string Flag(const std::multimap<std::string, std::string>& flags, const std::string& name,
                 const std::string& fallback) {
  auto it = flags.find(name);
  return it == flags.end() ? fallback : it->second;
}

int64_t IntFlag(const std::multimap<std::string, std::string>& flags, const std::string& name,
                int64_t fallback) {
  auto it = flags.find(name);
  int64_t v = fallback;
  if (it != flags.end() && !absl::SimpleAtoi(it->second, &v)) {
    std::fprintf(stderr, "payment-sandbox: --%s wants an integer\n", name.c_str());
    std::exit(2);
  }
  return v;
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "payment-sandbox: %s\n", message.c_str());
  std::exit(2);
}

int Main(int argc, char** argv) {
  std::multimap<std::string, std::string> flags;
  std::string error;
  if (!ParseFlags(argc, argv, &flags, &error)) {
    std::fprintf(stderr, "payment-sandbox: %s\n%s", error.c_str(), kUsage);
    return 2;
  }
  if (flags.count("help") > 0) {
    std::fputs(kUsage, stdout);
    return 0;
  }

  // Writes to a client that hung up must fail with EPIPE, not kill the sandbox.
  ::signal(SIGPIPE, SIG_IGN);
  // SIGTERM/SIGINT go to one thread that ends the process; block them everywhere else first.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  nlohmann::json scenario = nlohmann::json::object();
  if (std::string path = Flag(flags, "scenario", ""); !path.empty()) {
    std::ifstream in(path);
    if (!in) Die(absl::StrCat("cannot read scenario ", path));
    std::stringstream ss;
    ss << in.rdbuf();
    scenario = nlohmann::json::parse(ss.str(), nullptr, false);
    if (scenario.is_discarded() || !scenario.is_object()) {
      Die(absl::StrCat("scenario ", path, " is not a JSON object"));
    }
  }

  static Sleeper sleeper;
  static Traffic traffic;
  SandboxContext context;
  context.sleeper = &sleeper;
  context.traffic = &traffic;
  context.default_timeout_sleep = absl::Milliseconds(IntFlag(flags, "timeout-fault-ms", 30000));
  context.seed = static_cast<uint64_t>(IntFlag(flags, "seed", 0));
  context.verify_requests = flags.count("no-verify-requests") == 0;

  std::vector<std::unique_ptr<SandboxModule>> modules;
  for (ModuleFactory factory : kModuleFactories) {
    absl::StatusOr<std::unique_ptr<SandboxModule>> m = factory(context, flags);
    if (!m.ok()) Die(std::string(m.status().message()));
    if (absl::Status s = (*m)->LoadScenario(scenario); !s.ok()) {
      Die(absl::StrCat("scenario (", (*m)->name(), "): ", s.message()));
    }
    modules.push_back(*std::move(m));
  }

  const std::string cert = Flag(flags, "tls-cert", "");
  const std::string key = Flag(flags, "tls-key", "");
  if (cert.empty() != key.empty()) Die("--tls-cert and --tls-key go together");
  std::unique_ptr<httplib::Server> server;
  std::function<void(int)> widen_backlog;
  if (!cert.empty()) {
    auto tls = std::make_unique<Listener<httplib::SSLServer>>(cert.c_str(), key.c_str());
    if (!tls->is_valid()) Die("cannot load --tls-cert/--tls-key");
    auto* raw = tls.get();
    widen_backlog = [raw](int n) { raw->WidenBacklog(n); };
    server = std::move(tls);
  } else {
    auto plain = std::make_unique<Listener<httplib::Server>>();
    auto* raw = plain.get();
    widen_backlog = [raw](int n) { raw->WidenBacklog(n); };
    server = std::move(plain);
  }

  // httplib holds a worker per open connection (idle keep-alive ones included, until the
  // keep-alive timeout) and per sleeping request, so the pool must exceed the connections all
  // clients keep open together; a short keep-alive timeout hands idle workers back sooner.
  const size_t threads = static_cast<size_t>(std::max<int64_t>(8, IntFlag(flags, "threads", 1024)));
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server->set_keep_alive_max_count(static_cast<size_t>(IntFlag(flags, "keep-alive-max", 100000)));
  server->set_keep_alive_timeout(static_cast<time_t>(IntFlag(flags, "keep-alive-timeout-s", 5)));
  server->set_tcp_nodelay(true);
  if (flags.count("log-requests") > 0) {
    server->set_logger([](const httplib::Request& req, const httplib::Response& res) {
      std::fprintf(stderr, "sandbox: %s %s -> %d (%s:%d)\n", req.method.c_str(), req.target.c_str(),
                   res.status, req.remote_addr.c_str(), req.remote_port);
    });
  }
  server->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        ReplyError(res, 500, "SYSTEM_ERROR", absl::StrCat("sandbox: ", what));
      });
  server->set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        // Only fill bodies nobody wrote (unknown routes); modules' error replies stay as is.
        if (!res.body.empty() || res.status < 400) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        ReplyError(res, res.status, res.status == 404 ? "NOT_FOUND" : "INVALID_REQUEST",
                   "sandbox: no such route");
        return httplib::Server::HandlerResponse::Handled;
      }));

  server->Get("/__sandbox/health", [](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 200, {{"status", "ok"}});
  });
  server->Get("/__sandbox/stats", [&modules](const httplib::Request& req, httplib::Response& res) {
    if (!req.params.empty()) {
      for (const auto& m : modules) {
        if (std::optional<nlohmann::json> j = m->StatsFor(req.params)) {
          return ReplyJson(res, 200, *j);
        }
      }
      return ReplyError(res, 400, "PARAM_ERROR", "no module knows these parameters");
    }
    nlohmann::json j = traffic.ToJson();
    for (const auto& m : modules) j[m->name()] = m->Stats();
    ReplyJson(res, 200, j);
  });
  server->Post("/__sandbox/reset",
               [&modules, &scenario](const httplib::Request& req, httplib::Response& res) {
                 const bool keep_orders = req.get_param_value("keep_orders") == "1" ||
                                          req.get_param_value("keep_orders") == "true";
                 traffic.Reset();
                 for (const auto& m : modules) {
                   m->Reset(keep_orders);
                   if (!keep_orders) {
                     if (absl::Status s = m->LoadScenario(scenario); !s.ok()) {
                       return ReplyError(res, 500, "SYSTEM_ERROR", std::string(s.message()));
                     }
                   }
                 }
                 ReplyJson(res, 200, {{"reset", true}, {"keep_orders", keep_orders}});
               });
  for (const auto& m : modules) m->RegisterRoutes(*server);

  const std::string host = Flag(flags, "host", "127.0.0.1");
  int port = static_cast<int>(IntFlag(flags, "port", 0));
  if (port == 0) {
    port = server->bind_to_any_port(host);
    if (port < 0) Die(absl::StrCat("cannot bind ", host));
  } else if (!server->bind_to_port(host, port)) {
    Die(absl::StrCat("cannot bind ", host, ":", port));
  }
  widen_backlog(1024);

  std::thread([stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    // Nothing to persist: wake sleepers so no reply is half-written by design, then leave at
    // once instead of waiting for idle keep-alive connections to time out.
    sleeper.Shutdown();
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(0);
  }).detach();

  std::printf("payment-sandbox listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);
  std::fprintf(stderr, "payment-sandbox: %s on %s:%d, %zu worker threads\n",
               cert.empty() ? "http" : "https", host.c_str(), port, threads);
  if (!server->listen_after_bind()) Die("listen failed");
  return 0;
}

}  // namespace
}  // namespace orderquery::sandbox

int main(int argc, char** argv) { return orderquery::sandbox::Main(argc, argv); }
