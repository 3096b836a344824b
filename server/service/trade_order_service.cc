#include "server/service/trade_order_service.h"

#include "server/service/status.h"
#include "server/service/trade_convert.h"

namespace orderquery::service {

grpc::ServerUnaryReactor* TradeOrderServiceImpl::GetTradeOrder(grpc::CallbackServerContext* ctx,
                                                               const v1::GetTradeOrderRequest* req,
                                                               v1::GetTradeOrderResponse* resp) {
  const auto started = RpcMetrics::Clock::now();
  auto* reactor = ctx->DefaultReactor();
  if (absl::Status a =
          auth_->Authorize(ctx, kGetTradeOrderMethod, /*internal=*/true, req->force_refresh());
      !a.ok()) {
    grpc::Status s = ToCallerStatus(a, ctx, kGetTradeOrderMethod, Upstream::kMerchantApi);
    metrics_.Record(started, s.error_code());
    reactor->Finish(s);
    return reactor;
  }
  usecase::TradeQueryRequest r;
  r.merchant = req->merchant();
  r.trade_order_id = req->trade_order_id();
  r.force_refresh = req->force_refresh();
  r.deadline = DeadlineOf(ctx);
  trade_->Run(std::move(r), [ctx, reactor, resp, started,
                             m = &metrics_](absl::StatusOr<usecase::TradeQueryResult> result) {
    if (!result.ok()) {
      grpc::Status s =
          ToCallerStatus(result.status(), ctx, kGetTradeOrderMethod, Upstream::kMerchantApi);
      m->Record(started, s.error_code());
      return reactor->Finish(s);
    }
    resp->set_code(0);
    resp->set_msg("success");
    *resp->mutable_data() = ToProto(result->order);
    m->Record(started, grpc::StatusCode::OK);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace orderquery::service
