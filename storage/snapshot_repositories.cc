#include "storage/snapshot_repositories.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/sql_util.h"

namespace orderquery::storage {
namespace {

using internal::BindOptionalTime;
using internal::BindString;
using internal::BindTime;
using internal::GetOptionalTime;
using internal::GetString;
using internal::GetTime;
using internal::Query;

// ----- vehicle transactions

// Each column takes the new value only when the new snapshot is not older than the stored one;
// fetched_at is assigned last because MySQL evaluates the assignments left to right.
constexpr char kUpsertVehicle[] =
    "INSERT INTO t_vehicle_transaction (sub_mchid, out_trade_no, trade_state, transaction_id,"
    " total, body_json, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON DUPLICATE KEY UPDATE"
    " trade_state = IF(VALUES(fetched_at) >= fetched_at, VALUES(trade_state), trade_state),"
    " transaction_id = IF(VALUES(fetched_at) >= fetched_at, VALUES(transaction_id),"
    " transaction_id),"
    " total = IF(VALUES(fetched_at) >= fetched_at, VALUES(total), total),"
    " body_json = IF(VALUES(fetched_at) >= fetched_at, VALUES(body_json), body_json),"
    " fetched_at = GREATEST(fetched_at, VALUES(fetched_at))";
constexpr char kSelectVehicle[] =
    "SELECT sub_mchid, out_trade_no, trade_state, transaction_id, total, body_json, fetched_at"
    " FROM t_vehicle_transaction WHERE sub_mchid = ? AND out_trade_no = ?";

// ----- trade orders

// Column order shared by the INSERT and the SELECT; BindTradeOrder and ReadTradeOrder follow it.
constexpr const char* kTradeOrderColumns[] = {
    "merchant",
    "trade_order_id",
    "trade_type",
    "deposit_mode",
    "mch_id",
    "app_id",
    "client_ip",
    "device",
    "goods_id",
    "subject",
    "body",
    "order_amount",
    "discount_amount",
    "amount",
    "mch_income",
    "user_id",
    "channel_user_id",
    "status",
    "pay_order_id",
    "product_id",
    "product_type",
    "coupon_id",
    "store_no",
    "store_name",
    "operator_id",
    "operator_name",
    "member_id",
    "member_tel",
    "give_points",
    "refund_total_amount",
    "trade_succ_time",
    "create_time",
    "update_time",
    "fetched_at",
};

// Built once from the fixed column list above; no input ever reaches the SQL text.
std::string BuildUpsertTradeOrder() {
  const std::vector<std::string> cols(std::begin(kTradeOrderColumns), std::end(kTradeOrderColumns));
  std::vector<std::string> placeholders(cols.size(), "?");
  std::vector<std::string> updates;
  for (size_t i = 2; i < cols.size(); ++i) {  // not the key columns
    updates.push_back(absl::StrCat(cols[i], " = VALUES(", cols[i], ")"));
  }
  return absl::StrCat("INSERT INTO t_trade_order (", absl::StrJoin(cols, ", "), ") VALUES (",
                      absl::StrJoin(placeholders, ", "), ") ON DUPLICATE KEY UPDATE ",
                      absl::StrJoin(updates, ", "));
}

const std::string& UpsertTradeOrderSql() {
  static const auto* const kSql = new std::string(BuildUpsertTradeOrder());
  return *kSql;
}

const std::string& SelectTradeOrderSql() {
  static const auto* const kSql = new std::string(
      absl::StrCat("SELECT ", absl::StrJoin(kTradeOrderColumns, ", "),
                   " FROM t_trade_order WHERE merchant = ? AND trade_order_id = ?"));
  return *kSql;
}

constexpr char kLockTradeOrder[] =
    "SELECT fetched_at FROM t_trade_order WHERE merchant = ? AND trade_order_id = ? FOR UPDATE";
constexpr char kDeleteGoods[] =
    "DELETE FROM t_trade_order_goods WHERE merchant = ? AND trade_order_id = ?";
constexpr char kInsertGoods[] =
    "INSERT INTO t_trade_order_goods (merchant, trade_order_id, line_no, cell_price,"
    " current_price, discount_amount, goods_id, goods_name, goods_num, goods_props)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kSelectGoods[] =
    "SELECT cell_price, current_price, discount_amount, goods_id, goods_name, goods_num,"
    " goods_props FROM t_trade_order_goods WHERE merchant = ? AND trade_order_id = ?"
    " ORDER BY line_no";

void BindTradeOrder(sql::PreparedStatement& st, const domain::TradeOrderRecord& r) {
  unsigned int i = 1;
  auto str = [&](const std::string& v) { BindString(st, i++, v); };
  auto i32 = [&](int v) { st.setInt(i++, v); };
  auto i64 = [&](int64_t v) { st.setInt64(i++, v); };
  auto opt_time = [&](const std::optional<absl::Time>& v) { BindOptionalTime(st, i++, v); };
  str(r.merchant);
  str(r.trade_order_id);
  i32(r.trade_type);
  i32(r.deposit_mode);
  str(r.mch_id);
  str(r.app_id);
  str(r.client_ip);
  str(r.device);
  str(r.goods_id);
  str(r.subject);
  str(r.body);
  i64(r.order_amount);
  i64(r.discount_amount);
  i64(r.amount);
  i64(r.mch_income);
  str(r.user_id);
  str(r.channel_user_id);
  i32(r.status);
  str(r.pay_order_id);
  str(r.product_id);
  i32(r.product_type);
  str(r.coupon_id);
  str(r.store_no);
  str(r.store_name);
  str(r.operator_id);
  str(r.operator_name);
  str(r.member_id);
  str(r.member_tel);
  i64(r.give_points);
  i64(r.refund_total_amount);
  opt_time(r.trade_succ_time);
  opt_time(r.create_time);
  opt_time(r.update_time);
  BindTime(st, i++, r.fetched_at);
}

domain::TradeOrderRecord ReadTradeOrder(const sql::ResultSet& rs) {
  domain::TradeOrderRecord r;
  unsigned int i = 1;
  auto str = [&] { return GetString(rs, i++); };
  auto i32 = [&] { return static_cast<int>(rs.getInt(i++)); };
  auto i64 = [&] { return static_cast<int64_t>(rs.getInt64(i++)); };
  auto opt_time = [&] { return GetOptionalTime(rs, i++); };
  r.merchant = str();
  r.trade_order_id = str();
  r.trade_type = i32();
  r.deposit_mode = i32();
  r.mch_id = str();
  r.app_id = str();
  r.client_ip = str();
  r.device = str();
  r.goods_id = str();
  r.subject = str();
  r.body = str();
  r.order_amount = i64();
  r.discount_amount = i64();
  r.amount = i64();
  r.mch_income = i64();
  r.user_id = str();
  r.channel_user_id = str();
  r.status = i32();
  r.pay_order_id = str();
  r.product_id = str();
  r.product_type = i32();
  r.coupon_id = str();
  r.store_no = str();
  r.store_name = str();
  r.operator_id = str();
  r.operator_name = str();
  r.member_id = str();
  r.member_tel = str();
  r.give_points = i64();
  r.refund_total_amount = i64();
  r.trade_succ_time = opt_time();
  r.create_time = opt_time();
  r.update_time = opt_time();
  r.fetched_at = GetTime(rs, i++);
  return r;
}

}  // namespace

absl::Status MysqlVehicleRepository::Upsert(const domain::VehicleSnapshot& s) {
  // One statement, idempotent: safe to rerun on a fresh connection.
  return WithConnection(
      *pool_,
      [&](Connection& c) {
        sql::PreparedStatement& st = c.Prepare(kUpsertVehicle);
        BindString(st, 1, s.sub_mchid);
        BindString(st, 2, s.out_trade_no);
        BindString(st, 3, s.trade_state);
        BindString(st, 4, s.transaction_id);
        st.setInt64(5, s.total_fen);
        BindString(st, 6, s.body_json);
        BindTime(st, 7, s.fetched_at);
        st.executeUpdate();
        return absl::OkStatus();
      },
      "upsert vehicle transaction");
}

absl::StatusOr<std::optional<domain::VehicleSnapshot>> MysqlVehicleRepository::Get(
    absl::string_view sub_mchid, absl::string_view out_trade_no) {
  std::optional<domain::VehicleSnapshot> out;
  absl::Status st = WithConnection(
      *pool_,
      [&](Connection& c) {
        out.reset();
        sql::PreparedStatement& q = c.Prepare(kSelectVehicle);
        BindString(q, 1, sub_mchid);
        BindString(q, 2, out_trade_no);
        std::unique_ptr<sql::ResultSet> rs = Query(q);
        if (rs->next()) {
          domain::VehicleSnapshot s;
          s.sub_mchid = GetString(*rs, 1);
          s.out_trade_no = GetString(*rs, 2);
          s.trade_state = GetString(*rs, 3);
          s.transaction_id = GetString(*rs, 4);
          s.total_fen = rs->getInt64(5);
          s.body_json = GetString(*rs, 6);
          s.fetched_at = GetTime(*rs, 7);
          out = std::move(s);
        }
        return absl::OkStatus();
      },
      "get vehicle transaction");
  if (!st.ok()) return st;
  return out;
}

absl::Status MysqlTradeOrderRepository::Upsert(const domain::TradeOrderRecord& r) {
  return RunInTransaction(
      *pool_,
      [&](Connection& c) -> absl::Status {
        {
          sql::PreparedStatement& lock = c.Prepare(kLockTradeOrder);
          BindString(lock, 1, r.merchant);
          BindString(lock, 2, r.trade_order_id);
          std::unique_ptr<sql::ResultSet> rs = Query(lock);
          if (rs->next() && GetTime(*rs, 1) > internal::TruncateToMillis(r.fetched_at)) {
            return absl::OkStatus();  // a newer answer is already stored
          }
        }
        sql::PreparedStatement& up = c.Prepare(UpsertTradeOrderSql());
        BindTradeOrder(up, r);
        up.executeUpdate();

        sql::PreparedStatement& del = c.Prepare(kDeleteGoods);
        BindString(del, 1, r.merchant);
        BindString(del, 2, r.trade_order_id);
        del.executeUpdate();

        sql::PreparedStatement& ins = c.Prepare(kInsertGoods);
        for (size_t line = 0; line < r.goods.size(); ++line) {
          const domain::TradeGoods& g = r.goods[line];
          BindString(ins, 1, r.merchant);
          BindString(ins, 2, r.trade_order_id);
          ins.setInt(3, static_cast<int32_t>(line));
          ins.setInt64(4, g.cell_price);
          ins.setInt64(5, g.current_price);
          ins.setInt64(6, g.discount_amount);
          ins.setInt64(7, g.goods_id);
          BindString(ins, 8, g.goods_name);
          ins.setInt64(9, g.goods_num);
          BindString(ins, 10, g.goods_props);
          ins.executeUpdate();
        }
        return absl::OkStatus();
      },
      internal::Txn("upsert trade order"));
}

absl::StatusOr<std::optional<domain::TradeOrderRecord>> MysqlTradeOrderRepository::Get(
    absl::string_view merchant, absl::string_view trade_order_id) {
  std::optional<domain::TradeOrderRecord> out;
  // A transaction so that the order and its goods come from one consistent snapshot.
  absl::Status st = RunInTransaction(
      *pool_,
      [&](Connection& c) {
        out.reset();
        sql::PreparedStatement& q = c.Prepare(SelectTradeOrderSql());
        BindString(q, 1, merchant);
        BindString(q, 2, trade_order_id);
        std::unique_ptr<sql::ResultSet> rs = Query(q);
        if (!rs->next()) return absl::OkStatus();
        domain::TradeOrderRecord r = ReadTradeOrder(*rs);
        rs.reset();

        sql::PreparedStatement& g = c.Prepare(kSelectGoods);
        BindString(g, 1, merchant);
        BindString(g, 2, trade_order_id);
        std::unique_ptr<sql::ResultSet> goods = Query(g);
        while (goods->next()) {
          domain::TradeGoods item;
          item.cell_price = goods->getInt64(1);
          item.current_price = goods->getInt64(2);
          item.discount_amount = goods->getInt64(3);
          item.goods_id = goods->getInt64(4);
          item.goods_name = GetString(*goods, 5);
          item.goods_num = goods->getInt64(6);
          item.goods_props = GetString(*goods, 7);
          r.goods.push_back(std::move(item));
        }
        out = std::move(r);
        return absl::OkStatus();
      },
      internal::Txn("get trade order"));
  if (!st.ok()) return st;
  return out;
}

}  // namespace orderquery::storage
