// GetVehicleTransaction end to end (issue 5, seed 002): orderqueryd as a process, the payment
// sandbox playing WeChat Pay's partner-mode parking API over loopback, MariaDB for snapshots.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "storage/snapshot_repositories.h"
#include "tests/e2e/harness/calls.h"
#include "tests/e2e/harness/stack.h"
#include "tests/e2e/harness/suite.h"
#include "tests/fakes/seed_examples.h"

namespace orderquery::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// Seed 002's 200 example, verbatim (one copy in tests/fakes/seed_examples.h).
constexpr const char* kSeedReply = fakes::kSeed002VehicleReply;
constexpr char kSeedNo[] = "20150806125346";

class VehicleE2E : public StackSuite<VehicleE2E> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "vehicle";
    return o;
  }

 protected:
  static absl::StatusOr<std::optional<domain::VehicleSnapshot>> Stored(const std::string& sub_mchid,
                                                                       const std::string& no) {
    storage::MysqlVehicleRepository repo(stack().pool());
    return repo.Get(sub_mchid, no);
  }
  static int64_t VehicleRows() {
    auto c = stack().CountTables();
    return c.ok() ? c->vehicle : -1;
  }
};

TEST_F(VehicleE2E, SeedExampleRoundTripsFieldForField) {
  Stack& s = stack();
  VehicleResult r = GetVehicle(s.orders(), kSeedNo, kSubMchid);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  const v1::VehicleTransaction& t = r.response;
  EXPECT_EQ(t.appid(), "wxcbda96de0b165486");
  EXPECT_EQ(t.sub_appid(), "wxcbda96de0b165489");
  EXPECT_EQ(t.sp_mchid(), "1230000109");
  EXPECT_EQ(t.sub_mchid(), "1900000109");
  EXPECT_EQ(t.description(), "停车场扣费");
  EXPECT_EQ(t.create_time(), "2017-08-26T10:43:39+08:00");
  EXPECT_EQ(t.out_trade_no(), "20150806125346");
  EXPECT_EQ(t.transaction_id(), "1009660380201506130728806387");
  EXPECT_EQ(t.trade_state(), v1::VehicleTransaction::SUCCESS);
  EXPECT_EQ(t.trade_state_description(), "支付失败,请重新下单支付");
  EXPECT_EQ(t.success_time(), "2017-08-26T10:43:39+08:00");
  EXPECT_EQ(t.bank_type(), "CMC");
  EXPECT_EQ(t.user_repaid(), "Y");
  EXPECT_EQ(t.attach(), "深圳分店");
  EXPECT_EQ(t.trade_scene(), "PARKING");
  ASSERT_TRUE(t.has_parking_info());
  EXPECT_EQ(t.parking_info().parking_id(), "5K8264ILTKCH16CQ250");
  EXPECT_EQ(t.parking_info().plate_number(), "粤B888888");
  EXPECT_EQ(t.parking_info().plate_color(), v1::ParkingInfo::BLUE);
  EXPECT_EQ(t.parking_info().start_time(), "2017-08-26T10:43:39+08:00");
  EXPECT_EQ(t.parking_info().end_time(), "2017-08-26T10:43:39+08:00");
  EXPECT_EQ(t.parking_info().parking_name(), "欢乐海岸停车场");
  EXPECT_EQ(t.parking_info().charging_duration(), 3600);
  EXPECT_EQ(t.parking_info().device_id(), "12313");
  ASSERT_TRUE(t.has_payer());
  EXPECT_EQ(t.payer().openid(), "oUpF8uMuAJOM2pxb1Q");
  EXPECT_EQ(t.payer().sub_openid(), "oUpF8uMuAJOM2pxb1Q");
  ASSERT_TRUE(t.has_amount());
  EXPECT_EQ(t.amount().total(), 888);
  EXPECT_EQ(t.amount().currency(), "CNY");
  EXPECT_EQ(t.amount().payer_total(), 100);
  EXPECT_EQ(t.amount().discount_total(), 100);
  ASSERT_EQ(t.promotion_detail_size(), 1);
  const v1::PromotionDetail& p = t.promotion_detail(0);
  EXPECT_EQ(p.coupon_id(), "109519");
  EXPECT_EQ(p.name(), "单品惠-6");
  EXPECT_EQ(p.scope(), "SINGLE");
  EXPECT_EQ(p.type(), "CASH");
  EXPECT_EQ(p.stock_id(), "931386");
  EXPECT_EQ(p.amount(), 5);
  EXPECT_EQ(p.wechatpay_contribute(), 1);
  EXPECT_EQ(p.merchant_contribute(), 1);
  EXPECT_EQ(p.other_contribute(), 1);
  EXPECT_EQ(p.currency(), "CNY");
  EXPECT_EQ(s.WechatRequests(kSeedNo), 1);

  // Stored: the reply body as verified, and its key columns.
  auto stored = Stored(kSubMchid, kSeedNo);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_TRUE(stored->has_value());
  const domain::VehicleSnapshot& snap = **stored;
  EXPECT_EQ(snap.trade_state, "SUCCESS");
  EXPECT_EQ(snap.transaction_id, "1009660380201506130728806387");
  EXPECT_EQ(snap.total_fen, 888);
  EXPECT_EQ(json::parse(snap.body_json), json::parse(kSeedReply));
  const absl::Time fetched = snap.fetched_at;

  // SUCCESS is final: served from storage, same answer, no request.
  VehicleResult again = GetVehicle(s.orders(), kSeedNo, kSubMchid);
  ASSERT_TRUE(again.status.ok()) << Describe(again.status);
  EXPECT_EQ(again.response.SerializeAsString(), t.SerializeAsString());
  EXPECT_EQ(s.WechatRequests(kSeedNo), 1);

  // force_refresh asks again and replaces the snapshot.
  VehicleResult forced = GetVehicle(s.orders(), kSeedNo, kSubMchid, /*force_refresh=*/true);
  ASSERT_TRUE(forced.status.ok()) << Describe(forced.status);
  EXPECT_EQ(forced.response.SerializeAsString(), t.SerializeAsString());
  EXPECT_EQ(s.WechatRequests(kSeedNo), 2);
  auto refreshed = Stored(kSubMchid, kSeedNo);
  ASSERT_TRUE(refreshed.ok() && refreshed->has_value());
  EXPECT_GT((*refreshed)->fetched_at, fetched);
  EXPECT_EQ(VehicleRows(), 1);
}

TEST_F(VehicleE2E, StatesOtherThanSuccessAndRefundAreAskedEveryTime) {
  Stack& s = stack();
  // ACCEPTED twice, then SUCCESS; afterwards storage answers.
  ASSERT_TRUE(s.sandbox()
                  .UpsertOrder({{"out_trade_no", "V2ACCEPTED"},
                                {"kind", "vehicle"},
                                {"sub_mchid", kSubMchid},
                                {"amount", 1200},
                                {"trade_state", "ACCEPTED"},
                                {"transitions", {{{"to", "SUCCESS"}, {"after_queries", 2}}}}})
                  .ok());
  for (int i = 1; i <= 2; ++i) {
    VehicleResult r = GetVehicle(s.orders(), "V2ACCEPTED", kSubMchid);
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    EXPECT_EQ(r.response.trade_state(), v1::VehicleTransaction::ACCEPTED);
    EXPECT_EQ(r.response.success_time(), "");
    EXPECT_EQ(r.response.amount().total(), 1200);
    EXPECT_EQ(s.WechatRequests("V2ACCEPTED"), i);
    auto stored = Stored(kSubMchid, "V2ACCEPTED");
    ASSERT_TRUE(stored.ok() && stored->has_value());
    EXPECT_EQ((*stored)->trade_state, "ACCEPTED");
    EXPECT_EQ((*stored)->total_fen, 1200);
  }
  VehicleResult paid = GetVehicle(s.orders(), "V2ACCEPTED", kSubMchid);
  ASSERT_TRUE(paid.status.ok()) << Describe(paid.status);
  EXPECT_EQ(paid.response.trade_state(), v1::VehicleTransaction::SUCCESS);
  EXPECT_NE(paid.response.success_time(), "");
  EXPECT_EQ((*Stored(kSubMchid, "V2ACCEPTED"))->trade_state, "SUCCESS");
  VehicleResult cached = GetVehicle(s.orders(), "V2ACCEPTED", kSubMchid);
  EXPECT_EQ(cached.response.trade_state(), v1::VehicleTransaction::SUCCESS);
  EXPECT_EQ(s.WechatRequests("V2ACCEPTED"), 3);

  // PAY_FAIL is not final; REFUND is.
  ASSERT_TRUE(
      s.sandbox()
          .UpsertOrder(json::array(
              {{{"out_trade_no", "V2PAYFAIL"}, {"kind", "vehicle"}, {"trade_state", "PAY_FAIL"}},
               {{"out_trade_no", "V2REFUND"}, {"kind", "vehicle"}, {"trade_state", "REFUND"}}}))
          .ok());
  for (int i = 0; i < 2; ++i) {
    VehicleResult f = GetVehicle(s.orders(), "V2PAYFAIL", kSubMchid);
    ASSERT_TRUE(f.status.ok()) << Describe(f.status);
    EXPECT_EQ(f.response.trade_state(), v1::VehicleTransaction::PAY_FAIL);
    VehicleResult rf = GetVehicle(s.orders(), "V2REFUND", kSubMchid);
    ASSERT_TRUE(rf.status.ok()) << Describe(rf.status);
    EXPECT_EQ(rf.response.trade_state(), v1::VehicleTransaction::REFUND);
  }
  EXPECT_EQ(s.WechatRequests("V2PAYFAIL"), 2);
  EXPECT_EQ(s.WechatRequests("V2REFUND"), 1);
  EXPECT_EQ((*Stored(kSubMchid, "V2PAYFAIL"))->trade_state, "PAY_FAIL");
  EXPECT_EQ((*Stored(kSubMchid, "V2REFUND"))->trade_state, "REFUND");
}

TEST_F(VehicleE2E, InvalidArgumentsAreRefusedBeforeAnyRequest) {
  Stack& s = stack();
  const int64_t requests = s.TotalSandboxRequests();
  const int64_t rows = VehicleRows();
  struct Bad {
    std::string out_trade_no, sub_mchid;
  };
  const std::vector<Bad> bad = {{"", kSubMchid},
                                {std::string(33, '1'), kSubMchid},
                                {"2015/0806", kSubMchid},
                                {"'; DROP TABLE t_vehicle_transaction; --", kSubMchid},
                                {"停车20150806", kSubMchid},
                                {kSeedNo, ""},
                                {kSeedNo, "19000abc"},
                                {kSeedNo, std::string(33, '1')},
                                {kSeedNo, "1900000109&sp_mchid=1"}};
  for (const Bad& b : bad) {
    VehicleResult r = GetVehicle(s.orders(), b.out_trade_no, b.sub_mchid);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << Describe(r.status) << " for (" << b.out_trade_no << ", " << b.sub_mchid << ")";
  }
  EXPECT_EQ(s.TotalSandboxRequests(), requests);
  EXPECT_EQ(VehicleRows(), rows);
}

// Seed 002's error table, each row through the sandbox.
struct ErrorCase {
  std::string name;
  json order;             // sandbox order (null: none)
  std::string queried;    // out_trade_no asked
  std::string sub_mchid;  // sub_mchid asked
  grpc::StatusCode code;
  std::string message_part;
  int64_t requests;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

std::vector<ErrorCase> ErrorCases() {
  auto vehicle = [](const std::string& no, json fault) {
    return json{{"out_trade_no", no},
                {"kind", "vehicle"},
                {"sub_mchid", kSubMchid},
                {"faults", json::array({std::move(fault)})}};
  };
  return {
      {"ParamError", vehicle("V3PARAM", {{"type", "param_error"}}), "V3PARAM", kSubMchid,
       grpc::StatusCode::INVALID_ARGUMENT, "参数错误", 1},
      {"ParamErrorOutTradeNo", vehicle("V3PARAMNO", {{"type", "param_error_out_trade_no"}}),
       "V3PARAMNO", kSubMchid, grpc::StatusCode::INVALID_ARGUMENT, "参数错误,请检查out_trade_no",
       1},
      {"InvalidRequest", vehicle("V3INVALID", {{"type", "invalid_request"}}), "V3INVALID",
       kSubMchid, grpc::StatusCode::FAILED_PRECONDITION, "HTTP 请求不符合微信支付 APIv3 接口规则",
       1},
      // A direct-payment order asked on the parking endpoint: the sandbox's own answer.
      {"NotAParkingOrder",
       json{{"out_trade_no", "V3DIRECT"}, {"kind", "direct"}, {"trade_state", "SUCCESS"}},
       "V3DIRECT", kSubMchid, grpc::StatusCode::FAILED_PRECONDITION,
       "不支持查询非支付分停车订单,请更换单号后再试", 1},
      // A parking order of another sub-merchant.
      {"SubMerchantNotBound",
       json{{"out_trade_no", "V3UNBOUND"}, {"kind", "vehicle"}, {"sub_mchid", kSubMchid}},
       "V3UNBOUND", "1900000999", grpc::StatusCode::FAILED_PRECONDITION,
       "服务商和子商户没有绑定关系", 1},
      {"NotFound", json(), "V3NOSUCHORDER", kSubMchid, grpc::StatusCode::NOT_FOUND, "订单不存在",
       1},
      {"RateLimited", vehicle("V3RATE", {{"type", "http_429"}}), "V3RATE", kSubMchid,
       grpc::StatusCode::RESOURCE_EXHAUSTED, "RATELIMIT_EXCEEDED", 3},
      {"ServerError", vehicle("V3SYSTEM", {{"type", "http_500"}}), "V3SYSTEM", kSubMchid,
       grpc::StatusCode::UNAVAILABLE, "SYSTEM_ERROR", 3},
      {"SignError", vehicle("V3SIGN", {{"type", "sign_error"}}), "V3SIGN", kSubMchid,
       grpc::StatusCode::INTERNAL, "SIGN_ERROR", 1},
      // Not in the seed's table, but the proto documents them: replies failing verification.
      {"ForgedSignature", vehicle("V3FORGED", {{"type", "wrong_signature"}}), "V3FORGED", kSubMchid,
       grpc::StatusCode::INTERNAL, "verification", 1},
      {"WrongSpMchid", vehicle("V3SPMCHID", {{"type", "wrong_mchid"}}), "V3SPMCHID", kSubMchid,
       grpc::StatusCode::INTERNAL, "does not match", 1},
  };
}

class VehicleErrorsE2E : public StackSuite<VehicleErrorsE2E, ::testing::TestWithParam<ErrorCase>> {
 public:
  static StackOptions Options() {
    StackOptions o;
    o.name_hint = "vehicle_errors";
    return o;
  }
};

TEST_P(VehicleErrorsE2E, MapsAsDocumentedAndStoresNothing) {
  const ErrorCase& c = GetParam();
  Stack& s = stack();
  if (!c.order.is_null()) {
    ASSERT_TRUE(s.sandbox().UpsertOrder(c.order).ok());
  }
  auto before = s.CountTables();
  ASSERT_TRUE(before.ok());

  VehicleResult r = GetVehicle(s.orders(), c.queried, c.sub_mchid);
  EXPECT_EQ(r.status.error_code(), c.code) << Describe(r.status);
  EXPECT_THAT(r.status.error_message(), HasSubstr(c.message_part)) << Describe(r.status);
  EXPECT_EQ(s.WechatRequests(c.queried), c.requests);
  EXPECT_EQ(*s.CountTables(), *before);
  storage::MysqlVehicleRepository repo(s.pool());
  auto stored = repo.Get(c.sub_mchid, c.queried);
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->has_value());
}

INSTANTIATE_TEST_SUITE_P(Errors, VehicleErrorsE2E, ::testing::ValuesIn(ErrorCases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& i) { return i.param.name; });

// A sandbox that knows another public key for our merchant: every request fails its signature
// check, as WeChat does with a wrong merchant key (401 SIGN_ERROR).
TEST_F(VehicleE2E, RequestSignedWithAKeyWeChatDoesNotKnowIsInternal) {
  Stack& s = stack();
  fakes::SandboxProcess::Options options = fakes::SandboxProcess::Options::FromKeys(s.keys());
  options.merchant_public_keys = {s.keys().platform_public_key};  // not the merchant's key
  auto strict = fakes::SandboxProcess::Start(options);
  ASSERT_TRUE(strict.ok()) << strict.status();
  json config = s.BaseConfig();
  for (auto& [name, merchant] : config["wechat"]["merchants"].items()) {
    merchant["base_url"] = (*strict)->base_url();
  }
  auto server = s.AddServer(config);
  ASSERT_TRUE(server.ok()) << server.status();

  const int64_t rows = VehicleRows();
  VehicleResult r = GetVehicle(s.orders(*server), kSeedNo, kSubMchid, /*force_refresh=*/true);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INTERNAL) << Describe(r.status);
  EXPECT_THAT(r.status.error_message(), HasSubstr("signature")) << Describe(r.status);
  auto stats = (*strict)->Stats(kSeedNo);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)["requests"], 1);
  EXPECT_EQ((*stats)["sign_errors"], 1);
  EXPECT_EQ(VehicleRows(), rows);
  s.StopServer(*server);
}

}  // namespace
}  // namespace orderquery::e2e
