// What a failed call tells its caller (issue 15, finding 4): a stable message and a correlation
// id (in the message and in trailing metadata `x-correlation-id`), never the database's host,
// user or name, MySQL's own text, configured key serials or merchant ids; those go to the log
// under the same id.
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpcpp/client_context.h"
#include "storage/mysql_pool.h"
#include "tests/e2e/harness/calls.h"
#include "tests/e2e/harness/stack.h"
#include "tests/e2e/harness/suite.h"

namespace orderquery::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

struct Failed {
  grpc::Status status;
  std::string correlation_id;  // the trailer
};

Failed Recharge(v1::OrderQueryService::Stub& stub, const TestUser& user, const std::string& no) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  ctx.AddMetadata("appid", user.appid);
  ctx.AddMetadata("token", user.token);
  v1::QueryRechargeOrderRequest req;
  req.set_order_no(no);
  v1::QueryRechargeOrderResponse resp;
  Failed out;
  out.status = stub.QueryRechargeOrder(&ctx, req, &resp);
  const auto& trailers = ctx.GetServerTrailingMetadata();
  if (auto it = trailers.find("x-correlation-id"); it != trailers.end()) {
    out.correlation_id.assign(it->second.data(), it->second.size());
  }
  return out;
}

// The one log line of `log` that carries `id`, "" when none does.
std::string LogLineOf(const std::string& log, const std::string& id) {
  std::string found;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (!absl::StrContains(line, absl::StrCat("correlation_id=", id))) continue;
    if (!found.empty()) return "(more than one line)";
    found = std::string(line);
  }
  return found;
}

// Where an operator finds a failed call's details from its correlation id: its rpc_failed line,
// or, for a failed upstream call, the upstream_failed line that line names (upstream_log_id=),
// which holds them once.
std::string DetailsOf(const std::string& log, const std::string& id) {
  const std::string rpc = LogLineOf(log, id);
  const std::string key = " upstream_log_id=";
  const size_t at = rpc.find(key);
  if (at == std::string::npos) return rpc;
  const size_t from = at + key.size();
  const std::string upstream = rpc.substr(from, rpc.find(' ', from) - from);
  std::string found;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (!absl::StrContains(line, "event=upstream_failed") ||
        !absl::StrContains(line, absl::StrCat("upstream_log_id=", upstream))) {
      continue;
    }
    if (!found.empty()) return "(more than one upstream line)";
    found = std::string(line);
  }
  return found;
}

// The id is in the trailer, at the end of the message, and on exactly one log line.
void ExpectCorrelated(const Failed& f, const std::string& log) {
  ASSERT_EQ(f.correlation_id.size(), 16u) << Describe(f.status);
  EXPECT_THAT(f.status.error_message(),
              HasSubstr(absl::StrCat("(correlation id ", f.correlation_id, ")")));
  EXPECT_THAT(LogLineOf(log, f.correlation_id), HasSubstr("event=rpc_failed"));
}

class ErrorsE2E : public StackSuite<ErrorsE2E> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "errors";
    return o;
  }
};

// WeChat signs with a key we do not have: the verifier's message lists the configured serials.
TEST_F(ErrorsE2E, UnverifiableReplyShowsNoConfiguredSerialOrMchid) {
  Stack& s = stack();
  auto user = s.CreateUser(0);
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(s.CreateRechargeOrder(*user, "ERRSERIAL", 100).ok());
  ASSERT_TRUE(s.UpsertWechatOrder(*user, "ERRSERIAL", 100,
                                  {{"trade_state", "SUCCESS"},
                                   {"faults", json::array({{{"type", "unknown_serial"}}})}})
                  .ok());

  Failed f = Recharge(s.orders(), *user, "ERRSERIAL");
  EXPECT_EQ(f.status.error_code(), grpc::StatusCode::INTERNAL) << Describe(f.status);
  EXPECT_THAT(f.status.error_message(), HasSubstr("verification")) << Describe(f.status);
  for (const std::string& secretish :
       {s.keys().platform_serial, s.keys().merchant_serial, std::string(kMchid)}) {
    ASSERT_FALSE(secretish.empty());
    EXPECT_THAT(f.status.error_message(), Not(HasSubstr(secretish))) << Describe(f.status);
  }
  ExpectCorrelated(f, s.ServerLog());
  // The operator finds the details under the id.
  EXPECT_THAT(DetailsOf(s.ServerLog(), f.correlation_id), HasSubstr(s.keys().platform_serial));
}

// An order placed with a merchant this service has no configuration for.
TEST_F(ErrorsE2E, MerchantConfigurationErrorShowsNoMchid) {
  Stack& s = stack();
  auto user = s.CreateUser(0);
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(s.CreateRechargeOrder(*user, "ERRMCHID", 100).ok());
  const std::string unknown_mchid = "1277700099";
  ASSERT_TRUE(storage::WithConnection(s.pool(), [&](storage::Connection& c) {
                auto& st = c.Prepare("UPDATE t_recharge_order SET mchid = ? WHERE order_no = ?");
                st.setString(1, unknown_mchid);
                st.setString(2, "ERRMCHID");
                st.executeUpdate();
                return absl::OkStatus();
              }).ok());

  Failed f = Recharge(s.orders(), *user, "ERRMCHID");
  EXPECT_EQ(f.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(f.status);
  EXPECT_THAT(f.status.error_message(), HasSubstr("not configured")) << Describe(f.status);
  EXPECT_THAT(f.status.error_message(), Not(HasSubstr(unknown_mchid))) << Describe(f.status);
  EXPECT_THAT(f.status.error_message(), Not(HasSubstr(kDirectAppid))) << Describe(f.status);
  ExpectCorrelated(f, s.ServerLog());
  EXPECT_THAT(LogLineOf(s.ServerLog(), f.correlation_id), HasSubstr(unknown_mchid));
}

// The database goes away under a running server (its user is dropped and its sessions killed,
// so every reconnect is refused): the status names no host, port, user or database.
TEST_F(ErrorsE2E, DatabaseOutageShowsNoHostUserOrDatabase) {
  Stack& s = stack();
  const storage::MysqlOptions& db = s.db().options();
  const std::string user_name = absl::StrCat("oqerr", getpid());
  auto admin = [&](const std::string& sql) {
    return storage::WithConnection(s.db().admin_pool(), [&](storage::Connection& c) {
      c.Execute(sql);
      return absl::OkStatus();
    });
  };
  // Same password as the stack's user: the harness passes that one by environment.
  ASSERT_TRUE(
      admin(absl::StrCat("CREATE USER '", user_name, "'@'%' IDENTIFIED BY '", db.password, "'"))
          .ok());
  ASSERT_TRUE(
      admin(absl::StrCat("GRANT ALL ON `", db.database, "`.* TO '", user_name, "'@'%'")).ok());
  json config = s.BaseConfig();
  config["db"]["user"] = user_name;
  config["db"]["pool_size"] = 1;
  config["db"]["acquire_timeout_ms"] = 2000;
  auto server = s.AddServer(config);
  ASSERT_TRUE(server.ok()) << server.status();

  auto user = s.CreateUser(0);
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(s.CreateRechargeOrder(*user, "ERRDBDOWN", 100).ok());
  ASSERT_TRUE(admin(absl::StrCat("DROP USER '", user_name, "'@'%'")).ok());
  std::vector<int64_t> sessions;
  ASSERT_TRUE(storage::WithConnection(s.db().admin_pool(), [&](storage::Connection& c) {
                auto& st =
                    c.Prepare("SELECT id FROM information_schema.processlist WHERE user = ?");
                st.setString(1, user_name);
                std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
                while (rs->next()) sessions.push_back(rs->getInt64(1));
                return absl::OkStatus();
              }).ok());
  for (int64_t id : sessions) (void)admin(absl::StrCat("KILL ", id));

  Failed f = Recharge(s.orders(*server), *user, "ERRDBDOWN");
  EXPECT_EQ(f.status.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(f.status);
  for (const std::string& detail :
       {user_name, db.database, absl::StrCat(db.host, ":", db.port), std::string("Access denied"),
        std::string("MySQL"), std::string("MariaDB")}) {
    EXPECT_THAT(f.status.error_message(), Not(HasSubstr(detail))) << Describe(f.status);
  }
  ExpectCorrelated(f, s.ServerLog(*server));
  EXPECT_THAT(LogLineOf(s.ServerLog(*server), f.correlation_id), HasSubstr(user_name));
  s.StopServer(*server);
}

// Messages written for the caller pass unchanged and carry no id: there is nothing to look up.
TEST_F(ErrorsE2E, CallerErrorsKeepTheirMessage) {
  Stack& s = stack();
  TestUser nobody{0, kDirectAppid, "no-such-token"};
  Failed f = Recharge(s.orders(), nobody, "ERRTOKEN");
  EXPECT_EQ(f.status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(f.status);
  EXPECT_THAT(f.status.error_message(), HasSubstr("token"));
  EXPECT_EQ(f.correlation_id, "");
}

}  // namespace
}  // namespace orderquery::e2e
