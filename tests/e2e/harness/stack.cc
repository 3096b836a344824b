#include "tests/e2e/harness/stack.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_interceptor.h"
#include "storage/recharge_repository.h"
#include "tests/support/storage_admin.h"

#ifndef OQ_ORDERQUERYD_PATH
#error "OQ_ORDERQUERYD_PATH must name the orderqueryd binary"
#endif

namespace orderquery::e2e {
namespace {

using nlohmann::json;

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The files make-keys.sh wrote into `dir` (without running it again).
absl::StatusOr<fakes::TestKeys> LoadKeys(const std::string& dir) {
  fakes::TestKeys k;
  k.dir = dir;
  k.merchant_private_key = dir + "/merchant_key.pem";
  k.merchant_public_key = dir + "/merchant_public.pem";
  k.merchant_cert = dir + "/merchant_cert.pem";
  k.platform_private_key = dir + "/platform_key.pem";
  k.platform_public_key = dir + "/platform_public.pem";
  k.platform_cert = dir + "/platform_cert.pem";
  for (auto [file, out] : {std::pair{"/merchant_serial.txt", &k.merchant_serial},
                           std::pair{"/platform_serial.txt", &k.platform_serial},
                           std::pair{"/platform_cert_serial.txt", &k.platform_cert_serial}}) {
    absl::StatusOr<std::string> v = fakes::ReadTextFile(dir + file);
    if (!v.ok()) return v.status();
    *out = Trimmed(*v);
  }
  // The APIv3 key (notifications): optional, key directories made before it existed lack it.
  if (absl::StatusOr<std::string> v = fakes::ReadTextFile(dir + "/apiv3_key.txt"); v.ok()) {
    k.apiv3_key = Trimmed(*v);
  }
  for (const std::string& f : {k.merchant_private_key, k.platform_public_key,
                               k.platform_private_key, k.merchant_public_key}) {
    if (access(f.c_str(), R_OK) != 0) return absl::NotFoundError(absl::StrCat("no ", f));
  }
  return k;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Adds the e2e caller's API key to every call that does not carry one.
class ApiKeyInterceptor : public grpc::experimental::Interceptor {
 public:
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      auto* md = methods->GetSendInitialMetadata();
      if (md->find("x-api-key") == md->end()) md->insert({"x-api-key", kE2eCallerKey});
    }
    methods->Proceed();
  }
};

class ApiKeyInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new ApiKeyInterceptor;
  }
};

json WechatMerchant(const fakes::TestKeys& keys, const std::string& base_url) {
  json m = {{"mchid", kMchid},
            {"serial_no", keys.merchant_serial},
            {"private_key_file", keys.merchant_private_key},
            {"public_key_id", keys.platform_serial},
            {"public_key_file", keys.platform_public_key},
            {"base_url", base_url}};
  // The key the sandbox encrypts notifications with (read only when notifications arrive).
  const std::string apiv3_file = keys.dir + "/apiv3_key.txt";
  if (!keys.apiv3_key.empty() && access(apiv3_file.c_str(), R_OK) == 0) {
    m["apiv3_key_file"] = apiv3_file;
  }
  return m;
}

}  // namespace

bool TableCounts::operator==(const TableCounts& o) const {
  return user == o.user && session == o.session && recharge_order == o.recharge_order &&
         recharge_order_log == o.recharge_order_log && amount_log == o.amount_log &&
         query_log == o.query_log && vehicle == o.vehicle && trade_order == o.trade_order &&
         trade_goods == o.trade_goods;
}

std::ostream& operator<<(std::ostream& os, const TableCounts& c) {
  return os << "{t_user " << c.user << ", t_user_session " << c.session << ", t_recharge_order "
            << c.recharge_order << ", t_recharge_order_log " << c.recharge_order_log
            << ", t_user_amount_log " << c.amount_log << ", t_user_order_query_log " << c.query_log
            << ", t_vehicle_transaction " << c.vehicle << ", t_trade_order " << c.trade_order
            << ", t_trade_order_goods " << c.trade_goods << "}";
}

absl::StatusOr<std::unique_ptr<Stack>> Stack::Start(StackOptions options) {
  std::unique_ptr<Stack> s(new Stack());
  s->options_ = std::move(options);

  const char* tmp = std::getenv("TMPDIR");
  std::string templ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/oq-e2e-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  s->work_dir_ = templ;

  // Keys: the ctest fixture's when there are some, else our own.
  absl::StatusOr<fakes::TestKeys> keys = absl::NotFoundError("no keys dir");
  if (const char* dir = std::getenv(kKeysDirEnvVar); dir != nullptr && *dir != '\0') {
    keys = LoadKeys(dir);
  }
  if (!keys.ok()) keys = fakes::MakeTestKeys(s->work_dir_ + "/keys");
  if (!keys.ok()) return keys.status();
  s->keys_ = *std::move(keys);

  test_support::TestDatabaseOptions db_options;
  db_options.name_hint = s->options_.name_hint;
  auto db = test_support::TestDatabase::Create(db_options);
  if (!db.ok()) return db.status();
  s->db_ = *std::move(db);

  fakes::SandboxProcess::Options sandbox_options =
      fakes::SandboxProcess::Options::FromKeys(s->keys_);
  if (!s->options_.sandbox_merchant_public_keys.empty()) {
    sandbox_options.merchant_public_keys = s->options_.sandbox_merchant_public_keys;
  }
  sandbox_options.scenario = s->options_.scenario;
  auto sandbox = fakes::SandboxProcess::Start(sandbox_options);
  if (!sandbox.ok()) return sandbox.status();
  s->sandbox_ = *std::move(sandbox);

  // A port that refuses connections for as long as the Stack lives.
  s->down_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (s->down_fd_ < 0 || bind(s->down_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      getsockname(s->down_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return absl::InternalError("cannot reserve a loopback port for the \"down\" merchant");
  }
  s->down_port_ = ntohs(addr.sin_port);
  for (int i = 0; i < s->options_.servers; ++i) {
    json config = s->BaseConfig();
    if (s->options_.config_patch) s->options_.config_patch(config);
    auto added = s->AddServer(config);
    if (!added.ok()) return added.status();
  }
  return s;
}

Stack::~Stack() {
  // Clients go first: an open client connection holds a server's shutdown until its grace
  // period ends.
  for (Server& server : servers_) {
    server.orders.reset();
    server.trades.reset();
    server.channel.reset();
  }
  for (Server& server : servers_) {
    if (server.process) server.process->Signal(SIGTERM);
  }
  for (Server& server : servers_) {
    if (server.process && !server.process->Wait(absl::Seconds(10))) {
      std::fprintf(stderr, "orderqueryd %s did not stop within 10 s; killing it\n",
                   server.target.c_str());
    }
    server.process.reset();
  }
  servers_.clear();
  if (sandbox_) (void)sandbox_->Stop();
  sandbox_.reset();
  db_.reset();
  if (down_fd_ >= 0) close(down_fd_);
  if (!work_dir_.empty()) {
    const std::string cmd = absl::StrCat("rm -rf '", work_dir_, "'");
    if (std::system(cmd.c_str()) != 0)
      std::fprintf(stderr, "could not remove %s\n", work_dir_.c_str());
  }
}

json Stack::BaseConfig() const {
  json config = BaseConfigWithoutAuth();
  // $OQ_E2E_WITHOUT_AUTH=1: no auth section, for a server older than it (OQ_E2E_ORDERQUERYD).
  const char* without = std::getenv("OQ_E2E_WITHOUT_AUTH");
  if (without == nullptr || std::string(without) != "1") {
    config["auth"]["callers"][kE2eCaller] = {
        {"key", kE2eCallerKey}, {"methods", {"*"}}, {"operator", true}};
  }
  return config;
}

json Stack::BaseConfigWithoutAuth() const {
  const storage::MysqlOptions& db = db_->options();
  const std::string wechat_url = sandbox_->base_url();
  json direct = WechatMerchant(keys_, wechat_url);
  direct["appids"] = json::array({kDirectAppid});
  direct["mode"] = "direct";
  json partner = WechatMerchant(keys_, wechat_url);
  partner["appids"] = json::array({kPartnerAppid});
  partner["mode"] = "partner";
  partner["sub_mchid"] = kSubMchid;
  json trade_merchant = {{"base_url", wechat_url}, {"mch_id", kTradeMchId}, {"key", kTradeKey}};
  json wrong_key = trade_merchant;
  wrong_key["key"] = "not-the-merchant-key";
  json down = trade_merchant;
  down["base_url"] = absl::StrCat("http://127.0.0.1:", down_port_);
  return {
      {"listen", "127.0.0.1:0"},
      {"log_level", options_.log_level},
      {"shutdown_grace_ms", 2000},
      {"health_interval_ms", 1000},
      {"db",
       {{"host", db.host},
        {"port", db.port},
        {"user", db.user},
        {"database", db.database},
        {"pool_size", options_.db_pool_size},
        {"startup_timeout_ms", 10000}}},
      {"upstream",
       {{"connect_timeout_ms", 500},
        {"request_timeout_ms", options_.upstream_request_timeout_ms},
        {"max_attempts", options_.upstream_max_attempts},
        {"initial_backoff_ms", 10},
        {"max_backoff_ms", 40}}},
      // Negative caching off too: these suites count one upstream request per call after a
      // failure; tests of the backoff turn it on through config_patch.
      {"recharge",
       {{"refresh_interval_ms", options_.recharge_refresh_interval_ms}, {"failure_backoff_ms", 0}}},
      // Off unless a suite turns it on: the reconciler's own queries would change the sandbox
      // request counts that suites assert on.
      {"reconcile", {{"enabled", false}}},
      {"wechat", {{"merchants", {{"direct", direct}, {"partner", partner}}}}},
      {"trade",
       {{"refresh_interval_ms", options_.trade_refresh_interval_ms},
        {"default_merchant", kTradeMerchant},
        {"merchants",
         {{kTradeMerchant, trade_merchant},
          {kTradeMerchantWrongKey, wrong_key},
          {kTradeMerchantDown, down}}}}},
  };
}

absl::StatusOr<int> Stack::AddServer(const json& config) {
  const int index = static_cast<int>(servers_.size());
  Server server;
  server.config_path = absl::StrCat(work_dir_, "/orderqueryd-", index, ".json");
  if (absl::Status st = WriteFile(server.config_path, config.dump(2)); !st.ok()) return st;
  // The password is a secret: it goes by environment, as in production.
  // $OQ_E2E_ORDERQUERYD runs another build of the server (e.g. a clean checkout's) under the
  // same tests; by default the one built with this tree.
  const char* binary = std::getenv("OQ_E2E_ORDERQUERYD");
  auto process = testing::ChildProcess::Start(
      {binary != nullptr && *binary != '\0' ? binary : OQ_ORDERQUERYD_PATH, "--config",
       server.config_path},
      {{"ORDERQUERY_DB_PASSWORD", db_->options().password}});
  if (!process.ok()) return process.status();
  server.process = *std::move(process);
  auto line = server.process->WaitForLine("orderqueryd listening on ", absl::Seconds(30));
  if (!line.ok()) {
    return absl::Status(
        line.status().code(),
        absl::StrCat("orderqueryd #", index, " did not start: ", line.status().message()));
  }
  server.target = std::string(absl::StripPrefix(*line, "orderqueryd listening on "));
  if (auto n = config.find("notify");
      n != config.end() && n->is_object() && !n->value("listen", std::string()).empty()) {
    constexpr char kNotifyPrefix[] = "orderqueryd notifications on ";
    auto notify = server.process->WaitForLine(kNotifyPrefix, absl::Seconds(10));
    if (!notify.ok()) {
      return absl::Status(
          notify.status().code(),
          absl::StrCat("orderqueryd #", index,
                       " did not print its notification URL: ", notify.status().message()));
    }
    std::string url(absl::StripPrefix(*notify, kNotifyPrefix));
    server.notify_url_template = Trimmed(std::move(url));
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> key;
  key.push_back(std::make_unique<ApiKeyInterceptorFactory>());
  server.channel = grpc::experimental::CreateCustomChannelWithInterceptors(
      server.target, grpc::InsecureChannelCredentials(), grpc::ChannelArguments(), std::move(key));
  if (!server.channel->WaitForConnected(std::chrono::system_clock::now() +
                                        std::chrono::seconds(10))) {
    return absl::UnavailableError(absl::StrCat("cannot connect to orderqueryd at ", server.target));
  }
  server.orders = v1::OrderQueryService::NewStub(server.channel);
  server.trades = v1::TradeOrderService::NewStub(server.channel);
  servers_.push_back(std::move(server));
  return index;
}

void Stack::StopServer(int i) {
  Server& server = servers_.at(i);
  if (!server.process) return;
  server.orders.reset();
  server.trades.reset();
  server.channel.reset();
  server.process->Signal(SIGTERM);
  server.process->Wait(absl::Seconds(10));
}

int Stack::KillServer(int i) {
  Server& server = servers_.at(i);
  if (!server.process) return -1;
  server.orders.reset();
  server.trades.reset();
  server.channel.reset();
  server.process->Signal(SIGKILL);
  return server.process->Wait(absl::Seconds(10)).value_or(-1);
}

std::optional<int> Stack::WaitServer(int i, absl::Duration timeout) {
  Server& server = servers_.at(i);
  if (!server.process) return std::nullopt;
  return server.process->Wait(timeout);
}

pid_t Stack::ServerPid(int i) const {
  const Server& server = servers_.at(i);
  return server.process ? server.process->pid() : -1;
}

std::string Stack::NotifyUrl(int i, const std::string& merchant) const {
  std::string url = servers_.at(i).notify_url_template;
  const size_t at = url.find("{merchant}");
  if (at == std::string::npos) return "";
  return url.replace(at, std::string("{merchant}").size(), merchant);
}

std::string Stack::ServerLog(int i) const {
  const Server& server = servers_.at(i);
  return server.process ? server.process->Stderr() : std::string();
}

absl::StatusOr<TestUser> Stack::CreateUser(int64_t balance_fen, const std::string& appid) {
  const int n = next_user_++;
  TestUser user;
  user.appid = appid;
  auto id = storage::admin::CreateUser(pool(), appid, absl::StrCat("oE2EUser", n, "_", getpid()),
                                       absl::StrCat("e2e user ", n), balance_fen);
  if (!id.ok()) return id.status();
  user.id = *id;
  auto token = CreateToken(user, absl::Now() + absl::Hours(24));
  if (!token.ok()) return token.status();
  user.token = *token;
  return user;
}

absl::StatusOr<std::string> Stack::CreateToken(const TestUser& user, absl::Time expires_at) {
  static int counter = 0;
  const std::string token =
      absl::StrCat("e2e-token-", user.id, "-", ++counter, "-", absl::ToUnixNanos(absl::Now()));
  if (absl::Status st =
          storage::admin::CreateSession(pool(), user.id, user.appid, token, expires_at);
      !st.ok()) {
    return st;
  }
  return token;
}

absl::Status Stack::CreateRechargeOrder(const TestUser& user, const std::string& order_no,
                                        int64_t amount_fen, domain::RechargeState state) {
  domain::RechargeOrder order;
  order.order_no = order_no;
  order.user_id = user.id;
  order.appid = user.appid;
  order.mchid = kMchid;
  if (user.appid == kPartnerAppid) order.sub_mchid = kSubMchid;
  order.amount_fen = amount_fen;
  order.state = state;
  return storage::admin::CreateRechargeOrder(pool(), order);
}

absl::Status Stack::UpsertWechatOrder(const TestUser& user, const std::string& order_no,
                                      int64_t amount_fen, const json& extra) {
  json order = {{"out_trade_no", order_no}, {"mchid", kMchid}, {"amount", amount_fen}};
  if (user.appid == kPartnerAppid) {
    order["kind"] = "partner";
    order["sub_mchid"] = kSubMchid;
    order["appid"] = kPartnerAppid;
  } else {
    order["kind"] = "direct";
    order["appid"] = user.appid;
  }
  for (const auto& item : extra.items()) order[item.key()] = item.value();
  return sandbox_->UpsertOrder(order);
}

absl::Status Stack::UpsertTradeOrder(const json& order) {
  auto r = sandbox_->Call("POST", "/__sandbox/trade_orders", order.dump());
  if (!r.ok()) return r.status();
  if (r->first != 200) {
    return absl::InvalidArgumentError(
        absl::StrCat("sandbox refused the trade order (HTTP ", r->first, "): ", r->second));
  }
  return absl::OkStatus();
}

absl::StatusOr<domain::RechargeOrder> Stack::GetRechargeOrder(const std::string& order_no) {
  storage::MysqlRechargeRepository repo(pool());
  return repo.GetOrder(order_no);
}

absl::StatusOr<int64_t> Stack::Balance(int64_t user_id) {
  storage::MysqlRechargeRepository repo(pool());
  return repo.GetBalance(user_id);
}

absl::StatusOr<TableCounts> Stack::CountTables() {
  TableCounts c;
  for (auto [table, out] :
       {std::pair{"t_user", &c.user}, std::pair{"t_user_session", &c.session},
        std::pair{"t_recharge_order", &c.recharge_order},
        std::pair{"t_recharge_order_log", &c.recharge_order_log},
        std::pair{"t_user_amount_log", &c.amount_log},
        std::pair{"t_user_order_query_log", &c.query_log},
        std::pair{"t_vehicle_transaction", &c.vehicle}, std::pair{"t_trade_order", &c.trade_order},
        std::pair{"t_trade_order_goods", &c.trade_goods}}) {
    auto n = storage::admin::CountRows(pool(), table);
    if (!n.ok()) return n.status();
    *out = *n;
  }
  return c;
}

int64_t Stack::WechatRequests(const std::string& out_trade_no) {
  auto stats = sandbox_->Stats(out_trade_no);
  if (!stats.ok()) return -1;
  return stats->value("requests", int64_t{-1});
}

int64_t Stack::TradeRequests(const std::string& trade_order_id) {
  auto r = sandbox_->Call("GET", absl::StrCat("/__sandbox/stats?trade_order_id=", trade_order_id));
  if (!r.ok() || r->first != 200) return -1;
  json j = json::parse(r->second, nullptr, false);
  if (!j.is_object()) return -1;
  return j.value("requests", int64_t{-1});
}

int64_t Stack::TotalSandboxRequests() {
  auto stats = sandbox_->Stats();
  if (!stats.ok()) return -1;
  return stats->value("requests", int64_t{-1});
}

}  // namespace orderquery::e2e
