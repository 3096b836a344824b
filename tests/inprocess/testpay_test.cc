// A provider that exists only in tests answers a recharge query end to end, through the same
// mechanism as the shipped providers: testpay registers its module in payment::Providers(), its
// "testpay.*" keys come from the environment through config::Load, App::Create(cfg) builds it
// from the registry beside the built-in providers and wires it to MariaDB, and a gRPC
// QueryRechargeOrder for an order of its merchant is answered by it and credited once.
#include "tests/fakes/testpay/testpay.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "orderquery/v1/service.grpc.pb.h"
#include "server/app.h"
#include "server/config/config.h"
#include "tests/support/storage_admin.h"
#include "tests/support/test_database.h"

namespace orderquery::inprocess {
namespace {

constexpr char kAppId[] = "wxd678efh567hg6787";
constexpr char kTestPayMchId[] = "1999000001";
constexpr char kToken[] = "testpay-user-token";
constexpr char kOrderNo[] = "TP20261206000001";

class TestPayEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    testpay::Register();
    test_support::TestDatabaseOptions o;
    o.name_hint = "testpay";
    auto db = test_support::TestDatabase::Create(o);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
  }

  // The configuration as orderqueryd would read it: environment only.
  config::Env Env() const {
    const storage::MysqlOptions& db = db_->options();
    config::Env env;
    env["ORDERQUERY_LISTEN"] = "127.0.0.1:0";
    env["ORDERQUERY_REFLECTION"] = "false";
    env["ORDERQUERY_DB_HOST"] = db.host;
    env["ORDERQUERY_DB_PORT"] = std::to_string(db.port);
    env["ORDERQUERY_DB_USER"] = db.user;
    env["ORDERQUERY_DB_PASSWORD"] = db.password;
    env["ORDERQUERY_DB_DATABASE"] = db.database;
    if (db.unix_socket) env["ORDERQUERY_DB_SOCKET"] = *db.unix_socket;
    env["ORDERQUERY_DB_POOL_SIZE"] = "4";
    env["ORDERQUERY_RECONCILE_ENABLED"] = "false";
    env["ORDERQUERY_TESTPAY_MCHID"] = kTestPayMchId;
    env["ORDERQUERY_TESTPAY_TRANSACTION_PREFIX"] = "TPX";
    return env;
  }

  std::unique_ptr<test_support::TestDatabase> db_;
};

TEST_F(TestPayEndToEnd, ConfigLoadsTheTestProvidersSection) {
  auto cfg = config::Load("", Env());
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  const auto* s = cfg->provider<testpay::Settings>(testpay::kName);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->mchid, kTestPayMchId);
  EXPECT_EQ(s->accounts(), 1);
  EXPECT_EQ(s->transaction_prefix, "TPX");

  config::Env bad = Env();
  bad["ORDERQUERY_TESTPAY_STATE"] = "PAID_MAYBE";
  auto refused = config::Load("", bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("testpay.state"));
  EXPECT_THAT(config::KeysHelp(), ::testing::HasSubstr("ORDERQUERY_TESTPAY_MCHID"));
}

TEST_F(TestPayEndToEnd, AnswersARechargeQueryAndCreditsOnce) {
  auto user = storage::admin::CreateUser(db_->pool(), kAppId, "openid-testpay", "tp", 500);
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(storage::admin::CreateSession(db_->pool(), *user, kAppId, kToken,
                                            absl::Now() + absl::Hours(1))
                  .ok());
  domain::RechargeOrder order;
  order.order_no = kOrderNo;
  order.user_id = *user;
  order.appid = kAppId;
  order.mchid = kTestPayMchId;
  order.amount_fen = 1200;
  order.state = domain::RechargeState::kNotPay;
  ASSERT_TRUE(storage::admin::CreateRechargeOrder(db_->pool(), order).ok());

  auto cfg = config::Load("", Env());
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  auto app = App::Create(*std::move(cfg));
  ASSERT_TRUE(app.ok()) << app.status();
  auto address = (*app)->Start();
  ASSERT_TRUE(address.ok()) << address.status();
  auto stub = v1::OrderQueryService::NewStub(
      grpc::CreateChannel(*address, grpc::InsecureChannelCredentials()));

  const int asked_before = testpay::QueriesAnswered();
  auto query = [&](v1::QueryRechargeOrderResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ctx.AddMetadata("appid", kAppId);
    ctx.AddMetadata("token", kToken);
    v1::QueryRechargeOrderRequest req;
    req.set_order_no(kOrderNo);
    return stub->QueryRechargeOrder(&ctx, req, resp);
  };
  v1::QueryRechargeOrderResponse resp;
  grpc::Status s = query(&resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.code(), v1::RechargeResultCode(0));
  EXPECT_EQ(resp.data().state(), v1::RECHARGE_ORDER_STATE_SUCCESS);
  EXPECT_EQ(resp.data().trade_state(), "SUCCESS");
  EXPECT_EQ(resp.data().transaction_id(), std::string("TPX") + kOrderNo);
  EXPECT_EQ(resp.data().amount(), 1200);
  EXPECT_EQ(resp.data().balance(), 1700);
  EXPECT_EQ(testpay::QueriesAnswered() - asked_before, 1);

  // Final: answered from the database, testpay is not asked again, nothing credited twice.
  v1::QueryRechargeOrderResponse again;
  ASSERT_TRUE(query(&again).ok());
  EXPECT_EQ(again.data().balance(), 1700);
  EXPECT_EQ(testpay::QueriesAnswered() - asked_before, 1);
  (*app)->Shutdown(absl::Seconds(5));

  auto ledger = storage::admin::ListAmountLogByOrder(db_->pool(), kOrderNo);
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  ASSERT_EQ(ledger->size(), 1u);
  EXPECT_EQ((*ledger)[0].amount_before, 500);
  EXPECT_EQ((*ledger)[0].delta, 1200);
  EXPECT_EQ((*ledger)[0].amount_after, 1700);
  auto logs = storage::admin::CountLogRows(db_->pool(), kOrderNo);
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_EQ(logs->query_log, 1);
  EXPECT_EQ(logs->recharge_order_log, 1);
}

}  // namespace
}  // namespace orderquery::inprocess
