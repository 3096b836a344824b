// The whole service on loopback for end-to-end tests: a fresh MariaDB database (on the ctest
// `mariadb` fixture), throwaway keys, the payment sandbox as a process, and N `orderqueryd`
// processes sharing that database, each started from a generated JSON config. Tests call the
// servers through the generated gRPC stubs and inspect the database directly.
//
//   class RechargeE2E : public ::testing::Test {
//    protected:
//     static void SetUpTestSuite() {
//       e2e::StackOptions options;
//       options.name_hint = "recharge";
//       auto s = e2e::Stack::Start(options);
//       ASSERT_TRUE(s.ok()) << s.status();
//       stack_ = std::move(*s);
//     }
//     static void TearDownTestSuite() { stack_.reset(); }
//     static std::unique_ptr<e2e::Stack> stack_;
//   };
//
// The generated config has two WeChat merchants (as scripts/demo): "direct" (appid kDirectAppid,
// mchid kMchid) and "partner" (appid kPartnerAppid, sp_mchid kMchid, sub_mchid kSubMchid); and
// three trade merchants: "shop" (the default; mch_id kTradeMchId, the sandbox's key), "wrongkey"
// (same mch_id, a key the sandbox does not know) and "down" (a loopback port the Stack keeps
// bound without listening, so connections are refused and nobody else can take it).
// Retries are fast (3 attempts, 10-40 ms backoff) so failure tests stay short. The reconciler
// is off (reconcile.enabled false) and there is no notification listener: suites that want them
// set reconcile.* and notify.listen through config_patch (the merchants have the keys' APIv3 key).
//
// Keys: $OQ_E2E_KEYS_DIR (made once per ctest run by the `e2e_keys` fixture) when set, else made
// with fakes::MakeTestKeys in a temporary directory.
#ifndef ORDERQUERY_TESTS_E2E_HARNESS_STACK_H_
#define ORDERQUERY_TESTS_E2E_HARNESS_STACK_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "orderquery/v1/service.grpc.pb.h"
#include "server/domain/recharge.h"
#include "storage/mysql_pool.h"
#include "tests/fakes/sandbox_process.h"
#include "tests/support/child_process.h"
#include "tests/support/test_database.h"

namespace orderquery::e2e {

inline constexpr char kDirectAppid[] = "wxd678efh567hg6787";
inline constexpr char kPartnerAppid[] = "wxcbda96de0b165486";
inline constexpr char kMchid[] = "1230000109";
inline constexpr char kSubMchid[] = "1900000109";
inline constexpr char kTradeMchId[] = "20000000";
inline constexpr char kTradeKey[] = "sandbox-trade-key";
inline constexpr char kTradeMerchant[] = "shop";
inline constexpr char kTradeMerchantWrongKey[] = "wrongkey";
inline constexpr char kTradeMerchantDown[] = "down";
// The API key of the caller "e2e" every generated config has (methods "*", operator): the
// Stack's channels send it as metadata x-api-key on every call that does not set its own, so
// suites reach the internal RPCs as a configured service would. Tests of authentication make
// their own channel to target(i).
inline constexpr char kE2eCaller[] = "e2e";
inline constexpr char kE2eCallerKey[] = "e2e-caller-key-3b1f0c27d9";

// Environment variable naming a directory made by tests/fakes/make-keys.sh.
inline constexpr char kKeysDirEnvVar[] = "OQ_E2E_KEYS_DIR";

struct StackOptions {
  // Part of the database name.
  std::string name_hint = "e2e";
  // orderqueryd processes started on the one database.
  int servers = 1;
  // Sandbox scenario (tests/fakes/README.md); null = the built-in orders only.
  nlohmann::json scenario;
  // --merchant-public-key values for the sandbox; empty = the merchant's real public key.
  std::vector<std::string> sandbox_merchant_public_keys;
  int recharge_refresh_interval_ms = 600;
  int trade_refresh_interval_ms = 600;
  int upstream_request_timeout_ms = 1000;
  int upstream_max_attempts = 3;
  int db_pool_size = 8;
  std::string log_level = "info";
  // Applied to every server's config after the defaults above (e.g. to set a key by hand).
  std::function<void(nlohmann::json&)> config_patch;
};

// A user with a live session.
struct TestUser {
  int64_t id = 0;
  std::string appid;
  std::string token;
};

// Row counts of every table the service writes.
struct TableCounts {
  int64_t user = 0, session = 0, recharge_order = 0, recharge_order_log = 0, amount_log = 0,
          query_log = 0, vehicle = 0, trade_order = 0, trade_goods = 0;
  bool operator==(const TableCounts& o) const;
  bool operator!=(const TableCounts& o) const { return !(*this == o); }
};
std::ostream& operator<<(std::ostream& os, const TableCounts& c);

class Stack {
 public:
  static absl::StatusOr<std::unique_ptr<Stack>> Start(StackOptions options = {});
  // SIGTERM to every server (then the sandbox), waits for them, drops the database.
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  const StackOptions& options() const { return options_; }
  test_support::TestDatabase& db() { return *db_; }
  storage::ConnectionPool& pool() { return db_->pool(); }
  fakes::SandboxProcess& sandbox() { return *sandbox_; }
  const fakes::TestKeys& keys() const { return keys_; }

  // Servers started so far (Start starts options.servers of them).
  int servers() const { return static_cast<int>(servers_.size()); }
  const std::string& target(int i = 0) const { return servers_.at(i).target; }
  std::shared_ptr<grpc::Channel> channel(int i = 0) const { return servers_.at(i).channel; }
  v1::OrderQueryService::Stub& orders(int i = 0) { return *servers_.at(i).orders; }
  v1::TradeOrderService::Stub& trades(int i = 0) { return *servers_.at(i).trades; }
  // What server i wrote to stderr (its log), for failure messages.
  std::string ServerLog(int i = 0) const;

  // The config a server gets (before options.config_patch), for tests that start variants.
  nlohmann::json BaseConfig() const;
  // Starts one more server on the same database with `config` (e.g. BaseConfig() edited);
  // returns its index.
  absl::StatusOr<int> AddServer(const nlohmann::json& config);
  // Stops server i (SIGTERM, waits); its index stays taken.
  void StopServer(int i);
  // Kills server i with SIGKILL (a crash: nothing finishes), waits for it and returns its exit
  // code (128+9), -1 if it did not die within 10 s. Its index stays taken.
  int KillServer(int i);
  // Waits up to `timeout` for server i to exit (after a signal sent to ServerPid(i)) and returns
  // its exit code (128+N for a signal); nullopt if it is still running. Its index stays taken.
  std::optional<int> WaitServer(int i, absl::Duration timeout);
  pid_t ServerPid(int i) const;
  // Where server i takes WeChat notifications for `merchant` ("direct", "partner"):
  // "http://127.0.0.1:PORT/notify/wechat/direct". Empty unless its config set notify.listen.
  std::string NotifyUrl(int i = 0, const std::string& merchant = "direct") const;

  // ----- seeding

  // A user of `appid` with `balance_fen` and a session token valid for a day.
  absl::StatusOr<TestUser> CreateUser(int64_t balance_fen, const std::string& appid = kDirectAppid);
  // Another token for the user, expiring at `expires_at`.
  absl::StatusOr<std::string> CreateToken(const TestUser& user, absl::Time expires_at);
  // A recharge order of the user, placed with the direct merchant (or the partner one when
  // the user's appid is kPartnerAppid), in `state` (default NOTPAY).
  absl::Status CreateRechargeOrder(const TestUser& user, const std::string& order_no,
                                   int64_t amount_fen,
                                   domain::RechargeState state = domain::RechargeState::kNotPay);
  // The same order at the sandbox (WeChat's side): direct or partner as the user's appid says.
  // `extra` is merged over the definition (trade_state, transitions, faults, latency_ms, ...).
  absl::Status UpsertWechatOrder(const TestUser& user, const std::string& order_no,
                                 int64_t amount_fen, const nlohmann::json& extra = {});
  // A trade order at the sandbox's merchant API (merchant_module.h ORDER).
  absl::Status UpsertTradeOrder(const nlohmann::json& order);

  // ----- inspection

  // The order as stored (NOT_FOUND when absent).
  absl::StatusOr<domain::RechargeOrder> GetRechargeOrder(const std::string& order_no);
  absl::StatusOr<int64_t> Balance(int64_t user_id);
  absl::StatusOr<TableCounts> CountTables();
  // Sandbox counters: WeChat orders by out_trade_no, trade orders by trade_order_id. Returns
  // the "requests" counter (every request naming it, whatever the outcome), -1 on error.
  int64_t WechatRequests(const std::string& out_trade_no);
  int64_t TradeRequests(const std::string& trade_order_id);
  // Whole sandbox request counter (every upstream route), -1 on error.
  int64_t TotalSandboxRequests();

 private:
  struct Server {
    std::unique_ptr<testing::ChildProcess> process;
    std::string config_path;
    std::string target;
    std::string notify_url_template;  // ".../notify/wechat/{merchant}", as orderqueryd printed it
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::OrderQueryService::Stub> orders;
    std::unique_ptr<v1::TradeOrderService::Stub> trades;
  };

  Stack() = default;
  nlohmann::json BaseConfigWithoutAuth() const;

  StackOptions options_;
  std::string work_dir_;  // configs, temporary keys
  fakes::TestKeys keys_;
  int down_fd_ = -1;  // bound, never listening: the "down" merchant's port
  int down_port_ = 0;
  std::unique_ptr<test_support::TestDatabase> db_;
  std::unique_ptr<fakes::SandboxProcess> sandbox_;
  std::vector<Server> servers_;
  int next_user_ = 0;
};

}  // namespace orderquery::e2e

#endif  // ORDERQUERY_TESTS_E2E_HARNESS_STACK_H_
