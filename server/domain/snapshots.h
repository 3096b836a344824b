// Stored snapshots of upstream answers: vehicle transactions (seed 002) and merchant trade
// orders (seed 001), and the storage interfaces for them.
#ifndef ORDERQUERY_SERVER_DOMAIN_SNAPSHOTS_H_
#define ORDERQUERY_SERVER_DOMAIN_SNAPSHOTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace orderquery::domain {

// The latest verified WeChat answer for (sub_mchid, out_trade_no). body_json is the reply body
// exactly as verified, so every field round-trips; the columns beside it are for queries.
struct VehicleSnapshot {
  std::string sub_mchid;
  std::string out_trade_no;
  std::string trade_state;  // SUCCESS / ACCEPTED / PAY_FAIL / REFUND
  std::string transaction_id;
  int64_t total_fen = 0;
  std::string body_json;
  absl::Time fetched_at;
};

class VehicleRepository {
 public:
  virtual ~VehicleRepository() = default;
  virtual absl::Status Upsert(const VehicleSnapshot& s) = 0;
  // nullopt when nothing is stored.
  virtual absl::StatusOr<std::optional<VehicleSnapshot>> Get(absl::string_view sub_mchid,
                                                             absl::string_view out_trade_no) = 0;
};

struct TradeGoods {
  int64_t cell_price = 0;
  int64_t current_price = 0;
  int64_t discount_amount = 0;
  int64_t goods_id = 0;  // -1 = goods without a barcode
  std::string goods_name;
  int64_t goods_num = 0;
  std::string goods_props;
};

// A merchant trade order as last decoded; integers are the seed's codes, money is fen.
struct TradeOrderRecord {
  std::string merchant;  // configured merchant name it was fetched from
  std::string trade_order_id;
  int trade_type = 0;
  int deposit_mode = 0;
  std::string mch_id, app_id, client_ip, device, goods_id, subject, body;
  int64_t order_amount = 0, discount_amount = 0, amount = 0, mch_income = 0;
  std::string user_id, channel_user_id;
  int status = 0;
  std::string pay_order_id, product_id;
  int product_type = 0;
  std::string coupon_id, store_no, store_name, operator_id, operator_name, member_id, member_tel;
  int64_t give_points = 0, refund_total_amount = 0;
  std::optional<absl::Time> trade_succ_time, create_time, update_time;
  std::vector<TradeGoods> goods;
  absl::Time fetched_at;
};

class TradeOrderRepository {
 public:
  virtual ~TradeOrderRepository() = default;
  // Replaces the order and its goods in one transaction.
  virtual absl::Status Upsert(const TradeOrderRecord& r) = 0;
  virtual absl::StatusOr<std::optional<TradeOrderRecord>> Get(absl::string_view merchant,
                                                              absl::string_view trade_order_id) = 0;
};

}  // namespace orderquery::domain

#endif  // ORDERQUERY_SERVER_DOMAIN_SNAPSHOTS_H_
