#include "tests/e2e/harness/calls.h"

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"

namespace orderquery::e2e {
namespace {

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

void Prepare(const RechargeArgs& args, grpc::ClientContext* ctx,
             v1::QueryRechargeOrderRequest* req) {
  ctx->set_deadline(DeadlineIn(args.deadline));
  if (!args.appid.empty()) ctx->AddMetadata("appid", args.appid);
  if (args.token_in_field) {
    req->set_token(args.token);
  } else if (!args.token.empty()) {
    ctx->AddMetadata("token", args.token);
  }
  req->set_order_no(args.order_no);
  req->set_force_refresh(args.force_refresh);
}

// Waits for `n` completions.
class Latch {
 public:
  explicit Latch(int n) : left_(n) {}
  void CountDown() {
    absl::MutexLock lock(&mu_);
    --left_;
  }
  void Wait() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* left) { return *left <= 0; }, &left_));
  }

 private:
  absl::Mutex mu_;
  int left_;
};

}  // namespace

RechargeResult QueryRecharge(v1::OrderQueryService::Stub& stub, const RechargeArgs& args) {
  grpc::ClientContext ctx;
  v1::QueryRechargeOrderRequest req;
  Prepare(args, &ctx, &req);
  RechargeResult r;
  r.status = stub.QueryRechargeOrder(&ctx, req, &r.response);
  return r;
}

std::vector<RechargeResult> QueryRechargeConcurrently(
    const std::vector<v1::OrderQueryService::Stub*>& stubs,
    const std::vector<RechargeArgs>& calls) {
  const size_t n = calls.size();
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts(n);
  std::vector<v1::QueryRechargeOrderRequest> requests(n);
  std::vector<RechargeResult> results(n);
  for (size_t i = 0; i < n; ++i) {
    contexts[i] = std::make_unique<grpc::ClientContext>();
    Prepare(calls[i], contexts[i].get(), &requests[i]);
  }
  Latch latch(static_cast<int>(n));
  for (size_t i = 0; i < n; ++i) {
    stubs[i % stubs.size()]->async()->QueryRechargeOrder(contexts[i].get(), &requests[i],
                                                         &results[i].response,
                                                         [&results, &latch, i](grpc::Status s) {
                                                           results[i].status = std::move(s);
                                                           latch.CountDown();
                                                         });
  }
  latch.Wait();
  return results;
}

VehicleResult GetVehicle(v1::OrderQueryService::Stub& stub, const std::string& out_trade_no,
                         const std::string& sub_mchid, bool force_refresh,
                         absl::Duration deadline) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(deadline));
  v1::GetVehicleTransactionRequest req;
  req.set_out_trade_no(out_trade_no);
  req.set_sub_mchid(sub_mchid);
  req.set_force_refresh(force_refresh);
  VehicleResult r;
  r.status = stub.GetVehicleTransaction(&ctx, req, &r.response);
  return r;
}

TradeResult GetTrade(v1::TradeOrderService::Stub& stub, const std::string& trade_order_id,
                     const std::string& merchant, bool force_refresh, absl::Duration deadline) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(deadline));
  v1::GetTradeOrderRequest req;
  req.set_trade_order_id(trade_order_id);
  req.set_merchant(merchant);
  req.set_force_refresh(force_refresh);
  TradeResult r;
  r.status = stub.GetTradeOrder(&ctx, req, &r.response);
  return r;
}

std::vector<TradeResult> GetTradeConcurrently(v1::TradeOrderService::Stub& stub, int count,
                                              const std::string& trade_order_id,
                                              bool force_refresh) {
  const size_t n = static_cast<size_t>(count);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts(n);
  std::vector<v1::GetTradeOrderRequest> requests(n);
  std::vector<TradeResult> results(n);
  for (size_t i = 0; i < n; ++i) {
    contexts[i] = std::make_unique<grpc::ClientContext>();
    contexts[i]->set_deadline(DeadlineIn(absl::Seconds(10)));
    requests[i].set_trade_order_id(trade_order_id);
    requests[i].set_force_refresh(force_refresh);
  }
  Latch latch(count);
  for (size_t i = 0; i < n; ++i) {
    stub.async()->GetTradeOrder(contexts[i].get(), &requests[i], &results[i].response,
                                [&results, &latch, i](grpc::Status s) {
                                  results[i].status = std::move(s);
                                  latch.CountDown();
                                });
  }
  latch.Wait();
  return results;
}

namespace {

// The line of `log` holding `needle`, "" when none does.
std::string LineWith(const std::string& log, const std::string& needle) {
  const size_t pos = log.find(needle);
  if (pos == std::string::npos) return "";
  const size_t begin = log.rfind('\n', pos);
  const size_t end = log.find('\n', pos);
  return log.substr(begin == std::string::npos ? 0 : begin + 1,
                    end == std::string::npos ? std::string::npos
                                             : end - (begin == std::string::npos ? 0 : begin + 1));
}

}  // namespace

std::string LoggedDetails(const std::string& log, const grpc::Status& status) {
  const std::string& m = status.error_message();
  const std::string marker = "(correlation id ";
  const size_t at = m.rfind(marker);
  if (at == std::string::npos || m.size() < at + marker.size() + 16) return "";
  const std::string rpc =
      LineWith(log, absl::StrCat("correlation_id=", m.substr(at + marker.size(), 16), " "));
  // A failed upstream call's details are on its own line, which the rpc_failed line names.
  const std::string key = " upstream_log_id=";
  const size_t id_at = rpc.find(key);
  if (id_at == std::string::npos) return rpc;
  const std::string id = rpc.substr(id_at + key.size(), 16);
  return absl::StrCat(rpc, "\n",
                      LineWith(log, absl::StrCat("event=upstream_failed upstream_log_id=", id)));
}

std::string Describe(const grpc::Status& status) {
  const int code = static_cast<int>(status.error_code());
  // gRPC and absl status codes are the same numbers, so absl names them for us.
  std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  if (name.empty()) name = absl::StrCat("code ", code);
  return absl::StrCat(name, ": ", status.error_message());
}

}  // namespace orderquery::e2e
