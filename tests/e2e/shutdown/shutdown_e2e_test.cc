// Shutdown with calls in flight at every stage (issue 15, finding 8): orderqueryd gets SIGTERM
// while calls are queued on its executor (a table lock holds the only worker), waiting on an
// upstream that answers after minutes (sandbox latency), retrying an upstream that answers 500,
// and while an upstream query goes on after its caller left at its own deadline. It must exit 0
// within its grace period (not wait for the slow upstream), answer every call, and, in the asan
// build, without a sanitizer report: nothing may call back into the executor, the use cases or
// a merchant's configuration after they are gone. The dev build runs the same test (exit code,
// bound and answers); the asan build is where use-after-free would show.
#include <signal.h>
#include <sys/types.h>

#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "storage/mysql_pool.h"
#include "tests/e2e/harness/calls.h"
#include "tests/e2e/harness/stack.h"
#include "tests/e2e/harness/suite.h"

namespace orderquery::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kGraceMs = 1000;
// Far longer than the grace period: a shutdown that waited for this upstream would be seen.
constexpr int kSlowUpstreamMs = 120000;
// How long the test waits for the process to exit: many times the grace period (load and ASan
// make start and stop slow), well under kSlowUpstreamMs.
constexpr absl::Duration kExitBound = absl::Seconds(45);

// Waits (bounded) until `pred` holds; the bound only guards against a hang.
template <typename Pred>
bool Eventually(Pred pred, absl::Duration bound = absl::Seconds(30)) {
  const absl::Time give_up = absl::Now() + bound;
  while (absl::Now() < give_up) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return pred();
}

int FreeLoopbackPort() {
  httplib::Server probe;
  const int port = probe.bind_to_any_port("127.0.0.1");
  probe.stop();
  return port;
}

class ShutdownE2E : public StackSuite<ShutdownE2E> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "shutdown";
    o.servers = 0;  // each test starts its own, configured for it
    return o;
  }

 protected:
  static json TradeStats(const std::string& id) {
    auto r = stack().sandbox().Call("GET", "/__sandbox/stats?trade_order_id=" + id);
    if (!r.ok() || r->first != 200) return json::object();
    return json::parse(r->second, nullptr, false);
  }
  static int64_t WechatStat(const std::string& no, const char* key) {
    auto st = stack().sandbox().Stats(no);
    return st.ok() ? st->value(key, int64_t{0}) : 0;
  }
  // orderquery_executor_queue_depth from the admin listener; -1 when unreadable.
  static int64_t QueueDepth(int admin_port) {
    httplib::Client admin("127.0.0.1", admin_port);
    auto r = admin.Get("/metrics");
    if (!r || r->status != 200) return -1;
    for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
      if (!absl::ConsumePrefix(&line, "orderquery_executor_queue_depth ")) continue;
      double v = 0;
      if (absl::SimpleAtod(line, &v)) return static_cast<int64_t>(v);
    }
    return -1;
  }
};

TEST_F(ShutdownE2E, SigtermWithCallsInFlightAtEveryStageExitsCleanlyWithinTheGrace) {
  Stack& s = stack();
  // Upstream orders for each stage.
  ASSERT_TRUE(
      s.UpsertTradeOrder({{"tradeOrderId", "TSD_SLOW"}, {"latency_ms", kSlowUpstreamMs}}).ok());
  ASSERT_TRUE(
      s.UpsertTradeOrder({{"tradeOrderId", "TSD_LEFT"}, {"latency_ms", kSlowUpstreamMs}}).ok());
  ASSERT_TRUE(
      s.UpsertTradeOrder({{"tradeOrderId", "TSD_RETRY"}, {"faults", {{{"type", "http_500"}}}}})
          .ok());
  for (int i = 1; i <= 6; ++i) {
    ASSERT_TRUE(s.UpsertTradeOrder({{"tradeOrderId", absl::StrCat("TSD_QUEUED", i)}}).ok());
  }
  auto user = s.CreateUser(1000);
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(s.CreateRechargeOrder(*user, "RSD_SLOW", 100).ok());
  ASSERT_TRUE(s.UpsertWechatOrder(*user, "RSD_SLOW", 100, {{"latency_ms", kSlowUpstreamMs}}).ok());
  ASSERT_TRUE(s.CreateRechargeOrder(*user, "RSD_RETRY", 100).ok());
  ASSERT_TRUE(
      s.UpsertWechatOrder(*user, "RSD_RETRY", 100, {{"faults", {{{"type", "http_500"}}}}}).ok());

  const int admin_port = FreeLoopbackPort();
  ASSERT_GT(admin_port, 0);
  json config = s.BaseConfig();
  config["shutdown_grace_ms"] = kGraceMs;
  config["workers"] = 1;  // one blocked worker, and the rest of the work queues behind it
  config["admin"] = {{"listen", absl::StrCat("127.0.0.1:", admin_port)}};
  // Every attempt may wait for the slow upstream; 500s are retried for a long while.
  config["upstream"]["request_timeout_ms"] = kSlowUpstreamMs + 60000;
  config["upstream"]["max_attempts"] = 10;
  config["upstream"]["initial_backoff_ms"] = 1000;
  config["upstream"]["max_backoff_ms"] = 10000;
  auto index = s.AddServer(config);
  ASSERT_TRUE(index.ok()) << index.status();
  const int i = *index;

  auto trade = [&](const std::string& id, absl::Duration deadline) {
    return std::async(std::launch::async, [&s, i, id, deadline] {
      return GetTrade(s.trades(i), id, "", /*force_refresh=*/false, deadline);
    });
  };
  auto recharge = [&](const std::string& no) {
    RechargeArgs a;
    a.appid = user->appid;
    a.token = user->token;
    a.order_no = no;
    a.deadline = absl::Minutes(5);
    return std::async(std::launch::async, [&s, i, a] { return QueryRecharge(s.orders(i), a); });
  };

  // Waiting on a slow upstream: a leader and two followers sharing one request, and a recharge.
  std::vector<std::future<TradeResult>> trades;
  for (int k = 0; k < 3; ++k) trades.push_back(trade("TSD_SLOW", absl::Minutes(5)));
  std::vector<std::future<RechargeResult>> recharges;
  recharges.push_back(recharge("RSD_SLOW"));
  // A caller that leaves at its own deadline while its upstream query goes on.
  std::future<TradeResult> left = trade("TSD_LEFT", absl::Milliseconds(500));
  // Retrying: 500 after 500.
  trades.push_back(trade("TSD_RETRY", absl::Minutes(5)));
  recharges.push_back(recharge("RSD_RETRY"));

  ASSERT_TRUE(Eventually([&] {
    return TradeStats("TSD_SLOW").value("inflight", 0) == 1 &&
           TradeStats("TSD_LEFT").value("inflight", 0) == 1 &&
           WechatStat("RSD_SLOW", "inflight") == 1 &&
           TradeStats("TSD_RETRY").value("requests", 0) >= 2 &&
           WechatStat("RSD_RETRY", "requests") >= 2;
  })) << s.ServerLog(i);
  TradeResult left_result = left.get();
  EXPECT_EQ(left_result.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << Describe(left_result.status);

  // Queued on the executor: the one worker waits for a table lock held here, six calls behind.
  auto lease = s.pool().Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status();
  (*lease)->Execute("LOCK TABLES t_trade_order WRITE");
  std::vector<std::future<TradeResult>> queued;
  for (int k = 1; k <= 6; ++k) {
    queued.push_back(trade(absl::StrCat("TSD_QUEUED", k), absl::Minutes(5)));
  }
  ASSERT_TRUE(Eventually([&] { return QueueDepth(admin_port) >= 5; })) << s.ServerLog(i);
  // Every stage still in flight.
  EXPECT_EQ(TradeStats("TSD_SLOW").value("inflight", 0), 1);
  EXPECT_EQ(TradeStats("TSD_LEFT").value("inflight", 0), 1);
  EXPECT_EQ(WechatStat("RSD_SLOW", "inflight"), 1);

  const pid_t pid = s.ServerPid(i);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  ASSERT_TRUE(Eventually([&] {
    return s.ServerLog(i).find("event=shutdown_started") != std::string::npos;
  })) << s.ServerLog(i);
  // The queued work may go on now: the server is draining.
  (*lease)->Execute("UNLOCK TABLES");

  std::optional<int> code = s.WaitServer(i, kExitBound);
  ASSERT_TRUE(code.has_value()) << "orderqueryd did not exit within " << kExitBound
                                << " of SIGTERM (grace " << kGraceMs << " ms)\n"
                                << s.ServerLog(i);
  const std::string log = s.ServerLog(i);
  EXPECT_EQ(*code, 0) << log;
  EXPECT_THAT(log, HasSubstr("event=shutdown_complete"));
  EXPECT_THAT(log, Not(HasSubstr("AddressSanitizer")));
  EXPECT_THAT(log, Not(HasSubstr("LeakSanitizer")));
  EXPECT_THAT(log, Not(HasSubstr("runtime error:")));  // UBSan

  // Every call was answered: the slow and retrying ones with a failure (nothing came from
  // upstream), the queued ones however far they got. None hangs to its own deadline.
  for (auto& f : trades) {
    TradeResult r = f.get();
    EXPECT_FALSE(r.status.ok()) << "no answer came from upstream";
    EXPECT_NE(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << Describe(r.status);
  }
  for (auto& f : recharges) {
    RechargeResult r = f.get();
    EXPECT_FALSE(r.status.ok()) << "no answer came from upstream";
    EXPECT_NE(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << Describe(r.status);
  }
  for (auto& f : queued) {
    TradeResult r = f.get();
    EXPECT_NE(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << Describe(r.status);
  }
}

}  // namespace
}  // namespace orderquery::e2e
