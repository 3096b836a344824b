// Service identity for the internal RPCs (issue 15, finding 7): GetVehicleTransaction and
// GetTradeOrder answer only callers that present a configured API key (metadata x-api-key)
// allowed that method; QueryRechargeOrder keeps the user's token and needs no key. And
// force_refresh is for operators only (finding 2).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "storage/sha256.h"
#include "tests/e2e/harness/calls.h"
#include "tests/e2e/harness/stack.h"
#include "tests/e2e/harness/suite.h"

namespace orderquery::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kSeedVehicleNo[] = "20150806125346";
constexpr char kSeedTradeId[] = "E01201908230414433510006";
constexpr char kTradeOnlyKey[] = "trade-only-key-5e0d81a7c4";
constexpr char kHashedKey[] = "hashed-key-a92c4471be0f";
constexpr char kFileKey[] = "file-key-77d1e0c8a2b5";

// Stubs on a channel of our own: no key unless the call sets one.
struct Bare {
  explicit Bare(const std::string& target)
      : channel(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())),
        orders(v1::OrderQueryService::NewStub(channel)),
        trades(v1::TradeOrderService::NewStub(channel)) {}
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::OrderQueryService::Stub> orders;
  std::unique_ptr<v1::TradeOrderService::Stub> trades;
};

grpc::Status Vehicle(v1::OrderQueryService::Stub& stub, const std::string& key) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!key.empty()) ctx.AddMetadata("x-api-key", key);
  v1::GetVehicleTransactionRequest req;
  req.set_out_trade_no(kSeedVehicleNo);
  req.set_sub_mchid(kSubMchid);
  v1::VehicleTransaction resp;
  grpc::Status s = stub.GetVehicleTransaction(&ctx, req, &resp);
  if (s.ok() && resp.payer().openid().empty()) return grpc::Status(grpc::UNKNOWN, "no payer");
  return s;
}

grpc::Status Trade(v1::TradeOrderService::Stub& stub, const std::string& key) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!key.empty()) ctx.AddMetadata("x-api-key", key);
  v1::GetTradeOrderRequest req;
  req.set_trade_order_id(kSeedTradeId);
  v1::GetTradeOrderResponse resp;
  grpc::Status s = stub.GetTradeOrder(&ctx, req, &resp);
  if (s.ok() && resp.data().trade_order_id() != kSeedTradeId) {
    return grpc::Status(grpc::UNKNOWN, "another order");
  }
  return s;
}

class AuthE2E : public StackSuite<AuthE2E> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "auth";
    o.config_patch = [](json& c) {
      // A server older than the auth section (OQ_E2E_WITHOUT_AUTH=1, see the harness README)
      // gets none: against it these tests show what they guard against.
      const char* without = std::getenv("OQ_E2E_WITHOUT_AUTH");
      if (without != nullptr && std::string(without) == "1") return;
      json& callers = c["auth"]["callers"];
      callers["tradeonly"] = {{"key", kTradeOnlyKey},
                              {"methods", {"orderquery.v1.TradeOrderService/GetTradeOrder"}}};
      callers["hashed"] = {{"key_sha256", storage::Sha256Hex(kHashedKey)}, {"methods", {"*"}}};
      const std::string file = ::testing::TempDir() + "/auth-e2e-key.txt";
      std::ofstream(file) << kFileKey << "\n";  // a trailing newline is not part of the key
      callers["filed"] = {{"key_file", file},
                          {"methods", {"/orderquery.v1.OrderQueryService/GetVehicleTransaction"}}};
    };
    return o;
  }
};

TEST_F(AuthE2E, InternalRpcsWithoutAKeyAreRefusedBeforeAnyWork) {
  Stack& s = stack();
  Bare bare(s.target());
  const int64_t upstream = s.TotalSandboxRequests();
  auto before = s.CountTables();
  ASSERT_TRUE(before.ok());

  grpc::Status v = Vehicle(*bare.orders, "");
  EXPECT_EQ(v.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(v);
  EXPECT_THAT(v.error_message(), HasSubstr("x-api-key"));
  grpc::Status t = Trade(*bare.trades, "");
  EXPECT_EQ(t.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(t);

  EXPECT_EQ(s.TotalSandboxRequests(), upstream);
  EXPECT_EQ(*s.CountTables(), *before);
}

TEST_F(AuthE2E, UnknownKeyIsUnauthenticated) {
  Stack& s = stack();
  Bare bare(s.target());
  // A prefix of a real key, and a real key with one byte changed.
  for (const std::string& key :
       {std::string("e2e-caller-key"), std::string(kE2eCallerKey).substr(1) + "x"}) {
    grpc::Status v = Vehicle(*bare.orders, key);
    EXPECT_EQ(v.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(v);
    EXPECT_THAT(v.error_message(), HasSubstr("unknown API key"));
    EXPECT_THAT(v.error_message(), ::testing::Not(HasSubstr(key)));
    grpc::Status t = Trade(*bare.trades, key);
    EXPECT_EQ(t.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(t);
  }
}

TEST_F(AuthE2E, KeysReachTheMethodsTheyAreAllowed) {
  Stack& s = stack();
  Bare bare(s.target());
  // "*": both.
  EXPECT_TRUE(Vehicle(*bare.orders, kE2eCallerKey).ok());
  EXPECT_TRUE(Trade(*bare.trades, kE2eCallerKey).ok());
  // One method: that one only.
  EXPECT_TRUE(Trade(*bare.trades, kTradeOnlyKey).ok());
  grpc::Status v = Vehicle(*bare.orders, kTradeOnlyKey);
  EXPECT_EQ(v.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(v);
  EXPECT_THAT(v.error_message(), HasSubstr("tradeonly"));
  // Configured by its SHA-256 only.
  EXPECT_TRUE(Vehicle(*bare.orders, kHashedKey).ok());
  EXPECT_TRUE(Trade(*bare.trades, kHashedKey).ok());
  // From a file.
  EXPECT_TRUE(Vehicle(*bare.orders, kFileKey).ok());
  grpc::Status t = Trade(*bare.trades, kFileKey);
  EXPECT_EQ(t.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(t);
  // The keys never reach the log.
  for (const char* key : {kE2eCallerKey, kTradeOnlyKey, kHashedKey, kFileKey}) {
    EXPECT_THAT(s.ServerLog(), ::testing::Not(HasSubstr(key)));
  }
}

TEST_F(AuthE2E, TheAppRouteKeepsTheUserTokenAndNeedsNoKey) {
  Stack& s = stack();
  Bare bare(s.target());
  auto user = s.CreateUser(0);
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(s.CreateRechargeOrder(*user, "AUTHAPP1", 100).ok());
  ASSERT_TRUE(s.UpsertWechatOrder(*user, "AUTHAPP1", 100, {{"trade_state", "NOTPAY"}}).ok());
  RechargeArgs a;
  a.appid = user->appid;
  a.token = user->token;
  a.order_no = "AUTHAPP1";
  RechargeResult r = QueryRecharge(*bare.orders, a);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(r.response.code(), v1::RECHARGE_RESULT_CODE_NOTPAY);
  a.token = "not-a-token";
  EXPECT_EQ(QueryRecharge(*bare.orders, a).status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// force_refresh (issue 15, finding 2): only an operator's key may make the service ask upstream
// again; a user token alone, or a key of a caller that is not an operator, is PERMISSION_DENIED
// before anything is asked.
grpc::Status RechargeForced(v1::OrderQueryService::Stub& stub, const TestUser& user,
                            const std::string& no, const std::string& key) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ctx.AddMetadata("appid", user.appid);
  ctx.AddMetadata("token", user.token);
  if (!key.empty()) ctx.AddMetadata("x-api-key", key);
  v1::QueryRechargeOrderRequest req;
  req.set_order_no(no);
  req.set_force_refresh(true);
  v1::QueryRechargeOrderResponse resp;
  grpc::Status s = stub.QueryRechargeOrder(&ctx, req, &resp);
  if (s.ok() && resp.code() != v1::RECHARGE_RESULT_CODE_NOTPAY) {
    return grpc::Status(grpc::UNKNOWN, "unexpected code");
  }
  return s;
}

TEST_F(AuthE2E, ForceRefreshOfARechargeOrderIsForOperatorsOnly) {
  Stack& s = stack();
  Bare bare(s.target());
  auto user = s.CreateUser(0);
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(s.CreateRechargeOrder(*user, "AUTHFORCE1", 100).ok());
  ASSERT_TRUE(s.UpsertWechatOrder(*user, "AUTHFORCE1", 100, {{"trade_state", "NOTPAY"}}).ok());
  RechargeArgs a;
  a.appid = user->appid;
  a.token = user->token;
  a.order_no = "AUTHFORCE1";
  ASSERT_TRUE(QueryRecharge(*bare.orders, a).status.ok());
  ASSERT_EQ(s.WechatRequests("AUTHFORCE1"), 1);

  // The user's token alone, and keys of callers that are not operators.
  for (const std::string& key :
       {std::string(), std::string(kHashedKey), std::string(kTradeOnlyKey)}) {
    grpc::Status st = RechargeForced(*bare.orders, *user, "AUTHFORCE1", key);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << key << ": " << Describe(st);
    EXPECT_THAT(st.error_message(), HasSubstr("operator"));
  }
  grpc::Status unknown = RechargeForced(*bare.orders, *user, "AUTHFORCE1", "not-a-configured-key");
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(unknown);
  EXPECT_EQ(s.WechatRequests("AUTHFORCE1"), 1) << "a refused force_refresh asked WeChat";

  // An operator: asked again at once, within the refresh interval.
  grpc::Status op = RechargeForced(*bare.orders, *user, "AUTHFORCE1", kE2eCallerKey);
  EXPECT_TRUE(op.ok()) << Describe(op);
  EXPECT_EQ(s.WechatRequests("AUTHFORCE1"), 2);
}

TEST_F(AuthE2E, ForceRefreshOfInternalRpcsIsForOperatorsOnly) {
  Stack& s = stack();
  Bare bare(s.target());
  auto vehicle = [&](const std::string& key) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ctx.AddMetadata("x-api-key", key);
    v1::GetVehicleTransactionRequest req;
    req.set_out_trade_no(kSeedVehicleNo);
    req.set_sub_mchid(kSubMchid);
    req.set_force_refresh(true);
    v1::VehicleTransaction resp;
    return bare.orders->GetVehicleTransaction(&ctx, req, &resp);
  };
  auto trade = [&](const std::string& key) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ctx.AddMetadata("x-api-key", key);
    v1::GetTradeOrderRequest req;
    req.set_trade_order_id(kSeedTradeId);
    req.set_force_refresh(true);
    v1::GetTradeOrderResponse resp;
    return bare.trades->GetTradeOrder(&ctx, req, &resp);
  };
  const int64_t vehicle_before = s.WechatRequests(kSeedVehicleNo);
  const int64_t trade_before = s.TradeRequests(kSeedTradeId);
  // "hashed" may call both methods but is no operator.
  grpc::Status v = vehicle(kHashedKey);
  EXPECT_EQ(v.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(v);
  grpc::Status t = trade(kHashedKey);
  EXPECT_EQ(t.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(t);
  EXPECT_EQ(s.WechatRequests(kSeedVehicleNo), vehicle_before);
  EXPECT_EQ(s.TradeRequests(kSeedTradeId), trade_before);
  // The operator asks upstream again.
  EXPECT_TRUE(vehicle(kE2eCallerKey).ok());
  EXPECT_TRUE(trade(kE2eCallerKey).ok());
  EXPECT_EQ(s.WechatRequests(kSeedVehicleNo), vehicle_before + 1);
  EXPECT_EQ(s.TradeRequests(kSeedTradeId), trade_before + 1);
}

// Development without any caller configured (the demo's default): open, as before; but
// force_refresh still needs an operator, and there is none.
TEST_F(AuthE2E, DevelopmentWithoutCallersIsOpen) {
  Stack& s = stack();
  json config = s.BaseConfig();
  config.erase("auth");
  auto server = s.AddServer(config);
  ASSERT_TRUE(server.ok()) << server.status();
  Bare bare(s.target(*server));
  EXPECT_TRUE(Vehicle(*bare.orders, "").ok());
  EXPECT_TRUE(Trade(*bare.trades, "").ok());
  EXPECT_THAT(s.ServerLog(*server), HasSubstr("event=internal_rpcs_unprotected"));
  {
    grpc::ClientContext ctx;
    v1::GetTradeOrderRequest req;
    req.set_trade_order_id(kSeedTradeId);
    req.set_force_refresh(true);
    v1::GetTradeOrderResponse resp;
    grpc::Status st = bare.trades->GetTradeOrder(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(st);
  }
  s.StopServer(*server);
}

}  // namespace
}  // namespace orderquery::e2e
