// One-line gRPC calls for end-to-end tests, through the generated stubs (so a test controls
// the metadata exactly), and bursts of concurrent calls through the stubs' callback API.
#ifndef ORDERQUERY_TESTS_E2E_HARNESS_CALLS_H_
#define ORDERQUERY_TESTS_E2E_HARNESS_CALLS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "orderquery/v1/service.grpc.pb.h"

namespace orderquery::e2e {

template <typename Response>
struct CallResult {
  grpc::Status status;
  Response response;
};

using RechargeResult = CallResult<v1::QueryRechargeOrderResponse>;
using VehicleResult = CallResult<v1::VehicleTransaction>;
using TradeResult = CallResult<v1::GetTradeOrderResponse>;

struct RechargeArgs {
  std::string appid;  // metadata "appid"; empty = not sent
  std::string token;
  std::string order_no;
  bool force_refresh = false;
  bool token_in_field = false;  // the request's token field instead of metadata "token"
  absl::Duration deadline = absl::Seconds(10);
};

RechargeResult QueryRecharge(v1::OrderQueryService::Stub& stub, const RechargeArgs& args);
// `count` calls started at once, spread round-robin over `stubs`; returns when all finished.
std::vector<RechargeResult> QueryRechargeConcurrently(
    const std::vector<v1::OrderQueryService::Stub*>& stubs, const std::vector<RechargeArgs>& calls);

VehicleResult GetVehicle(v1::OrderQueryService::Stub& stub, const std::string& out_trade_no,
                         const std::string& sub_mchid, bool force_refresh = false,
                         absl::Duration deadline = absl::Seconds(10));

TradeResult GetTrade(v1::TradeOrderService::Stub& stub, const std::string& trade_order_id,
                     const std::string& merchant = "", bool force_refresh = false,
                     absl::Duration deadline = absl::Seconds(10));
std::vector<TradeResult> GetTradeConcurrently(v1::TradeOrderService::Stub& stub, int count,
                                              const std::string& trade_order_id,
                                              bool force_refresh = false);

// "CODE: message" for assertion messages.
std::string Describe(const grpc::Status& status);

// A failure whose details stay in the server's log (UNAVAILABLE, INTERNAL, ...) ends its message
// with "(correlation id ID)": the line of `log` with that id (event=rpc_failed), "" when none;
// for a failed upstream call, followed by the event=upstream_failed line it names by its
// upstream_log_id, which holds the details.
std::string LoggedDetails(const std::string& log, const grpc::Status& status);

}  // namespace orderquery::e2e

#endif  // ORDERQUERY_TESTS_E2E_HARNESS_CALLS_H_
