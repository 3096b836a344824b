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
#include "orderquery/v1/vehicle.pb.h"
#include "server/common/executor.h"
#include "server/domain/snapshots.h"
#include "server/usecase/coalescer.h"

namespace orderquery::usecase {

struct VehicleAnswer {
  v1::VehicleTransaction transaction;
  std::string body_json;  // the verified reply body, stored as-is
};

class VehicleQuerier {
 public:
  virtual ~VehicleQuerier() = default;
  virtual void Query(const std::string& out_trade_no, const std::string& sub_mchid,
                     absl::Time deadline,
                     std::function<void(absl::StatusOr<VehicleAnswer>)> done) = 0;
  // Decodes a stored body (it was verified when it arrived).
  virtual absl::StatusOr<v1::VehicleTransaction> Decode(const std::string& body_json) const = 0;
};

struct VehicleQueryRequest {
  std::string out_trade_no;
  std::string sub_mchid;
  bool force_refresh = false;
  absl::Time deadline = absl::InfiniteFuture();
};

class VehicleQuery {
 public:
  using Done = std::function<void(absl::StatusOr<v1::VehicleTransaction>)>;
  using Clock = std::function<absl::Time()>;

  // A stored REFUND snapshot is final; a stored SUCCESS one is served for `refresh_interval`
  // after it was fetched (it may still become REFUND), then asked again.
  VehicleQuery(
      domain::VehicleRepository* repo, VehicleQuerier* upstream, BlockingExecutor* executor,
      absl::Duration refresh_interval = absl::Minutes(1), Clock clock = [] { return absl::Now(); });
  void Run(VehicleQueryRequest req, Done done);
  // Callers that joined an upstream query already under way (metrics).
  int64_t coalesced_joins() const { return coalescer_.joins(); }

 private:
  void OnUpstream(const std::string& key, const VehicleQueryRequest& req,
                  const std::optional<domain::VehicleSnapshot>& stored,
                  absl::StatusOr<VehicleAnswer> reply);

  domain::VehicleRepository* repo_;
  VehicleQuerier* upstream_;
  BlockingExecutor* executor_;
  absl::Duration refresh_interval_;
  Clock clock_;
  Coalescer<v1::VehicleTransaction> coalescer_;
};

}  // namespace orderquery::usecase

#endif  // ORDERQUERY_SERVER_USECASE_VEHICLE_QUERY_H_
