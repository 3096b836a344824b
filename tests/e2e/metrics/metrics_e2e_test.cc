// Metrics end to end (issue 14): orderqueryd with admin.listen, a scripted set of calls, then
// GET /metrics parsed by the real Prometheus text parser (python3-prometheus-client) in
// check_metrics.py, which asserts the values the calls imply.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/harness/calls.h"
#include "tests/e2e/harness/stack.h"

namespace orderquery::e2e {
namespace {

using nlohmann::json;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

RechargeArgs Args(const TestUser& user, const std::string& order_no) {
  RechargeArgs a;
  a.appid = user.appid;
  a.token = user.token;
  a.order_no = order_no;
  return a;
}

json Expect(const std::string& sample, json labels, double value, const std::string& op = "==") {
  return {{"sample", sample}, {"labels", std::move(labels)}, {"value", value}, {"op", op}};
}

TEST(MetricsE2E, ScrapeAfterScriptedCallsParsesWithTheValuesTheCallsImply) {
  const int admin_port = FreePort();
  const int notify_port = FreePort();
  StackOptions o;
  o.name_hint = "metrics";
  o.config_patch = [&](json& c) {
    c["admin"] = {{"listen", "127.0.0.1:" + std::to_string(admin_port)}};
    c["notify"] = {{"listen", "127.0.0.1:" + std::to_string(notify_port)}};
  };
  auto started = Stack::Start(o);
  ASSERT_TRUE(started.ok()) << started.status();
  Stack& s = **started;

  // A paid recharge, credited once (then asked again: answered from storage).
  const int64_t kAmount = 2500;
  auto user = s.CreateUser(10000);
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(s.CreateRechargeOrder(*user, "MXPAID1", kAmount).ok());
  ASSERT_TRUE(s.UpsertWechatOrder(*user, "MXPAID1", kAmount,
                                  {{"trade_state", "SUCCESS"},
                                   {"transaction_id", "4200000001202606010001"},
                                   {"success_time", "2026-06-01T10:00:00+08:00"}})
                  .ok());
  RechargeResult paid = QueryRecharge(s.orders(), Args(*user, "MXPAID1"));
  ASSERT_TRUE(paid.status.ok()) << Describe(paid.status) << s.ServerLog();
  ASSERT_EQ(static_cast<int>(paid.response.code()), 0);
  RechargeResult again = QueryRecharge(s.orders(), Args(*user, "MXPAID1"));
  ASSERT_TRUE(again.status.ok());
  // 2047: an order nobody has.
  RechargeResult unknown = QueryRecharge(s.orders(), Args(*user, "MXNOSUCH"));
  ASSERT_TRUE(unknown.status.ok());
  ASSERT_EQ(static_cast<int>(unknown.response.code()), 2047);
  // UNAUTHENTICATED: a token nobody issued.
  TestUser stranger = *user;
  stranger.token = "no-such-token";
  RechargeResult unauth = QueryRecharge(s.orders(), Args(stranger, "MXPAID1"));
  ASSERT_EQ(unauth.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A reply whose signature does not verify: INTERNAL, counted as bad_signature.
  ASSERT_TRUE(s.CreateRechargeOrder(*user, "MXBADSIG", kAmount).ok());
  ASSERT_TRUE(s.UpsertWechatOrder(*user, "MXBADSIG", kAmount,
                                  {{"trade_state", "SUCCESS"},
                                   {"transaction_id", "4200000001202606010002"},
                                   {"success_time", "2026-06-01T10:00:00+08:00"},
                                   {"faults", json::array({{{"type", "wrong_signature"}}})}})
                  .ok());
  RechargeResult badsig = QueryRecharge(s.orders(), Args(*user, "MXBADSIG"));
  ASSERT_EQ(badsig.status.error_code(), grpc::StatusCode::INTERNAL) << Describe(badsig.status);
  // A notification without WeChat's signature headers: rejected, never applied.
  httplib::Client notify("127.0.0.1", notify_port);
  auto n = notify.Post("/notify/wechat/direct", R"({"id":"EV-1"})", "application/json");
  ASSERT_TRUE(n) << "notification listener unreachable";
  EXPECT_GE(n->status, 400);

  httplib::Client admin("127.0.0.1", admin_port);
  auto scrape = admin.Get("/metrics");
  ASSERT_TRUE(scrape) << "admin listener unreachable" << s.ServerLog();
  ASSERT_EQ(scrape->status, 200);
  EXPECT_EQ(scrape->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string file = ::testing::TempDir() + "metrics_e2e_scrape.txt";
  std::ofstream(file) << scrape->body;

  const std::string kRecharge = "/orderquery.v1.OrderQueryService/QueryRechargeOrder";
  json expectations = json::array({
      Expect("orderquery_rpc_requests_total", {{"method", kRecharge}, {"code", "OK"}}, 3),
      Expect("orderquery_rpc_requests_total", {{"method", kRecharge}, {"code", "UNAUTHENTICATED"}},
             1),
      Expect("orderquery_rpc_requests_total", {{"method", kRecharge}, {"code", "INTERNAL"}}, 1),
      Expect("orderquery_rpc_latency_seconds_count", {{"method", kRecharge}}, 5),
      Expect("orderquery_rpc_latency_seconds_bucket", {{"method", kRecharge}, {"le", "+Inf"}}, 5),
      Expect("orderquery_credits_total", json::object(), 1),
      Expect("orderquery_credited_fen_total", json::object(), kAmount),
      Expect("orderquery_credits_refused_total", json::object(), 0),
      Expect("orderquery_refunds_after_credit_total", json::object(), 0),
      // Two WeChat queries (paid, bad signature): the second paid call and the 2047 (no local
      // order) never went out. A reply that fails verification is still HTTP 200.
      Expect("orderquery_upstream_requests_total",
             {{"provider", "wechat"},
              {"merchant", "direct"},
              {"endpoint", "query_order"},
              {"outcome", "200"}},
             2),
      Expect("orderquery_upstream_latency_seconds_count",
             {{"provider", "wechat"}, {"endpoint", "query_order"}}, 2),
      Expect("orderquery_verification_failures_total",
             {{"provider", "wechat"}, {"reason", "bad_signature"}}, 1),
      Expect("orderquery_notifications_total", {{"result", "rejected"}}, 1),
      Expect("orderquery_notifications_total", {{"result", "verified"}}, 0),
      Expect("orderquery_db_pool_size", json::object(), s.options().db_pool_size),
      Expect("orderquery_db_pool_in_use", json::object(), 0, ">="),
      Expect("orderquery_db_pool_timeouts_total", json::object(), 0),
      Expect("orderquery_executor_queue_depth", json::object(), 0, ">="),
      Expect("orderquery_coalesced_joins_total", {{"flow", "recharge"}}, 0),
      // The session cache (on by default): the first call and the stranger's token missed.
      Expect("orderquery_cache_requests_total", {{"cache", "session"}, {"result", "miss"}}, 2,
             ">="),
      Expect("orderquery_cache_requests_total", {{"cache", "session"}, {"result", "hit"}}, 0, ">="),
  });
  // Debian's python3 (python3-prometheus-client is installed for it), not whatever is on PATH.
  const std::string cmd = std::string("/usr/bin/python3 ") + OQ_CHECK_METRICS_PY + " '" + file +
                          "' '" + expectations.dump() + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t got = fread(buf, 1, sizeof buf, p)) out.append(buf, got);
  const int rc = pclose(p);
  std::printf("%s", out.c_str());
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << out << "\n--- scrape ---\n" << scrape->body;
}

}  // namespace
}  // namespace orderquery::e2e
