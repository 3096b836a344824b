// The repository contracts (tests/contract/) on the MySQL repositories, each test in a fresh
// migrated database on the `mariadb` fixture's server. The same suites run on the in-memory
// fakes in tests/unit/contract.
#include <memory>
#include <string>
#include <utility>

#include "storage/recharge_repository.h"
#include "storage/snapshot_repositories.h"
#include "tests/contract/recharge_repository_contract.h"
#include "tests/contract/snapshot_repositories_contract.h"
#include "tests/integration/storage/storage_test_util.h"
#include "tests/support/storage_admin.h"
#include "tests/support/test_database.h"

namespace orderquery::contract {
namespace {

namespace admin = storage::admin;
using test_support::TestDatabase;

absl::StatusOr<std::unique_ptr<TestDatabase>> NewDatabase() {
  test_support::TestDatabaseOptions options;
  options.name_hint = storage_test::CurrentTestName();
  return TestDatabase::Create(options);
}

class MariadbRechargeStore : public RechargeStore {
 public:
  explicit MariadbRechargeStore(std::unique_ptr<TestDatabase> db)
      : db_(std::move(db)), repo_(db_->pool()) {}

  domain::RechargeRepository& repository() override { return repo_; }
  domain::CheckSchedule& schedule() override { return repo_; }

  absl::StatusOr<int64_t> AddUser(absl::string_view openid, int64_t balance_fen) override {
    return admin::CreateUser(db_->pool(), "wx-app", openid, "contract", balance_fen);
  }
  absl::Status AddSession(int64_t user_id, absl::string_view appid, absl::string_view token,
                          absl::Time expires_at) override {
    return admin::CreateSession(db_->pool(), user_id, appid, token, expires_at);
  }
  absl::Status AddOrder(const domain::RechargeOrder& order) override {
    return admin::CreateRechargeOrder(db_->pool(), order);
  }
  absl::Status SetCredited(absl::string_view order_no, bool credited) override {
    return admin::SetOrderCredited(db_->pool(), order_no, credited);
  }
  absl::StatusOr<Rows> CountRows(absl::string_view order_no) override {
    absl::StatusOr<admin::LogCounts> counts = admin::CountLogRows(db_->pool(), order_no);
    if (!counts.ok()) return counts.status();
    Rows rows;
    rows.order_log = counts->recharge_order_log;
    rows.ledger = counts->user_amount_log;
    rows.query_log = counts->query_log;
    return rows;
  }
  absl::StatusOr<int64_t> CountNotifications() override {
    return admin::CountRows(db_->pool(), "t_payment_notification");
  }

 private:
  std::unique_ptr<TestDatabase> db_;
  storage::MysqlRechargeRepository repo_;
};

absl::StatusOr<std::unique_ptr<RechargeStore>> MakeMariadbRechargeStore() {
  absl::StatusOr<std::unique_ptr<TestDatabase>> db = NewDatabase();
  if (!db.ok()) return db.status();
  return std::make_unique<MariadbRechargeStore>(*std::move(db));
}

class MariadbSnapshotStore : public SnapshotStore {
 public:
  explicit MariadbSnapshotStore(std::unique_ptr<TestDatabase> db)
      : db_(std::move(db)), vehicles_(db_->pool()), trade_orders_(db_->pool()) {}
  domain::VehicleRepository& vehicles() override { return vehicles_; }
  domain::TradeOrderRepository& trade_orders() override { return trade_orders_; }

 private:
  std::unique_ptr<TestDatabase> db_;
  storage::MysqlVehicleRepository vehicles_;
  storage::MysqlTradeOrderRepository trade_orders_;
};

absl::StatusOr<std::unique_ptr<SnapshotStore>> MakeMariadbSnapshotStore() {
  absl::StatusOr<std::unique_ptr<TestDatabase>> db = NewDatabase();
  if (!db.ok()) return db.status();
  return std::make_unique<MariadbSnapshotStore>(*std::move(db));
}

// Named, not numbered by the factory's address (which changes from run to run).
constexpr auto BackendName = [](const auto&) { return std::string("Mariadb"); };

INSTANTIATE_TEST_SUITE_P(Mariadb, RechargeRepositoryContract,
                         ::testing::Values(&MakeMariadbRechargeStore), BackendName);
INSTANTIATE_TEST_SUITE_P(Mariadb, SnapshotRepositoriesContract,
                         ::testing::Values(&MakeMariadbSnapshotStore), BackendName);

}  // namespace
}  // namespace orderquery::contract
