// The chaos suite (issue 15): Jepsen's bank test, for our money.
//
// One MariaDB of this test's own (it is killed with SIGKILL and restarted on its data directory),
// the payment sandbox, and three orderqueryd replicas on one database with the reconciler and
// the notification listener on. A few dozen users and a few hundred recharge orders; the sandbox
// pays most of them during the run (some announced by notification, some only found by a query
// or the reconciler), closes some, and the run refunds some credited ones. A load client asks
// for random orders on random replicas while a nemesis, in fault windows it records, kills and
// restarts a replica, pauses one (SIGSTOP/SIGCONT), kills and restarts MariaDB, and makes the
// sandbox slow and failing; a payment driver sends duplicate notifications meanwhile. Then the
// run settles (every order paid at the sandbox is queried until it answers) and checks the
// ledger in SQL (bank_check.h). It prints its figures (calls, errors by status and window,
// recovery times, notifications, who credited what).
//
// Bounded: every phase has a deadline, a watchdog ends the process (and the MariaDB it started)
// before ctest's timeout would, and only processes it started are signalled, by pid.
// OQ_CHAOS_SEED=N replays a run's choices (the faults' timing still varies).
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "storage/mysql_pool.h"
#include "storage/sql_util.h"
#include "tests/chaos/bank_check.h"
#include "tests/e2e/harness/calls.h"
#include "tests/e2e/harness/stack.h"
#include "tests/support/test_database.h"

#ifndef OQ_MARIADB_SCRIPT
#error "OQ_MARIADB_SCRIPT must name tests/support/mariadb.sh"
#endif

namespace orderquery::chaos {
namespace {

using e2e::RechargeArgs;
using e2e::RechargeResult;
using e2e::Stack;
using e2e::TestUser;
using nlohmann::json;

// ----- the run's size and bounds

constexpr int kReplicas = 3;
constexpr int kUsers = 36;
constexpr int kPartnerUsers = 8;  // of kUsers, paying through the partner merchant
constexpr int kOrders = 300;
constexpr int kLoadThreads = 6;
constexpr absl::Duration kCallPause = absl::Milliseconds(4);
constexpr absl::Duration kCallDeadline = absl::Seconds(2);
constexpr absl::Duration kLoadTime = absl::Seconds(50);
// Every sandbox transition is due before this (so the end state is the provider's last word).
constexpr int kLastPaymentMs = 34000;
constexpr int kExpireAfterMs = 30000;  // the reconciler closes unpaid orders this old
constexpr absl::Duration kRecoveryBound = absl::Seconds(20);
constexpr absl::Duration kSettleBound = absl::Seconds(40);
constexpr absl::Duration kWatchdog = absl::Seconds(175);  // ctest's TIMEOUT is 200

int64_t Ms(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// A loopback port that was free a moment ago, below the kernel's ephemeral range (so that no
// outgoing connection takes it while a killed replica is down) and not in `taken`.
int PickPort(std::mt19937& rng, const std::set<int>& taken) {
  std::uniform_int_distribution<int> dist(20000, 32000);
  for (int i = 0; i < 200; ++i) {
    const int port = dist(rng);
    if (taken.count(port) > 0) continue;
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool free_port = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (free_port) return port;
  }
  return 0;
}

// ----- the MariaDB of this test

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// True once `pid` is gone or a zombie (its parent reaps it, not us: mariadb.sh daemonizes it).
bool Dead(pid_t pid) {
  std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (stat.empty()) return true;
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

class OwnMariadb {
 public:
  explicit OwnMariadb(std::string dir) : dir_(std::move(dir)) {}
  ~OwnMariadb() { Stop(); }

  absl::Status Start() { return Script("start"); }
  absl::Status Restart() { return Script("restart"); }
  // SIGKILL, by the pid the server wrote; waits until it is gone.
  absl::Status Kill() {
    const pid_t p = pid();
    if (p <= 0) return absl::FailedPreconditionError("no mariadbd pid file");
    if (kill(p, SIGKILL) != 0) return absl::InternalError(absl::StrCat("kill ", p, " failed"));
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!Dead(p)) {
      if (absl::Now() > deadline) return absl::DeadlineExceededError("mariadbd survived SIGKILL");
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::OkStatus();
  }
  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    (void)Script("stop");
  }
  pid_t pid() const {
    const std::string text = Trim(ReadFile(dir_ + "/mariadbd.pid"));
    return text.empty() ? -1 : static_cast<pid_t>(std::atol(text.c_str()));
  }
  std::string env_path() const { return dir_ + "/env"; }

 private:
  absl::Status Script(const std::string& command) {
    const std::string log = dir_ + ".log";
    const std::string cmd =
        absl::StrCat("bash ", OQ_MARIADB_SCRIPT, " ", command, " '", dir_, "' >'", log, "' 2>&1");
    if (std::system(cmd.c_str()) != 0) {
      return absl::InternalError(
          absl::StrCat("mariadb.sh ", command, " failed: ", Trim(ReadFile(log))));
    }
    return absl::OkStatus();
  }
  std::string dir_;
  bool stopped_ = false;
};

// Ends the process if the run overstays (a hung phase must not outlive ctest's timeout and leave
// a MariaDB behind): kills that MariaDB by its pid and removes the work directory. Children
// started through ChildProcess die with us (PR_SET_PDEATHSIG).
class Watchdog {
 public:
  Watchdog(absl::Duration limit, OwnMariadb* db, std::string work_dir)
      : thread_([this, limit, db, work_dir] {
          absl::MutexLock lock(&mu_);
          if (mu_.AwaitWithTimeout(absl::Condition(&done_), limit)) return;
          std::fprintf(stderr, "chaos: hard limit of %lld s reached; stopping everything\n",
                       static_cast<long long>(absl::ToInt64Seconds(limit)));
          if (const pid_t p = db->pid(); p > 0) kill(p, SIGKILL);
          const std::string rm = absl::StrCat("rm -rf '", work_dir, "'");
          (void)std::system(rm.c_str());
          _exit(3);
        }) {}
  ~Watchdog() {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
    }
    thread_.join();
  }

 private:
  absl::Mutex mu_;
  bool done_ = false;
  std::thread thread_;
};

// ----- the orders

enum class Plan {
  kPaidBefore,    // SUCCESS from the start, nobody announces it
  kPaysNotified,  // NOTPAY, then SUCCESS, announced by notification to a replica
  kPaysSilently,  // NOTPAY, then SUCCESS, found only by a query or the reconciler
  kUserPaying,    // USERPAYING, then SUCCESS
  kAbandoned,     // NOTPAY, then CLOSED at the provider
  kNeverPays,     // NOTPAY forever: the reconciler closes it at expiry
};

const char* PlanName(Plan p) {
  switch (p) {
    case Plan::kPaidBefore:
      return "paid before the run";
    case Plan::kPaysNotified:
      return "pays, notified";
    case Plan::kPaysSilently:
      return "pays, not notified";
    case Plan::kUserPaying:
      return "USERPAYING, then pays";
    case Plan::kAbandoned:
      return "closed by the provider";
    case Plan::kNeverPays:
      return "never pays";
  }
  return "?";
}

struct Order {
  std::string no;
  int user = 0;  // index into users
  int64_t amount = 0;
  Plan plan = Plan::kPaidBefore;
  int notify_slot = -1;  // replica its automatic notification goes to
  absl::Time
      pays_at;  // when the sandbox has it paid (InfinitePast: already; InfiniteFuture: never)
};

// ----- calls and their figures

struct Window {
  std::string name;
  absl::Time start, end;
};

// An answered call, for the read check: once a caller was told "paid" (0, or 2041 after a
// refund), no call that started later may be told anything else.
struct Read {
  int order = 0;
  absl::Time start, end;
  int code = 0;  // the business code
};

bool PaidCode(int code) {
  return code == v1::RECHARGE_RESULT_CODE_SUCCESS || code == v1::RECHARGE_RESULT_CODE_REFUND;
}

struct CallStats {
  int64_t calls = 0;
  std::vector<Read> reads;                           // OK calls
  std::map<int, int64_t> by_status;                  // gRPC code -> calls
  std::map<int, std::map<int, int64_t>> by_window;   // window -> gRPC code -> calls
  std::map<int, int64_t> by_business_code;           // OK calls: code (0, 2041, ...) -> calls
  std::map<int, std::map<int, int64_t>> by_replica;  // replica -> gRPC code -> calls

  void Record(int window, int replica, int order, absl::Time start, const RechargeResult& r) {
    const int code = static_cast<int>(r.status.error_code());
    if (r.status.ok()) {
      reads.push_back({order, start, absl::Now(), static_cast<int>(r.response.code())});
    }
    ++calls;
    ++by_status[code];
    ++by_window[window][code];
    ++by_replica[replica][code];
    if (r.status.ok()) ++by_business_code[static_cast<int>(r.response.code())];
  }
  void Merge(const CallStats& o) {
    calls += o.calls;
    reads.insert(reads.end(), o.reads.begin(), o.reads.end());
    for (auto& [k, v] : o.by_status) by_status[k] += v;
    for (auto& [w, m] : o.by_window)
      for (auto& [k, v] : m) by_window[w][k] += v;
    for (auto& [rep, m] : o.by_replica)
      for (auto& [k, v] : m) by_replica[rep][k] += v;
    for (auto& [k, v] : o.by_business_code) by_business_code[k] += v;
  }
};

// gRPC's code names (absl::StatusCode has gRPC's codes, value for value).
std::string CodeName(int code) {
  std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? absl::StrCat("code ", code) : name;
}

std::string Codes(const std::map<int, int64_t>& m) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : m) parts.push_back(absl::StrCat(CodeName(k), " ", v));
  return absl::StrJoin(parts, ", ");
}

// ----- one replica: fixed ports (a restart comes back where it was, so the notification URLs and
// the load client's channel stay valid) and our own channel to it.

struct Replica {
  int grpc_port = 0;
  int notify_port = 0;
  json config;
  int index = -1;  // in the Stack (a restart gets a new one)
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::OrderQueryService::Stub> orders;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;

  std::string NotifyUrl(const std::string& merchant) const {
    return absl::StrCat("http://127.0.0.1:", notify_port, "/notify/wechat/", merchant);
  }
};

class ChaosBank : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = static_cast<uint32_t>(absl::ToUnixMicros(absl::Now()));
    if (const char* s = std::getenv("OQ_CHAOS_SEED"); s != nullptr && *s != '\0') {
      seed_ = static_cast<uint32_t>(std::strtoul(s, nullptr, 10));
    }
    rng_.seed(seed_);
    std::cout << "chaos: seed " << seed_ << " (OQ_CHAOS_SEED=" << seed_ << " replays it)\n";

    const char* tmp = std::getenv("TMPDIR");
    std::string templ =
        absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/oq-chaos-XXXXXX");
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    work_dir_ = templ;
    // Everything the harness puts in a temporary directory goes under ours.
    setenv("TMPDIR", work_dir_.c_str(), 1);
    db_ = std::make_unique<OwnMariadb>(work_dir_ + "/db");
    watchdog_ = std::make_unique<Watchdog>(kWatchdog, db_.get(), work_dir_);
    started_ = absl::Now();
  }

  void TearDown() override {
    if (HasFailure() && stack_) {
      for (int i = 0; i < stack_->servers(); ++i) {
        std::string log = stack_->ServerLog(i);
        if (log.size() > 4000) log = "…" + log.substr(log.size() - 4000);
        std::cerr << "---- orderqueryd (stack index " << i << ") log tail:\n" << log << "----\n";
      }
    }
    for (Replica& r : replicas_) {
      r.orders.reset();
      r.health.reset();
      r.channel.reset();
    }
    stack_.reset();
    if (db_) db_->Stop();
    watchdog_.reset();
    if (!work_dir_.empty()) {
      const std::string rm = absl::StrCat("rm -rf '", work_dir_, "'");
      if (std::system(rm.c_str()) != 0) std::cerr << "could not remove " << work_dir_ << "\n";
    }
    std::cout << "chaos: whole test " << Ms(absl::Now() - started_) / 1000.0 << " s\n";
  }

  // ----- setup

  void StartStack() {
    absl::Status st = db_->Start();
    ASSERT_TRUE(st.ok()) << st;
    setenv(test_support::kMariadbEnvVar, db_->env_path().c_str(), 1);

    e2e::StackOptions options;
    options.name_hint = "chaos";
    options.servers = 0;  // ours have fixed ports: added below
    options.recharge_refresh_interval_ms = 500;
    options.upstream_request_timeout_ms = 1000;
    options.upstream_max_attempts = 2;
    options.db_pool_size = 6;
    auto s = Stack::Start(options);
    ASSERT_TRUE(s.ok()) << s.status();
    stack_ = std::move(*s);

    std::set<int> taken;
    for (int i = 0; i < kReplicas; ++i) {
      Replica r;
      r.grpc_port = PickPort(rng_, taken);
      taken.insert(r.grpc_port);
      r.notify_port = PickPort(rng_, taken);
      taken.insert(r.notify_port);
      ASSERT_GT(r.grpc_port, 0);
      ASSERT_GT(r.notify_port, 0);
      r.config = stack_->BaseConfig();
      json& c = r.config;
      c["listen"] = absl::StrCat("127.0.0.1:", r.grpc_port);
      c["log_level"] = "warn";
      c["health_interval_ms"] = 500;
      c["db"]["startup_timeout_ms"] = 20000;
      c["recharge"]["failure_backoff_ms"] = 300;
      c["recharge"]["failure_backoff_max_ms"] = 3000;
      c["notify"] = {{"listen", absl::StrCat("127.0.0.1:", r.notify_port)}};
      c["reconcile"] = {{"enabled", true},
                        {"first_delay_ms", 1500},
                        {"interval_ms", 250},
                        {"batch", 8},
                        {"max_inflight", 4},
                        {"backoff_ms", json::array({"2000", "4000"})},
                        {"expire_after_ms", kExpireAfterMs},
                        {"lease_ms", 4000}};
      grpc::ChannelArguments args;
      // Come back quickly after a replica's restart (the default backoff grows to minutes).
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
      r.channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", r.grpc_port),
                                            grpc::InsecureChannelCredentials(), args);
      r.orders = v1::OrderQueryService::NewStub(r.channel);
      r.health = grpc::health::v1::Health::NewStub(r.channel);
      replicas_.push_back(std::move(r));
    }
    for (int i = 0; i < kReplicas; ++i) {
      absl::Status started = StartReplica(i);
      ASSERT_TRUE(started.ok()) << started;
    }
  }

  absl::Status StartReplica(int slot) {
    Replica& r = replicas_[slot];
    auto index = stack_->AddServer(r.config);
    if (!index.ok()) {
      return absl::Status(
          index.status().code(),
          absl::StrCat("replica ", slot, " (port ", r.grpc_port, "): ", index.status().message()));
    }
    r.index = *index;
    return absl::OkStatus();
  }

  void Seed() {
    std::uniform_int_distribution<int64_t> balance(0, 100000);
    for (int i = 0; i < kUsers; ++i) {
      const std::string appid = i < kPartnerUsers ? e2e::kPartnerAppid : e2e::kDirectAppid;
      const int64_t start = balance(rng_);
      auto user = stack_->CreateUser(start, appid);
      ASSERT_TRUE(user.ok()) << user.status();
      users_.push_back(*user);
      facts_.start_balance[user->id] = start;
    }
    std::uniform_int_distribution<int> pick_user(0, kUsers - 1);
    std::uniform_int_distribution<int64_t> amount(1, 50000);
    std::uniform_int_distribution<int> pick_plan(0, 99);
    std::uniform_int_distribution<int> pays_after(1000, kLastPaymentMs);
    std::uniform_int_distribution<int> slot(0, kReplicas - 1);
    const absl::Time now = absl::Now();
    for (int i = 0; i < kOrders; ++i) {
      Order o;
      o.no = absl::StrCat("CHAOS", seed_ % 100000, "N", i);
      o.user = pick_user(rng_);
      o.amount = amount(rng_);
      const int p = pick_plan(rng_);
      o.plan = p < 18   ? Plan::kPaidBefore
               : p < 48 ? Plan::kPaysNotified
               : p < 70 ? Plan::kPaysSilently
               : p < 76 ? Plan::kUserPaying
               : p < 86 ? Plan::kAbandoned
                        : Plan::kNeverPays;
      json extra = {{"transaction_id", absl::StrCat("4200", seed_ % 100000, "T", i)}};
      const int after = pays_after(rng_);
      o.pays_at = absl::InfiniteFuture();
      switch (o.plan) {
        case Plan::kPaidBefore:
          extra["trade_state"] = "SUCCESS";
          o.pays_at = absl::InfinitePast();
          break;
        case Plan::kPaysNotified:
          o.notify_slot = slot(rng_);
          extra["notify_url"] = replicas_[o.notify_slot].NotifyUrl(
              users_[o.user].appid == e2e::kPartnerAppid ? "partner" : "direct");
          [[fallthrough]];
        case Plan::kPaysSilently:
          extra["trade_state"] = "NOTPAY";
          extra["transitions"] = json::array({{{"to", "SUCCESS"}, {"after_ms", after}}});
          o.pays_at = now + absl::Milliseconds(after);
          break;
        case Plan::kUserPaying:
          extra["trade_state"] = "USERPAYING";
          extra["transitions"] = json::array({{{"to", "SUCCESS"}, {"after_ms", after}}});
          o.pays_at = now + absl::Milliseconds(after);
          break;
        case Plan::kAbandoned:
          extra["trade_state"] = "NOTPAY";
          extra["transitions"] = json::array({{{"to", "CLOSED"}, {"after_ms", after}}});
          break;
        case Plan::kNeverPays:
          extra["trade_state"] = "NOTPAY";
          break;
      }
      ++plans_[o.plan];
      // Our side first: a notification for an order we do not have yet would get 404 (and be
      // retried), which is not what this run is about.
      absl::Status st = stack_->CreateRechargeOrder(users_[o.user], o.no, o.amount);
      ASSERT_TRUE(st.ok()) << st;
      orders_.push_back(o);
      st = stack_->UpsertWechatOrder(users_[o.user], o.no, o.amount, extra);
      ASSERT_TRUE(st.ok()) << st;
    }
  }

  // ----- the load client

  void LoadLoop(int thread, CallStats* stats) {
    std::mt19937 rng(seed_ + 1000 + thread);
    std::uniform_int_distribution<int> pick_order(0, kOrders - 1);
    std::uniform_int_distribution<int> pick_replica(0, kReplicas - 1);
    while (!stop_load_.load()) {
      const int order = pick_order(rng);
      const Order& o = orders_[order];
      const TestUser& u = users_[o.user];
      const int replica = pick_replica(rng);
      RechargeArgs a;
      a.appid = u.appid;
      a.token = u.token;
      a.order_no = o.no;
      a.deadline = kCallDeadline;
      const int window = window_.load();
      const absl::Time start = absl::Now();
      RechargeResult r = e2e::QueryRecharge(*replicas_[replica].orders, a);
      stats->Record(window, replica, order, start, r);
      absl::SleepFor(kCallPause);
    }
  }

  // ----- the payment driver: duplicate notifications, and refunds of credited orders

  void PaymentLoop(storage::ConnectionPool* pool) {
    std::mt19937 rng(seed_ + 7);
    std::uniform_int_distribution<int> pick_replica(0, kReplicas - 1);
    int tick = 0;
    while (!stop_load_.load()) {
      absl::SleepFor(absl::Milliseconds(250));
      ++tick;
      const absl::Time now = absl::Now();
      if (tick % 6 == 0 && refunded_.size() < 20) Refund(pool, rng);
      // A duplicate notification (same id, 2-3 copies at once) of an order paid by now.
      std::vector<int> paid;
      for (int i = 0; i < kOrders; ++i) {
        const Order& o = orders_[i];
        if (o.pays_at + absl::Milliseconds(200) < now && refunded_.count(o.no) == 0)
          paid.push_back(i);
      }
      if (paid.empty()) continue;
      const Order& o =
          orders_[paid[std::uniform_int_distribution<size_t>(0, paid.size() - 1)(rng)]];
      const bool partner = users_[o.user].appid == e2e::kPartnerAppid;
      const int copies = 2 + static_cast<int>(rng() % 2);
      json req = {{"out_trade_no", o.no},
                  {"url", replicas_[pick_replica(rng)].NotifyUrl(partner ? "partner" : "direct")},
                  {"copies", copies},
                  {"concurrent", true},
                  {"id", absl::StrCat("EV-chaos-", seed_, "-", tick)}};
      auto answer = stack_->sandbox().Notify(req);
      absl::MutexLock lock(&payments_mu_);
      ++duplicates_sent_;
      if (!answer.ok()) {
        ++notify_errors_;
        continue;
      }
      for (const json& d : answer->value("deliveries", json::array())) {
        ++duplicate_deliveries_[d.value("status", 0)];
      }
    }
  }

  // Refunds one order the service has credited (a refund follows a payment, and it is the
  // merchant, having credited, who starts it): the sandbox has it REFUND from now on.
  void Refund(storage::ConnectionPool* pool, std::mt19937& rng) {
    std::vector<std::string> credited;
    absl::Status st = storage::WithConnection(*pool, [&](storage::Connection& c) {
      credited.clear();
      sql::PreparedStatement& q = c.Prepare(
          "SELECT order_no FROM t_recharge_order WHERE credited = 1 AND status = 'SUCCESS'");
      std::unique_ptr<sql::ResultSet> rs = storage::internal::Query(q);
      while (rs->next()) credited.push_back(storage::internal::GetString(*rs, 1));
      return absl::OkStatus();
    });
    if (!st.ok() || credited.empty()) return;  // the database may be down right now
    std::shuffle(credited.begin(), credited.end(), rng);
    for (const std::string& no : credited) {
      if (refunded_.count(no) > 0) continue;
      auto it =
          std::find_if(orders_.begin(), orders_.end(), [&](const Order& o) { return o.no == no; });
      if (it == orders_.end()) continue;
      absl::Status up = stack_->UpsertWechatOrder(
          users_[it->user], no, it->amount,
          {{"trade_state", "REFUND"},
           {"transaction_id", absl::StrCat("4200", seed_ % 100000, "T", it - orders_.begin())}});
      if (!up.ok()) return;
      refunded_.insert(no);
      // The service asks no more about a credited order: it learns of the refund when WeChat
      // says so (a notification whose transaction now reads REFUND), once or twice.
      const bool partner = users_[it->user].appid == e2e::kPartnerAppid;
      std::uniform_int_distribution<int> pick_replica(0, kReplicas - 1);
      json req = {{"out_trade_no", no},
                  {"url", replicas_[pick_replica(rng)].NotifyUrl(partner ? "partner" : "direct")},
                  {"copies", 1 + static_cast<int>(rng() % 2)},
                  {"concurrent", true},
                  {"id", absl::StrCat("EV-chaos-", seed_, "-refund-", refunded_.size())}};
      auto answer = stack_->sandbox().Notify(req);
      absl::MutexLock lock(&payments_mu_);
      if (!answer.ok()) {
        ++notify_errors_;
        return;
      }
      for (const json& d : answer->value("deliveries", json::array())) {
        ++refund_deliveries_[d.value("status", 0)];
      }
      return;
    }
  }

  // ----- the nemesis's tools

  int OpenWindow(const std::string& name) {
    windows_.push_back({name, absl::Now(), absl::InfiniteFuture()});
    const int w = static_cast<int>(windows_.size()) - 1;
    window_.store(w);
    std::cout << "chaos: t=" << Ms(absl::Now() - load_start_) / 1000.0 << "s window " << w << ": "
              << name << "\n";
    return w;
  }
  void CloseWindow(int w) {
    windows_[w].end = absl::Now();
    window_.store(0);
  }
  void SleepUntil(absl::Duration since_load_start) {
    const absl::Time at = load_start_ + since_load_start;
    const absl::Time now = absl::Now();
    if (at > now) absl::SleepFor(at - now);
  }

  // One call that needs the database (an order nobody has: 2047 after a lookup).
  bool Serves(int slot, absl::Duration deadline = absl::Seconds(1)) {
    RechargeArgs a;
    a.appid = users_[kPartnerUsers].appid;
    a.token = users_[kPartnerUsers].token;
    a.order_no = "CHAOSPROBE";
    a.deadline = deadline;
    RechargeResult r = e2e::QueryRecharge(*replicas_[slot].orders, a);
    return r.status.ok() && r.response.code() == v1::RECHARGE_RESULT_CODE_ORDER_NOT_EXIST;
  }
  bool HealthServing(int slot) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    return replicas_[slot].health->Check(&ctx, req, &resp).ok() &&
           resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  }
  // Time from `since` until `slot` serves a database call, polling every 50 ms up to `bound`;
  // nullopt if it never did.
  std::optional<absl::Duration> TimeToServe(int slot, absl::Time since, absl::Duration bound) {
    while (absl::Now() - since < bound) {
      if (Serves(slot, absl::Milliseconds(500))) return absl::Now() - since;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return std::nullopt;
  }

  void KillAndRestartReplica(int slot, absl::Duration down) {
    const pid_t pid = stack_->ServerPid(replicas_[slot].index);
    const int code = stack_->KillServer(replicas_[slot].index);
    EXPECT_EQ(code, 128 + SIGKILL) << "replica " << slot << " (pid " << pid << ")";
    absl::SleepFor(down);
    const absl::Time restart = absl::Now();
    absl::Status st = StartReplica(slot);
    ASSERT_TRUE(st.ok()) << st;
    auto serving = TimeToServe(slot, restart, kRecoveryBound);
    EXPECT_TRUE(serving.has_value())
        << "replica " << slot << " did not serve within " << kRecoveryBound << " of its restart";
    figures_ << "  replica " << slot << " SIGKILLed (pid " << pid << "), restarted after "
             << Ms(down) << " ms on the same ports; serving "
             << (serving ? absl::StrCat(Ms(*serving), " ms") : "NEVER")
             << " after the restart began\n";
  }

  void Nemesis() {
    // Window 0 is the calm between faults.
    windows_.push_back({"calm (no fault)", load_start_, absl::InfiniteFuture()});

    SleepUntil(absl::Seconds(5));
    {
      const int w = OpenWindow("sandbox: +200 ms latency, 35% HTTP 500");
      ASSERT_TRUE(
          stack_->sandbox()
              .SetDefaults({{"latency_ms", 200},
                            {"faults", json::array({{{"type", "http_500"}, {"percent", 35}}})}})
              .ok());
      absl::SleepFor(absl::Seconds(7));
      ASSERT_TRUE(
          stack_->sandbox().SetDefaults({{"latency_ms", 0}, {"faults", json::array()}}).ok());
      CloseWindow(w);
    }

    SleepUntil(absl::Seconds(14));
    {
      const int w = OpenWindow("SIGKILL replica 1, restart after 2 s");
      KillAndRestartReplica(1, absl::Seconds(2));
      CloseWindow(w);
      if (HasFatalFailure()) return;
    }

    SleepUntil(absl::Seconds(21));
    {
      const int w = OpenWindow("SIGSTOP replica 2 for 4 s, SIGCONT");
      const pid_t pid = stack_->ServerPid(replicas_[2].index);
      ASSERT_GT(pid, 0);
      kill(pid, SIGSTOP);
      absl::SleepFor(absl::Seconds(4));
      kill(pid, SIGCONT);
      const absl::Time resumed = absl::Now();
      auto serving = TimeToServe(2, resumed, kRecoveryBound);
      EXPECT_TRUE(serving.has_value()) << "replica 2 did not serve after SIGCONT";
      figures_ << "  replica 2 SIGSTOPped (pid " << pid << ") for 4000 ms; serving "
               << (serving ? absl::StrCat(Ms(*serving), " ms") : "NEVER") << " after SIGCONT\n";
      CloseWindow(w);
    }

    SleepUntil(absl::Seconds(28));
    {
      const int w = OpenWindow("SIGKILL MariaDB, restart on its data dir after 3 s");
      const pid_t pid = db_->pid();
      absl::Status st = db_->Kill();
      ASSERT_TRUE(st.ok()) << st;
      absl::SleepFor(absl::Seconds(3));
      const absl::Time restart = absl::Now();
      st = db_->Restart();
      ASSERT_TRUE(st.ok()) << st;
      const absl::Time up = absl::Now();
      figures_ << "  MariaDB SIGKILLed (pid " << pid << "), down 3000 ms; restart (crash recovery) "
               << Ms(up - restart) << " ms\n";
      // Every replica must serve database calls again within the bound, counted from the
      // moment MariaDB answered again; all three are watched at once.
      struct Recovery {
        std::optional<absl::Duration> serving, health;
      };
      std::vector<Recovery> recovery(kReplicas);
      std::vector<std::thread> watchers;
      for (int slot = 0; slot < kReplicas; ++slot) {
        watchers.emplace_back([this, slot, up, &recovery] {
          Recovery& r = recovery[slot];
          while ((!r.serving || !r.health) && absl::Now() - up < kRecoveryBound) {
            if (!r.serving && Serves(slot, absl::Milliseconds(500))) r.serving = absl::Now() - up;
            if (!r.health && HealthServing(slot)) r.health = absl::Now() - up;
            absl::SleepFor(absl::Milliseconds(25));
          }
        });
      }
      for (std::thread& t : watchers) t.join();
      for (int slot = 0; slot < kReplicas; ++slot) {
        const Recovery& r = recovery[slot];
        EXPECT_TRUE(r.serving.has_value()) << "replica " << slot << " did not serve within "
                                           << kRecoveryBound << " of the database's return";
        figures_ << "  replica " << slot << " after the database returned: serving calls "
                 << (r.serving ? absl::StrCat(Ms(*r.serving), " ms") : "NEVER")
                 << ", health SERVING " << (r.health ? absl::StrCat(Ms(*r.health), " ms") : "NEVER")
                 << " (bound " << Ms(kRecoveryBound) << " ms)\n";
      }
      CloseWindow(w);
    }

    SleepUntil(absl::Seconds(38));
    {
      const int w = OpenWindow("SIGKILL replica 0 while the sandbox fails 30% with 100 ms latency");
      ASSERT_TRUE(
          stack_->sandbox()
              .SetDefaults({{"latency_ms", 100},
                            {"faults", json::array({{{"type", "http_500"}, {"percent", 30}}})}})
              .ok());
      KillAndRestartReplica(0, absl::Seconds(2));
      if (HasFatalFailure()) return;
      SleepUntil(absl::Seconds(45));
      ASSERT_TRUE(
          stack_->sandbox().SetDefaults({{"latency_ms", 0}, {"faults", json::array()}}).ok());
      CloseWindow(w);
    }
    SleepUntil(kLoadTime);
  }

  // ----- settle: every order paid at the sandbox is asked until it answers paid

  void Settle(CallStats* stats) {
    // The provider's last word on each order (every transition is due by now).
    int64_t refunded_at_sandbox = 0, closed_at_sandbox = 0;
    for (const Order& o : orders_) {
      auto got = stack_->sandbox().GetOrder(o.no);
      ASSERT_TRUE(got.ok()) << got.status();
      const std::string state = got->value("trade_state", std::string());
      sandbox_state_[o.no] = state;
      if (state == "SUCCESS" || state == "REFUND") facts_.paid.insert(o.no);
      if (state == "REFUND") ++refunded_at_sandbox;
      if (state == "CLOSED") ++closed_at_sandbox;
    }
    std::set<std::string> pending = facts_.paid;
    const absl::Time start = absl::Now();
    int rounds = 0, replica = 0;
    while (!pending.empty() && absl::Now() - start < kSettleBound) {
      ++rounds;
      for (auto it = pending.begin(); it != pending.end();) {
        const auto found = std::find_if(orders_.begin(), orders_.end(),
                                        [&](const Order& x) { return x.no == *it; });
        const Order& o = *found;
        RechargeArgs a;
        a.appid = users_[o.user].appid;
        a.token = users_[o.user].token;
        a.order_no = o.no;
        a.deadline = absl::Seconds(3);
        replica = (replica + 1) % kReplicas;
        const absl::Time call_start = absl::Now();
        RechargeResult r = e2e::QueryRecharge(*replicas_[replica].orders, a);
        stats->Record(0, replica, static_cast<int>(found - orders_.begin()), call_start, r);
        const bool paid_answer =
            r.status.ok() && (r.response.code() == v1::RECHARGE_RESULT_CODE_SUCCESS ||
                              r.response.code() == v1::RECHARGE_RESULT_CODE_REFUND);
        it = paid_answer ? pending.erase(it) : std::next(it);
      }
      if (!pending.empty()) absl::SleepFor(absl::Milliseconds(200));
    }
    settle_time_ = absl::Now() - start;
    EXPECT_TRUE(pending.empty()) << pending.size() << " orders paid at the sandbox did not answer "
                                 << "paid within " << kSettleBound << ": "
                                 << absl::StrJoin(pending, " ");
    figures_ << "  settle: " << facts_.paid.size() << " orders paid at the sandbox ("
             << refunded_at_sandbox << " of them refunded), " << closed_at_sandbox
             << " closed there, " << kOrders - facts_.paid.size() - closed_at_sandbox
             << " still unpaid; all paid ones answered paid after " << rounds << " rounds, "
             << Ms(settle_time_) << " ms\n";
  }

  // Figures read from the database after the run (all in one session).
  void DatabaseFigures(storage::Connection& c) {
    auto rows = [&](const std::string& sql) {
      std::vector<std::string> out;
      sql::PreparedStatement& q = c.Prepare(sql);
      std::unique_ptr<sql::ResultSet> rs = storage::internal::Query(q);
      while (rs->next()) {
        out.push_back(absl::StrCat(storage::internal::GetString(*rs, 1), " ", rs->getInt64(2)));
      }
      return absl::StrJoin(out, ", ");
    };
    figures_ << "  credits by source (order log, to SUCCESS): "
             << rows(
                    "SELECT SUBSTRING_INDEX(SUBSTRING_INDEX(reason, '(', -1), ')', 1), COUNT(*) "
                    "FROM t_recharge_order_log WHERE to_status = 'SUCCESS' GROUP BY 1 ORDER BY 1")
             << "\n";
    figures_ << "  other moves: "
             << rows(
                    "SELECT CONCAT(from_status, '->', to_status, ' (', "
                    "SUBSTRING_INDEX(SUBSTRING_INDEX(reason, '(', -1), ')', 1), ')'), COUNT(*) "
                    "FROM t_recharge_order_log WHERE to_status <> 'SUCCESS' GROUP BY 1 ORDER BY 1")
             << "\n";
    figures_ << "  orders by state: "
             << rows(
                    "SELECT status, COUNT(*) FROM t_recharge_order GROUP BY status ORDER BY status")
             << "\n";
    figures_ << "  ledger rows / fen credited: "
             << rows(
                    "SELECT CONCAT(COUNT(*), ' rows /'), COALESCE(SUM(delta), 0) "
                    "FROM t_user_amount_log")
             << "\n";
    {
      sql::PreparedStatement& q = c.Prepare("SELECT COUNT(*) FROM t_payment_notification");
      std::unique_ptr<sql::ResultSet> rs = storage::internal::Query(q);
      notifications_stored_ = rs->next() ? rs->getInt64(1) : -1;
    }
    figures_ << "  upstream queries logged: "
             << rows(
                    "SELECT IF(error_code = '', 'answered', error_code), COUNT(*) "
                    "FROM t_user_order_query_log GROUP BY 1 ORDER BY 1")
             << "\n";
  }

  // ----- state

  uint32_t seed_ = 0;
  std::mt19937 rng_;
  std::string work_dir_;
  absl::Time started_;
  std::unique_ptr<OwnMariadb> db_;
  std::unique_ptr<Watchdog> watchdog_;
  std::unique_ptr<Stack> stack_;
  std::vector<Replica> replicas_;
  std::vector<TestUser> users_;
  std::vector<Order> orders_;
  std::map<Plan, int> plans_;
  BankFacts facts_;
  std::map<std::string, std::string> sandbox_state_;

  std::atomic<bool> stop_load_{false};
  std::atomic<int> window_{0};
  absl::Time load_start_;
  std::vector<Window> windows_;  // main thread only
  absl::Duration settle_time_;
  std::ostringstream figures_;

  // The payment driver's (refunded_ is its own until it is joined).
  std::set<std::string> refunded_;
  absl::Mutex payments_mu_;
  int64_t duplicates_sent_ = 0;
  int64_t notify_errors_ = 0;
  std::map<int, int64_t> duplicate_deliveries_;  // HTTP status (0: no answer) -> deliveries
  std::map<int, int64_t> refund_deliveries_;
  int64_t notifications_stored_ = 0;  // t_payment_notification rows: distinct ids applied
};

TEST_F(ChaosBank, NoMoneyIsLostOrMadeUnderCrashesPausesAndProviderFaults) {
  ASSERT_NO_FATAL_FAILURE(StartStack());
  ASSERT_NO_FATAL_FAILURE(Seed());
  std::cout << "chaos: " << kUsers << " users, " << kOrders << " orders:";
  for (const auto& [plan, n] : plans_) std::cout << " " << PlanName(plan) << " " << n << ";";
  std::cout << "\n";

  auto driver_pool = stack_->db().NewPool(2, absl::Seconds(1));
  ASSERT_TRUE(driver_pool.ok()) << driver_pool.status();

  // ----- load + nemesis
  load_start_ = absl::Now();
  std::vector<CallStats> thread_stats(kLoadThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kLoadThreads; ++i) {
    threads.emplace_back([this, i, &thread_stats] { LoadLoop(i, &thread_stats[i]); });
  }
  std::thread payments([this, &driver_pool] { PaymentLoop(driver_pool->get()); });
  // The nemesis runs on this thread: replicas restarted from here live as long as it does.
  Nemesis();
  const bool nemesis_failed = HasFatalFailure();
  stop_load_.store(true);
  for (std::thread& t : threads) t.join();
  payments.join();
  const absl::Duration load_time = absl::Now() - load_start_;
  // Whatever happened, nobody stays paused and the sandbox is well again.
  for (const Replica& r : replicas_) {
    if (const pid_t pid = stack_->ServerPid(r.index); pid > 0) kill(pid, SIGCONT);
  }
  (void)stack_->sandbox().SetDefaults({{"latency_ms", 0}, {"faults", json::array()}});
  ASSERT_FALSE(nemesis_failed) << "the nemesis could not do its work (see above)";

  CallStats load;
  for (const CallStats& s : thread_stats) load.Merge(s);

  // ----- settle
  CallStats settle;
  ASSERT_NO_FATAL_FAILURE(Settle(&settle));
  for (int slot = 0; slot < kReplicas; ++slot) {
    EXPECT_TRUE(Serves(slot, absl::Seconds(3)))
        << "replica " << slot << " does not serve at the end";
  }

  // ----- what callers were told: "paid" only for paid orders, and never anything else after
  // a "paid" answer had reached a caller (real time, across replicas)
  {
    std::vector<Read> reads = load.reads;
    reads.insert(reads.end(), settle.reads.begin(), settle.reads.end());
    std::map<int, absl::Time> first_paid_answer;  // order -> earliest end of a paid answer
    for (const Read& r : reads) {
      if (!PaidCode(r.code)) continue;
      auto [it, inserted] = first_paid_answer.emplace(r.order, r.end);
      if (!inserted && r.end < it->second) it->second = r.end;
    }
    int reported = 0;
    int64_t bad_reads = 0;
    for (const Read& r : reads) {
      const std::string& no = orders_[r.order].no;
      std::string why;
      if (PaidCode(r.code) && facts_.paid.count(no) == 0) {
        why = absl::StrCat("answered ", r.code, " for an order the provider never had paid");
      }
      auto paid = first_paid_answer.find(r.order);
      if (!PaidCode(r.code) && paid != first_paid_answer.end() && r.start > paid->second) {
        why = absl::StrCat("answered ", r.code, " in a call that started ",
                           Ms(r.start - paid->second), " ms after a caller had been told paid");
      }
      if (why.empty()) continue;
      ++bad_reads;
      if (++reported <= 20) ADD_FAILURE() << "VIOLATION read " << no << ": " << why;
    }
    figures_ << "  read check: " << reads.size() << " answers, " << first_paid_answer.size()
             << " orders answered paid, " << bad_reads << " answers contradicting an earlier one\n";
  }

  // ----- check, in SQL, in one consistent snapshot on a fresh pool
  auto check_pool = stack_->db().NewPool(1, absl::Seconds(10));
  ASSERT_TRUE(check_pool.ok()) << check_pool.status();
  std::vector<Violation> violations;
  absl::Status st = storage::WithConnection(**check_pool, [&](storage::Connection& c) {
    LoadFacts(c, facts_);
    c.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT");
    violations = CheckInvariants(c);
    DatabaseFigures(c);
    c.Execute("ROLLBACK");
    return absl::OkStatus();
  });
  ASSERT_TRUE(st.ok()) << st;
  for (const Violation& v : violations) ADD_FAILURE() << "VIOLATION " << v;

  // ----- the checker itself: each rule must see a broken ledger (changes rolled back)
  std::map<std::string, std::string> sabotage_missed;
  int sabotages = 0;
  st = storage::WithConnection(**check_pool, [&](storage::Connection& c) {
    sabotage_missed.clear();
    struct Sabotage {
      const char* invariant;
      std::string sql;
    };
    const std::string paid = *facts_.paid.begin();
    const Sabotage kSabotage[] = {
        {kInvariants[0],
         absl::StrCat("DELETE FROM t_user_amount_log WHERE order_no = '", paid, "'")},
        {kInvariants[1],
         absl::StrCat(
             "INSERT INTO t_user_amount_log (user_id, order_no, entry_type, amount_before, "
             "delta, amount_after) SELECT user_id, order_no, 'RECHARGE2', amount_after, "
             "delta, amount_after + delta FROM t_user_amount_log WHERE order_no = '",
             paid, "'")},
        {kInvariants[3], "UPDATE t_user SET amount = amount + 1 ORDER BY id LIMIT 1"},
        {kInvariants[4],
         absl::StrCat("UPDATE t_user_amount_log SET amount_before = amount_before + 1, "
                      "amount_after = amount_after + 1 WHERE order_no = '",
                      paid, "'")},
        {kInvariants[6],
         absl::StrCat("UPDATE t_recharge_order SET credited = 0 WHERE order_no = '", paid, "'")},
    };
    sabotages = static_cast<int>(std::size(kSabotage));
    for (const Sabotage& s : kSabotage) {
      c.Execute("START TRANSACTION");
      c.Execute(s.sql);
      bool seen = false;
      for (const Violation& v : CheckInvariants(c, 1)) seen = seen || v.invariant == s.invariant;
      c.Execute("ROLLBACK");
      if (!seen) sabotage_missed[s.invariant] = s.sql;
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(st.ok()) << st;
  for (const auto& [rule, sql] : sabotage_missed) {
    ADD_FAILURE() << "the checker missed a broken ledger: rule \"" << rule << "\" after " << sql;
  }

  // ----- figures
  int64_t sent = 0, acked = 0, sandbox_requests = 0, sandbox_500 = 0;
  for (const Order& o : orders_) {
    auto stats = stack_->sandbox().Stats(o.no);
    if (!stats.ok()) continue;
    sent += stats->value("notifications_sent", int64_t{0});
    acked += stats->value("notifications_acked", int64_t{0});
    sandbox_requests += stats->value("requests", int64_t{0});
    if (stats->contains("statuses")) sandbox_500 += (*stats)["statuses"].value("500", int64_t{0});
  }
  std::ostringstream out;
  out << std::fixed << std::setprecision(1);
  out << "==== chaos figures (seed " << seed_ << ")\n";
  out << "  load: " << load.calls << " calls in " << Ms(load_time) / 1000.0 << " s by "
      << kLoadThreads << " threads on " << kReplicas << " replicas; " << Codes(load.by_status)
      << "\n";
  std::vector<std::string> business;
  for (const auto& [code, n] : load.by_business_code)
    business.push_back(absl::StrCat(code, ": ", n));
  out << "  answers (OK calls) by code: " << absl::StrJoin(business, ", ") << "\n";
  for (size_t w = 0; w < windows_.size(); ++w) {
    const Window& win = windows_[w];
    out << "  window " << w << " [" << win.name << "]";
    if (w > 0) {
      out << " t=" << Ms(win.start - load_start_) / 1000.0 << "-"
          << Ms(win.end - load_start_) / 1000.0 << "s";
    }
    out << ": " << Codes(load.by_window[static_cast<int>(w)]) << "\n";
  }
  for (int r = 0; r < kReplicas; ++r)
    out << "  replica " << r << ": " << Codes(load.by_replica[r]) << "\n";
  out << figures_.str();
  out << "  settle calls: " << Codes(settle.by_status) << "\n";
  {
    absl::MutexLock lock(&payments_mu_);
    std::vector<std::string> d;
    for (const auto& [status, n] : duplicate_deliveries_)
      d.push_back(absl::StrCat("HTTP ", status, ": ", n));
    out << "  notifications: sandbox sent " << sent << " deliveries, " << acked
        << " acknowledged (2xx); " << notifications_stored_ << " distinct ids stored, so "
        << acked - notifications_stored_
        << " acknowledged deliveries were duplicates (no second effect); the duplicate driver sent "
        << duplicates_sent_ << " notifications twice or three times at once ("
        << absl::StrJoin(d, ", ") << ")"
        << (notify_errors_ > 0 ? absl::StrCat(", ", notify_errors_, " not sent") : "") << "\n";
    std::vector<std::string> rd;
    for (const auto& [status, n] : refund_deliveries_) {
      rd.push_back(absl::StrCat("HTTP ", status, ": ", n));
    }
    out << "  refunds started by the run: " << refunded_.size()
        << ", each announced by a notification reading REFUND (" << absl::StrJoin(rd, ", ")
        << ")\n";
  }
  out << "  sandbox: " << sandbox_requests << " requests naming our orders, " << sandbox_500
      << " answered HTTP 500\n";
  out << "  checks: " << std::size(kInvariants) << " invariants, " << violations.size()
      << " violations; checker self-test: " << sabotages << " sabotages, " << sabotage_missed.size()
      << " missed\n";
  std::cout << out.str() << std::flush;
}

}  // namespace
}  // namespace orderquery::chaos
