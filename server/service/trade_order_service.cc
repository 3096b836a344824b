#include "server/service/trade_order_service.h"

#include "server/payment/merchant/convert.h"
#include "server/service/status.h"

namespace orderquery::service {

grpc::ServerUnaryReactor* TradeOrderServiceImpl::GetTradeOrder(grpc::CallbackServerContext* ctx,
                                                               const v1::GetTradeOrderRequest* req,
                                                               v1::GetTradeOrderResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  usecase::TradeQueryRequest r;
  r.merchant = req->merchant();
  r.trade_order_id = req->trade_order_id();
  r.force_refresh = req->force_refresh();
  r.deadline = DeadlineOf(ctx);
  trade_->Run(std::move(r), [reactor, resp](absl::StatusOr<usecase::TradeQueryResult> result) {
    if (!result.ok()) return reactor->Finish(ToGrpc(result.status()));
    resp->set_code(0);
    resp->set_msg("success");
    *resp->mutable_data() = payment::merchant::ToProto(result->order);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace orderquery::service
