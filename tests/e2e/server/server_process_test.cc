// orderqueryd started as a real process against a real MariaDB: what an operator sees.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "client/orderquery_client.h"
#include "gmock/gmock.h"
#include "grpc_reflection_v1alpha/reflection.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "storage/migrations.h"
#include "tests/fakes/sandbox_process.h"
#include "tests/support/child_process.h"
#include "tests/support/test_database.h"

namespace orderquery {
namespace {

using testing::ChildProcess;
using ::testing::HasSubstr;
using ::testing::Not;
namespace refl = grpc::reflection::v1alpha;

// ctest runs each test in a process of its own, two at a time, and TempDir() is the shared /tmp:
// the pid keeps one test's config from overwriting another's of the same name.
std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = absl::StrCat(::testing::TempDir(), "/oq-server-test-", getpid(), "-", name);
  std::ofstream(path) << text;
  return path;
}

std::string DbJson(const storage::MysqlOptions& o) {
  return absl::StrCat(R"("db": {"host": ")", o.host, R"(", "port": )", o.port, R"(, "user": ")",
                      o.user, R"(", "database": ")", o.database, R"(", "pool_size": 4})");
}

// Starts orderqueryd with `config_json`; the DB password goes through the environment.
absl::StatusOr<std::unique_ptr<ChildProcess>> StartServer(const std::string& config_json,
                                                          const std::string& password,
                                                          std::vector<std::string> extra = {}) {
  static int n = 0;
  std::string path = WriteFile(absl::StrCat("orderqueryd", ++n, ".json"), config_json);
  std::vector<std::string> argv = {OQ_ORDERQUERYD, "--config", path};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return ChildProcess::Start(argv, {{"ORDERQUERY_DB_PASSWORD", password}});
}

std::string Target(const std::string& listening_line) {
  return listening_line.substr(std::string("orderqueryd listening on ").size());
}

// Starts a MariaDB of the test's own in `dir` (stopping it harms no other test) and creates the
// empty database `name` there: its connection settings, `name` selected.
absl::StatusOr<storage::MysqlOptions> StartOwnMariadb(const std::string& dir,
                                                      const std::string& name) {
  const std::string start = absl::StrCat("bash ", OQ_MARIADB_SCRIPT, " start ", dir, " >/dev/null");
  if (std::system(start.c_str()) != 0) return absl::InternalError("failed: " + start);
  absl::StatusOr<storage::MysqlOptions> own = test_support::ReadMariadbEnv(dir + "/env");
  if (!own.ok()) return own.status();
  own->database = name;
  const std::string create =
      absl::StrCat("mariadb --defaults-file=", dir, "/client.cnf -e 'CREATE DATABASE ", name, "'");
  if (std::system(create.c_str()) != 0) return absl::InternalError("failed: " + create);
  return own;
}

class ServerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test_support::TestDatabaseOptions o;
    o.name_hint = "srv";
    o.migrate = false;  // orderqueryd applies them
    auto db = test_support::TestDatabase::Create(o);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }
  std::string BaseConfig(const std::string& extra = "") {
    return absl::StrCat("{", R"("listen": "127.0.0.1:0", "health_interval_ms": 200, )",
                        DbJson(db_->options()), extra, "}");
  }
  std::unique_ptr<test_support::TestDatabase> db_;
};

TEST_F(ServerProcessTest, StartsMigratesServesHealthAndReflection) {
  auto server = StartServer(BaseConfig(), db_->options().password);
  ASSERT_TRUE(server.ok()) << server.status();
  auto line = (*server)->WaitForLine("orderqueryd listening on", absl::Seconds(20));
  ASSERT_TRUE(line.ok()) << line.status();

  // Migrations were applied at start-up.
  auto applied = storage::ListAppliedMigrations(db_->pool());
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->size(), storage::EmbeddedMigrations().size());

  client::ClientOptions opts;
  opts.target = Target(*line);
  auto c = client::OrderQueryClient::Create(opts);
  ASSERT_TRUE(c.ok());
  auto health = (*c)->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "SERVING");

  // Reflection lists both services and resolves their descriptors.
  auto stub = refl::ServerReflection::NewStub((*c)->channel());
  grpc::ClientContext ctx;
  auto stream = stub->ServerReflectionInfo(&ctx);
  refl::ServerReflectionRequest req;
  req.set_list_services("");
  ASSERT_TRUE(stream->Write(req));
  refl::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  std::vector<std::string> names;
  for (const auto& s : resp.list_services_response().service()) names.push_back(s.name());
  EXPECT_THAT(
      names, ::testing::IsSupersetOf({"orderquery.v1.OrderQueryService",
                                      "orderquery.v1.TradeOrderService", "grpc.health.v1.Health"}));
  req.set_file_containing_symbol("orderquery.v1.OrderQueryService");
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_GT(resp.file_descriptor_response().file_descriptor_proto_size(), 0) << resp.DebugString();
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());

  (*server)->Signal(SIGTERM);
  auto code = (*server)->Wait(absl::Seconds(15));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_THAT((*server)->Stderr(), HasSubstr("event=shutdown_complete"));
}

TEST_F(ServerProcessTest, SigtermLetsTheCallInFlightFinish) {
  auto keys = fakes::MakeTestKeys(::testing::TempDir() + "/drain-keys", false);
  ASSERT_TRUE(keys.ok()) << keys.status();
  auto sandbox = fakes::SandboxProcess::Start(fakes::SandboxProcess::Options::FromKeys(*keys));
  ASSERT_TRUE(sandbox.ok()) << sandbox.status();
  // The trade API's own defaults (POST /__sandbox/defaults would slow the WeChat module only).
  auto slow = (*sandbox)->Call("POST", "/__sandbox/trade_defaults", R"({"latency_ms": 1500})");
  ASSERT_TRUE(slow.ok() && slow->first == 200)
      << (slow.ok() ? slow->second : slow.status().ToString());
  auto server =
      StartServer(BaseConfig(absl::StrCat(
                      R"(, "shutdown_grace_ms": 10000, "trade": {"default_merchant": "shop",)",
                      R"( "merchants": {"shop": {"base_url": ")", (*sandbox)->base_url(),
                      R"(", "mch_id": "20000000", "key": "sandbox-trade-key"}}})")),
                  db_->options().password);
  ASSERT_TRUE(server.ok());
  auto line = (*server)->WaitForLine("orderqueryd listening on", absl::Seconds(20));
  ASSERT_TRUE(line.ok()) << line.status();
  client::ClientOptions opts;
  opts.target = Target(*line);
  opts.deadline = absl::Seconds(10);
  opts.max_attempts = 1;
  auto c = client::OrderQueryClient::Create(opts);
  ASSERT_TRUE(c.ok());

  auto call = std::async(std::launch::async,
                         [&] { return (*c)->GetTradeOrder("E01201908230414433510006"); });
  // SIGTERM only once the call is waiting on the slow upstream: a fixed sleep could signal before
  // the call reached the server on a loaded machine, and test refusal instead of draining.
  bool waiting_upstream = false;
  for (int i = 0; i < 200 && !waiting_upstream; ++i) {
    absl::StatusOr<nlohmann::json> st = (*sandbox)->Stats();
    waiting_upstream = st.ok() && st->value("inflight", 0) >= 1;
    if (!waiting_upstream) absl::SleepFor(absl::Milliseconds(25));
  }
  ASSERT_TRUE(waiting_upstream) << "the call never reached the sandbox: "
                                << (*sandbox)->Stats().value_or(nlohmann::json()).dump() << "\n"
                                << (*server)->Stderr();
  const absl::Time sent = absl::Now();
  (*server)->Signal(SIGTERM);
  auto r = call.get();
  ASSERT_TRUE(r.ok()) << r.status() << "\n" << (*server)->Stderr();
  EXPECT_EQ(r->data().trade_order_id(), "E01201908230414433510006");
  auto code = (*server)->Wait(absl::Seconds(15));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_LT(absl::Now() - sent, absl::Seconds(8)) << "drain took the whole grace period";
  EXPECT_THAT((*server)->Stderr(), HasSubstr("event=shutdown_started signal=SIGTERM"));
}

TEST_F(ServerProcessTest, HealthFollowsTheDatabase) {
  // A MariaDB of this test's own, so that stopping it harms no other test.
  const std::string dir = ::testing::TempDir() + "/own-mariadb";
  auto own = StartOwnMariadb(dir, "srvhealth");
  ASSERT_TRUE(own.ok()) << own.status();
  auto server = StartServer(
      absl::StrCat(R"({"listen": "127.0.0.1:0", "health_interval_ms": 200, )", DbJson(*own), "}"),
      own->password);
  ASSERT_TRUE(server.ok());
  auto line = (*server)->WaitForLine("orderqueryd listening on", absl::Seconds(20));
  ASSERT_TRUE(line.ok()) << line.status();
  client::ClientOptions opts;
  opts.target = Target(*line);
  opts.max_attempts = 1;
  auto c = client::OrderQueryClient::Create(opts);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->Health().value_or("?"), "SERVING");

  ASSERT_EQ(
      std::system(absl::StrCat("bash ", OQ_MARIADB_SCRIPT, " stop ", dir, " >/dev/null").c_str()),
      0);
  std::string status;
  for (int i = 0; i < 100 && status != "NOT_SERVING"; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    status = (*c)->Health().value_or("?");
  }
  EXPECT_EQ(status, "NOT_SERVING");
  EXPECT_THAT((*server)->Stderr(), HasSubstr("event=db_unreachable"));
}

// Issue 15, finding 10: health follows the pool's own connect failures and successes at once (the
// periodic ping is a minute away here), and a database that is down for many calls logs its
// connect failure once per interval, not once per call.
TEST_F(ServerProcessTest, HealthFollowsCallsAtOnceAndAnOutageLogsNotEveryCall) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/own-mariadb-", getpid());
  struct StopMariadb {
    std::string command;
    ~StopMariadb() { std::system(command.c_str()); }
  } stop_at_end{absl::StrCat("bash ", OQ_MARIADB_SCRIPT, " stop ", dir, " >/dev/null")};
  auto own = StartOwnMariadb(dir, "srvhealthnow");
  ASSERT_TRUE(own.ok()) << own.status();
  auto server = StartServer(
      absl::StrCat(R"({"listen": "127.0.0.1:0", "health_interval_ms": 60000, )", DbJson(*own), "}"),
      own->password);
  ASSERT_TRUE(server.ok());
  auto line = (*server)->WaitForLine("orderqueryd listening on", absl::Seconds(20));
  ASSERT_TRUE(line.ok()) << line.status();
  client::ClientOptions opts;
  opts.target = Target(*line);
  opts.max_attempts = 1;
  auto c = client::OrderQueryClient::Create(opts);
  ASSERT_TRUE(c.ok());
  // A token nobody issued: UNAUTHENTICATED once the database answered, UNAVAILABLE while it is
  // down.
  auto call = [&] {
    return (*c)->QueryRechargeOrder("wx1", "no-such-token", "A1").status().code();
  };
  EXPECT_EQ(call(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*c)->Health().value_or("?"), "SERVING");

  // Kill the server (SIGKILL: no goodbye to the clients) and wait until it is gone; its command
  // line starts it again on the same datadir and port afterwards.
  std::ifstream pid_file(dir + "/mariadbd.pid");
  pid_t pid = 0;
  ASSERT_TRUE(pid_file >> pid);
  std::ifstream cmdline_file(absl::StrCat("/proc/", pid, "/cmdline"));
  std::string relaunch = "setsid";
  std::vector<std::string> stale_files;
  for (std::string arg; std::getline(cmdline_file, arg, '\0');) {
    absl::StrAppend(&relaunch, " '", arg, "'");  // the script's arguments hold no quote
    for (absl::string_view flag : {"--socket=", "--pid-file="}) {
      if (absl::StartsWith(arg, flag)) stale_files.push_back(arg.substr(flag.size()));
    }
  }
  ASSERT_EQ(stale_files.size(), 2u) << relaunch;
  absl::StrAppend(&relaunch, " </dev/null >>", dir, "/mariadbd.out 2>&1 &");
  auto gone = [pid] {
    std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
    std::string pid_field, name, state;
    return !(stat >> pid_field >> name >> state) || state == "Z";
  };
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  for (int i = 0; i < 300 && !gone(); ++i) absl::SleepFor(absl::Milliseconds(100));
  ASSERT_TRUE(gone()) << "mariadbd " << pid << " survived SIGKILL";

  constexpr int kCalls = 30;
  for (int i = 0; i < kCalls; ++i) EXPECT_EQ(call(), absl::StatusCode::kUnavailable) << i;
  EXPECT_EQ((*c)->Health().value_or("?"), "NOT_SERVING");
  const std::string err = (*server)->Stderr();
  size_t connect_failed = 0;
  for (size_t at = err.find("event=mysql.connect_failed"); at != std::string::npos;
       at = err.find("event=mysql.connect_failed", at + 1)) {
    ++connect_failed;
  }
  EXPECT_GE(connect_failed, 1u);
  // One line per 10 s: 30 loopback calls that fail at once would need minutes to earn 5.
  EXPECT_LE(connect_failed, 5u) << err;

  for (const std::string& f : stale_files) std::remove(f.c_str());
  ASSERT_EQ(std::system(relaunch.c_str()), 0);
  const std::string ping = absl::StrCat("mariadb-admin --defaults-file=", dir,
                                        "/client.cnf --protocol=tcp --connect-timeout=2 ping "
                                        ">/dev/null 2>&1");
  bool up = false;
  for (int i = 0; i < 300 && !up; ++i) {
    up = std::system(ping.c_str()) == 0;
    if (!up) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(up) << "mariadbd did not come back";
  EXPECT_EQ(call(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*c)->Health().value_or("?"), "SERVING");
  EXPECT_EQ((*server)->Stop(absl::Seconds(10)), 0);
}

TEST_F(ServerProcessTest, BadConfigExitsWithOneLineNamingTheKey) {
  auto server =
      StartServer(BaseConfig(R"(, "upstream": {"max_attempts": 0})"), db_->options().password);
  ASSERT_TRUE(server.ok());
  auto code = (*server)->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 2);
  std::string err = (*server)->Stderr();
  EXPECT_EQ(err,
            "orderqueryd: config: upstream.max_attempts (ORDERQUERY_UPSTREAM_MAX_ATTEMPTS): "
            "must be between 1 and 10 (got 0)\n");

  // An environment override is checked the same way.
  auto env_bad =
      ChildProcess::Start({OQ_ORDERQUERYD, "--config", WriteFile("ok.json", BaseConfig())},
                          {{"ORDERQUERY_REFLECTION", "maybe"}});
  ASSERT_TRUE(env_bad.ok());
  EXPECT_EQ((*env_bad)->Wait(absl::Seconds(10)).value_or(-1), 2);
  EXPECT_THAT((*env_bad)->Stderr(),
              HasSubstr("reflection (ORDERQUERY_REFLECTION): must be true or false"));
}

TEST_F(ServerProcessTest, UnreadableMerchantKeyFailsStartNamingIt) {
  auto server = StartServer(
      BaseConfig(R"(, "wechat": {"merchants": {"demo": {"appids": ["wx1"], "mchid": "1230000109",
          "serial_no": "S", "private_key_file": "/nonexistent/apiclient_key.pem",
          "public_key_id": "PUB_KEY_ID_1", "public_key_file": "/nonexistent/pub.pem"}}})"),
      db_->options().password);
  ASSERT_TRUE(server.ok());
  EXPECT_EQ((*server)->Wait(absl::Seconds(10)).value_or(-1), 2);
  EXPECT_THAT((*server)->Stderr(), HasSubstr("wechat.merchants.demo.private_key_file "
                                             "(ORDERQUERY_WECHAT_MERCHANTS_DEMO_PRIVATE_KEY_FILE): "
                                             "cannot read file /nonexistent/apiclient_key.pem"));
}

// Issue 15, finding 1: a merchant key handed over as text (env) and malformed in one of the usual
// ways fails start-up naming the config key; no part of the key reaches stderr. A leading newline
// is no malformation (PEM allows text before the armour): that key starts the server.
TEST_F(ServerProcessTest, MalformedPemKeyInTheEnvironmentNeverReachesTheLog) {
  auto read = [](const std::string& name) {
    std::ifstream in(std::string(OQ_WECHAT_TESTDATA) + "/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  const std::string key = read("merchant_key.pem");
  ASSERT_THAT(key, HasSubstr("-----BEGIN PRIVATE KEY-----\n"));
  std::string body = key.substr(key.find('\n') + 1);
  body = body.substr(0, body.find("-----END"));
  const std::string config = BaseConfig(absl::StrCat(
      R"(, "wechat": {"merchants": {"demo": {"appids": ["wx1"], "mchid": "1230000109",
          "serial_no": "S", "base_url": "http://127.0.0.1:1", "public_key_id": "PUB_KEY_ID_1",
          "public_key_file": ")",
      OQ_WECHAT_TESTDATA, R"(/wechatpay_pub.pem"}}})"));
  struct Form {
    std::string name;
    std::string pem;
    bool starts;
  };
  const Form forms[] = {
      {"escaped_newlines", absl::StrReplaceAll(key, {{"\n", "\\n"}}), false},
      {"leading_newline", "\n" + key, true},
      {"encrypted", read("encrypted_key.pem"), false},
      {"rsa_1024", read("small_key.pem"), false},
      {"no_armour", body, false},
      {"truncated", key.substr(0, key.size() / 2), false},
  };
  for (const Form& f : forms) {
    SCOPED_TRACE(f.name);
    auto server =
        ChildProcess::Start({OQ_ORDERQUERYD, "--config", WriteFile(f.name + ".json", config)},
                            {{"ORDERQUERY_DB_PASSWORD", db_->options().password},
                             {"ORDERQUERY_WECHAT_MERCHANTS_DEMO_PRIVATE_KEY_PEM", f.pem}});
    ASSERT_TRUE(server.ok()) << server.status();
    if (f.starts) {
      ASSERT_TRUE((*server)->WaitForLine("orderqueryd listening on", absl::Seconds(20)).ok())
          << (*server)->Stderr();
      EXPECT_EQ((*server)->Stop(absl::Seconds(10)), 0);
    } else {
      EXPECT_EQ((*server)->Wait(absl::Seconds(20)).value_or(-1), 1);
    }
    const std::string err = (*server)->Stderr();
    if (!f.starts) {
      EXPECT_THAT(err, HasSubstr("event=startup_failed"));
      EXPECT_THAT(err, HasSubstr("wechat.merchants.demo.private_key_pem"));
    }
    EXPECT_THAT(err, Not(HasSubstr("BEGIN")));
    // No line of any key's base64 body, escaped or not.
    for (const std::string& pem : {f.pem, key}) {
      for (absl::string_view line :
           absl::StrSplit(absl::StrReplaceAll(pem, {{"\\n", "\n"}}), '\n')) {
        if (line.size() < 16 || absl::StartsWith(line, "-----")) continue;
        EXPECT_THAT(err, Not(HasSubstr(std::string(line.substr(0, 16)))));
      }
    }
  }
}

TEST_F(ServerProcessTest, UnreachableDatabaseGivesAClearError) {
  const int port = testing::FreePort();
  auto server = StartServer(
      absl::StrCat(R"({"listen": "127.0.0.1:0", "db": {"host": "127.0.0.1", "port": )", port,
                   R"(, "user": "x", "database": "y", "startup_timeout_ms": 600}})"),
      "pw");
  ASSERT_TRUE(server.ok());
  auto code = (*server)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  std::string err = (*server)->Stderr();
  EXPECT_THAT(err, HasSubstr("event=startup_failed"));
  EXPECT_THAT(err, HasSubstr(absl::StrCat("database 127.0.0.1:", port, "/y")));
  EXPECT_THAT(err, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(err, ::testing::Not(HasSubstr("pw")));  // the password never reaches a log
}

TEST_F(ServerProcessTest, MigrateOnlyFromTwoProcessesAtOnce) {
  const std::string cfg = WriteFile("migrate.json", BaseConfig());
  const std::map<std::string, std::string> env = {
      {"ORDERQUERY_DB_PASSWORD", db_->options().password}};
  auto a = ChildProcess::Start({OQ_ORDERQUERYD, "--config", cfg, "--migrate-only"}, env);
  auto b = ChildProcess::Start({OQ_ORDERQUERYD, "--config", cfg, "--migrate-only"}, env);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->Wait(absl::Seconds(30)).value_or(-1), 0) << (*a)->Stderr();
  EXPECT_EQ((*b)->Wait(absl::Seconds(30)).value_or(-1), 0) << (*b)->Stderr();
  auto applied = storage::ListAppliedMigrations(db_->pool());
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->size(), storage::EmbeddedMigrations().size());
  // And once more: a no-op.
  auto c = ChildProcess::Start({OQ_ORDERQUERYD, "--config", cfg, "--migrate-only"}, env);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->Wait(absl::Seconds(30)).value_or(-1), 0);
  auto again = storage::ListAppliedMigrations(db_->pool());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->size(), applied->size());
}

TEST(ServerHelpTest, ListsEveryKeyWithItsEnvName) {
  auto p = ChildProcess::Start({OQ_ORDERQUERYD, "--help"});
  ASSERT_TRUE(p.ok());
  auto line = (*p)->WaitForLine("  db.password", absl::Seconds(5));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(*line, HasSubstr("[ORDERQUERY_DB_PASSWORD]"));
  EXPECT_EQ((*p)->Wait(absl::Seconds(5)).value_or(-1), 0);
}

}  // namespace
}  // namespace orderquery
