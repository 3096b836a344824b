// CurlTransport against the payment sandbox over loopback: keep-alive, concurrency on one
// thread, retries and backoff (upstream requests counted by the sandbox), deadlines, connection
// and TLS failures, the per-key cap, and bodies delivered exactly as received.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/payment/http/transport_stack.h"
#include "tests/fakes/sandbox_process.h"
#include "tests/integration/http/test_util.h"

namespace orderquery::payment::http {
namespace {

using ::nlohmann::json;
using ::orderquery::fakes::SandboxProcess;
using ::orderquery::fakes::TestKeys;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testutil::SendAndWait;

constexpr char kMchid[] = "1230000109";

class TransportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testutil::TempDir("http-transport"));
    absl::StatusOr<TestKeys> keys = fakes::MakeTestKeys(*dir_, /*with_tls=*/true);
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = new TestKeys(*keys);
    SandboxProcess::Options o = SandboxProcess::Options::FromKeys(*keys_);
    // The transport does not sign; signing is covered by sandbox_test.cc.
    o.extra_args = {"--no-verify-requests"};
    absl::StatusOr<std::unique_ptr<SandboxProcess>> s = SandboxProcess::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    sandbox_ = s->release();
  }

  static void TearDownTestSuite() {
    delete sandbox_;
    sandbox_ = nullptr;
    if (dir_ != nullptr) testutil::RemoveTree(*dir_);
    delete dir_;
    delete keys_;
  }

  void SetUp() override { ASSERT_NE(sandbox_, nullptr); }

  static TransportOptions FastRetries() {
    TransportOptions o;
    o.retry.max_attempts = 3;
    o.retry.initial_backoff = absl::Milliseconds(20);
    o.retry.max_backoff = absl::Milliseconds(100);
    o.jitter_random = [] { return 0.0; };
    return o;
  }

  static std::unique_ptr<TransportStack> MakeTransport(TransportOptions o) {
    absl::StatusOr<std::unique_ptr<TransportStack>> t = TransportStack::Create(std::move(o));
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *std::move(t) : nullptr;
  }

  static void Upsert(json order) {
    if (!order.contains("mchid")) order["mchid"] = kMchid;
    ASSERT_TRUE(sandbox_->UpsertOrder(order).ok());
  }

  static Request Get(const std::string& no, const std::string& mchid = kMchid) {
    Request r;
    r.url = absl::StrCat(sandbox_->base_url(), "/v3/pay/transactions/out-trade-no/", no,
                         "?mchid=", mchid);
    r.headers = {{"Accept", "application/json"}};
    r.deadline = absl::Now() + absl::Seconds(10);
    return r;
  }

  static int64_t Requests(const std::string& no) {
    absl::StatusOr<json> s = sandbox_->Stats(no);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->at("requests").get<int64_t>() : -1;
  }

  static std::string* dir_;
  static TestKeys* keys_;
  static SandboxProcess* sandbox_;
};

std::string* TransportTest::dir_ = nullptr;
TestKeys* TransportTest::keys_ = nullptr;
SandboxProcess* TransportTest::sandbox_ = nullptr;

TEST_F(TransportTest, ReturnsStatusHeadersAndBody) {
  Upsert({{"out_trade_no", "BASIC1"}, {"trade_state", "NOTPAY"}, {"amount", 123}});
  auto t = MakeTransport(TransportOptions());
  absl::StatusOr<Response> r = SendAndWait(*t, Get("BASIC1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  json body = json::parse(r->body);
  EXPECT_EQ(body["out_trade_no"], "BASIC1");
  EXPECT_EQ(body["trade_state"], "NOTPAY");
  EXPECT_EQ(body["amount"]["total"], 123);
  for (const auto& [name, value] : r->headers) {
    EXPECT_EQ(name, absl::AsciiStrToLower(name)) << "header names are lower-cased";
  }
  ASSERT_NE(r->Header("wechatpay-serial"), nullptr);
  EXPECT_EQ(*r->Header("Wechatpay-Serial"), keys_->platform_serial);
  ASSERT_NE(r->Header("content-type"), nullptr);
  EXPECT_EQ(*r->Header("content-type"), "application/json");
  // The attempts header comes last, after everything the upstream sent.
  ASSERT_FALSE(r->headers.empty());
  EXPECT_EQ(r->headers.back().first, kAttemptsHeader);
  EXPECT_EQ(r->headers.back().second, "1");
  EXPECT_EQ(AttemptsOf(*r), 1);
}

TEST_F(TransportTest, PostsTheBody) {
  auto t = MakeTransport(TransportOptions());
  Request r;
  r.method = "POST";
  r.url = sandbox_->base_url() + "/__sandbox/orders";
  r.headers = {{"Content-Type", "application/json"}};
  r.body = json{{"out_trade_no", "POSTED1"}, {"amount", 4242}, {"mchid", kMchid}}.dump();
  absl::StatusOr<Response> resp = SendAndWait(*t, r);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 200) << resp->body;
  absl::StatusOr<json> order = sandbox_->GetOrder("POSTED1");
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_EQ(order->at("order").at("amount"), 4242);
}

// Finished exchanges' easy handles are reset and reused: nothing of one request (method, body,
// headers) may reach the next.
TEST_F(TransportTest, ReusedHandlesCarryNothingOver) {
  auto t = MakeTransport(TransportOptions());
  for (int i = 0; i < 3; ++i) {
    const std::string no = absl::StrCat("REUSE", i);
    // A custom method first: were it kept, the POST below would go out as a DELETE.
    Request del = Get(no);
    del.method = "DELETE";
    absl::StatusOr<Response> deleted = SendAndWait(*t, del);
    ASSERT_TRUE(deleted.ok()) << deleted.status();
    EXPECT_NE(deleted->status, 200) << "the sandbox has no DELETE route";
    Request post;
    post.method = "POST";
    post.url = sandbox_->base_url() + "/__sandbox/orders";
    post.headers = {{"Content-Type", "application/json"}};
    post.body = json{{"out_trade_no", no}, {"amount", 100 + i}, {"mchid", kMchid}}.dump();
    absl::StatusOr<Response> created = SendAndWait(*t, post);
    ASSERT_TRUE(created.ok()) << created.status();
    ASSERT_EQ(created->status, 200) << created->body;
    // A GET next: were the POST's method or body kept, the sandbox would not answer the order.
    absl::StatusOr<Response> got = SendAndWait(*t, Get(no));
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->status, 200) << got->body;
    EXPECT_EQ(json::parse(got->body)["amount"]["total"], 100 + i);
  }
  EXPECT_EQ(t->stats().attempts, 9u);
}

TEST_F(TransportTest, KeepAliveReusesOneConnection) {
  Upsert({{"out_trade_no", "KEEP1"}});
  ASSERT_TRUE(sandbox_->Reset(/*keep_orders=*/true).ok());
  auto t = MakeTransport(TransportOptions());
  for (int i = 0; i < 30; ++i) {
    absl::StatusOr<Response> r = SendAndWait(*t, Get("KEEP1"));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200);
  }
  EXPECT_EQ(t->stats().connections_opened, 1u);
  EXPECT_EQ(t->stats().attempts, 30u);
  absl::StatusOr<json> s = sandbox_->Stats();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->at("requests"), 30);
  EXPECT_EQ(s->at("connections"), 1) << s->dump();
}

TEST_F(TransportTest, ManyRequestsInFlightOnOneThread) {
  Upsert({{"out_trade_no", "SLOW1"}, {"latency_ms", 200}});
  auto t = MakeTransport(TransportOptions());
  constexpr int kRequests = 300;
  absl::BlockingCounter done(kRequests);
  std::mutex mu;
  std::set<std::thread::id> callback_threads;
  std::atomic<int> ok{0};
  const absl::Time start = absl::Now();
  for (int i = 0; i < kRequests; ++i) {
    t->Send(Get("SLOW1"), [&](absl::StatusOr<Response> r) {
      if (r.ok() && r->status == 200) ok.fetch_add(1);
      {
        std::lock_guard<std::mutex> lock(mu);
        callback_threads.insert(std::this_thread::get_id());
      }
      done.DecrementCount();
    });
  }
  done.Wait();
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(ok.load(), kRequests);
  // Sequentially this would take 300 x 200 ms = 60 s; half of that is a bound a busy machine
  // cannot eat. 300 also checks the sandbox serves more than the 256 concurrent slow requests
  // the benchmarks need.
  EXPECT_LT(took, absl::Seconds(30));
  EXPECT_EQ(callback_threads.size(), 1u) << "one event-loop thread runs every callback";
  EXPECT_EQ(callback_threads.count(std::this_thread::get_id()), 0u);
  absl::StatusOr<json> s = sandbox_->Stats("SLOW1");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->at("requests"), kRequests);
  EXPECT_GE(s->at("max_inflight").get<int>(), kRequests / 2) << s->dump();
}

TEST_F(TransportTest, SendIsThreadSafe) {
  Upsert({{"out_trade_no", "MT1"}});
  auto t = MakeTransport(TransportOptions());
  constexpr int kThreads = 8, kEach = 25;
  absl::BlockingCounter done(kThreads * kEach);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < kEach; ++j) {
        t->Send(Get("MT1"), [&](absl::StatusOr<Response> r) {
          if (r.ok() && r->status == 200) ok.fetch_add(1);
          done.DecrementCount();
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  done.Wait();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  EXPECT_EQ(Requests("MT1"), kThreads * kEach);
}

TEST_F(TransportTest, RetriesIdempotentRequestOn500UntilItSucceeds) {
  Upsert({{"out_trade_no", "R500"}, {"faults", {{{"type", "http_500"}, {"first", 2}}}}});
  auto t = MakeTransport(FastRetries());
  Request req = Get("R500");
  req.idempotent = true;
  absl::StatusOr<Response> r = SendAndWait(*t, req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(AttemptsOf(*r), 3);
  EXPECT_EQ(Requests("R500"), 3);
  EXPECT_EQ(t->stats().retries, 2u);
}

TEST_F(TransportTest, RetriesOn429) {
  Upsert({{"out_trade_no", "R429"}, {"faults", {{{"type", "http_429"}, {"first", 1}}}}});
  auto t = MakeTransport(FastRetries());
  Request req = Get("R429");
  req.idempotent = true;
  absl::StatusOr<Response> r = SendAndWait(*t, req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(AttemptsOf(*r), 2);
  EXPECT_EQ(Requests("R429"), 2);
}

TEST_F(TransportTest, GivesTheLastResponseWhenAttemptsRunOut) {
  Upsert({{"out_trade_no", "R500ALL"}, {"faults", {{{"type", "http_500"}}}}});
  auto t = MakeTransport(FastRetries());
  Request req = Get("R500ALL");
  req.idempotent = true;
  absl::StatusOr<Response> r = SendAndWait(*t, req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(json::parse(r->body)["code"], "SYSTEM_ERROR");
  EXPECT_EQ(AttemptsOf(*r), 3);
  EXPECT_EQ(Requests("R500ALL"), 3);
}

TEST_F(TransportTest, NoRetryForNonIdempotentRequests) {
  Upsert({{"out_trade_no", "RNOIDEM"}, {"faults", {{{"type", "http_500"}, {"first", 2}}}}});
  auto t = MakeTransport(FastRetries());
  Request req = Get("RNOIDEM");
  req.idempotent = false;
  absl::StatusOr<Response> r = SendAndWait(*t, req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(AttemptsOf(*r), 1);
  EXPECT_EQ(Requests("RNOIDEM"), 1);
}

TEST_F(TransportTest, NoRetryOnClientErrors) {
  Upsert({{"out_trade_no", "R400"}, {"faults", {{{"type", "param_error"}, {"first", 1}}}}});
  auto t = MakeTransport(FastRetries());
  Request req = Get("R400");
  req.idempotent = true;
  absl::StatusOr<Response> r = SendAndWait(*t, req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(Requests("R400"), 1);
}

TEST_F(TransportTest, BackoffIsBoundedByTheDeadline) {
  Upsert({{"out_trade_no", "RDEAD"}, {"faults", {{{"type", "http_500"}}}}});
  TransportOptions o;
  o.retry.max_attempts = 20;
  o.retry.initial_backoff = absl::Milliseconds(200);
  o.retry.max_backoff = absl::Seconds(5);
  o.retry.multiplier = 2.0;
  o.retry.min_attempt_time = absl::Milliseconds(50);
  o.jitter_random = [] { return 0.0; };  // waits 100, 200, 400, 800 ms
  auto t = MakeTransport(o);
  Request req = Get("RDEAD");
  req.idempotent = true;
  const absl::Time start = absl::Now();
  req.deadline = start + absl::Milliseconds(1500);
  absl::StatusOr<Response> r = SendAndWait(*t, req);
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 500) << "the final answer is the last response";
  // Attempts at ~0, 0.1, 0.3, 0.7 s; the next would start at 1.5 s, with no time left.
  EXPECT_EQ(AttemptsOf(*r), 4);
  EXPECT_EQ(Requests("RDEAD"), 4);
  EXPECT_LT(took, absl::Milliseconds(1500));
  EXPECT_GE(took, absl::Milliseconds(700));
}

TEST_F(TransportTest, DeadlineIsRespectedWhenTheUpstreamHangs) {
  Upsert({{"out_trade_no", "HANG1"}, {"faults", {{{"type", "timeout"}, {"sleep_ms", 3000}}}}});
  auto t = MakeTransport(FastRetries());
  Request req = Get("HANG1");
  req.idempotent = true;
  const absl::Time start = absl::Now();
  req.deadline = start + absl::Milliseconds(500);
  absl::StatusOr<Response> r = SendAndWait(*t, req);
  const absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
  EXPECT_GE(took, absl::Milliseconds(450));
  // Well before the 3 s hang ends: cut at the deadline (slack for a busy machine).
  EXPECT_LT(took, absl::Milliseconds(2800));
  EXPECT_EQ(Requests("HANG1"), 1) << "the caller's deadline is not retried";
  EXPECT_EQ(AttemptsOf(r), 1);
}

TEST_F(TransportTest, RequestTimeoutShorterThanTheDeadline) {
  Upsert({{"out_trade_no", "HANG2"}, {"faults", {{{"type", "timeout"}, {"sleep_ms", 3000}}}}});
  TransportOptions o;
  o.request_timeout = absl::Milliseconds(300);
  auto t = MakeTransport(o);
  Request req = Get("HANG2");
  const absl::Time start = absl::Now();
  absl::StatusOr<Response> r = SendAndWait(*t, req);
  const absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("request timeout"));
  EXPECT_LT(took, absl::Milliseconds(2800)) << "cut at the request timeout, not after the hang";
}

TEST_F(TransportTest, DeadlineAlreadyPassedSendsNothing) {
  Upsert({{"out_trade_no", "LATE1"}});
  auto t = MakeTransport(TransportOptions());
  Request req = Get("LATE1");
  req.deadline = absl::Now() - absl::Seconds(1);
  absl::StatusOr<Response> r = SendAndWait(*t, req);
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
  EXPECT_EQ(AttemptsOf(r), 0);
  EXPECT_EQ(Requests("LATE1"), 0);
}

TEST_F(TransportTest, ConnectionRefusedIsUnavailableAndRetried) {
  auto t = MakeTransport(FastRetries());
  Request req;
  req.url = absl::StrCat("http://127.0.0.1:", testutil::UnusedPort(), "/v3/x");
  req.idempotent = true;
  req.deadline = absl::Now() + absl::Seconds(5);
  absl::StatusOr<Response> r = SendAndWait(*t, req);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("connect"));
  EXPECT_EQ(AttemptsOf(r), 3);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("after 3 attempts"));
}

TEST_F(TransportTest, UnknownHostIsUnavailable) {
  auto t = MakeTransport(TransportOptions());
  Request req;
  // .invalid never resolves (RFC 2606).
  req.url = "http://orderquery-test.invalid/x";
  req.deadline = absl::Now() + absl::Seconds(5);
  absl::StatusOr<Response> r = SendAndWait(*t, req);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), StartsWith("dns:"));
}

TEST_F(TransportTest, DisconnectMidBodyIsUnavailable) {
  Upsert({{"out_trade_no", "CUT1"}, {"faults", {{{"type", "disconnect"}}}}});
  auto t = MakeTransport(TransportOptions());
  absl::StatusOr<Response> r = SendAndWait(*t, Get("CUT1"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
}

TEST_F(TransportTest, TruncatedAndNonJsonBodiesAreDeliveredAsReceived) {
  Upsert({{"out_trade_no", "TRUNC1"},
          {"trade_state", "NOTPAY"},
          {"faults", {{{"type", "truncated_body"}}}}});
  Upsert({{"out_trade_no", "HTML1"}, {"faults", {{{"type", "non_json_body"}}}}});
  auto t = MakeTransport(TransportOptions());

  absl::StatusOr<Response> r = SendAndWait(*t, Get("TRUNC1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  absl::StatusOr<json> order = sandbox_->GetOrder("TRUNC1");
  ASSERT_TRUE(order.ok());
  const std::string full = order->at("reply").dump();
  EXPECT_EQ(r->body, full.substr(0, full.size() / 2));
  EXPECT_TRUE(json::parse(r->body, nullptr, false).is_discarded());

  r = SendAndWait(*t, Get("HTML1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, StartsWith("<html>"));
  ASSERT_NE(r->Header("content-type"), nullptr);
  EXPECT_THAT(*r->Header("content-type"), StartsWith("text/html"));
}

TEST_F(TransportTest, PerKeyCapHoldsWhatTheUpstreamSees) {
  // A merchant of its own so no other test's traffic mixes into its counters.
  const std::string mchid = "1900000777";
  Upsert({{"out_trade_no", "CAP1"}, {"mchid", mchid}, {"latency_ms", 200}});
  TransportOptions o;
  o.max_inflight_per_key = 3;
  auto t = MakeTransport(o);
  constexpr int kRequests = 12;
  absl::BlockingCounter done(kRequests);
  std::atomic<int> ok{0};
  const absl::Time start = absl::Now();
  for (int i = 0; i < kRequests; ++i) {
    Request req = Get("CAP1", mchid);
    req.limiter_key = mchid;
    t->Send(req, [&](absl::StatusOr<Response> r) {
      if (r.ok() && r->status == 200) ok.fetch_add(1);
      done.DecrementCount();
    });
  }
  done.Wait();
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(ok.load(), kRequests);
  absl::StatusOr<json> m = sandbox_->MerchantStats(mchid);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->at("requests"), kRequests);
  EXPECT_EQ(m->at("max_inflight"), 3) << m->dump();
  // Four waves of three.
  EXPECT_GE(took, absl::Milliseconds(780));
}

TEST_F(TransportTest, FullLimiterQueueIsResourceExhausted) {
  const std::string mchid = "1900000778";
  Upsert({{"out_trade_no", "CAP2"}, {"mchid", mchid}, {"latency_ms", 300}});
  TransportOptions o;
  o.max_inflight_per_key = 1;
  o.max_queue_per_key = 2;
  auto t = MakeTransport(o);
  constexpr int kRequests = 5;
  absl::BlockingCounter done(kRequests);
  std::atomic<int> ok{0}, exhausted{0};
  for (int i = 0; i < kRequests; ++i) {
    Request req = Get("CAP2", mchid);
    req.limiter_key = mchid;
    t->Send(req, [&](absl::StatusOr<Response> r) {
      if (r.ok() && r->status == 200) ok.fetch_add(1);
      if (absl::IsResourceExhausted(r.status())) exhausted.fetch_add(1);
      done.DecrementCount();
    });
  }
  done.Wait();
  EXPECT_EQ(ok.load(), 3);
  EXPECT_EQ(exhausted.load(), 2);
  EXPECT_EQ(t->stats().rejected, 2u);
  EXPECT_EQ(Requests("CAP2"), 3);
}

TEST_F(TransportTest, QueuedRequestFailsAtItsDeadlineWithoutBeingSent) {
  const std::string mchid = "1900000779";
  Upsert({{"out_trade_no", "CAP3A"}, {"mchid", mchid}, {"latency_ms", 3000}});
  Upsert({{"out_trade_no", "CAP3B"}, {"mchid", mchid}});
  TransportOptions o;
  o.max_inflight_per_key = 1;
  auto t = MakeTransport(o);
  Request slow = Get("CAP3A", mchid);
  slow.limiter_key = mchid;
  auto slow_done = std::make_shared<std::promise<absl::StatusOr<Response>>>();
  t->Send(slow, [slow_done](absl::StatusOr<Response> r) { slow_done->set_value(std::move(r)); });

  Request queued = Get("CAP3B", mchid);
  queued.limiter_key = mchid;
  const absl::Time start = absl::Now();
  queued.deadline = start + absl::Milliseconds(300);
  absl::StatusOr<Response> r = SendAndWait(*t, queued);
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
  // The slot frees after 3 s; the deadline is 300 ms.
  EXPECT_LT(took, absl::Milliseconds(2500)) << "failed at its deadline, not when the slot freed";
  EXPECT_EQ(Requests("CAP3B"), 0);
  absl::StatusOr<Response> first = slow_done->get_future().get();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->status, 200);
}

TEST_F(TransportTest, ShutdownCancelsPendingRequests) {
  Upsert({{"out_trade_no", "SHUT1"}, {"latency_ms", 3000}});
  auto t = MakeTransport(TransportOptions());
  auto result = std::make_shared<std::promise<absl::StatusOr<Response>>>();
  t->Send(Get("SHUT1"), [result](absl::StatusOr<Response> r) { result->set_value(std::move(r)); });
  absl::SleepFor(absl::Milliseconds(200));
  const absl::Time start = absl::Now();
  t.reset();
  // The request would answer after 3 s: shutting down does not wait for it.
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(2500));
  std::future<absl::StatusOr<Response>> f = result->get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  absl::StatusOr<Response> r = f.get();
  EXPECT_TRUE(absl::IsCancelled(r.status())) << r.status();
}

// Shutdown (orderqueryd's drain) while the object stays: what is pending is answered CANCELLED
// before Shutdown returns, and a later Send is answered at once on the caller's thread.
TEST_F(TransportTest, ShutdownKeepsTheObjectAndFailsLaterSendsAtOnce) {
  Upsert({{"out_trade_no", "SHUT2"}, {"latency_ms", 3000}});
  auto t = MakeTransport(TransportOptions());
  auto result = std::make_shared<std::promise<absl::StatusOr<Response>>>();
  t->Send(Get("SHUT2"), [result](absl::StatusOr<Response> r) { result->set_value(std::move(r)); });
  t->Shutdown();
  std::future<absl::StatusOr<Response>> f = result->get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_TRUE(absl::IsCancelled(f.get().status()));

  const std::thread::id caller = std::this_thread::get_id();
  std::thread::id ran_on;
  absl::Status later;
  t->Send(Get("SHUT2"), [&](absl::StatusOr<Response> r) {
    ran_on = std::this_thread::get_id();
    later = r.status();
  });
  EXPECT_EQ(ran_on, caller);
  EXPECT_TRUE(absl::IsCancelled(later)) << later;
  t->Shutdown();  // idempotent
}

// The stack's Shutdown reaches every layer: besides the exchange in flight, a request waiting for
// a limiter slot and one waiting out a retry backoff are answered CANCELLED before it returns.
TEST_F(TransportTest, ShutdownCancelsQueuedAndBackingOffRequests) {
  const std::string mchid = "1900000780";
  Upsert({{"out_trade_no", "SHUT3A"}, {"mchid", mchid}, {"latency_ms", 3000}});
  Upsert({{"out_trade_no", "SHUT3B"}, {"mchid", mchid}});
  Upsert({{"out_trade_no", "SHUT3C"}, {"faults", {{{"type", "http_500"}}}}});
  TransportOptions o;
  o.max_inflight_per_key = 1;
  o.retry.initial_backoff = absl::Seconds(20);
  o.retry.max_backoff = absl::Seconds(20);
  o.jitter_random = [] { return 0.0; };  // a 10 s backoff
  auto t = MakeTransport(o);
  std::vector<std::shared_ptr<std::promise<absl::StatusOr<Response>>>> results;
  auto send = [&](Request r) {
    auto p = std::make_shared<std::promise<absl::StatusOr<Response>>>();
    results.push_back(p);
    t->Send(std::move(r), [p](absl::StatusOr<Response> out) { p->set_value(std::move(out)); });
  };
  Request in_flight = Get("SHUT3A", mchid);
  in_flight.limiter_key = mchid;
  send(in_flight);
  Request queued = Get("SHUT3B", mchid);
  queued.limiter_key = mchid;
  send(queued);
  Request backing_off = Get("SHUT3C");
  backing_off.idempotent = true;
  backing_off.deadline = absl::Now() + absl::Seconds(60);
  send(backing_off);
  // Until the 500 came back (the call is then waiting out its backoff).
  for (const absl::Time give_up = absl::Now() + absl::Seconds(10);
       t->stats().attempts < 2 || t->stats().inflight > 1;) {
    ASSERT_LT(absl::Now(), give_up) << "the first exchanges did not happen";
    absl::SleepFor(absl::Milliseconds(5));
  }
  t->Shutdown();
  for (auto& p : results) {
    std::future<absl::StatusOr<Response>> f = p->get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    absl::StatusOr<Response> r = f.get();
    EXPECT_TRUE(absl::IsCancelled(r.status())) << r.status();
  }
  EXPECT_EQ(Requests("SHUT3B"), 0);
  EXPECT_EQ(Requests("SHUT3C"), 1);
}

class TransportTlsTest : public TransportTest {
 protected:
  void SetUp() override {
    TransportTest::SetUp();
    SandboxProcess::Options o = SandboxProcess::Options::FromKeys(*keys_, /*tls=*/true);
    o.extra_args = {"--no-verify-requests"};
    absl::StatusOr<std::unique_ptr<SandboxProcess>> s = SandboxProcess::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    tls_sandbox_ = *std::move(s);
    ASSERT_TRUE(tls_sandbox_->UpsertOrder({{"out_trade_no", "TLS1"}, {"mchid", kMchid}}).ok());
  }

  Request TlsGet(const std::string& host) {
    Request r;
    r.url = absl::StrCat("https://", host, ":", tls_sandbox_->port(),
                         "/v3/pay/transactions/out-trade-no/TLS1?mchid=", kMchid);
    r.deadline = absl::Now() + absl::Seconds(5);
    r.idempotent = true;
    return r;
  }

  std::unique_ptr<SandboxProcess> tls_sandbox_;
};

TEST_F(TransportTlsTest, HttpsWithTheTestCaWorks) {
  TransportOptions o;
  o.ca_file = keys_->ca_cert;
  auto t = MakeTransport(o);
  for (const char* host : {"127.0.0.1", "localhost"}) {
    absl::StatusOr<Response> r = SendAndWait(*t, TlsGet(host));
    ASSERT_TRUE(r.ok()) << host << ": " << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(json::parse(r->body)["out_trade_no"], "TLS1");
  }
}

TEST_F(TransportTlsTest, HttpsWithoutTheTestCaFailsAsTls) {
  auto t = MakeTransport(FastRetries());
  absl::StatusOr<Response> r = SendAndWait(*t, TlsGet("127.0.0.1"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), StartsWith("tls:"));
  EXPECT_EQ(AttemptsOf(r), 1) << "an untrusted certificate is not retried";
}

TEST_F(TransportTlsTest, WrongCaFileFailsAsTls) {
  TransportOptions o;
  o.ca_file = keys_->platform_cert;  // a valid PEM certificate, but not the issuer
  auto t = MakeTransport(o);
  absl::StatusOr<Response> r = SendAndWait(*t, TlsGet("127.0.0.1"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), StartsWith("tls:"));
}

TEST_F(TransportTlsTest, PlainHttpToTheTlsPortFails) {
  auto t = MakeTransport(TransportOptions());
  Request r = TlsGet("127.0.0.1");
  r.url = absl::StrCat("http://127.0.0.1:", tls_sandbox_->port(), "/x");
  r.idempotent = false;
  absl::StatusOr<Response> resp = SendAndWait(*t, r);
  // httplib answers garbage with a 400 or drops the connection; either way no 200.
  if (resp.ok()) {
    EXPECT_NE(resp->status, 200);
  } else {
    EXPECT_TRUE(absl::IsUnavailable(resp.status())) << resp.status();
  }
}

}  // namespace
}  // namespace orderquery::payment::http
