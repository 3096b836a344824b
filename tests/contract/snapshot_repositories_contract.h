// The contract of domain::VehicleRepository and domain::TradeOrderRepository, run against every
// implementation (see recharge_repository_contract.h for how to instantiate it).
#ifndef ORDERQUERY_TESTS_CONTRACT_SNAPSHOT_REPOSITORIES_CONTRACT_H_
#define ORDERQUERY_TESTS_CONTRACT_SNAPSHOT_REPOSITORIES_CONTRACT_H_

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "server/domain/snapshots.h"

namespace orderquery::contract {

class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;
  virtual domain::VehicleRepository& vehicles() = 0;
  virtual domain::TradeOrderRepository& trade_orders() = 0;
};

using SnapshotStoreFactory = absl::StatusOr<std::unique_ptr<SnapshotStore>> (*)();

class SnapshotRepositoriesContract : public ::testing::TestWithParam<SnapshotStoreFactory> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<SnapshotStore>> store = GetParam()();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  // 2030-03-04 05:06:07.089 UTC plus `offset` (whole milliseconds: what DATETIME(3) keeps).
  static absl::Time T(absl::Duration offset = absl::ZeroDuration()) {
    return absl::FromCivil(absl::CivilSecond(2030, 3, 4, 5, 6, 7), absl::UTCTimeZone()) +
           absl::Milliseconds(89) + offset;
  }

  static domain::VehicleSnapshot Vehicle(const std::string& state, absl::Time fetched_at) {
    domain::VehicleSnapshot s;
    s.sub_mchid = "1900000109";
    s.out_trade_no = "V-1";
    s.trade_state = state;
    s.transaction_id = "4200000000000000002";
    s.total_fen = 3500;
    s.body_json = R"({"trade_state":")" + state + R"(","plate":"粤B12345"})";
    s.fetched_at = fetched_at;
    return s;
  }
  std::optional<domain::VehicleSnapshot> GetVehicle(const std::string& sub_mchid,
                                                    const std::string& out_trade_no) {
    auto got = store_->vehicles().Get(sub_mchid, out_trade_no);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : std::nullopt;
  }

  static domain::TradeOrderRecord Trade(int status, absl::Time fetched_at, int goods_lines) {
    domain::TradeOrderRecord r;
    r.merchant = "m1";
    r.trade_order_id = "E0120190823";
    r.trade_type = 1;
    r.deposit_mode = 2;
    r.mch_id = "M100";
    r.app_id = "A200";
    r.client_ip = "10.0.0.1";
    r.device = "pos-7";
    r.goods_id = "G1";
    r.subject = "咖啡";
    r.body = "two coffees";
    r.order_amount = 3000;
    r.discount_amount = 200;
    r.amount = 2800;
    r.mch_income = 2790;
    r.user_id = "u-1";
    r.channel_user_id = "cu-1";
    r.status = status;
    r.pay_order_id = "P300";
    r.product_id = "PR1";
    r.product_type = 3;
    r.coupon_id = "C1";
    r.store_no = "S1";
    r.store_name = "Store 一";
    r.operator_id = "op1";
    r.operator_name = "Op";
    r.member_id = "mem1";
    r.member_tel = "13800000000";
    r.give_points = 28;
    r.refund_total_amount = 0;
    r.trade_succ_time = T(absl::Seconds(1));
    r.create_time = T();
    r.update_time = std::nullopt;
    for (int i = 0; i < goods_lines; ++i) {
      domain::TradeGoods g;
      g.cell_price = 1500 + i;
      g.current_price = 1400 + i;
      g.discount_amount = 100;
      g.goods_id = i == 0 ? -1 : 1000 + i;
      g.goods_name = i == 0 ? "拿铁" : "line " + std::to_string(i);
      g.goods_num = i + 1;
      g.goods_props = "{}";
      r.goods.push_back(g);
    }
    r.fetched_at = fetched_at;
    return r;
  }
  std::optional<domain::TradeOrderRecord> GetTrade(const std::string& merchant,
                                                   const std::string& id) {
    auto got = store_->trade_orders().Get(merchant, id);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : std::nullopt;
  }
  static void ExpectSameTrade(const domain::TradeOrderRecord& a,
                              const domain::TradeOrderRecord& b) {
    EXPECT_EQ(a.merchant, b.merchant);
    EXPECT_EQ(a.trade_order_id, b.trade_order_id);
    EXPECT_EQ(a.trade_type, b.trade_type);
    EXPECT_EQ(a.deposit_mode, b.deposit_mode);
    EXPECT_EQ(a.mch_id, b.mch_id);
    EXPECT_EQ(a.app_id, b.app_id);
    EXPECT_EQ(a.client_ip, b.client_ip);
    EXPECT_EQ(a.device, b.device);
    EXPECT_EQ(a.goods_id, b.goods_id);
    EXPECT_EQ(a.subject, b.subject);
    EXPECT_EQ(a.body, b.body);
    EXPECT_EQ(a.order_amount, b.order_amount);
    EXPECT_EQ(a.discount_amount, b.discount_amount);
    EXPECT_EQ(a.amount, b.amount);
    EXPECT_EQ(a.mch_income, b.mch_income);
    EXPECT_EQ(a.user_id, b.user_id);
    EXPECT_EQ(a.channel_user_id, b.channel_user_id);
    EXPECT_EQ(a.status, b.status);
    EXPECT_EQ(a.pay_order_id, b.pay_order_id);
    EXPECT_EQ(a.product_id, b.product_id);
    EXPECT_EQ(a.product_type, b.product_type);
    EXPECT_EQ(a.coupon_id, b.coupon_id);
    EXPECT_EQ(a.store_no, b.store_no);
    EXPECT_EQ(a.store_name, b.store_name);
    EXPECT_EQ(a.operator_id, b.operator_id);
    EXPECT_EQ(a.operator_name, b.operator_name);
    EXPECT_EQ(a.member_id, b.member_id);
    EXPECT_EQ(a.member_tel, b.member_tel);
    EXPECT_EQ(a.give_points, b.give_points);
    EXPECT_EQ(a.refund_total_amount, b.refund_total_amount);
    EXPECT_EQ(a.trade_succ_time, b.trade_succ_time);
    EXPECT_EQ(a.create_time, b.create_time);
    EXPECT_EQ(a.update_time, b.update_time);
    EXPECT_EQ(a.fetched_at, b.fetched_at);
    ASSERT_EQ(a.goods.size(), b.goods.size());
    for (size_t i = 0; i < a.goods.size(); ++i) {
      EXPECT_EQ(a.goods[i].cell_price, b.goods[i].cell_price) << i;
      EXPECT_EQ(a.goods[i].current_price, b.goods[i].current_price) << i;
      EXPECT_EQ(a.goods[i].discount_amount, b.goods[i].discount_amount) << i;
      EXPECT_EQ(a.goods[i].goods_id, b.goods[i].goods_id) << i;
      EXPECT_EQ(a.goods[i].goods_name, b.goods[i].goods_name) << i;
      EXPECT_EQ(a.goods[i].goods_num, b.goods[i].goods_num) << i;
      EXPECT_EQ(a.goods[i].goods_props, b.goods[i].goods_props) << i;
    }
  }

  std::unique_ptr<SnapshotStore> store_;
};

// ----- vehicle transactions

TEST_P(SnapshotRepositoriesContract, VehicleSnapshotRoundTripsAndAbsentIsNullopt) {
  EXPECT_FALSE(GetVehicle("1900000109", "V-1").has_value());
  ASSERT_TRUE(store_->vehicles().Upsert(Vehicle("ACCEPTED", T())).ok());
  std::optional<domain::VehicleSnapshot> got = GetVehicle("1900000109", "V-1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->sub_mchid, "1900000109");
  EXPECT_EQ(got->out_trade_no, "V-1");
  EXPECT_EQ(got->trade_state, "ACCEPTED");
  EXPECT_EQ(got->transaction_id, "4200000000000000002");
  EXPECT_EQ(got->total_fen, 3500);
  EXPECT_EQ(got->body_json, Vehicle("ACCEPTED", T()).body_json);
  EXPECT_EQ(got->fetched_at, T());
  // Another key of the same merchant is another row.
  EXPECT_FALSE(GetVehicle("1900000109", "V-2").has_value());
  EXPECT_FALSE(GetVehicle("1900000110", "V-1").has_value());
}

TEST_P(SnapshotRepositoriesContract, VehicleKeepsTheNewestSnapshot) {
  ASSERT_TRUE(store_->vehicles().Upsert(Vehicle("ACCEPTED", T())).ok());
  ASSERT_TRUE(store_->vehicles().Upsert(Vehicle("SUCCESS", T(absl::Seconds(5)))).ok());
  EXPECT_EQ(GetVehicle("1900000109", "V-1")->trade_state, "SUCCESS");
  // An answer fetched earlier that finishes later does not roll the state back.
  ASSERT_TRUE(store_->vehicles().Upsert(Vehicle("ACCEPTED", T(absl::Seconds(2)))).ok());
  std::optional<domain::VehicleSnapshot> got = GetVehicle("1900000109", "V-1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->trade_state, "SUCCESS");
  EXPECT_EQ(got->body_json, Vehicle("SUCCESS", T()).body_json);
  EXPECT_EQ(got->fetched_at, T(absl::Seconds(5)));
  // One fetched at the same instant replaces it.
  ASSERT_TRUE(store_->vehicles().Upsert(Vehicle("REFUND", T(absl::Seconds(5)))).ok());
  EXPECT_EQ(GetVehicle("1900000109", "V-1")->trade_state, "REFUND");
}

// ----- trade orders

TEST_P(SnapshotRepositoriesContract, TradeOrderRoundTripsEveryFieldAndGoodsInOrder) {
  EXPECT_FALSE(GetTrade("m1", "E0120190823").has_value());
  const domain::TradeOrderRecord r = Trade(2, T(absl::Seconds(3)), 3);
  ASSERT_TRUE(store_->trade_orders().Upsert(r).ok());
  std::optional<domain::TradeOrderRecord> got = GetTrade("m1", "E0120190823");
  ASSERT_TRUE(got.has_value());
  ExpectSameTrade(*got, r);
  // The merchant is part of the key.
  EXPECT_FALSE(GetTrade("m2", "E0120190823").has_value());
}

TEST_P(SnapshotRepositoriesContract, TradeOrderNewerReplacesOrderAndGoodsOlderIsIgnored) {
  ASSERT_TRUE(store_->trade_orders().Upsert(Trade(1, T(), 3)).ok());
  const domain::TradeOrderRecord newer = Trade(2, T(absl::Seconds(10)), 1);
  ASSERT_TRUE(store_->trade_orders().Upsert(newer).ok());
  std::optional<domain::TradeOrderRecord> got = GetTrade("m1", "E0120190823");
  ASSERT_TRUE(got.has_value());
  ExpectSameTrade(*got, newer);

  ASSERT_TRUE(store_->trade_orders().Upsert(Trade(1, T(absl::Seconds(4)), 2)).ok());
  got = GetTrade("m1", "E0120190823");
  ASSERT_TRUE(got.has_value());
  ExpectSameTrade(*got, newer);

  // The same instant replaces.
  const domain::TradeOrderRecord tie = Trade(4, T(absl::Seconds(10)), 0);
  ASSERT_TRUE(store_->trade_orders().Upsert(tie).ok());
  got = GetTrade("m1", "E0120190823");
  ASSERT_TRUE(got.has_value());
  ExpectSameTrade(*got, tie);
}

}  // namespace orderquery::contract

#endif  // ORDERQUERY_TESTS_CONTRACT_SNAPSHOT_REPOSITORIES_CONTRACT_H_
