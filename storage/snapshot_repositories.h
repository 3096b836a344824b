// domain::VehicleRepository and domain::TradeOrderRepository over MySQL.
#ifndef ORDERQUERY_STORAGE_SNAPSHOT_REPOSITORIES_H_
#define ORDERQUERY_STORAGE_SNAPSHOT_REPOSITORIES_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/domain/snapshots.h"
#include "storage/mysql_pool.h"

namespace orderquery::storage {

// Thread-safe; the pool must outlive it. UNAVAILABLE when the database cannot be reached.
// Upsert keeps the newest answer: a snapshot older (by fetched_at) than the stored one is
// ignored, so two queries finishing out of order never roll the stored state back.
class MysqlVehicleRepository : public domain::VehicleRepository {
 public:
  explicit MysqlVehicleRepository(ConnectionPool& pool) : pool_(&pool) {}
  absl::Status Upsert(const domain::VehicleSnapshot& s) override;
  absl::StatusOr<std::optional<domain::VehicleSnapshot>> Get(
      absl::string_view sub_mchid, absl::string_view out_trade_no) override;

 private:
  ConnectionPool* pool_;
};

// Same rules. Upsert replaces the order and all its goods lines in one transaction; Get reads
// both from one snapshot.
class MysqlTradeOrderRepository : public domain::TradeOrderRepository {
 public:
  explicit MysqlTradeOrderRepository(ConnectionPool& pool) : pool_(&pool) {}
  absl::Status Upsert(const domain::TradeOrderRecord& r) override;
  absl::StatusOr<std::optional<domain::TradeOrderRecord>> Get(
      absl::string_view merchant, absl::string_view trade_order_id) override;

 private:
  ConnectionPool* pool_;
};

}  // namespace orderquery::storage

#endif  // ORDERQUERY_STORAGE_SNAPSHOT_REPOSITORIES_H_
