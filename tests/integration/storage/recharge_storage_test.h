// A storage test about recharge orders: the users, orders, answers and row counts the
// lifecycle and round-trip tests both set up and read.
#ifndef ORDERQUERY_TESTS_INTEGRATION_STORAGE_RECHARGE_STORAGE_TEST_H_
#define ORDERQUERY_TESTS_INTEGRATION_STORAGE_RECHARGE_STORAGE_TEST_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/domain/recharge.h"
#include "storage/recharge_repository.h"
#include "tests/integration/storage/storage_test_util.h"
#include "tests/support/storage_admin.h"

namespace orderquery::storage_test {

class RechargeStorageTest : public StorageTest {
 protected:
  int64_t NewUser(const std::string& openid, int64_t balance) {
    return OQ_UNWRAP(storage::admin::CreateUser(pool(), "wx-app", openid, openid, balance));
  }
  void NewOrder(const std::string& order_no, int64_t user, int64_t amount,
                domain::RechargeState state = domain::RechargeState::kNotPay,
                absl::Time created_at = absl::UnixEpoch()) {
    domain::RechargeOrder o;
    o.order_no = order_no;
    o.user_id = user;
    o.appid = "wx-app";
    o.mchid = "1230000109";
    o.amount_fen = amount;
    o.state = state;
    o.created_at = created_at;
    OQ_ASSERT_OK(storage::admin::CreateRechargeOrder(pool(), o));
  }
  // A paid answer decided on an unpaid, uncredited order.
  static domain::StateChange PaidFromNotPay(const std::string& order_no) {
    domain::StateChange c;
    c.order_no = order_no;
    c.to = domain::RechargeState::kSuccess;
    c.trade_state = "SUCCESS";
    c.transaction_id = absl::StrCat("wx-", order_no);
    c.reason = "wechat trade_state SUCCESS (test)";
    c.credit = true;
    c.from = domain::RechargeState::kNotPay;
    c.from_credited = false;
    return c;
  }
  static domain::QueryLogEntry LogRow(const std::string& order_no, const std::string& state) {
    domain::QueryLogEntry e;
    e.appid = "wx-app";
    e.order_no = order_no;
    e.trade_state = state;
    return e;
  }
  storage::admin::LogCounts Counts(const std::string& order_no) {
    return OQ_UNWRAP(storage::admin::CountLogRows(pool(), order_no));
  }
  domain::RechargeOrder Order(const std::string& order_no) {
    storage::MysqlRechargeRepository repo(pool());
    return OQ_UNWRAP(repo.GetOrder(order_no));
  }
};

}  // namespace orderquery::storage_test

#endif  // ORDERQUERY_TESTS_INTEGRATION_STORAGE_RECHARGE_STORAGE_TEST_H_
