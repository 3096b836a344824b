// The payment sandbox is one program that plays several upstreams. Each upstream is a module
// (one handler file): it reads its part of the scenario, registers its routes on the shared
// server and answers its part of the control API. Adding an upstream means a new module file and
// one line in main.cc (see kModuleFactories there); nothing else changes.
#ifndef ORDERQUERY_TESTS_FAKES_SANDBOX_MODULE_H_
#define ORDERQUERY_TESTS_FAKES_SANDBOX_MODULE_H_

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace orderquery::sandbox {

// Sleeps that end early when the process shuts down, so latency and timeout faults never hold
// up an exit.
class Sleeper {
 public:
  // False if interrupted by Shutdown().
  bool SleepFor(absl::Duration d);
  void Shutdown();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool shutdown_ = false;
};

// Counters shared by all modules: upstream requests (control requests excluded), connections
// they came on, and how many were being handled at once.
class Traffic {
 public:
  class Scope {
   public:
    explicit Scope(Traffic* t) : t_(t) {}
    Scope(Scope&& other) noexcept : t_(std::exchange(other.t_, nullptr)) {}
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Scope& operator=(Scope&&) = delete;
    ~Scope();

   private:
    Traffic* t_;
  };

  // Counts one upstream request for the duration of the returned scope.
  Scope Track(const httplib::Request& req);
  void Reset();
  nlohmann::json ToJson() const;

 private:
  mutable std::mutex mu_;
  uint64_t requests_ = 0;
  int64_t inflight_ = 0;
  int64_t max_inflight_ = 0;
  // A connection is its client address:port; keep-alive reuse shows as few distinct entries.
  std::set<std::string> connections_;
};

// What a module gets from the program.
struct SandboxContext {
  Sleeper* sleeper = nullptr;
  Traffic* traffic = nullptr;
  // How long a "timeout" fault sleeps when the fault does not say.
  absl::Duration default_timeout_sleep = absl::Seconds(30);
  // Seed for percentage faults; 0 = random.
  uint64_t seed = 0;
  // Whether request signatures are checked (off only for manual poking with curl).
  bool verify_requests = true;
};

class SandboxModule {
 public:
  virtual ~SandboxModule() = default;

  virtual std::string name() const = 0;
  // Reads this module's keys of the scenario document (the whole document is passed; a module
  // ignores keys that are not its own). Called at start and on every reset.
  virtual absl::Status LoadScenario(const nlohmann::json& scenario) = 0;
  // Upstream routes and this module's control routes (under /__sandbox/).
  virtual void RegisterRoutes(httplib::Server& server) = 0;
  // Zeroes counters; also drops runtime changes (upserts) when !keep_orders, after which
  // LoadScenario is called again with the start scenario.
  virtual void Reset(bool keep_orders) = 0;
  // This module's part of GET /__sandbox/stats (merged into the top-level object under name()).
  virtual nlohmann::json Stats() const = 0;
  // GET /__sandbox/stats with query parameters: the module that recognises them answers with
  // the object returned; nullopt if the parameters are not this module's.
  virtual std::optional<nlohmann::json> StatsFor(const httplib::Params& params) const = 0;
};

// Registered in main.cc: builds one module from the program's configuration.
using ModuleFactory = absl::StatusOr<std::unique_ptr<SandboxModule>> (*)(
    const SandboxContext& context, const std::multimap<std::string, std::string>& flags);

// The values of the repeatable flag `name` ("[MCHID=]VALUE") as (MCHID, VALUE) pairs. Merchant
// ids are digits, so a value that does not start with digits and '=' is taken whole, MCHID "".
std::vector<std::pair<std::string, std::string>> PerMerchantFlag(
    const std::multimap<std::string, std::string>& flags, const std::string& name);

// Replies `{"code": code, "message": message}` as WeChat-style APIs do for errors.
void ReplyError(httplib::Response& res, int status, const std::string& code,
                const std::string& message);
void ReplyJson(httplib::Response& res, int status, const nlohmann::json& body);

}  // namespace orderquery::sandbox

#endif  // ORDERQUERY_TESTS_FAKES_SANDBOX_MODULE_H_
