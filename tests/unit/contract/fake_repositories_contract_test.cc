// The repository contracts on tests/fakes' in-memory repositories.
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "tests/contract/recharge_repository_contract.h"
#include "tests/contract/snapshot_repositories_contract.h"
#include "tests/fakes/repositories.h"

namespace orderquery::contract {
namespace {

using fakes::InMemoryRechargeRepository;

class InMemoryRechargeStore : public RechargeStore {
 public:
  domain::RechargeRepository& repository() override { return repo_; }
  domain::CheckSchedule& schedule() override { return repo_; }

  absl::StatusOr<int64_t> AddUser(absl::string_view openid, int64_t balance_fen) override {
    std::lock_guard<std::mutex> l(repo_.mu);
    if (!openids_.insert(std::string(openid)).second) {
      return absl::AlreadyExistsError("openid taken");
    }
    const int64_t id = next_user_id_++;
    repo_.balances[id] = balance_fen;
    return id;
  }
  absl::Status AddSession(int64_t user_id, absl::string_view appid, absl::string_view token,
                          absl::Time expires_at) override {
    std::lock_guard<std::mutex> l(repo_.mu);
    domain::Session s;
    s.user_id = user_id;
    s.appid = std::string(appid);
    s.expires_at = fakes::TruncateToMillis(expires_at);
    if (!repo_.sessions.emplace(std::string(token), s).second) {
      return absl::AlreadyExistsError("token taken");
    }
    return absl::OkStatus();
  }
  absl::Status AddOrder(const domain::RechargeOrder& order) override {
    std::lock_guard<std::mutex> l(repo_.mu);
    if (!repo_.orders.emplace(order.order_no, order).second) {
      return absl::AlreadyExistsError("order number taken");
    }
    return absl::OkStatus();
  }
  absl::Status SetCredited(absl::string_view order_no, bool credited) override {
    std::lock_guard<std::mutex> l(repo_.mu);
    auto it = repo_.orders.find(std::string(order_no));
    if (it == repo_.orders.end()) return absl::NotFoundError("no order");
    it->second.credited = credited;
    return absl::OkStatus();
  }
  absl::StatusOr<Rows> CountRows(absl::string_view order_no) override {
    std::lock_guard<std::mutex> l(repo_.mu);
    Rows rows;
    for (const auto& r : repo_.order_log) rows.order_log += r.order_no == order_no ? 1 : 0;
    for (const auto& r : repo_.ledger) rows.ledger += r.order_no == order_no ? 1 : 0;
    for (const auto& r : repo_.query_log) rows.query_log += r.order_no == order_no ? 1 : 0;
    return rows;
  }
  absl::StatusOr<int64_t> CountNotifications() override {
    std::lock_guard<std::mutex> l(repo_.mu);
    return static_cast<int64_t>(repo_.notifications.size());
  }

 private:
  InMemoryRechargeRepository repo_;
  std::set<std::string> openids_;
  int64_t next_user_id_ = 1;
};

absl::StatusOr<std::unique_ptr<RechargeStore>> MakeInMemoryRechargeStore() {
  return std::make_unique<InMemoryRechargeStore>();
}

class InMemorySnapshotStore : public SnapshotStore {
 public:
  domain::VehicleRepository& vehicles() override { return vehicles_; }
  domain::TradeOrderRepository& trade_orders() override { return trade_orders_; }

 private:
  fakes::InMemoryVehicleRepository vehicles_;
  fakes::InMemoryTradeOrderRepository trade_orders_;
};

absl::StatusOr<std::unique_ptr<SnapshotStore>> MakeInMemorySnapshotStore() {
  return std::make_unique<InMemorySnapshotStore>();
}

// Named, not numbered by the factory's address (which changes from run to run).
constexpr auto BackendName = [](const auto&) { return std::string("InMemory"); };

INSTANTIATE_TEST_SUITE_P(InMemory, RechargeRepositoryContract,
                         ::testing::Values(&MakeInMemoryRechargeStore), BackendName);
INSTANTIATE_TEST_SUITE_P(InMemory, SnapshotRepositoriesContract,
                         ::testing::Values(&MakeInMemorySnapshotStore), BackendName);

}  // namespace
}  // namespace orderquery::contract
