// OrderQueryService over gRPC's callback API: handlers translate proto <-> use case and return
// at once; the use cases finish the call from their own threads, so no gRPC thread blocks.
#ifndef ORDERQUERY_SERVER_SERVICE_ORDER_QUERY_SERVICE_H_
#define ORDERQUERY_SERVER_SERVICE_ORDER_QUERY_SERVICE_H_

#include "orderquery/v1/service.grpc.pb.h"
#include "server/common/metrics.h"
#include "server/service/auth.h"
#include "server/service/rpc_metrics.h"
#include "server/usecase/recharge_query.h"
#include "server/usecase/vehicle_query.h"

namespace orderquery::service {

class OrderQueryServiceImpl final : public v1::OrderQueryService::CallbackService {
 public:
  // `metrics` may be null (no RPC metrics); `auth` decides who may call GetVehicleTransaction
  // and who may force a refresh.
  OrderQueryServiceImpl(usecase::RechargeQuery* recharge, usecase::VehicleQuery* vehicle,
                        const CallerAuth* auth, metrics::Registry* metrics = nullptr)
      : recharge_(recharge),
        vehicle_(vehicle),
        auth_(auth),
        recharge_metrics_(metrics, "/orderquery.v1.OrderQueryService/QueryRechargeOrder"),
        vehicle_metrics_(metrics, "/orderquery.v1.OrderQueryService/GetVehicleTransaction") {}

  grpc::ServerUnaryReactor* QueryRechargeOrder(grpc::CallbackServerContext* ctx,
                                               const v1::QueryRechargeOrderRequest* req,
                                               v1::QueryRechargeOrderResponse* resp) override;
  grpc::ServerUnaryReactor* GetVehicleTransaction(grpc::CallbackServerContext* ctx,
                                                  const v1::GetVehicleTransactionRequest* req,
                                                  v1::VehicleTransaction* resp) override;

 private:
  usecase::RechargeQuery* recharge_;
  usecase::VehicleQuery* vehicle_;
  const CallerAuth* auth_;
  RpcMetrics recharge_metrics_;
  RpcMetrics vehicle_metrics_;
};

// Fills the seed's {code, msg, data} answer.
void FillRechargeResponse(const usecase::RechargeQueryResult& r,
                          v1::QueryRechargeOrderResponse* resp);

}  // namespace orderquery::service

#endif  // ORDERQUERY_SERVER_SERVICE_ORDER_QUERY_SERVICE_H_
