// The three RPCs over real gRPC, in process: App::Create(cfg, deps) starts the real services on
// 127.0.0.1:0 over the in-memory repositories (tests/fakes/repositories.h) and a fake provider
// (fake_providers.h), with a fixed clock. For each RPC, as google-cloud-cpp tests its stubs: a
// success (the proto mapping of the answer), a permanent error, and an upstream that keeps
// failing transiently; plus the metadata each RPC reads (the user's token and appid for
// QueryRechargeOrder, the caller's x-api-key for the internal RPCs).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "orderquery/v1/service.grpc.pb.h"
#include "server/app.h"
#include "server/domain/recharge_policy.h"
#include "server/payment/wechat/model.h"
#include "server/payment/wechat/provider.h"
#include "server/service/auth.h"
#include "server/service/order_query_service.h"
#include "server/service/vehicle_convert.h"
#include "tests/fakes/repositories.h"
#include "tests/fakes/seed_examples.h"
#include "tests/inprocess/fake_providers.h"
#include "tests/support/log_lines.h"

namespace orderquery::inprocess {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAppId[] = "wxd678efh567hg6787";
constexpr char kMchId[] = "1230000109";
constexpr char kToken[] = "token-user-7";
constexpr int64_t kUserId = 7;
constexpr char kOrderNo[] = "R20261206000001";
constexpr char kTradeMerchant[] = "shop";
constexpr char kSubMchId[] = "1900000109";
constexpr char kOutTradeNo[] = "P20261206000001";
constexpr char kTradeOrderId[] = "T20261206000001";
// API keys (auth.callers): one per internal method, and an operator.
constexpr char kVehicleKey[] = "vehicle-caller-key-0001";
constexpr char kTradeKey[] = "trade-caller-key-000001";
constexpr char kOperatorKey[] = "operator-caller-key-001";

// What a call got: the status, and the correlation id trailer of a failure.
struct Outcome {
  grpc::Status status;
  std::string correlation_id;
};

Outcome Finish(const grpc::ClientContext& ctx, grpc::Status status) {
  Outcome out{std::move(status), ""};
  const auto& trailers = ctx.GetServerTrailingMetadata();
  if (auto it = trailers.find("x-correlation-id"); it != trailers.end()) {
    out.correlation_id.assign(it->second.data(), it->second.size());
  }
  return out;
}

void SetDeadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
}

// A failure whose details stay in the log: the stable message ends in the correlation id.
void ExpectCorrelated(const Outcome& o) {
  ASSERT_EQ(o.correlation_id.size(), 16u) << o.status.error_message();
  EXPECT_THAT(o.status.error_message(),
              HasSubstr(absl::StrCat("(correlation id ", o.correlation_id, ")")));
}

config::Config TestConfig() {
  config::Config cfg;
  cfg.listen = "127.0.0.1:0";
  cfg.reflection = false;
  cfg.workers = 2;
  cfg.reconcile.enabled = false;  // no background sweeps: every provider call is a caller's
  auto caller = [](const char* name, const char* key, std::vector<std::string> methods, bool op) {
    config::CallerConfig c;
    c.name = name;
    c.key = key;
    c.methods = std::move(methods);
    c.operator_ = op;
    return c;
  };
  cfg.auth.callers["vehicles"] =
      caller("vehicles", kVehicleKey, {service::kGetVehicleTransactionMethod}, false);
  cfg.auth.callers["trades"] = caller("trades", kTradeKey, {service::kGetTradeOrderMethod}, false);
  cfg.auth.callers["ops"] = caller("ops", kOperatorKey, {"*"}, true);
  return cfg;
}

class InProcessRpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    recharge_ = std::make_shared<fakes::InMemoryRechargeRepository>();
    vehicles_ = std::make_shared<fakes::InMemoryVehicleRepository>();
    trades_ = std::make_shared<fakes::InMemoryTradeOrderRepository>();
    SeedRechargeOrder();
    auto provider = std::make_unique<FakeProvider>(kTradeMerchant);
    fake_ = provider.get();
    fake_->order_status().mchid = kMchId;

    Deps deps;
    // Decorated as the registry decorates every provider it builds (payment/registry.h).
    usecase::PortDecoration decoration;
    decoration.provider = "fake";
    decoration.display_name = "FakePay";
    deps.providers.push_back({"fake", payment::DecorateProvider(std::move(provider), decoration)});
    deps.recharge = recharge_;
    deps.schedule = recharge_;
    deps.vehicles = vehicles_;
    deps.trades = trades_;
    deps.clock = [now = now_] { return now; };
    auto app = App::Create(TestConfig(), std::move(deps));
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = *std::move(app);
    auto address = app_->Start();
    ASSERT_TRUE(address.ok()) << address.status();
    channel_ = grpc::CreateChannel(*address, grpc::InsecureChannelCredentials());
    orders_ = v1::OrderQueryService::NewStub(channel_);
    trade_ = v1::TradeOrderService::NewStub(channel_);
  }

  void TearDown() override {
    if (app_) app_->Shutdown(absl::Seconds(5));
  }

  void SeedRechargeOrder() {
    std::lock_guard<std::mutex> l(recharge_->mu);
    recharge_->sessions[kToken] = {kUserId, kAppId, now_ + absl::Hours(1)};
    recharge_->sessions["token-user-8"] = {8, kAppId, now_ + absl::Hours(1)};
    recharge_->sessions["token-other-app"] = {kUserId, "wxotherapp000001", now_ + absl::Hours(1)};
    recharge_->balances[kUserId] = 500;
    recharge_->balances[8] = 0;
    domain::RechargeOrder o;
    o.order_no = kOrderNo;
    o.user_id = kUserId;
    o.appid = kAppId;
    o.mchid = kMchId;
    o.amount_fen = 100;
    o.state = domain::RechargeState::kNotPay;
    o.created_at = now_ - absl::Minutes(1);
    recharge_->orders[kOrderNo] = o;
  }

  // WeChat-like "paid in full" for `order`.
  domain::UpstreamTransaction Paid(const domain::RechargeOrder& order) const {
    domain::UpstreamTransaction tx;
    tx.provider = "fake";
    tx.out_trade_no = order.order_no;
    tx.state = domain::RechargeState::kSuccess;
    tx.provider_state = "SUCCESS";
    tx.appid = order.appid;
    tx.mchid = order.mchid;
    tx.total_fen = order.amount_fen;
    tx.payer_total_fen = order.amount_fen;
    tx.currency = "CNY";
    tx.transaction_id = "4200000001202612060000000001";
    tx.success_time = paid_at_;
    return tx;
  }

  Outcome Recharge(const std::string& order_no, v1::QueryRechargeOrderResponse* resp,
                   const std::string& token = kToken, const std::string& appid = kAppId,
                   bool force_refresh = false, const std::string& api_key = "",
                   bool token_in_request = false) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    if (!appid.empty()) ctx.AddMetadata("appid", appid);
    if (!token_in_request) ctx.AddMetadata("token", token);
    if (!api_key.empty()) ctx.AddMetadata(service::kApiKeyMetadata, api_key);
    v1::QueryRechargeOrderRequest req;
    req.set_order_no(order_no);
    if (token_in_request) req.set_token(token);
    req.set_force_refresh(force_refresh);
    grpc::Status s = orders_->QueryRechargeOrder(&ctx, req, resp);
    return Finish(ctx, std::move(s));
  }

  Outcome Vehicle(const std::string& sub_mchid, v1::VehicleTransaction* resp,
                  const std::string& api_key = kVehicleKey, bool force_refresh = false) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    if (!api_key.empty()) ctx.AddMetadata(service::kApiKeyMetadata, api_key);
    v1::GetVehicleTransactionRequest req;
    req.set_out_trade_no(kOutTradeNo);
    req.set_sub_mchid(sub_mchid);
    req.set_force_refresh(force_refresh);
    grpc::Status s = orders_->GetVehicleTransaction(&ctx, req, resp);
    return Finish(ctx, std::move(s));
  }

  Outcome Trade(const std::string& merchant, v1::GetTradeOrderResponse* resp,
                const std::string& api_key = kTradeKey) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    if (!api_key.empty()) ctx.AddMetadata(service::kApiKeyMetadata, api_key);
    v1::GetTradeOrderRequest req;
    req.set_trade_order_id(kTradeOrderId);
    req.set_merchant(merchant);
    grpc::Status s = trade_->GetTradeOrder(&ctx, req, resp);
    return Finish(ctx, std::move(s));
  }

  const absl::Time now_ =
      absl::FromCivil(absl::CivilSecond(2026, 12, 6, 10, 0, 0), absl::UTCTimeZone());
  const absl::Time paid_at_ = now_ - absl::Seconds(30);
  std::shared_ptr<fakes::InMemoryRechargeRepository> recharge_;
  std::shared_ptr<fakes::InMemoryVehicleRepository> vehicles_;
  std::shared_ptr<fakes::InMemoryTradeOrderRepository> trades_;
  FakeProvider* fake_ = nullptr;
  std::unique_ptr<App> app_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::OrderQueryService::Stub> orders_;
  std::unique_ptr<v1::TradeOrderService::Stub> trade_;
};

TEST_F(InProcessRpcTest, HealthIsServingWithoutADatabase) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

// ----- QueryRechargeOrder

TEST_F(InProcessRpcTest, RechargeSuccessMapsTheAnswerAndCreditsOnce) {
  fake_->order_status().Script([this](const domain::RechargeOrder& o) { return Paid(o); });
  v1::QueryRechargeOrderResponse resp;
  Outcome o = Recharge(kOrderNo, &resp);
  ASSERT_TRUE(o.status.ok()) << o.status.error_message();
  EXPECT_EQ(resp.code(), v1::RechargeResultCode(0));
  EXPECT_EQ(resp.msg(), domain::ResultMessage(domain::ResultCode::kSuccess));
  ASSERT_TRUE(resp.has_data());
  EXPECT_EQ(resp.data().order_no(), kOrderNo);
  EXPECT_EQ(resp.data().amount(), 100);
  EXPECT_EQ(resp.data().state(), v1::RECHARGE_ORDER_STATE_SUCCESS);
  EXPECT_EQ(resp.data().trade_state(), "SUCCESS");
  EXPECT_EQ(resp.data().transaction_id(), "4200000001202612060000000001");
  // 09:59:30 UTC is 17:59:30 in Beijing, the seed's offset.
  EXPECT_EQ(resp.data().paid_time(), "2026-12-06T17:59:30.000+08:00");
  EXPECT_EQ(resp.data().balance(), 600);

  // Final now: answered from storage, the provider is not asked again, nothing credited twice.
  v1::QueryRechargeOrderResponse again;
  ASSERT_TRUE(Recharge(kOrderNo, &again).status.ok());
  EXPECT_EQ(again.data().balance(), 600);
  EXPECT_EQ(fake_->order_status().calls.load(), 1);
  std::lock_guard<std::mutex> l(recharge_->mu);
  ASSERT_EQ(recharge_->ledger.size(), 1u);
  EXPECT_EQ(recharge_->ledger[0].delta, 100);
  EXPECT_EQ(recharge_->ledger[0].amount_after, 600);
  EXPECT_EQ(recharge_->balances[kUserId], 600);
}

TEST_F(InProcessRpcTest, RechargeUnknownAtTheProviderIs2047AndKeepsTheOrder) {
  fake_->order_status().Script(
      [](const domain::RechargeOrder&) { return absl::NotFoundError("fake: ORDER_NOT_EXIST"); });
  v1::QueryRechargeOrderResponse resp;
  Outcome o = Recharge(kOrderNo, &resp);
  ASSERT_TRUE(o.status.ok()) << o.status.error_message();
  EXPECT_EQ(resp.code(), v1::RechargeResultCode(2047));
  EXPECT_EQ(resp.msg(), domain::ResultMessage(domain::ResultCode::kOrderNotExist));
  EXPECT_FALSE(resp.has_data());
  std::lock_guard<std::mutex> l(recharge_->mu);
  EXPECT_EQ(recharge_->orders[kOrderNo].state, domain::RechargeState::kNotPay);
  ASSERT_EQ(recharge_->query_log.size(), 1u);
  EXPECT_EQ(recharge_->query_log[0].error_code, "FAKE_NOT_FOUND");
}

TEST_F(InProcessRpcTest, RechargeBadOrderNumberIsInvalidArgumentBeforeAnyIo) {
  v1::QueryRechargeOrderResponse resp;
  Outcome o = Recharge("no spaces allowed", &resp);
  EXPECT_EQ(o.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(o.status.error_message(), HasSubstr("order_no"));
  EXPECT_EQ(fake_->order_status().calls.load(), 0);
}

TEST_F(InProcessRpcTest, RechargeProviderRefusalIsFailedPreconditionWithACorrelationId) {
  fake_->order_status().Script([](const domain::RechargeOrder&) {
    return absl::FailedPreconditionError("fake: merchant 1230000109 misconfigured");
  });
  v1::QueryRechargeOrderResponse resp;
  Outcome o = Recharge(kOrderNo, &resp);
  EXPECT_EQ(o.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ExpectCorrelated(o);
  EXPECT_THAT(o.status.error_message(), Not(HasSubstr("1230000109")));
}

TEST_F(InProcessRpcTest, RechargeUpstreamThatKeepsFailingIsUnavailableAndBacksOff) {
  fake_->order_status().Script([](const domain::RechargeOrder&) {
    return absl::UnavailableError("fake: upstream 503 after every attempt");
  });
  v1::QueryRechargeOrderResponse resp;
  Outcome first = Recharge(kOrderNo, &resp);
  EXPECT_EQ(first.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  ExpectCorrelated(first);
  EXPECT_THAT(first.status.error_message(), Not(HasSubstr("503 after every attempt")));
  // Within the failure backoff (the clock stands still) the same answer comes without asking.
  Outcome second = Recharge(kOrderNo, &resp);
  EXPECT_EQ(second.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(fake_->order_status().calls.load(), 1);
  std::lock_guard<std::mutex> l(recharge_->mu);
  ASSERT_EQ(recharge_->query_log.size(), 1u);
  EXPECT_EQ(recharge_->query_log[0].error_code, "FAKE_UNAVAILABLE");
  EXPECT_EQ(recharge_->orders[kOrderNo].state, domain::RechargeState::kNotPay);
  EXPECT_TRUE(recharge_->ledger.empty());
}

TEST_F(InProcessRpcTest, RechargeReadsTheTokenFromMetadataOrTheRequest) {
  fake_->order_status().Script([this](const domain::RechargeOrder& o) { return Paid(o); });
  v1::QueryRechargeOrderResponse resp;
  Outcome o = Recharge(kOrderNo, &resp, kToken, kAppId, false, "", /*token_in_request=*/true);
  ASSERT_TRUE(o.status.ok()) << o.status.error_message();
  EXPECT_EQ(resp.data().balance(), 600);
}

TEST_F(InProcessRpcTest, RechargeMetadataIsChecked) {
  v1::QueryRechargeOrderResponse resp;
  Outcome no_appid = Recharge(kOrderNo, &resp, kToken, "");
  EXPECT_EQ(no_appid.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(no_appid.status.error_message(), HasSubstr("appid"));
  Outcome unknown = Recharge(kOrderNo, &resp, "token-nobody-has");
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  Outcome no_token = Recharge(kOrderNo, &resp, "");
  EXPECT_EQ(no_token.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  Outcome other_app = Recharge(kOrderNo, &resp, "token-other-app", "wxotherapp000001");
  EXPECT_EQ(other_app.status.error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(resp.code(), v1::RechargeResultCode(2047));  // not this appid's order
  Outcome wrong_app = Recharge(kOrderNo, &resp, "token-other-app", kAppId);
  EXPECT_EQ(wrong_app.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Another user's order looks exactly like a missing one.
  v1::QueryRechargeOrderResponse other_user;
  Outcome o = Recharge(kOrderNo, &other_user, "token-user-8");
  ASSERT_TRUE(o.status.ok()) << o.status.error_message();
  EXPECT_EQ(other_user.code(), v1::RechargeResultCode(2047));
  EXPECT_FALSE(other_user.has_data());
  EXPECT_EQ(fake_->order_status().calls.load(), 0);
}

TEST_F(InProcessRpcTest, RechargeForceRefreshNeedsAnOperatorKey) {
  fake_->order_status().Script([this](const domain::RechargeOrder& o) { return Paid(o); });
  v1::QueryRechargeOrderResponse resp;
  Outcome no_key = Recharge(kOrderNo, &resp, kToken, kAppId, /*force_refresh=*/true);
  EXPECT_EQ(no_key.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  Outcome not_operator = Recharge(kOrderNo, &resp, kToken, kAppId, true, kVehicleKey);
  EXPECT_EQ(not_operator.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(fake_->order_status().calls.load(), 0);
  Outcome op = Recharge(kOrderNo, &resp, kToken, kAppId, true, kOperatorKey);
  ASSERT_TRUE(op.status.ok()) << op.status.error_message();
  EXPECT_EQ(resp.data().state(), v1::RECHARGE_ORDER_STATE_SUCCESS);
  EXPECT_EQ(fake_->order_status().calls.load(), 1);
}

// ----- GetVehicleTransaction

v1::VehicleTransaction PaidVehicle() {
  v1::VehicleTransaction tx;
  tx.set_appid("wxd678efh567hg6787");
  tx.set_sp_mchid("1230000109");
  tx.set_sub_mchid(kSubMchId);
  tx.set_description("parking fee");
  tx.set_create_time("2026-12-06T17:00:00+08:00");
  tx.set_out_trade_no(kOutTradeNo);
  tx.set_transaction_id("4200000002202612060000000002");
  tx.set_trade_state(v1::VehicleTransaction::SUCCESS);
  tx.mutable_amount()->set_total(500);
  tx.mutable_amount()->set_payer_total(500);
  tx.mutable_amount()->set_currency("CNY");
  tx.mutable_payer()->set_openid("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
  tx.mutable_parking_info()->set_plate_number("粤B12345");
  tx.mutable_parking_info()->set_plate_color(v1::ParkingInfo::BLUE);
  return tx;
}

// PaidVehicle() as the provider answers it (domain types): the RPC must map it to exactly
// PaidVehicle().
domain::VehicleTransaction PaidVehicleAnswer() {
  domain::VehicleTransaction tx;
  tx.appid = "wxd678efh567hg6787";
  tx.sp_mchid = "1230000109";
  tx.sub_mchid = kSubMchId;
  tx.description = "parking fee";
  tx.create_time = "2026-12-06T17:00:00+08:00";
  tx.out_trade_no = kOutTradeNo;
  tx.transaction_id = "4200000002202612060000000002";
  tx.trade_state = domain::VehicleTradeState::kSuccess;
  tx.amount = domain::VehicleAmount{500, "CNY", 500, 0};
  tx.payer = domain::VehiclePayer{"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", ""};
  domain::ParkingInfo parking;
  parking.plate_number = "粤B12345";
  parking.plate_color = domain::PlateColor::kBlue;
  tx.parking_info = parking;
  return tx;
}

TEST_F(InProcessRpcTest, VehicleSuccessReturnsTheTransactionAndStoresIt) {
  fake_->vehicle_status().Script(
      [](const std::string&, const std::string&) { return PaidVehicleAnswer(); });
  v1::VehicleTransaction resp;
  Outcome o = Vehicle(kSubMchId, &resp);
  ASSERT_TRUE(o.status.ok()) << o.status.error_message();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(resp, PaidVehicle()))
      << resp.DebugString();
  {
    std::lock_guard<std::mutex> l(vehicles_->mu);
    ASSERT_EQ(vehicles_->rows.size(), 1u);
    const domain::VehicleSnapshot& snap = vehicles_->rows.begin()->second;
    EXPECT_EQ(snap.trade_state, "SUCCESS");
    EXPECT_EQ(snap.total_fen, 500);
    EXPECT_EQ(snap.transaction_id, "4200000002202612060000000002");
  }
  // Fresh SUCCESS: answered from the stored body, the same message.
  v1::VehicleTransaction again;
  ASSERT_TRUE(Vehicle(kSubMchId, &again).status.ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(again, PaidVehicle()));
  EXPECT_EQ(fake_->vehicle_status().calls.load(), 1);
}

TEST_F(InProcessRpcTest, VehicleNotFoundPassesThroughAndBadInputAsksNobody) {
  fake_->vehicle_status().Script([](const std::string&, const std::string&) {
    return absl::StatusOr<domain::VehicleTransaction>(
        absl::NotFoundError("vehicle transaction not found"));
  });
  v1::VehicleTransaction resp;
  Outcome missing = Vehicle(kSubMchId, &resp);
  EXPECT_EQ(missing.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.status.error_message(), "vehicle transaction not found");
  Outcome bad = Vehicle("not-digits", &resp);
  EXPECT_EQ(bad.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.status.error_message(), HasSubstr("sub_mchid"));
  EXPECT_EQ(fake_->vehicle_status().calls.load(), 1);
  std::lock_guard<std::mutex> l(vehicles_->mu);
  EXPECT_TRUE(vehicles_->rows.empty());
}

TEST_F(InProcessRpcTest, VehicleUpstreamThatKeepsFailingIsUnavailableEachTime) {
  fake_->vehicle_status().Script([](const std::string&, const std::string&) {
    return absl::StatusOr<domain::VehicleTransaction>(
        absl::UnavailableError("fake: upstream 503 after every attempt"));
  });
  v1::VehicleTransaction resp;
  for (int i = 0; i < 2; ++i) {
    Outcome o = Vehicle(kSubMchId, &resp);
    EXPECT_EQ(o.status.error_code(), grpc::StatusCode::UNAVAILABLE);
    ExpectCorrelated(o);
    EXPECT_THAT(o.status.error_message(), HasSubstr("WeChat"));
    EXPECT_THAT(o.status.error_message(), Not(HasSubstr("503 after every attempt")));
  }
  // No negative caching on this RPC: each call asks again.
  EXPECT_EQ(fake_->vehicle_status().calls.load(), 2);
}

TEST_F(InProcessRpcTest, VehicleNeedsACallerKeyForThisMethod) {
  fake_->vehicle_status().Script(
      [](const std::string&, const std::string&) { return PaidVehicleAnswer(); });
  v1::VehicleTransaction resp;
  EXPECT_EQ(Vehicle(kSubMchId, &resp, "").status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Vehicle(kSubMchId, &resp, "no-such-key-0000000000").status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Vehicle(kSubMchId, &resp, kTradeKey).status.error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Vehicle(kSubMchId, &resp, kVehicleKey, /*force_refresh=*/true).status.error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(fake_->vehicle_status().calls.load(), 0);
  EXPECT_TRUE(Vehicle(kSubMchId, &resp, kOperatorKey, true).status.ok());
  EXPECT_TRUE(Vehicle(kSubMchId, &resp, kVehicleKey).status.ok());
  EXPECT_EQ(fake_->vehicle_status().calls.load(), 1);
}

// ----- GetTradeOrder

domain::TradeOrderRecord PaidTrade() {
  domain::TradeOrderRecord r;
  r.trade_order_id = kTradeOrderId;
  r.trade_type = 1;
  r.mch_id = "M100001";
  r.subject = "coffee";
  r.order_amount = 1000;
  r.discount_amount = 10;
  r.amount = 990;
  r.status = 2;
  r.product_type = 3;
  r.create_time = absl::FromCivil(absl::CivilSecond(2026, 12, 6, 9, 0, 0), absl::UTCTimeZone());
  domain::TradeGoods g;
  g.goods_id = 42;
  g.goods_name = "latte";
  g.goods_num = 1;
  g.current_price = 990;
  r.goods.push_back(g);
  return r;
}

TEST_F(InProcessRpcTest, TradeSuccessMapsTheOrderAndStoresIt) {
  fake_->trade_status().Script([](absl::string_view, absl::string_view) { return PaidTrade(); });
  v1::GetTradeOrderResponse resp;
  Outcome o = Trade("", &resp);  // no merchant: the provider's default
  ASSERT_TRUE(o.status.ok()) << o.status.error_message();
  EXPECT_EQ(resp.code(), 0);
  EXPECT_EQ(resp.msg(), "success");
  const v1::TradeOrder& d = resp.data();
  EXPECT_EQ(d.trade_order_id(), kTradeOrderId);
  EXPECT_EQ(d.trade_type(), v1::TRADE_TYPE_COLLECTION);
  EXPECT_EQ(d.mch_id(), "M100001");
  EXPECT_EQ(d.subject(), "coffee");
  EXPECT_EQ(d.order_amount(), 1000);
  EXPECT_EQ(d.discount_amount(), 10);
  EXPECT_EQ(d.amount(), 990);
  EXPECT_EQ(d.status(), v1::TRADE_STATUS_PAID);
  EXPECT_EQ(d.product_type(), v1::PRODUCT_TYPE_WECHAT);
  EXPECT_THAT(d.create_time(), HasSubstr("2026-12-06T09:00:00"));
  ASSERT_EQ(d.goods_desc_size(), 1);
  EXPECT_EQ(d.goods_desc(0).goods_id(), 42);
  EXPECT_EQ(d.goods_desc(0).goods_name(), "latte");
  EXPECT_EQ(d.goods_desc(0).current_price(), 990);
  std::lock_guard<std::mutex> l(trades_->mu);
  ASSERT_EQ(trades_->rows.size(), 1u);
  EXPECT_EQ(trades_->rows.begin()->first.first, kTradeMerchant);
}

TEST_F(InProcessRpcTest, TradeUnknownMerchantAndUnknownOrderArePermanent) {
  fake_->trade_status().Script([](absl::string_view, absl::string_view) {
    return absl::StatusOr<domain::TradeOrderRecord>(absl::NotFoundError("trade order not found"));
  });
  v1::GetTradeOrderResponse resp;
  Outcome unknown_merchant = Trade("other", &resp);
  EXPECT_EQ(unknown_merchant.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(unknown_merchant.status.error_message(), HasSubstr("unknown trade merchant"));
  EXPECT_EQ(fake_->trade_status().calls.load(), 0);
  Outcome missing = Trade(kTradeMerchant, &resp);
  EXPECT_EQ(missing.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.status.error_message(), "trade order not found");
  EXPECT_EQ(fake_->trade_status().calls.load(), 1);
}

TEST_F(InProcessRpcTest, TradeUpstreamThatKeepsFailingIsUnavailableEachTime) {
  fake_->trade_status().Script([](absl::string_view, absl::string_view) {
    return absl::StatusOr<domain::TradeOrderRecord>(
        absl::UnavailableError("fake: upstream 503 after every attempt"));
  });
  v1::GetTradeOrderResponse resp;
  for (int i = 0; i < 2; ++i) {
    Outcome o = Trade(kTradeMerchant, &resp);
    EXPECT_EQ(o.status.error_code(), grpc::StatusCode::UNAVAILABLE);
    ExpectCorrelated(o);
    EXPECT_THAT(o.status.error_message(), HasSubstr("merchant API"));
    EXPECT_THAT(o.status.error_message(), Not(HasSubstr("503 after every attempt")));
  }
  EXPECT_EQ(fake_->trade_status().calls.load(), 2);
  std::lock_guard<std::mutex> l(trades_->mu);
  EXPECT_TRUE(trades_->rows.empty());
}

TEST_F(InProcessRpcTest, TradeNeedsACallerKeyForThisMethod) {
  fake_->trade_status().Script([](absl::string_view, absl::string_view) { return PaidTrade(); });
  v1::GetTradeOrderResponse resp;
  EXPECT_EQ(Trade(kTradeMerchant, &resp, "").status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Trade(kTradeMerchant, &resp, "no-such-key-0000000000").status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Trade(kTradeMerchant, &resp, kVehicleKey).status.error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(fake_->trade_status().calls.load(), 0);
  EXPECT_TRUE(Trade(kTradeMerchant, &resp, kTradeKey).status.ok());
  EXPECT_EQ(fake_->trade_status().calls.load(), 1);
}

// ----- upstream failures: logged once, where they happen; the RPC line names their id

using test_support::LinesOf;

// The value of `key=` on `line` ("" when absent); ids are unquoted hex.
std::string FieldOf(const std::string& line, absl::string_view key) {
  const std::string k = absl::StrCat(" ", key, "=");
  const size_t at = line.find(k);
  if (at == std::string::npos) return "";
  const size_t from = at + k.size();
  return line.substr(from, line.find(' ', from) - from);
}

// One failed call's log: one upstream_failed line with `fields`, and one rpc_failed line
// (under the call's correlation id) that names its upstream_log_id, not its message.
void ExpectLoggedOnce(const std::string& log, const Outcome& o,
                      std::initializer_list<const char*> fields, const std::string& message) {
  const std::vector<std::string> upstream = LinesOf(log, "upstream_failed");
  ASSERT_EQ(upstream.size(), 1u) << log;
  for (const char* f : fields) EXPECT_THAT(upstream[0], HasSubstr(f));
  EXPECT_THAT(upstream[0], HasSubstr(message));
  const std::string id = FieldOf(upstream[0], "upstream_log_id");
  ASSERT_EQ(id.size(), 16u) << upstream[0];
  std::vector<std::string> rpc;
  for (const std::string& line : LinesOf(log, "rpc_failed")) {
    if (absl::StrContains(line, absl::StrCat("correlation_id=", o.correlation_id))) {
      rpc.push_back(line);
    }
  }
  ASSERT_EQ(rpc.size(), 1u) << log;
  EXPECT_THAT(rpc[0], HasSubstr(absl::StrCat("upstream_log_id=", id)));
  EXPECT_THAT(rpc[0], Not(HasSubstr(message)));
  EXPECT_EQ(LinesOf(log, "rpc_failed").size(), 1u) << log;
}

TEST_F(InProcessRpcTest, RechargeUpstreamFailureIsLoggedOnceAndTheRpcLineNamesItsId) {
  fake_->order_status().Script([](const domain::RechargeOrder&) {
    return absl::UnavailableError("fake: upstream 503 after every attempt");
  });
  v1::QueryRechargeOrderResponse resp;
  ::testing::internal::CaptureStderr();
  Outcome o = Recharge(kOrderNo, &resp);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(o.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  ExpectCorrelated(o);
  // The message names the provider that answered (its display name), not WeChat.
  EXPECT_THAT(o.status.error_message(), HasSubstr("FakePay"));
  EXPECT_THAT(o.status.error_message(), Not(HasSubstr("WeChat")));
  ExpectLoggedOnce(log, o,
                   {"provider=fake", "port=order_status", "order_no=R20261206000001",
                    "mchid=1230000109", "code=UNAVAILABLE", "provider_code=FAKE_UNAVAILABLE"},
                   "503 after every attempt");
}

TEST_F(InProcessRpcTest, VehicleAndTradeUpstreamFailuresAreLoggedOnceEach) {
  fake_->vehicle_status().Script([](const std::string&, const std::string&) {
    return absl::StatusOr<domain::VehicleTransaction>(
        absl::InternalError("fake: reply failed verification (unknown serial)"));
  });
  fake_->trade_status().Script([](absl::string_view, absl::string_view) {
    return absl::StatusOr<domain::TradeOrderRecord>(
        absl::ResourceExhaustedError("fake: merchant API rate limit"));
  });
  v1::VehicleTransaction vehicle;
  ::testing::internal::CaptureStderr();
  Outcome v = Vehicle(kSubMchId, &vehicle);
  const std::string vehicle_log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(v.status.error_code(), grpc::StatusCode::INTERNAL);
  ExpectLoggedOnce(vehicle_log, v,
                   {"provider=fake", "port=vehicle_status", "out_trade_no=P20261206000001",
                    "sub_mchid=1900000109", "code=INTERNAL"},
                   "unknown serial");

  v1::GetTradeOrderResponse trade;
  ::testing::internal::CaptureStderr();
  Outcome t = Trade(kTradeMerchant, &trade);
  const std::string trade_log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(t.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ExpectLoggedOnce(trade_log, t,
                   {"provider=fake", "port=trade_status", "merchant=shop",
                    "trade_order_id=T20261206000001", "code=RESOURCE_EXHAUSTED"},
                   "merchant API rate limit");
}

TEST_F(InProcessRpcTest, SuccessfulAndUnknownAnswersLogNoUpstreamFailure) {
  fake_->order_status().Script([this](const domain::RechargeOrder& o) { return Paid(o); });
  fake_->trade_status().Script([](absl::string_view, absl::string_view) {
    return absl::StatusOr<domain::TradeOrderRecord>(absl::NotFoundError("no such trade order"));
  });
  v1::QueryRechargeOrderResponse resp;
  v1::GetTradeOrderResponse trade;
  ::testing::internal::CaptureStderr();
  Outcome paid = Recharge(kOrderNo, &resp);
  Outcome missing = Trade(kTradeMerchant, &trade);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(paid.status.ok()) << paid.status.error_message();
  EXPECT_EQ(missing.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(LinesOf(log, "upstream_failed").empty()) << log;
  EXPECT_TRUE(LinesOf(log, "rpc_failed").empty()) << log;
  EXPECT_EQ(fake_->order_status().calls.load(), 1);
  EXPECT_EQ(fake_->trade_status().calls.load(), 1);
}

// ----- the vehicle answer's mapping: WeChat's reply -> domain (wechat provider) -> API (service)

TEST(InProcessVehicleMappingTest, Seed002ReplyMapsThroughTheDomainFieldForField) {
  // The reference: protobuf's own JSON reading of the reply (the API message uses WeChat's field
  // and enum names), against the wechat decoder's domain value mapped by the service layer.
  auto api_json = [](absl::string_view body) -> absl::StatusOr<v1::VehicleTransaction> {
    v1::VehicleTransaction m;
    const auto s = google::protobuf::util::JsonStringToMessage(std::string(body), &m);
    if (!s.ok()) return absl::InvalidArgumentError(s.ToString());
    return m;
  };
  auto with = [](const std::string& from, const std::string& to) {
    const std::string body = fakes::kSeed002VehicleReply;
    EXPECT_TRUE(absl::StrContains(body, from)) << from;
    return absl::StrReplaceAll(body, {{from, to}});
  };
  absl::StatusOr<v1::VehicleTransaction> decoded = api_json(fakes::kSeed002VehicleReply);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  absl::StatusOr<domain::VehicleTransaction> read =
      payment::wechat::DecodeVehicleTransaction(fakes::kSeed002VehicleReply);
  ASSERT_TRUE(read.ok()) << read.status();
  const domain::VehicleTransaction tx = *read;
  EXPECT_EQ(tx.trade_state, domain::VehicleTradeState::kSuccess);
  ASSERT_TRUE(tx.amount.has_value());
  EXPECT_EQ(tx.amount->total_fen, 888);
  ASSERT_EQ(tx.promotion_detail.size(), 1u);
  EXPECT_EQ(tx.promotion_detail[0].amount_fen, 5);
  ASSERT_TRUE(tx.parking_info.has_value());
  EXPECT_EQ(tx.parking_info->plate_color, domain::PlateColor::kBlue);
  const v1::VehicleTransaction back = service::ToProto(tx);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(back, *decoded))
      << back.DebugString();

  // Absent parts stay absent, and every state and plate colour WeChat names reads and maps back
  // to itself.
  decoded->clear_parking_info();
  decoded->clear_payer();
  decoded->clear_promotion_detail();
  domain::VehicleTransaction bare = tx;
  bare.parking_info.reset();
  bare.payer.reset();
  bare.promotion_detail.clear();
  for (int state = 0; state <= v1::VehicleTransaction::REFUND; ++state) {
    decoded->set_trade_state(static_cast<v1::VehicleTransaction::TradeState>(state));
    read = payment::wechat::DecodeVehicleTransaction(
        with("\"trade_state\" : \"SUCCESS\"",
             absl::StrCat("\"trade_state\" : \"",
                          v1::VehicleTransaction::TradeState_Name(decoded->trade_state()), "\"")));
    ASSERT_TRUE(read.ok()) << read.status();
    bare.trade_state = read->trade_state;
    const v1::VehicleTransaction again = service::ToProto(bare);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(again, *decoded))
        << again.DebugString();
  }
  for (int color = 0; color <= v1::ParkingInfo::LIMEGREEN; ++color) {
    decoded->mutable_parking_info()->set_plate_color(
        static_cast<v1::ParkingInfo::PlateColor>(color));
    read = payment::wechat::DecodeVehicleTransaction(
        with("\"plate_color\" : \"BLUE\"",
             absl::StrCat("\"plate_color\" : \"",
                          v1::ParkingInfo::PlateColor_Name(decoded->parking_info().plate_color()),
                          "\"")));
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_TRUE(read->parking_info.has_value());
    bare.parking_info.emplace().plate_color = read->parking_info->plate_color;
    const v1::VehicleTransaction again = service::ToProto(bare);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(again, *decoded))
        << again.DebugString();
  }
}

// ----- the wiring itself

// A provider's order port that counts how often it looks an order's account up, as WeChat's
// does (its merchant table): Serves and Query each look it up, QueryIfServed once.
class CountingOrderPort : public usecase::OrderStatusProvider {
 public:
  explicit CountingOrderPort(std::string mchid) : mchid_(std::move(mchid)) {}
  bool Serves(const domain::RechargeOrder& order) const override { return Lookup(order); }
  void Query(const domain::RechargeOrder& order, absl::Time /*deadline*/,
             QueryCallback done) override {
    if (!Lookup(order)) return done(absl::FailedPreconditionError("not ours"));
    Answer(std::move(done));
  }
  bool QueryIfServed(const domain::RechargeOrder& order, absl::Time /*deadline*/,
                     QueryCallback* done) override {
    if (!Lookup(order)) return false;
    Answer(std::move(*done));
    return true;
  }
  std::string ErrorCode(const absl::Status&) const override { return ""; }

  mutable std::atomic<int> lookups{0};
  std::atomic<int> queries{0};
  absl::Status answer = absl::UnavailableError("counting port: down");

 private:
  bool Lookup(const domain::RechargeOrder& order) const {
    ++lookups;
    return order.mchid == mchid_;
  }
  void Answer(QueryCallback done) {
    ++queries;
    done(answer);
  }
  const std::string mchid_;
};

class CountingProvider : public payment::Provider {
 public:
  explicit CountingProvider(std::string mchid) : port(std::move(mchid)) {}
  usecase::OrderStatusProvider* orders() override { return &port; }
  CountingOrderPort port;
};

// The router asks each provider once per call, and the one that has the order's account looks
// it up once (not Serves, then Query); decorated as the registry builds them.
TEST(InProcessWiringTest, RouterHasEachProviderLookTheOrderUpOnce) {
  usecase::PortDecoration d;
  d.provider = "counting";
  auto other = std::make_unique<CountingProvider>("1900000001");
  auto ours = std::make_unique<CountingProvider>(kMchId);
  CountingOrderPort& other_port = other->port;
  CountingOrderPort& our_port = ours->port;
  std::unique_ptr<payment::Provider> a = payment::DecorateProvider(std::move(other), d);
  std::unique_ptr<payment::Provider> b = payment::DecorateProvider(std::move(ours), d);
  payment::OrderRouter router({a.get(), b.get()});

  domain::RechargeOrder order;
  order.order_no = kOrderNo;
  order.mchid = kMchId;
  std::vector<absl::Status> got;
  ::testing::internal::CaptureStderr();
  router.Query(
      order, absl::InfiniteFuture(),
      [&got](absl::StatusOr<domain::UpstreamTransaction> r) { got.push_back(r.status()); });
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(absl::IsUnavailable(got[0])) << got[0];
  EXPECT_EQ(other_port.lookups.load(), 1);
  EXPECT_EQ(other_port.queries.load(), 0);
  EXPECT_EQ(our_port.lookups.load(), 1);
  EXPECT_EQ(our_port.queries.load(), 1);
  // The provider that did not serve the order logged nothing; the one that failed, once.
  EXPECT_EQ(LinesOf(log, "upstream_failed").size(), 1u) << log;
  EXPECT_TRUE(usecase::UpstreamLogIdOf(got[0]).has_value());

  // Nobody serves it: the router's own answer, once, and no upstream line.
  order.mchid = "1277700099";
  got.clear();
  ::testing::internal::CaptureStderr();
  router.Query(
      order, absl::InfiniteFuture(),
      [&got](absl::StatusOr<domain::UpstreamTransaction> r) { got.push_back(r.status()); });
  const std::string quiet = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(absl::IsFailedPrecondition(got[0])) << got[0];
  EXPECT_THAT(std::string(got[0].message()), HasSubstr("no payment provider serves"));
  EXPECT_TRUE(LinesOf(quiet, "upstream_failed").empty()) << quiet;
  EXPECT_EQ(other_port.queries.load(), 0);
  EXPECT_EQ(our_port.queries.load(), 1);
}

// A provider a module builds comes decorated: its failures are logged under its module name.
TEST(InProcessWiringTest, RegistryDecoratesEveryProviderItBuilds) {
  struct NoSettings : payment::ProviderSettings {
    int accounts() const override { return 1; }
  };
  FakeProvider* fake = nullptr;
  payment::ProviderModule m;
  m.name = "fakepay";
  m.build = [&fake](const payment::ProviderSettings&, const payment::ProviderContext&)
      -> absl::StatusOr<std::unique_ptr<payment::Provider>> {
    auto p = std::make_unique<FakeProvider>(kTradeMerchant);
    fake = p.get();
    return std::unique_ptr<payment::Provider>(std::move(p));
  };
  payment::Registry registry;
  registry.Add(std::move(m));
  auto built = registry.Find("fakepay")->build(NoSettings(), payment::ProviderContext());
  ASSERT_TRUE(built.ok()) << built.status();
  ASSERT_NE(fake, nullptr);
  fake->order_status().Script(
      [](const domain::RechargeOrder&) { return absl::UnavailableError("fake: unreachable"); });
  domain::RechargeOrder order;
  order.order_no = kOrderNo;
  absl::Status got;
  ::testing::internal::CaptureStderr();
  (*built)->orders()->Query(
      order, absl::InfiniteFuture(),
      [&got](absl::StatusOr<domain::UpstreamTransaction> r) { got = r.status(); });
  const std::string log = ::testing::internal::GetCapturedStderr();
  const std::vector<std::string> lines = LinesOf(log, "upstream_failed");
  ASSERT_EQ(lines.size(), 1u) << log;
  EXPECT_THAT(lines[0], HasSubstr("provider=fakepay"));
  EXPECT_EQ(usecase::UpstreamLogIdOf(got), FieldOf(lines[0], "upstream_log_id"));
  EXPECT_EQ(usecase::UpstreamProviderOf(got), "fakepay");  // no display name: the module name
  EXPECT_EQ(fake->order_status().calls.load(), 1);
  EXPECT_NE((*built)->vehicles(), nullptr);
  EXPECT_NE((*built)->orders(), &fake->order_status());
}

TEST(InProcessWiringTest, CreateRefusesMissingRepositoriesAndProviders) {
  Deps no_repositories;
  no_repositories.providers.push_back({"fake", std::make_unique<FakeProvider>(kTradeMerchant)});
  auto refused = App::Create(TestConfig(), std::move(no_repositories));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);

  Deps no_providers;
  auto repo = std::make_shared<fakes::InMemoryRechargeRepository>();
  no_providers.recharge = repo;
  no_providers.vehicles = std::make_shared<fakes::InMemoryVehicleRepository>();
  no_providers.trades = std::make_shared<fakes::InMemoryTradeOrderRepository>();
  auto unanswered = App::Create(TestConfig(), std::move(no_providers));
  ASSERT_FALSE(unanswered.ok());
  EXPECT_EQ(unanswered.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(unanswered.status().message(), HasSubstr("vehicle or trade-order"));
}

}  // namespace
}  // namespace orderquery::inprocess
