// Round trips through the repositories and the admin API for every table.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/domain/recharge.h"
#include "server/domain/snapshots.h"
#include "storage/recharge_repository.h"
#include "storage/sha256.h"
#include "storage/snapshot_repositories.h"
#include "tests/integration/storage/storage_test_util.h"
#include "tests/support/storage_admin.h"

namespace orderquery::storage {
namespace {

using domain::RechargeState;
using ::testing::HasSubstr;
using ::testing::Not;

// What DATETIME(3) keeps of a time.
absl::Time Ms(absl::Time t) {
  return absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), absl::Milliseconds(1));
}

absl::Time At(int y, int mo, int d, int h, int mi, int s, int ms) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone()) +
         absl::Milliseconds(ms);
}

class RepositoriesTest : public storage_test::StorageTest {};

// ----- t_user

TEST_F(RepositoriesTest, UserBalanceRoundTrip) {
  MysqlRechargeRepository repo(pool());
  int64_t a = OQ_UNWRAP(admin::CreateUser(pool(), "wx-app", "openid-a", "Alice 张", 1500));
  int64_t b = OQ_UNWRAP(admin::CreateUser(pool(), "wx-app", "openid-b", "", 0));
  EXPECT_GT(a, 0);
  EXPECT_NE(a, b);
  EXPECT_EQ(OQ_UNWRAP(repo.GetBalance(a)), 1500);
  EXPECT_EQ(OQ_UNWRAP(repo.GetBalance(b)), 0);
  EXPECT_EQ(repo.GetBalance(b + 1000).status().code(), absl::StatusCode::kNotFound);
  // (appid, openid) is one user.
  EXPECT_EQ(admin::CreateUser(pool(), "wx-app", "openid-a", "again", 0).status().code(),
            absl::StatusCode::kAlreadyExists);
}

// ----- t_user_session

TEST_F(RepositoriesTest, TokenResolvesToItsSession) {
  MysqlRechargeRepository repo(pool());
  int64_t user = OQ_UNWRAP(admin::CreateUser(pool(), "wx-app", "openid-s", "s", 0));
  const std::string token = "tok-9f8e7d6c5b4a";
  const absl::Time expires = At(2031, 1, 2, 3, 4, 5, 678) + absl::Microseconds(999);
  OQ_ASSERT_OK(admin::CreateSession(pool(), user, "wx-app", token, expires));

  absl::StatusOr<domain::Session> s = repo.ResolveToken(token, At(2030, 1, 1, 0, 0, 0, 0));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->user_id, user);
  EXPECT_EQ(s->appid, "wx-app");
  EXPECT_EQ(s->expires_at, At(2031, 1, 2, 3, 4, 5, 678));
}

TEST_F(RepositoriesTest, OnlyTheTokenHashIsStored) {
  int64_t user = OQ_UNWRAP(admin::CreateUser(pool(), "wx-app", "openid-h", "h", 0));
  const std::string token = "raw-secret-token-0123456789";
  OQ_ASSERT_OK(admin::CreateSession(pool(), user, "wx-app", token, absl::Now() + absl::Hours(1)));

  std::vector<admin::SessionRow> rows = OQ_UNWRAP(admin::ListSessions(pool(), user));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].token_sha256, Sha256Hex(token));
  EXPECT_EQ(rows[0].token_sha256.size(), 64u);
  EXPECT_THAT(rows[0].token_sha256, Not(HasSubstr(token)));
  EXPECT_NE(rows[0].token_sha256, token);
  // The hash really is SHA-256 (FIPS 180-2 test vector).
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(RepositoriesTest, ExpiredUnknownAndEmptyTokensAreUnauthenticated) {
  MysqlRechargeRepository repo(pool());
  int64_t user = OQ_UNWRAP(admin::CreateUser(pool(), "wx-app", "openid-e", "e", 0));
  const absl::Time expires = At(2030, 6, 1, 12, 0, 0, 0);
  OQ_ASSERT_OK(admin::CreateSession(pool(), user, "wx-app", "tok-exp", expires));

  EXPECT_TRUE(repo.ResolveToken("tok-exp", expires - absl::Milliseconds(1)).ok());
  absl::StatusOr<domain::Session> at = repo.ResolveToken("tok-exp", expires);
  EXPECT_EQ(at.status().code(), absl::StatusCode::kUnauthenticated);
  absl::StatusOr<domain::Session> after = repo.ResolveToken("tok-exp", expires + absl::Hours(1));
  EXPECT_EQ(after.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(after.status().message(), Not(HasSubstr("tok-exp")));
  EXPECT_EQ(repo.ResolveToken("tok-unknown", expires - absl::Hours(1)).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(repo.ResolveToken("", expires - absl::Hours(1)).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(admin::CreateSession(pool(), user, "wx-app", "", expires).code(),
            absl::StatusCode::kInvalidArgument);
}

// ----- t_recharge_order

domain::RechargeOrder FullOrder(int64_t user) {
  domain::RechargeOrder o;
  o.order_no = "30037620190603135446976217590065";
  o.user_id = user;
  o.appid = "wxd930ea5d5a258f4f";
  o.mchid = "1230000109";
  o.sub_mchid = "1900000109";
  o.amount_fen = 8800;
  o.state = RechargeState::kUserPaying;
  o.trade_state = "USERPAYING";
  o.transaction_id = "4200000001201906031234567890";
  o.paid_at = At(2019, 6, 3, 5, 54, 46, 123);
  o.credited = false;
  o.last_queried_at = At(2019, 6, 3, 5, 55, 0, 1);
  o.created_at = At(2019, 6, 3, 5, 54, 40, 999);
  return o;
}

void ExpectSameOrder(const domain::RechargeOrder& got, const domain::RechargeOrder& want) {
  EXPECT_EQ(got.order_no, want.order_no);
  EXPECT_EQ(got.user_id, want.user_id);
  EXPECT_EQ(got.appid, want.appid);
  EXPECT_EQ(got.mchid, want.mchid);
  EXPECT_EQ(got.sub_mchid, want.sub_mchid);
  EXPECT_EQ(got.amount_fen, want.amount_fen);
  EXPECT_EQ(got.state, want.state);
  EXPECT_EQ(got.trade_state, want.trade_state);
  EXPECT_EQ(got.transaction_id, want.transaction_id);
  EXPECT_EQ(got.paid_at, want.paid_at);
  EXPECT_EQ(got.credited, want.credited);
  EXPECT_EQ(got.last_queried_at, want.last_queried_at);
  EXPECT_EQ(got.created_at, want.created_at);
}

TEST_F(RepositoriesTest, RechargeOrderRoundTrip) {
  MysqlRechargeRepository repo(pool());
  int64_t user = OQ_UNWRAP(admin::CreateUser(pool(), "wx-app", "openid-o", "o", 0));
  domain::RechargeOrder full = FullOrder(user);
  OQ_ASSERT_OK(admin::CreateRechargeOrder(pool(), full));
  ExpectSameOrder(OQ_UNWRAP(repo.GetOrder(full.order_no)), full);

  // Minimal order: optional fields absent, created_at defaults to now.
  domain::RechargeOrder minimal;
  minimal.order_no = "R2";
  minimal.user_id = user;
  minimal.appid = "wx-app";
  minimal.mchid = "1230000109";
  minimal.amount_fen = 1;
  absl::Time before = Ms(absl::Now());
  OQ_ASSERT_OK(admin::CreateRechargeOrder(pool(), minimal));
  domain::RechargeOrder got = OQ_UNWRAP(repo.GetOrder("R2"));
  EXPECT_EQ(got.state, RechargeState::kNotPay);
  EXPECT_EQ(got.sub_mchid, "");
  EXPECT_FALSE(got.paid_at.has_value());
  EXPECT_FALSE(got.last_queried_at.has_value());
  EXPECT_FALSE(got.credited);
  EXPECT_GE(got.created_at, before);
  EXPECT_LT(got.created_at - before, absl::Minutes(1));

  // Order numbers are case-sensitive identifiers.
  EXPECT_EQ(repo.GetOrder("r2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(repo.GetOrder("NOPE").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(admin::CreateRechargeOrder(pool(), minimal).code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(RepositoriesTest, TouchLastQueriedRecordsTheTime) {
  MysqlRechargeRepository repo(pool());
  domain::RechargeOrder o = FullOrder(1);
  o.last_queried_at.reset();
  OQ_ASSERT_OK(admin::CreateRechargeOrder(pool(), o));
  const absl::Time t = At(2024, 2, 29, 23, 59, 59, 999);
  OQ_ASSERT_OK(repo.TouchLastQueried(o.order_no, t + absl::Microseconds(500)));
  EXPECT_EQ(OQ_UNWRAP(repo.GetOrder(o.order_no)).last_queried_at, t);
  OQ_EXPECT_OK(repo.TouchLastQueried("no-such-order", t));
}

// ----- t_user_order_query_log

TEST_F(RepositoriesTest, QueryLogRoundTrip) {
  MysqlRechargeRepository repo(pool());
  domain::QueryLogEntry ok;
  ok.user_id = 42;
  ok.appid = "wx-app";
  ok.order_no = "Q1";
  ok.trade_state = "SUCCESS";
  ok.latency_ms = 123;
  domain::QueryLogEntry failed;
  failed.appid = "wx-app";
  failed.order_no = "Q1";
  failed.error_code = "RATELIMIT_EXCEEDED";
  failed.error_message = std::string(600, 'x') + "达到调用速率限制";  // longer than the column
  failed.latency_ms = 5;
  absl::Time before = Ms(absl::Now());
  OQ_ASSERT_OK(repo.AppendQueryLog(ok));
  OQ_ASSERT_OK(repo.AppendQueryLog(failed));

  std::vector<admin::QueryLogRow> rows = OQ_UNWRAP(admin::ListQueryLog(pool(), "Q1"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].user_id, std::optional<int64_t>(42));
  EXPECT_EQ(rows[0].appid, "wx-app");
  EXPECT_EQ(rows[0].trade_state, "SUCCESS");
  EXPECT_EQ(rows[0].error_code, "");
  EXPECT_EQ(rows[0].latency_ms, 123);
  EXPECT_GE(rows[0].created_at, before);
  EXPECT_EQ(rows[1].user_id, std::nullopt);
  EXPECT_EQ(rows[1].error_code, "RATELIMIT_EXCEEDED");
  EXPECT_EQ(rows[1].error_message, std::string(512, 'x'));
  EXPECT_EQ(rows[1].latency_ms, 5);
  EXPECT_EQ(OQ_UNWRAP(admin::CountLogRows(pool(), "Q1")).query_log, 2);
}

// ----- t_vehicle_transaction

domain::VehicleSnapshot Vehicle(absl::Time fetched, const std::string& state) {
  domain::VehicleSnapshot v;
  v.sub_mchid = "1900000109";
  v.out_trade_no = "20150806125346";
  v.trade_state = state;
  v.transaction_id = "1009660380201506130728806387";
  v.total_fen = 888;
  v.body_json =
      absl::StrCat(R"({"trade_state":")", state,
                   R"(","parking_info":{"plate_number":"粤B888888"},"amount":{"total":888}})");
  v.fetched_at = fetched;
  return v;
}

TEST_F(RepositoriesTest, VehicleTransactionRoundTripKeepsTheNewest) {
  MysqlVehicleRepository repo(pool());
  EXPECT_FALSE(OQ_UNWRAP(repo.Get("1900000109", "20150806125346")).has_value());

  const absl::Time t1 = At(2017, 8, 26, 2, 43, 39, 250);
  OQ_ASSERT_OK(repo.Upsert(Vehicle(t1, "ACCEPTED")));
  std::optional<domain::VehicleSnapshot> got = OQ_UNWRAP(repo.Get("1900000109", "20150806125346"));
  ASSERT_TRUE(got.has_value());
  domain::VehicleSnapshot want = Vehicle(t1, "ACCEPTED");
  EXPECT_EQ(got->sub_mchid, want.sub_mchid);
  EXPECT_EQ(got->out_trade_no, want.out_trade_no);
  EXPECT_EQ(got->trade_state, "ACCEPTED");
  EXPECT_EQ(got->transaction_id, want.transaction_id);
  EXPECT_EQ(got->total_fen, 888);
  EXPECT_EQ(got->body_json, want.body_json);
  EXPECT_EQ(got->fetched_at, t1);

  // A newer answer replaces it; an older one arriving late does not.
  const absl::Time t2 = t1 + absl::Seconds(30);
  OQ_ASSERT_OK(repo.Upsert(Vehicle(t2, "SUCCESS")));
  OQ_ASSERT_OK(repo.Upsert(Vehicle(t1 + absl::Seconds(1), "PAY_FAIL")));
  got = OQ_UNWRAP(repo.Get("1900000109", "20150806125346"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->trade_state, "SUCCESS");
  EXPECT_EQ(got->body_json, Vehicle(t2, "SUCCESS").body_json);
  EXPECT_EQ(got->fetched_at, t2);

  // Keyed by sub_mchid too.
  EXPECT_FALSE(OQ_UNWRAP(repo.Get("1900000110", "20150806125346")).has_value());
}

// ----- t_trade_order, t_trade_order_goods

domain::TradeOrderRecord Trade(absl::Time fetched) {
  domain::TradeOrderRecord r;
  r.merchant = "east";
  r.trade_order_id = "E01201908230414433510006";
  r.trade_type = 1;
  r.deposit_mode = 0;
  r.mch_id = "20000000";
  r.app_id = "";
  r.client_ip = "0:0:0:0:0:0:0:1";
  r.device = "pos-7";
  r.goods_id = "";
  r.subject = "被扫支付";
  r.body = "被扫支付";
  r.order_amount = 20400;
  r.discount_amount = 400;
  r.amount = 20000;
  r.mch_income = 19990;
  r.user_id = "134713461986047502";
  r.channel_user_id = "";
  r.status = -1;
  r.pay_order_id = "P01201908230414452700006";
  r.product_id = "8020";
  r.product_type = 3;
  r.coupon_id = "C1";
  r.store_no = "S001";
  r.store_name = "一号店";
  r.operator_id = "null";
  r.operator_name = "123";
  r.member_id = "M9";
  r.member_tel = "13800000000";
  r.give_points = 12;
  r.refund_total_amount = 0;
  r.trade_succ_time = At(2019, 8, 23, 11, 12, 21, 0);
  r.create_time = At(2019, 8, 23, 16, 14, 42, 0);
  r.update_time = std::nullopt;
  domain::TradeGoods burger;
  burger.cell_price = 12000;
  burger.current_price = 10400;
  burger.discount_amount = 400;
  burger.goods_id = 100093;
  burger.goods_name = "奥尔良鸡腿堡";
  burger.goods_num = 1;
  burger.goods_props = "";
  domain::TradeGoods tea;
  tea.current_price = 10000;
  tea.goods_id = -1;
  tea.goods_name = "茉莉花茶";
  tea.goods_num = 1;
  tea.goods_props = "大杯;少冰";
  r.goods = {burger, tea};
  r.fetched_at = fetched;
  return r;
}

void ExpectSameTrade(const domain::TradeOrderRecord& g, const domain::TradeOrderRecord& w) {
  EXPECT_EQ(g.merchant, w.merchant);
  EXPECT_EQ(g.trade_order_id, w.trade_order_id);
  EXPECT_EQ(g.trade_type, w.trade_type);
  EXPECT_EQ(g.deposit_mode, w.deposit_mode);
  EXPECT_EQ(g.mch_id, w.mch_id);
  EXPECT_EQ(g.app_id, w.app_id);
  EXPECT_EQ(g.client_ip, w.client_ip);
  EXPECT_EQ(g.device, w.device);
  EXPECT_EQ(g.goods_id, w.goods_id);
  EXPECT_EQ(g.subject, w.subject);
  EXPECT_EQ(g.body, w.body);
  EXPECT_EQ(g.order_amount, w.order_amount);
  EXPECT_EQ(g.discount_amount, w.discount_amount);
  EXPECT_EQ(g.amount, w.amount);
  EXPECT_EQ(g.mch_income, w.mch_income);
  EXPECT_EQ(g.user_id, w.user_id);
  EXPECT_EQ(g.channel_user_id, w.channel_user_id);
  EXPECT_EQ(g.status, w.status);
  EXPECT_EQ(g.pay_order_id, w.pay_order_id);
  EXPECT_EQ(g.product_id, w.product_id);
  EXPECT_EQ(g.product_type, w.product_type);
  EXPECT_EQ(g.coupon_id, w.coupon_id);
  EXPECT_EQ(g.store_no, w.store_no);
  EXPECT_EQ(g.store_name, w.store_name);
  EXPECT_EQ(g.operator_id, w.operator_id);
  EXPECT_EQ(g.operator_name, w.operator_name);
  EXPECT_EQ(g.member_id, w.member_id);
  EXPECT_EQ(g.member_tel, w.member_tel);
  EXPECT_EQ(g.give_points, w.give_points);
  EXPECT_EQ(g.refund_total_amount, w.refund_total_amount);
  EXPECT_EQ(g.trade_succ_time, w.trade_succ_time);
  EXPECT_EQ(g.create_time, w.create_time);
  EXPECT_EQ(g.update_time, w.update_time);
  EXPECT_EQ(g.fetched_at, w.fetched_at);
  ASSERT_EQ(g.goods.size(), w.goods.size());
  for (size_t i = 0; i < g.goods.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("goods line ", i));
    EXPECT_EQ(g.goods[i].cell_price, w.goods[i].cell_price);
    EXPECT_EQ(g.goods[i].current_price, w.goods[i].current_price);
    EXPECT_EQ(g.goods[i].discount_amount, w.goods[i].discount_amount);
    EXPECT_EQ(g.goods[i].goods_id, w.goods[i].goods_id);
    EXPECT_EQ(g.goods[i].goods_name, w.goods[i].goods_name);
    EXPECT_EQ(g.goods[i].goods_num, w.goods[i].goods_num);
    EXPECT_EQ(g.goods[i].goods_props, w.goods[i].goods_props);
  }
}

TEST_F(RepositoriesTest, TradeOrderRoundTripReplacesGoods) {
  MysqlTradeOrderRepository repo(pool());
  EXPECT_FALSE(OQ_UNWRAP(repo.Get("east", "E01201908230414433510006")).has_value());

  const absl::Time t1 = At(2019, 8, 23, 19, 13, 22, 5);
  OQ_ASSERT_OK(repo.Upsert(Trade(t1)));
  std::optional<domain::TradeOrderRecord> got =
      OQ_UNWRAP(repo.Get("east", "E01201908230414433510006"));
  ASSERT_TRUE(got.has_value());
  ExpectSameTrade(*got, Trade(t1));

  // A later fetch with one goods line and new status replaces order and goods together.
  domain::TradeOrderRecord next = Trade(t1 + absl::Minutes(1));
  next.status = 5;
  next.refund_total_amount = 20000;
  next.update_time = At(2019, 8, 24, 1, 0, 0, 0);
  next.trade_succ_time.reset();
  next.goods.resize(1);
  next.goods[0].goods_num = 3;
  OQ_ASSERT_OK(repo.Upsert(next));
  got = OQ_UNWRAP(repo.Get("east", "E01201908230414433510006"));
  ASSERT_TRUE(got.has_value());
  ExpectSameTrade(*got, next);
  EXPECT_EQ(OQ_UNWRAP(admin::CountRows(pool(), "t_trade_order_goods")), 1);

  // An older fetch finishing late changes nothing.
  OQ_ASSERT_OK(repo.Upsert(Trade(t1)));
  got = OQ_UNWRAP(repo.Get("east", "E01201908230414433510006"));
  ASSERT_TRUE(got.has_value());
  ExpectSameTrade(*got, next);

  // Same id under another merchant is another order.
  EXPECT_FALSE(OQ_UNWRAP(repo.Get("west", "E01201908230414433510006")).has_value());
}

TEST_F(RepositoriesTest, ConcurrentTradeOrderUpsertsAllLand) {
  // Distinct new orders written at once contend on index gaps (and may deadlock, which the
  // transaction helper retries); every order must end up stored with its own goods.
  MysqlTradeOrderRepository repo(pool());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 10;
  std::vector<absl::Status> failures(kThreads);
  storage_test::StartLine start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.ArriveAndWait();
      for (int i = 0; i < kPerThread; ++i) {
        domain::TradeOrderRecord r = Trade(At(2020, 1, 1, 0, 0, 0, 0));
        r.trade_order_id = absl::StrCat("T", t, "-", i);
        r.goods.resize(1 + (t + i) % 2);
        absl::Status st = repo.Upsert(r);
        if (!st.ok()) failures[t] = st;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (const absl::Status& st : failures) EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(OQ_UNWRAP(admin::CountRows(pool(), "t_trade_order")), kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      std::optional<domain::TradeOrderRecord> got =
          OQ_UNWRAP(repo.Get("east", absl::StrCat("T", t, "-", i)));
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(got->goods.size(), static_cast<size_t>(1 + (t + i) % 2));
    }
  }
}

}  // namespace
}  // namespace orderquery::storage
