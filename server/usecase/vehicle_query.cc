#include "server/usecase/vehicle_query.h"

#include <memory>
#include <utility>

#include "server/common/log.h"
#include "server/common/validation.h"
#include "server/domain/lifecycle.h"

namespace orderquery::usecase {

VehicleQuery::VehicleQuery(domain::VehicleRepository* repo, VehicleStatusProvider* upstream,
                           BlockingExecutor* executor, absl::Duration refresh_interval, Clock clock,
                           DeadlineTimer* timer)
    : repo_(repo),
      upstream_(upstream),
      executor_(executor),
      refresh_interval_(refresh_interval),
      clock_(std::move(clock)),
      coalescer_(timer) {}

void VehicleQuery::Run(VehicleQueryRequest req, Done done) {
  if (absl::Status s = ValidateOutTradeNo(req.out_trade_no); !s.ok()) return done(s);
  if (absl::Status s = ValidateMchId(req.sub_mchid, "sub_mchid"); !s.ok()) return done(s);
  auto task = [this, req, done]() {
    auto stored = repo_->Get(req.sub_mchid, req.out_trade_no);
    if (!stored.ok()) return done(stored.status());
    if (!req.force_refresh && *stored) {
      const domain::VehicleSnapshot& snap = **stored;
      // REFUND is final; SUCCESS can still become REFUND, so it is only served while fresh.
      const bool fresh_success =
          snap.trade_state == "SUCCESS" && clock_() - snap.fetched_at < refresh_interval_;
      if (domain::IsFinalVehicleState(snap.trade_state) || fresh_success) {
        return done(upstream_->Decode(snap.body_json));
      }
    }
    std::optional<domain::VehicleSnapshot> before = *std::move(stored);
    const std::string key = req.sub_mchid + "/" + req.out_trade_no;
    if (!coalescer_.Join(
            key, req.deadline,
            [done](const absl::StatusOr<domain::VehicleTransaction>& r) { done(r); })) {
      return;
    }
    // Bounded by the budget, not by this caller's deadline: others may join and wait longer.
    upstream_->Query(req.out_trade_no, req.sub_mchid, clock_() + upstream_budget_,
                     [this, key, req, before](absl::StatusOr<VehicleAnswer> reply) {
                       auto shared =
                           std::make_shared<absl::StatusOr<VehicleAnswer>>(std::move(reply));
                       if (!executor_->TrySubmit([this, key, req, before, shared] {
                             OnUpstream(key, req, before, std::move(*shared));
                           })) {
                         coalescer_.Complete(
                             key, absl::ResourceExhaustedError(
                                      "orderqueryd is overloaded: work queue full, retry later"));
                       }
                     });
  };
  if (!executor_->TrySubmit(task)) {
    done(absl::ResourceExhaustedError("orderqueryd is overloaded: work queue full, retry later"));
  }
}

void VehicleQuery::OnUpstream(const std::string& key, const VehicleQueryRequest& req,
                              const std::optional<domain::VehicleSnapshot>& before,
                              absl::StatusOr<VehicleAnswer> reply) {
  if (!reply.ok()) {
    // Logged once where it happened (the port's logging decorator) and by the RPC layer.
    coalescer_.Complete(key, reply.status());
    return;
  }
  domain::VehicleSnapshot snap;
  snap.sub_mchid = req.sub_mchid;
  snap.out_trade_no = req.out_trade_no;
  snap.trade_state = std::string(domain::VehicleTradeStateName(reply->transaction.trade_state));
  snap.transaction_id = reply->transaction.transaction_id;
  snap.total_fen = reply->transaction.amount ? reply->transaction.amount->total_fen : 0;
  snap.body_json = reply->body_json;
  snap.fetched_at = clock_();
  if (before &&
      domain::CheckVehicleMove(before->trade_state, snap.trade_state) == domain::Move::kRefused) {
    // A lagging reply never moves a final state back: the stored snapshot stands.
    log::Warn("vehicle_move_refused", {{"out_trade_no", req.out_trade_no},
                                       {"sub_mchid", req.sub_mchid},
                                       {"from", before->trade_state},
                                       {"to", snap.trade_state}});
    coalescer_.Complete(key, upstream_->Decode(before->body_json));
    return;
  }
  if (absl::Status s = repo_->Upsert(snap); !s.ok()) {
    // The verified answer is still right; WeChat keeps the truth for the next ask.
    log::Error("vehicle_snapshot_store_failed",
               {{"out_trade_no", req.out_trade_no}, {"error", s.ToString()}});
  }
  coalescer_.Complete(key, reply->transaction);
}

}  // namespace orderquery::usecase
