// The WeChat adapter's close API and notifications against the payment sandbox over loopback:
// HttpWechatPayClient::CloseOrder through the real transport, and notifications the sandbox
// sends (on demand, each bad variant, duplicates, automatically with retries) received by a
// small HTTP server here and read with ParseNotification.
#include <httplib.h>

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/payment/http/transport_stack.h"
#include "server/payment/wechat/client.h"
#include "server/payment/wechat/errors.h"
#include "server/payment/wechat/notification.h"
#include "tests/fakes/sandbox_process.h"
#include "tests/integration/http/test_util.h"

namespace orderquery::payment::wechat {
namespace {

using ::nlohmann::json;
using ::orderquery::fakes::SandboxProcess;
using ::orderquery::fakes::TestKeys;
using ::testing::HasSubstr;

constexpr char kMchid[] = "1230000109";
constexpr char kSubMchid[] = "1900000109";
constexpr char kAppid[] = "wxd678efh567hg6787";

// Receives notifications on loopback: records each POST and answers with the next status of
// its script (then `fallback`).
class Receiver {
 public:
  struct Received {
    std::string timestamp, nonce, signature, serial, content_type, body;
  };

  Receiver() {
    server_.Post("/notify", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      received_.push_back(Received{
          req.get_header_value("Wechatpay-Timestamp"), req.get_header_value("Wechatpay-Nonce"),
          req.get_header_value("Wechatpay-Signature"), req.get_header_value("Wechatpay-Serial"),
          req.get_header_value("Content-Type"), req.body});
      int status = fallback_;
      if (!script_.empty()) {
        status = script_.front();
        script_.erase(script_.begin());
      }
      res.status = status;
      if (status >= 300) {
        res.set_content(R"({"code":"FAIL","message":"try again"})", "application/json");
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }

  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_, "/notify"); }
  void Answer(std::vector<int> script, int fallback = 204) {
    std::lock_guard<std::mutex> lock(mu_);
    script_ = std::move(script);
    fallback_ = fallback;
  }
  std::vector<Received> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  // Waits until `n` POSTs arrived (or `timeout` passed); returns how many did.
  size_t WaitFor(size_t n, absl::Duration timeout = absl::Seconds(10)) {
    const absl::Time give_up = absl::Now() + timeout;
    while (received().size() < n && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(10));
    return received().size();
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Received> received_;
  std::vector<int> script_;
  int fallback_ = 204;
};

class WechatSandboxTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(http::testutil::TempDir("wechat-sandbox"));
    absl::StatusOr<TestKeys> keys = fakes::MakeTestKeys(*dir_);
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = new TestKeys(*keys);
    absl::StatusOr<std::unique_ptr<SandboxProcess>> s =
        SandboxProcess::Start(SandboxProcess::Options::FromKeys(*keys_));
    ASSERT_TRUE(s.ok()) << s.status();
    sandbox_ = s->release();
  }

  static void TearDownTestSuite() {
    delete sandbox_;
    sandbox_ = nullptr;
    if (dir_ != nullptr) http::testutil::RemoveTree(*dir_);
    delete dir_;
    delete keys_;
  }

  void SetUp() override {
    ASSERT_NE(sandbox_, nullptr);
    ASSERT_EQ(keys_->apiv3_key.size(), 32u);
    ASSERT_TRUE(sandbox_->Reset().ok());
    http::TransportOptions options;
    options.retry.initial_backoff = absl::Milliseconds(10);
    absl::StatusOr<std::unique_ptr<http::TransportStack>> t = http::TransportStack::Create(options);
    ASSERT_TRUE(t.ok()) << t.status();
    transport_ = *std::move(t);
    client_ = std::make_unique<HttpWechatPayClient>(transport_.get());
    direct_ = Merchant(ApiMode::kDirect);
    partner_ = Merchant(ApiMode::kPartner);
  }

  // A merchant as orderqueryd loads it: public-key mode with the sandbox's platform key, the
  // APIv3 key from make-keys.sh's file.
  static MerchantConfig Merchant(ApiMode mode) {
    MerchantConfig m;
    m.name = mode == ApiMode::kDirect ? "direct" : "partner";
    m.appids = {kAppid};
    m.mode = mode;
    m.mchid = kMchid;
    if (mode == ApiMode::kPartner) m.sub_mchid = kSubMchid;
    m.serial_no = keys_->merchant_serial;
    m.base_url = sandbox_->base_url();
    MerchantKeySources sources;
    sources.private_key = keys_->merchant_private_key;
    sources.public_key_id = keys_->platform_serial;
    sources.public_key = keys_->platform_public_key;
    sources.apiv3_key = keys_->dir + "/apiv3_key.txt";
    absl::StatusOr<MerchantConfig> loaded = LoadMerchantKeys(m, sources);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return loaded.value_or(m);
  }

  absl::Status Close(const MerchantConfig& m, const std::string& no,
                     const std::string& sub_mchid = "") {
    auto done = std::make_shared<std::promise<absl::Status>>();
    std::future<absl::Status> result = done->get_future();
    client_->CloseOrder(m, no, sub_mchid, absl::Now() + absl::Seconds(10),
                        [done](absl::Status s) { done->set_value(std::move(s)); });
    return result.get();
  }

  absl::StatusOr<Transaction> Query(const MerchantConfig& m, const std::string& no) {
    auto done = std::make_shared<std::promise<absl::StatusOr<Transaction>>>();
    auto result = done->get_future();
    client_->QueryOrder(m, no, absl::Now() + absl::Seconds(10),
                        [done](absl::StatusOr<Transaction> t) { done->set_value(std::move(t)); });
    return result.get();
  }

  static json Order(const std::string& no, const std::string& state,
                    const std::string& kind = "direct") {
    return {{"out_trade_no", no}, {"kind", kind},  {"mchid", kMchid},     {"sub_mchid", kSubMchid},
            {"appid", kAppid},    {"amount", 990}, {"trade_state", state}};
  }

  static uint64_t Counter(const std::string& no, const std::string& name) {
    absl::StatusOr<json> stats = sandbox_->Stats(no);
    EXPECT_TRUE(stats.ok()) << stats.status();
    return stats.ok() ? stats->value(name, uint64_t{0}) : 0;
  }
  // Counter once it reaches `want` or 5 s pass: the sandbox counts a delivery when the
  // receiver's answer is back, which is after the receiver has seen the request.
  static uint64_t CounterOnceDelivered(const std::string& no, const std::string& name,
                                       uint64_t want) {
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    uint64_t n = Counter(no, name);
    while (n < want && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
      n = Counter(no, name);
    }
    return n;
  }

  absl::StatusOr<Notification> Parse(const MerchantConfig& m, const Receiver::Received& r) {
    return ParseNotification(m, r.timestamp, r.nonce, r.signature, r.serial, r.body, absl::Now());
  }

  static std::string* dir_;
  static TestKeys* keys_;
  static SandboxProcess* sandbox_;
  std::unique_ptr<http::TransportStack> transport_;
  std::unique_ptr<HttpWechatPayClient> client_;
  MerchantConfig direct_;
  MerchantConfig partner_;
};

std::string* WechatSandboxTest::dir_ = nullptr;
TestKeys* WechatSandboxTest::keys_ = nullptr;
SandboxProcess* WechatSandboxTest::sandbox_ = nullptr;

TEST_F(WechatSandboxTest, CloseOrderOutcomes) {
  ASSERT_TRUE(sandbox_
                  ->UpsertOrder(json::array({
                      Order("C_NOTPAY", "NOTPAY"),
                      Order("C_PAYING", "USERPAYING", "partner"),
                      Order("C_CLOSED", "CLOSED"),
                      Order("C_PAID", "SUCCESS"),
                      Order("C_REFUND", "REFUND", "partner"),
                  }))
                  .ok());
  struct Case {
    const char* no;
    const MerchantConfig* merchant;
    absl::StatusCode want;
    std::optional<std::string> want_code;
    std::string state_after;  // "" when the order does not exist
    uint64_t closes;
  } cases[] = {
      {"C_NOTPAY", &direct_, absl::StatusCode::kOk, std::nullopt, "CLOSED", 1},
      {"C_PAYING", &partner_, absl::StatusCode::kOk, std::nullopt, "CLOSED", 1},
      {"C_CLOSED", &direct_, absl::StatusCode::kOk, std::nullopt, "CLOSED", 1},
      {"C_PAID", &direct_, absl::StatusCode::kFailedPrecondition, "ORDERPAID", "SUCCESS", 0},
      {"C_REFUND", &partner_, absl::StatusCode::kFailedPrecondition, "ORDERPAID", "REFUND", 0},
      {"C_UNKNOWN", &direct_, absl::StatusCode::kNotFound, "ORDER_NOT_EXIST", "", 0},
      // Another mode's order looks unknown, as a query does.
      {"C_PAID", &partner_, absl::StatusCode::kNotFound, "ORDER_NOT_EXIST", "SUCCESS", 0},
  };
  for (const Case& c : cases) {
    const absl::Status s = Close(*c.merchant, c.no);
    EXPECT_EQ(s.code(), c.want) << c.no << ": " << s;
    EXPECT_EQ(WechatCode(s), c.want_code) << c.no;
    EXPECT_EQ(Counter(c.no, "closes"), c.closes) << c.no;
    if (c.state_after.empty()) continue;
    absl::StatusOr<json> order = sandbox_->GetOrder(c.no);
    ASSERT_TRUE(order.ok()) << order.status();
    EXPECT_EQ(order->at("trade_state"), c.state_after) << c.no;
  }
  // The paid order's refusal carries WeChat's message.
  EXPECT_THAT(std::string(Close(direct_, "C_PAID").message()), HasSubstr("订单已支付"));
  // Every close request counts, whatever its answer.
  EXPECT_EQ(Counter("C_PAID", "close_requests"), 3u);
  EXPECT_EQ(Counter("C_PAID", "requests"), 3u);
  // A closed order is closed for its queries too.
  absl::StatusOr<Transaction> t = Query(direct_, "C_NOTPAY");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->trade_state, TradeState::kClosed);
}

TEST_F(WechatSandboxTest, CloseDropsTheRestOfTheScript) {
  json o = Order("C_SCRIPT", "NOTPAY");
  o["transitions"] = {{{"to", "SUCCESS"}, {"after_ms", 300}}};
  ASSERT_TRUE(sandbox_->UpsertOrder(o).ok());
  ASSERT_TRUE(Close(direct_, "C_SCRIPT").ok());
  absl::SleepFor(absl::Milliseconds(400));
  absl::StatusOr<Transaction> t = Query(direct_, "C_SCRIPT");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->trade_state, TradeState::kClosed);
}

TEST_F(WechatSandboxTest, CloseIsRetriedAfterA5xxAndFaultsApply) {
  json o = Order("C_RETRY", "NOTPAY");
  o["faults"] = {{{"type", "http_500"}, {"first", 1}}};
  ASSERT_TRUE(sandbox_->UpsertOrder(o).ok());
  EXPECT_TRUE(Close(direct_, "C_RETRY").ok());  // the transport retried: close is idempotent
  absl::StatusOr<json> stats = sandbox_->Stats("C_RETRY");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->at("statuses"), (json{{"500", 1}, {"204", 1}})) << stats->dump();
  EXPECT_EQ(stats->at("closes"), 1);

  // An unsigned or forged 204 is not believed.
  for (const char* fault : {"missing_signature_headers", "wrong_signature"}) {
    json bad = Order(absl::StrCat("C_", fault).substr(0, 32), "NOTPAY");
    bad["faults"] = {{{"type", fault}}};
    ASSERT_TRUE(sandbox_->UpsertOrder(bad).ok());
    const absl::Status s = Close(direct_, bad["out_trade_no"]);
    EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << fault << ": " << s;
  }
}

TEST_F(WechatSandboxTest, OnDemandNotificationOfEachVariant) {
  ASSERT_TRUE(sandbox_->UpsertOrder(Order("N_PAID", "SUCCESS")).ok());
  Receiver receiver;
  struct Case {
    const char* variant;
    absl::StatusCode want;
    std::string want_in_message;
  } cases[] = {
      {"valid", absl::StatusCode::kOk, ""},
      {"forged", absl::StatusCode::kUnauthenticated, "signature check failed"},
      {"stale", absl::StatusCode::kUnauthenticated, "behind our clock"},
      {"future", absl::StatusCode::kUnauthenticated, "ahead of our clock"},
      {"signtest", absl::StatusCode::kUnauthenticated, "SIGNTEST"},
      {"unknown_serial", absl::StatusCode::kUnauthenticated, "unknown Wechatpay-Serial"},
      {"missing_headers", absl::StatusCode::kUnauthenticated, "empty Wechatpay-Timestamp"},
      {"undecryptable", absl::StatusCode::kInvalidArgument, "does not decrypt"},
      {"wrong_key", absl::StatusCode::kInvalidArgument, "does not decrypt"},
  };
  size_t sent = 0;
  for (const Case& c : cases) {
    absl::StatusOr<json> answer = sandbox_->Notify(
        {{"out_trade_no", "N_PAID"}, {"url", receiver.url()}, {"variant", c.variant}});
    ASSERT_TRUE(answer.ok()) << c.variant << ": " << answer.status();
    ++sent;
    ASSERT_EQ(receiver.WaitFor(sent), sent) << c.variant;
    ASSERT_EQ(answer->at("deliveries").size(), 1u);
    EXPECT_EQ(answer->at("deliveries")[0].at("status"), 204) << c.variant;  // what we answered
    const Receiver::Received r = receiver.received().back();
    EXPECT_EQ(r.content_type, "application/json") << c.variant;
    absl::StatusOr<Notification> n = Parse(direct_, r);
    EXPECT_EQ(n.status().code(), c.want) << c.variant << ": " << n.status();
    EXPECT_THAT(std::string(n.status().message()), HasSubstr(c.want_in_message)) << c.variant;
    if (!n.ok()) continue;
    EXPECT_EQ(n->id, answer->at("id")) << c.variant;
    EXPECT_EQ(n->event_type, "TRANSACTION.SUCCESS");
    EXPECT_EQ(n->resource_type, "encrypt-resource");
    EXPECT_EQ(n->summary, "支付成功");
    EXPECT_EQ(n->transaction.out_trade_no, "N_PAID");
    EXPECT_EQ(n->transaction.trade_state, TradeState::kSuccess);
    EXPECT_EQ(n->transaction.amount->total, 990);
    EXPECT_TRUE(MatchesMerchant(n->transaction, direct_).ok());
  }
  EXPECT_EQ(Counter("N_PAID", "notifications_sent"), sent);
  EXPECT_EQ(Counter("N_PAID", "notifications_acked"), sent);
  EXPECT_EQ(Counter("N_PAID", "requests"), 0u);  // notifying is not a query
}

TEST_F(WechatSandboxTest, PartnerNotificationPatchedAndDuplicated) {
  ASSERT_TRUE(sandbox_->UpsertOrder(Order("N_PARTNER", "NOTPAY", "partner")).ok());
  Receiver receiver;
  receiver.Answer({500}, 200);  // the first copy fails, the rest are acknowledged
  absl::StatusOr<json> answer =
      sandbox_->Notify({{"out_trade_no", "N_PARTNER"},
                        {"url", receiver.url()},
                        {"copies", 3},
                        {"id", "EV-DUPLICATE-1"},
                        {"event_type", "TRANSACTION.SUCCESS"},
                        {"transaction_patch",
                         {{"trade_state", "SUCCESS"},
                          {"transaction_id", "4200000000000000000000000001"},
                          {"amount", {{"total", 991}, {"payer_total", 991}}}}}});
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->at("id"), "EV-DUPLICATE-1");
  std::vector<int> statuses;
  for (const json& d : answer->at("deliveries")) statuses.push_back(d.at("status"));
  EXPECT_EQ(statuses, (std::vector<int>{500, 200, 200}));
  EXPECT_THAT(answer->at("deliveries")[0].at("body").get<std::string>(), HasSubstr("FAIL"));
  ASSERT_EQ(receiver.received().size(), 3u);
  std::set<std::string> nonces;
  for (const Receiver::Received& r : receiver.received()) {
    absl::StatusOr<Notification> n = Parse(partner_, r);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(n->id, "EV-DUPLICATE-1");
    EXPECT_EQ(n->transaction.mode, ApiMode::kPartner);
    EXPECT_EQ(n->transaction.sub_mchid, kSubMchid);
    EXPECT_EQ(n->transaction.trade_state, TradeState::kSuccess);  // patched
    EXPECT_EQ(n->transaction.amount->total, 991);                 // patched
    nonces.insert(r.nonce);
  }
  EXPECT_EQ(nonces.size(), 3u);  // each copy signed afresh
  EXPECT_EQ(Counter("N_PARTNER", "notifications_sent"), 3u);
  EXPECT_EQ(Counter("N_PARTNER", "notifications_acked"), 2u);
  // The order itself did not change: the patch is only in the notification.
  EXPECT_EQ(sandbox_->GetOrder("N_PARTNER")->at("trade_state"), "NOTPAY");
}

TEST_F(WechatSandboxTest, ConcurrentCopiesArriveTogether) {
  ASSERT_TRUE(sandbox_->UpsertOrder(Order("N_CONC", "SUCCESS")).ok());
  Receiver receiver;
  absl::StatusOr<json> answer = sandbox_->Notify(
      {{"out_trade_no", "N_CONC"}, {"url", receiver.url()}, {"copies", 5}, {"concurrent", true}});
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->at("deliveries").size(), 5u);
  ASSERT_EQ(receiver.received().size(), 5u);
  for (const Receiver::Received& r : receiver.received()) {
    absl::StatusOr<Notification> n = Parse(direct_, r);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(n->id, answer->at("id"));
  }
  EXPECT_EQ(Counter("N_CONC", "notifications_acked"), 5u);
}

TEST_F(WechatSandboxTest, NotifyControlErrors) {
  ASSERT_TRUE(sandbox_->UpsertOrder(Order("N_ERR", "SUCCESS")).ok());
  struct Case {
    const char* name;
    json request;
    int want_status;
    std::string want_in_body;
  } cases[] = {
      {"unknown_order",
       {{"out_trade_no", "N_NONE"}, {"url", "http://127.0.0.1:1/"}},
       404,
       "no such order"},
      {"bad_variant",
       {{"out_trade_no", "N_ERR"}, {"url", "http://127.0.0.1:1/"}, {"variant", "odd"}},
       400,
       "not one of"},
      {"no_url", {{"out_trade_no", "N_ERR"}}, 400, "url"},
      {"unknown_key",
       {{"out_trade_no", "N_ERR"}, {"url", "http://127.0.0.1:1/"}, {"x", 1}},
       400,
       "unknown key 'x'"},
      {"too_many_copies",
       {{"out_trade_no", "N_ERR"}, {"url", "http://127.0.0.1:1/"}, {"copies", 101}},
       400,
       "copies"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::pair<int, std::string>> r =
        sandbox_->Call("POST", "/__sandbox/notify", c.request.dump());
    ASSERT_TRUE(r.ok()) << c.name;
    EXPECT_EQ(r->first, c.want_status) << c.name << ": " << r->second;
    EXPECT_THAT(r->second, HasSubstr(c.want_in_body)) << c.name;
  }
  // Nobody listening: the delivery reports the failure instead of a status.
  absl::StatusOr<json> answer = sandbox_->Notify(
      {{"out_trade_no", "N_ERR"},
       {"url", absl::StrCat("http://127.0.0.1:", http::testutil::UnusedPort(), "/n")}});
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->at("deliveries")[0].at("status"), 0);
  EXPECT_FALSE(answer->at("deliveries")[0].at("error").get<std::string>().empty());
  EXPECT_EQ(Counter("N_ERR", "notifications_sent"), 1u);
  EXPECT_EQ(Counter("N_ERR", "notifications_acked"), 0u);
}

TEST_F(WechatSandboxTest, PaymentByTimerIsNotifiedWithoutAnyQueryAndRetried) {
  Receiver receiver;
  receiver.Answer({500, 503}, 204);  // WeChat retries until a 2xx
  json o = Order("N_AUTO", "NOTPAY");
  o["notify_url"] = receiver.url();
  o["notify_retry_ms"] = 100;
  o["transitions"] = {{{"to", "SUCCESS"}, {"after_ms", 200}}};
  ASSERT_TRUE(sandbox_->UpsertOrder(o).ok());
  ASSERT_EQ(receiver.WaitFor(3), 3u);
  absl::SleepFor(absl::Milliseconds(400));  // no 4th: the 3rd was acknowledged
  const std::vector<Receiver::Received> got = receiver.received();
  ASSERT_EQ(got.size(), 3u);
  std::set<std::string> ids;
  for (const Receiver::Received& r : got) {
    absl::StatusOr<Notification> n = Parse(direct_, r);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(n->transaction.out_trade_no, "N_AUTO");
    EXPECT_EQ(n->transaction.trade_state, TradeState::kSuccess);
    EXPECT_FALSE(n->transaction.transaction_id.empty());
    ids.insert(n->id);
  }
  EXPECT_EQ(ids.size(), 1u);  // a retry is the same notification
  EXPECT_EQ(Counter("N_AUTO", "notifications_sent"), 3u);
  EXPECT_EQ(Counter("N_AUTO", "notifications_acked"), 1u);
  EXPECT_EQ(Counter("N_AUTO", "requests"), 0u);  // nobody asked
}

TEST_F(WechatSandboxTest, AutomaticNotificationsStopAfterMaxAttemptsAndNeedSuccess) {
  Receiver receiver;
  receiver.Answer({}, 500);
  json paid = Order("N_GIVEUP", "SUCCESS");  // upserted paid: announced at once
  paid["notify_url"] = receiver.url();
  paid["notify_retry_ms"] = 50;
  paid["notify_max_attempts"] = 2;
  json unpaid = Order("N_QUIET", "NOTPAY");  // never paid: never announced
  unpaid["notify_url"] = receiver.url();
  json by_query = Order("N_QUERIED", "NOTPAY");  // paid on its 2nd query
  by_query["notify_url"] = receiver.url();
  by_query["notify_max_attempts"] = 1;
  by_query["transitions"] = {{{"to", "SUCCESS"}, {"after_queries", 1}}};
  ASSERT_TRUE(sandbox_->UpsertOrder(json::array({paid, unpaid, by_query})).ok());
  ASSERT_EQ(receiver.WaitFor(2), 2u);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(receiver.received().size(), 2u);
  EXPECT_EQ(Counter("N_GIVEUP", "notifications_sent"), 2u);
  EXPECT_EQ(Counter("N_GIVEUP", "notifications_acked"), 0u);
  EXPECT_EQ(Counter("N_QUIET", "notifications_sent"), 0u);

  ASSERT_TRUE(Query(direct_, "N_QUERIED").ok());  // this answer moves it to SUCCESS
  ASSERT_EQ(receiver.WaitFor(3), 3u);
  absl::StatusOr<Notification> n = Parse(direct_, receiver.received().back());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->transaction.out_trade_no, "N_QUERIED");
  EXPECT_EQ(CounterOnceDelivered("N_QUERIED", "notifications_sent", 1), 1u);
}

}  // namespace
}  // namespace orderquery::payment::wechat
