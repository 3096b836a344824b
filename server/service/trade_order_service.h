// TradeOrderService over gRPC's callback API (seed 001): {code 0, msg "success", data} on
// success; failures are gRPC statuses from the merchant adapter's error table.
#ifndef ORDERQUERY_SERVER_SERVICE_TRADE_ORDER_SERVICE_H_
#define ORDERQUERY_SERVER_SERVICE_TRADE_ORDER_SERVICE_H_

#include "orderquery/v1/service.grpc.pb.h"
#include "server/common/metrics.h"
#include "server/service/rpc_metrics.h"
#include "server/usecase/trade_query.h"

namespace orderquery::service {

class TradeOrderServiceImpl final : public v1::TradeOrderService::CallbackService {
 public:
  // `metrics` may be null (no RPC metrics).
  explicit TradeOrderServiceImpl(usecase::TradeQuery* trade, metrics::Registry* metrics = nullptr)
      : trade_(trade), metrics_(metrics, "/orderquery.v1.TradeOrderService/GetTradeOrder") {}
  grpc::ServerUnaryReactor* GetTradeOrder(grpc::CallbackServerContext* ctx,
                                          const v1::GetTradeOrderRequest* req,
                                          v1::GetTradeOrderResponse* resp) override;

 private:
  usecase::TradeQuery* trade_;
  RpcMetrics metrics_;
};

}  // namespace orderquery::service

#endif  // ORDERQUERY_SERVER_SERVICE_TRADE_ORDER_SERVICE_H_
