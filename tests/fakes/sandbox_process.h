// Runs the payment sandbox as a child process on a free loopback port and drives its control
// API, for integration, service and end-to-end tests (library oq_sandbox_client).
//
//   auto keys = fakes::MakeTestKeys(dir);
//   auto sandbox = fakes::SandboxProcess::Start(fakes::SandboxProcess::Options::FromKeys(*keys));
//   (*sandbox)->UpsertOrder({{"out_trade_no", "R1"}, {"trade_state", "NOTPAY"}});
//   ... point the client at (*sandbox)->base_url() ...
//   EXPECT_EQ((*sandbox)->Stats("R1")->at("requests"), 1);
#ifndef ORDERQUERY_TESTS_FAKES_SANDBOX_PROCESS_H_
#define ORDERQUERY_TESTS_FAKES_SANDBOX_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/child_process.h"

namespace orderquery::fakes {

// Files written by tests/fakes/make-keys.sh (see there for what each is).
struct TestKeys {
  std::string dir;
  std::string merchant_private_key;  // PKCS#8 PEM path
  std::string merchant_public_key;
  std::string merchant_cert;
  std::string merchant_serial;  // value (hex), not a path
  std::string platform_private_key;
  std::string platform_public_key;
  std::string platform_cert;
  std::string platform_serial;       // value: PUB_KEY_ID_…
  std::string platform_cert_serial;  // value (hex)
  // A second platform key and certificate (60 days, the one a rotation brings in).
  std::string platform2_private_key;
  std::string platform2_cert;
  std::string platform2_cert_serial;  // value (hex)
  std::string apiv3_key;              // value: 32 characters (apiv3_key.txt)
  std::string ca_cert;                // with_tls only
  std::string server_cert;
  std::string server_key;
};

// Runs make-keys.sh into `dir` (created if needed). Takes about a second.
absl::StatusOr<TestKeys> MakeTestKeys(const std::string& dir, bool with_tls = false);

// Reads a whole file (PEM keys for clients under test).
absl::StatusOr<std::string> ReadTextFile(const std::string& path);

class SandboxProcess {
 public:
  struct Options {
    // Defaults to the payment-sandbox built with this tree.
    std::string binary;
    // --merchant-public-key values: "FILE" (any merchant) or "MCHID=FILE".
    std::vector<std::string> merchant_public_keys;
    std::string platform_private_key;
    std::string platform_serial;
    // --apiv3-key: encrypts notifications and listed certificates (empty: neither).
    std::string apiv3_key;
    // --platform-cert values "CERT[,KEY]": what GET /v3/certificates lists.
    std::vector<std::string> platform_certs;
    // HTTPS when both are set; ca_file then verifies the control calls (empty: not verified).
    std::string tls_cert;
    std::string tls_key;
    std::string ca_file;
    // Scenario: a JSON document (written to a temp file) or a file; both empty = none.
    nlohmann::json scenario;
    std::string scenario_file;
    // Anything else, e.g. {"--timeout-fault-ms", "5000"} or {"--seed", "7"}.
    std::vector<std::string> extra_args;
    absl::Duration start_timeout = absl::Seconds(15);

    // The sandbox configured with make-keys.sh's keys, APIv3 key included (and its TLS files
    // when `tls`).
    static Options FromKeys(const TestKeys& keys, bool tls = false);
  };

  // Spawns the sandbox and waits for its "listening on" line. The child is killed if the
  // thread that called Start() exits (PR_SET_PDEATHSIG), so a crashed test leaves none behind.
  static absl::StatusOr<std::unique_ptr<SandboxProcess>> Start(Options options);

  // Stops the sandbox (Stop()).
  ~SandboxProcess();
  SandboxProcess(const SandboxProcess&) = delete;
  SandboxProcess& operator=(const SandboxProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return child_ ? child_->pid() : -1; }
  bool tls() const { return tls_; }
  // "http://127.0.0.1:PORT" (or https://).
  std::string base_url() const;

  // POST /__sandbox/orders: one order object, an array, or {"orders": [...]}.
  absl::Status UpsertOrder(const nlohmann::json& orders);
  // POST /__sandbox/defaults: {"latency_ms": N, "faults": [...]} for every request.
  absl::Status SetDefaults(const nlohmann::json& defaults);
  // GET /__sandbox/stats (whole) or ?out_trade_no= (one order's counters).
  absl::StatusOr<nlohmann::json> Stats(const std::string& out_trade_no = "") const;
  // GET /__sandbox/stats?mchid= (requests, inflight, max_inflight of one merchant).
  absl::StatusOr<nlohmann::json> MerchantStats(const std::string& mchid) const;
  // GET /__sandbox/orders/{no}: definition, current state, the reply it would give now.
  absl::StatusOr<nlohmann::json> GetOrder(const std::string& out_trade_no) const;
  // POST /__sandbox/reset: counters zeroed; orders back to the start scenario unless kept.
  absl::Status Reset(bool keep_orders = false);
  // POST /__sandbox/notify: sends notifications of an order now (README: out_trade_no, url,
  // variant, copies, id, event_type, transaction_patch, concurrent) and returns the sandbox's
  // answer {"id", "deliveries": [{"status", "body"[, "error"]}…]}. Waits up to 60 s.
  absl::StatusOr<nlohmann::json> Notify(const nlohmann::json& request) const;
  // POST /__sandbox/certificates ({"listed", "sign_with", "sign_list_with", "expire_time"}, see
  // the README) and GET of the same: the platform certificates' state and download count.
  absl::StatusOr<nlohmann::json> SetCertificates(const nlohmann::json& change) const;
  absl::StatusOr<nlohmann::json> Certificates() const;

  // One control call; returns (HTTP status, body).
  absl::StatusOr<std::pair<int, std::string>> Call(
      const std::string& method, const std::string& path_and_query, const std::string& body = "",
      absl::Duration timeout = absl::Seconds(10)) const;

  // SIGTERM, then SIGKILL if it has not exited within 5 s. Idempotent.
  absl::Status Stop();

 private:
  SandboxProcess() = default;
  absl::StatusOr<nlohmann::json> GetJson(const std::string& path) const;

  std::unique_ptr<testing::ChildProcess> child_;
  int port_ = 0;
  bool tls_ = false;
  std::string ca_file_;
  std::string temp_scenario_;
};

}  // namespace orderquery::fakes

#endif  // ORDERQUERY_TESTS_FAKES_SANDBOX_PROCESS_H_
