// TradeOrderService over gRPC's callback API (seed 001): {code 0, msg "success", data} on
// success; failures are gRPC statuses from the merchant adapter's error table.
#ifndef ORDERQUERY_SERVER_SERVICE_TRADE_ORDER_SERVICE_H_
#define ORDERQUERY_SERVER_SERVICE_TRADE_ORDER_SERVICE_H_

#include "orderquery/v1/service.grpc.pb.h"
#include "server/common/metrics.h"
#include "server/service/auth.h"
#include "server/service/rpc_metrics.h"
#include "server/usecase/trade_query.h"

namespace orderquery::service {

class TradeOrderServiceImpl final : public v1::TradeOrderService::CallbackService {
 public:
  // `metrics` may be null (no RPC metrics); `auth` decides who may call.
  TradeOrderServiceImpl(usecase::TradeQuery* trade, const CallerAuth* auth,
                        metrics::Registry* metrics = nullptr)
      : trade_(trade), auth_(auth), metrics_(metrics, kGetTradeOrderMethod) {}
  grpc::ServerUnaryReactor* GetTradeOrder(grpc::CallbackServerContext* ctx,
                                          const v1::GetTradeOrderRequest* req,
                                          v1::GetTradeOrderResponse* resp) override;

 private:
  usecase::TradeQuery* trade_;
  const CallerAuth* auth_;
  RpcMetrics metrics_;
};

}  // namespace orderquery::service

#endif  // ORDERQUERY_SERVER_SERVICE_TRADE_ORDER_SERVICE_H_
