// GetVehicleTransaction's flow (seed 002): validate -> stored SUCCESS/REFUND snapshot answers
// unless forced -> else ask WeChat (identical concurrent calls share one request) -> store the
// verified reply -> answer. Failures keep the precise status the WeChat adapter produced.
#ifndef ORDERQUERY_SERVER_USECASE_VEHICLE_QUERY_H_
#define ORDERQUERY_SERVER_USECASE_VEHICLE_QUERY_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/common/executor.h"
#include "server/domain/snapshots.h"
#include "server/domain/vehicle.h"
#include "server/usecase/coalescer.h"
#include "server/usecase/ports.h"

namespace orderquery::usecase {

struct VehicleQueryRequest {
  std::string out_trade_no;
  std::string sub_mchid;
  bool force_refresh = false;
  absl::Time deadline = absl::InfiniteFuture();
};

class VehicleQuery {
 public:
  using Done = std::function<void(absl::StatusOr<domain::VehicleTransaction>)>;
  using Clock = std::function<absl::Time()>;

  // A stored REFUND snapshot is final; a stored SUCCESS one is served for `refresh_interval`
  // after it was fetched (it may still become REFUND), then asked again.
  // `timer` fires callers' deadlines (null: a thread of its own; tests inject one).
  VehicleQuery(
      domain::VehicleRepository* repo, VehicleStatusProvider* upstream, BlockingExecutor* executor,
      absl::Duration refresh_interval = absl::Minutes(1), Clock clock = [] { return absl::Now(); },
      DeadlineTimer* timer = nullptr);
  // The longest one shared upstream query may take, retries included (config: the upstream
  // request timeout times its attempts, plus backoffs). The query is bounded by this, not by the
  // deadline of the caller that started it: callers that join it later may wait longer, and
  // each caller leaves at its own deadline. Call before the first Run().
  void SetUpstreamBudget(absl::Duration budget) { upstream_budget_ = budget; }
  // `done` runs exactly once, by req.deadline at the latest (DEADLINE_EXCEEDED while the shared
  // upstream query goes on).
  void Run(VehicleQueryRequest req, Done done);
  // Callers that joined an upstream query already under way (metrics).
  int64_t coalesced_joins() const { return coalescer_.joins(); }

 private:
  void OnUpstream(const std::string& key, const VehicleQueryRequest& req,
                  const std::optional<domain::VehicleSnapshot>& stored,
                  absl::StatusOr<VehicleAnswer> reply);

  domain::VehicleRepository* repo_;
  VehicleStatusProvider* upstream_;
  BlockingExecutor* executor_;
  absl::Duration refresh_interval_;
  Clock clock_;
  absl::Duration upstream_budget_ = absl::Seconds(30);
  Coalescer<domain::VehicleTransaction> coalescer_;
};

}  // namespace orderquery::usecase

#endif  // ORDERQUERY_SERVER_USECASE_VEHICLE_QUERY_H_
