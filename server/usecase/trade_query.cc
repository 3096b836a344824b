#include "server/usecase/trade_query.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/common/validation.h"
#include "server/domain/lifecycle.h"
#include "server/payment/tradeapi/decoder.h"

namespace orderquery::usecase {
namespace {

absl::Status Overloaded() {
  return absl::ResourceExhaustedError("orderqueryd is overloaded: work queue full, retry later");
}

}  // namespace

TradeQuery::TradeQuery(domain::TradeOrderRepository* repo, usecase::TradeStatusProvider* client,
                       BlockingExecutor* executor, std::string default_merchant,
                       absl::Duration refresh_interval, Clock clock, DeadlineTimer* timer)
    : repo_(repo),
      client_(client),
      executor_(executor),
      default_merchant_(std::move(default_merchant)),
      refresh_interval_(refresh_interval),
      clock_(std::move(clock)),
      coalescer_(timer) {}

void TradeQuery::Run(TradeQueryRequest req, Done done) {
  // Validation happens before any I/O, and a rejected request writes nothing.
  if (absl::Status s = ValidateTradeOrderId(req.trade_order_id); !s.ok()) return done(s);
  if (req.merchant.empty()) req.merchant = default_merchant_;
  if (req.merchant.empty()) {
    return done(absl::InvalidArgumentError(
        "merchant is required: no default trade merchant is configured"));
  }
  if (!client_->HasMerchant(req.merchant)) {
    return done(
        absl::InvalidArgumentError(absl::StrCat("unknown trade merchant \"", req.merchant, "\"")));
  }
  auto task = [this, req, done]() {
    auto stored = repo_->Get(req.merchant, req.trade_order_id);
    if (!stored.ok()) return done(stored.status());
    AfterLoad(req, *stored, done);
  };
  if (!executor_->TrySubmit(task)) done(Overloaded());
}

void TradeQuery::AfterLoad(const TradeQueryRequest& req,
                           const std::optional<domain::TradeOrderRecord>& stored, Done done) {
  if (stored && !req.force_refresh) {
    if (payment::tradeapi::IsFinalTradeStatus(stored->status) ||
        clock_() - stored->fetched_at < refresh_interval_) {
      return done(TradeQueryResult{*stored, /*asked_upstream=*/false});
    }
  }
  // Trade order ids cannot contain '/', so the key is unambiguous.
  const std::string key = absl::StrCat(req.merchant, "/", req.trade_order_id);
  const bool leader = coalescer_.Join(
      key, req.deadline, [done](const absl::StatusOr<TradeQueryResult>& r) { done(r); });
  if (!leader) return;
  const std::string merchant = req.merchant;
  // Bounded by the budget, not by this caller's deadline: others may join and wait longer.
  client_->GetTradeOrder(
      merchant, req.trade_order_id, clock_() + upstream_budget_,
      [this, key, merchant, stored](absl::StatusOr<domain::TradeOrderRecord> reply) {
        // May run on the transport thread: hop to the executor for storage work.
        auto shared = std::make_shared<absl::StatusOr<domain::TradeOrderRecord>>(std::move(reply));
        const bool queued = executor_->TrySubmit([this, key, merchant, stored, shared] {
          OnUpstream(key, merchant, stored, std::move(*shared));
        });
        if (!queued) {
          // The merchant API keeps the truth: nothing is lost, the next query asks again.
          log::Error("trade_reply_dropped", {{"key", key}, {"why", "work queue full"}});
          coalescer_.Complete(key, Overloaded());
        }
      });
}

void TradeQuery::OnUpstream(const std::string& key, const std::string& merchant,
                            const std::optional<domain::TradeOrderRecord>& stored,
                            absl::StatusOr<domain::TradeOrderRecord> reply) {
  if (!reply.ok()) {
    // Nothing is stored for a failure, an unreadable reply included.
    coalescer_.Complete(key, reply.status());
    return;
  }
  if (stored && domain::CheckTradeMove(stored->status, reply->status) == domain::Move::kRefused) {
    // Statuses only move as the merchant API allows: a lagging reply is not stored.
    log::Warn("trade_move_refused", {{"merchant", merchant},
                                     {"trade_order_id", reply->trade_order_id},
                                     {"from", stored->status},
                                     {"to", reply->status}});
    coalescer_.Complete(key, TradeQueryResult{*stored, /*asked_upstream=*/true});
    return;
  }
  reply->merchant = merchant;
  reply->fetched_at = clock_();
  if (absl::Status s = repo_->Upsert(*reply); !s.ok()) {
    log::Error("trade_store_failed", {{"merchant", merchant},
                                      {"trade_order_id", reply->trade_order_id},
                                      {"error", s.ToString()}});
  }
  coalescer_.Complete(key, TradeQueryResult{std::move(*reply), /*asked_upstream=*/true});
}

}  // namespace orderquery::usecase
