// TradeQuery against an in-memory repository and a controllable merchant client (unit level;
// MariaDB and the sandbox are exercised by the integration and e2e suites).
#include "server/usecase/trade_query.h"

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "server/payment/tradeapi/http_client.h"
#include "tests/fakes/repositories.h"
#include "tests/unit/tradeapi/seed_example.h"

namespace orderquery::usecase {
namespace {

using domain::TradeOrderRecord;
using payment::tradeapi::seed001::kSeedExampleReply;
using payment::tradeapi::seed001::RecordDiff;
using payment::tradeapi::seed001::SeedExampleRecord;

constexpr char kSeedId[] = "E01201908230414433510006";

std::pair<std::string, std::string> Key(const std::string& merchant) { return {merchant, kSeedId}; }

// The shared in-memory repository (tests/fakes), held to MySQL's contract by tests/contract.
using FakeRepo = fakes::InMemoryTradeOrderRepository;

// Holds GetTradeOrder callbacks until the test releases them, and counts calls.
class FakeClient : public usecase::TradeStatusProvider {
 public:
  bool HasMerchant(absl::string_view m) const override { return m == "m1" || m == "m2"; }
  void GetTradeOrder(absl::string_view merchant, absl::string_view id, absl::Time,
                     Callback done) override {
    std::lock_guard<std::mutex> l(mu);
    ++calls;
    asked.emplace_back(std::string(merchant), std::string(id));
    pending.push_back(std::move(done));
  }
  // Answers every pending call with `reply`.
  void ReleaseAll(const absl::StatusOr<TradeOrderRecord>& reply) {
    std::vector<Callback> p;
    {
      std::lock_guard<std::mutex> l(mu);
      p.swap(pending);
    }
    for (auto& done : p) done(reply);
  }
  size_t Pending() {
    std::lock_guard<std::mutex> l(mu);
    return pending.size();
  }
  std::mutex mu;
  std::atomic<int> calls{0};
  std::vector<std::pair<std::string, std::string>> asked;
  std::vector<Callback> pending;
};

class TradeQueryTest : public ::testing::Test {
 protected:
  TradeQueryTest()
      : query_(&repo_, &client_, &executor_, "m1", absl::Seconds(2), [this] { return Now(); }),
        executor_(4, 1024) {}

  absl::Time Now() {
    std::lock_guard<std::mutex> l(clock_mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    std::lock_guard<std::mutex> l(clock_mu_);
    now_ += d;
  }

  void Store(int status, absl::Duration age, const std::string& merchant = "m1") {
    TradeOrderRecord r = SeedExampleRecord();
    r.merchant = merchant;
    r.status = status;
    r.fetched_at = Now() - age;
    repo_.rows[Key(merchant)] = r;
  }

  // Runs a query; when `answer` is set, answers the upstream call (if one is made) with it.
  absl::StatusOr<TradeQueryResult> Call(
      TradeQueryRequest req,
      std::optional<absl::StatusOr<TradeOrderRecord>> answer = std::nullopt) {
    std::promise<absl::StatusOr<TradeQueryResult>> p;
    auto f = p.get_future();
    query_.Run(std::move(req),
               [&p](absl::StatusOr<TradeQueryResult> r) { p.set_value(std::move(r)); });
    while (answer && f.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready) {
      if (client_.Pending() > 0) client_.ReleaseAll(*answer);
    }
    return f.get();
  }

  static TradeQueryRequest Req(const std::string& merchant = "", bool force = false) {
    TradeQueryRequest r;
    r.merchant = merchant;
    r.trade_order_id = kSeedId;
    r.force_refresh = force;
    return r;
  }

  static TradeOrderRecord Upstream(int status) {
    TradeOrderRecord r = SeedExampleRecord();
    r.status = status;
    return r;
  }

  std::mutex clock_mu_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  FakeRepo repo_;
  FakeClient client_;
  TradeQuery query_;
  // Last, so it is destroyed first: its threads finish their tasks while the rest still exists.
  BlockingExecutor executor_;
};

TEST_F(TradeQueryTest, RejectedBeforeAnyIo) {
  struct Row {
    std::string merchant;
    std::string id;
    const char* message_has;
  };
  const Row rows[] = {
      {"", "", "trade_order_id"},
      {"", "has space", "trade_order_id"},
      {"", std::string(65, 'a'), "trade_order_id"},
      {"", "E1/2", "trade_order_id"},
      {"nope", kSeedId, "unknown trade merchant \"nope\""},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.id);
    TradeQueryRequest req;
    req.merchant = row.merchant;
    req.trade_order_id = row.id;
    auto r = Call(req);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(), row.message_has)) << r.status();
  }
  EXPECT_EQ(repo_.gets, 0);
  EXPECT_EQ(repo_.upserts, 0);
  EXPECT_EQ(client_.calls, 0);
}

TEST_F(TradeQueryTest, NoDefaultMerchantMeansOneIsRequired) {
  TradeQuery no_default(&repo_, &client_, &executor_, "", absl::Seconds(2));
  std::promise<absl::StatusOr<TradeQueryResult>> p;
  no_default.Run(Req(), [&p](absl::StatusOr<TradeQueryResult> r) { p.set_value(std::move(r)); });
  auto r = p.get_future().get();
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_EQ(repo_.gets, 0);
}

TEST_F(TradeQueryTest, FinalStatusesServedFromStorageWithoutUpstream) {
  for (int status : {2, -1, 5, 7}) {
    SCOPED_TRACE(status);
    Store(status, absl::Hours(24 * 365));
    auto r = Call(Req());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(r->asked_upstream);
    EXPECT_EQ(r->order.status, status);
    EXPECT_EQ(RecordDiff(r->order, Upstream(status)), "");
  }
  EXPECT_EQ(client_.calls, 0);
  EXPECT_EQ(repo_.upserts, 0);
}

TEST_F(TradeQueryTest, ForceRefreshAsksEvenForFinal) {
  Store(2, absl::Hours(1));
  auto r = Call(Req("", /*force=*/true), Upstream(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->asked_upstream);
  EXPECT_EQ(r->order.status, 5);
  EXPECT_EQ(client_.calls, 1);
  EXPECT_EQ(repo_.rows[Key("m1")].status, 5);
}

TEST_F(TradeQueryTest, NonFinalRefreshedAtMostOncePerInterval) {
  Store(1, absl::Seconds(1));  // asked 1 s ago, interval 2 s
  auto fresh = Call(Req());
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(fresh->asked_upstream);
  EXPECT_EQ(client_.calls, 0);

  Advance(absl::Seconds(1));  // now exactly 2 s old: due
  auto due = Call(Req(), Upstream(2));
  ASSERT_TRUE(due.ok()) << due.status();
  EXPECT_TRUE(due->asked_upstream);
  EXPECT_EQ(due->order.status, 2);
  EXPECT_EQ(client_.calls, 1);
  const TradeOrderRecord& stored = repo_.rows[Key("m1")];
  EXPECT_EQ(stored.status, 2);
  EXPECT_EQ(stored.fetched_at, Now());
  EXPECT_EQ(stored.merchant, "m1");

  // Now final: storage answers from here on.
  Advance(absl::Hours(1));
  auto later = Call(Req());
  ASSERT_TRUE(later.ok());
  EXPECT_FALSE(later->asked_upstream);
  EXPECT_EQ(client_.calls, 1);
}

TEST_F(TradeQueryTest, NothingStoredAsksAndStores) {
  auto r = Call(Req("m2"), Upstream(1));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->asked_upstream);
  EXPECT_EQ(r->order.merchant, "m2");
  EXPECT_EQ(RecordDiff(r->order, SeedExampleRecord()), "");
  ASSERT_EQ(client_.asked.size(), 1u);
  EXPECT_EQ(client_.asked[0], std::make_pair(std::string("m2"), std::string(kSeedId)));
  EXPECT_EQ(repo_.upserts, 1);
  EXPECT_EQ(RecordDiff(repo_.rows[Key("m2")], r->order, /*with_bookkeeping=*/true), "");
}

TEST_F(TradeQueryTest, UpstreamFailureStoresNothing) {
  Store(1, absl::Minutes(5));
  for (const absl::Status& s : {absl::NotFoundError("merchant API has no such trade order"),
                                absl::UnavailableError("unreadable reply from merchant API: x"),
                                absl::ResourceExhaustedError("HTTP 429")}) {
    auto r = Call(Req(), absl::StatusOr<TradeOrderRecord>(s));
    EXPECT_EQ(r.status(), s);
  }
  EXPECT_EQ(repo_.upserts, 0);
  EXPECT_EQ(repo_.rows[Key("m1")].status, 1);
}

TEST_F(TradeQueryTest, FailedStoreStillAnswers) {
  repo_.upsert_error = absl::UnavailableError("db down");
  auto r = Call(Req(), Upstream(2));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->order.status, 2);
  EXPECT_EQ(repo_.upserts, 1);
}

TEST_F(TradeQueryTest, StorageReadFailureIsReported) {
  class Broken : public FakeRepo {
   public:
    absl::StatusOr<std::optional<TradeOrderRecord>> Get(absl::string_view,
                                                        absl::string_view) override {
      return absl::UnavailableError("db down");
    }
  } broken;
  TradeQuery q(&broken, &client_, &executor_, "m1", absl::Seconds(2));
  std::promise<absl::StatusOr<TradeQueryResult>> p;
  q.Run(Req(), [&p](absl::StatusOr<TradeQueryResult> r) { p.set_value(std::move(r)); });
  EXPECT_TRUE(absl::IsUnavailable(p.get_future().get().status()));
  EXPECT_EQ(client_.calls, 0);
}

TEST_F(TradeQueryTest, FullQueueRefusesAtOnce) {
  BlockingExecutor none(1, 0);
  TradeQuery q(&repo_, &client_, &none, "m1", absl::Seconds(2));
  std::optional<absl::StatusOr<TradeQueryResult>> got;
  q.Run(Req(), [&got](absl::StatusOr<TradeQueryResult> r) { got = std::move(r); });
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(absl::IsResourceExhausted(got->status()));
  EXPECT_EQ(repo_.gets, 0);
}

TEST_F(TradeQueryTest, FiftyConcurrentCallsOneUpstreamRequest) {
  constexpr int kCallers = 50;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<absl::StatusOr<TradeQueryResult>> results;
  for (int i = 0; i < kCallers; ++i) {
    query_.Run(Req(), [&](absl::StatusOr<TradeQueryResult> r) {
      std::lock_guard<std::mutex> l(mu);
      results.push_back(std::move(r));
      cv.notify_all();
    });
  }
  // The executor is FIFO: once one barrier task per thread is running, every load queued
  // before them has finished, so all 50 callers have joined the one upstream request.
  constexpr int kThreads = 4;
  std::atomic<int> in_barrier{0};
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(executor_.TrySubmit([&in_barrier, opened] {
      ++in_barrier;
      opened.wait();
    }));
  }
  while (in_barrier < kThreads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(client_.calls, 1);
  EXPECT_EQ(repo_.gets, kCallers);
  open.set_value();
  client_.ReleaseAll(Upstream(2));

  std::unique_lock<std::mutex> l(mu);
  ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] { return results.size() == kCallers; }));
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->order.status, 2);
    EXPECT_TRUE(r->asked_upstream);
  }
  EXPECT_EQ(client_.calls, 1);
  EXPECT_EQ(repo_.upserts, 1);
}

// The real client over a transport replying with what the merchant API must not be believed
// on: the documented error comes back and nothing is stored.
class CannedTransport : public payment::http::Transport {
 public:
  void Send(payment::http::Request, payment::http::Callback done) override {
    ++sent;
    payment::http::Response r;
    r.status = 200;
    r.body = body;
    done(r);
  }
  std::string body;
  std::atomic<int> sent{0};
};

TEST_F(TradeQueryTest, DecodeErrorsStoreNothing) {
  payment::tradeapi::MerchantSettings c;
  c.base_url = "http://127.0.0.1:1";
  c.mch_id = "20000000";
  c.key = "k";
  CannedTransport transport;
  auto client = payment::tradeapi::HttpMerchantTradeClient::Create({{"m1", c}}, &transport);
  ASSERT_TRUE(client.ok());
  TradeQuery q(&repo_, client->get(), &executor_, "m1", absl::Seconds(2));
  const std::pair<std::string, const char*> cases[] = {
      {"{\"code\":0,\"data\":{", "unreadable reply from merchant API: reply is not JSON"},
      {absl::StrReplaceAll(kSeedExampleReply,
                           {{"\"orderAmount\": 1,", "\"orderAmount\": \"1.5\","}}),
       "unreadable reply from merchant API: orderAmount must be an integer number of fen, got "
       "\"1.5\""},
  };
  for (const auto& [body, message] : cases) {
    transport.body = body;
    std::promise<absl::StatusOr<TradeQueryResult>> p;
    q.Run(Req(), [&p](absl::StatusOr<TradeQueryResult> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
    EXPECT_TRUE(absl::StartsWith(r.status().message(), message)) << r.status();
  }
  EXPECT_EQ(transport.sent, 2);
  EXPECT_EQ(repo_.upserts, 0);
  EXPECT_TRUE(repo_.rows.empty());

  transport.body = kSeedExampleReply;  // and the same path does store a good reply
  std::promise<absl::StatusOr<TradeQueryResult>> p;
  q.Run(Req(), [&p](absl::StatusOr<TradeQueryResult> r) { p.set_value(std::move(r)); });
  ASSERT_TRUE(p.get_future().get().ok());
  EXPECT_EQ(repo_.upserts, 1);
}

}  // namespace
}  // namespace orderquery::usecase
