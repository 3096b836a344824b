// GetTradeOrder's flow (seed 001): validate -> load the stored order (executor) -> final, or
// asked within the refresh interval: answer from storage -> else ask the merchant API (one
// request per merchant+order at a time; concurrent callers share it) -> store (executor) ->
// answer. Blocking storage work runs on the executor; the upstream call is asynchronous, so a
// slow merchant API holds no thread. A reply that cannot be read stores nothing.
#ifndef ORDERQUERY_SERVER_USECASE_TRADE_QUERY_H_
#define ORDERQUERY_SERVER_USECASE_TRADE_QUERY_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/common/executor.h"
#include "server/domain/snapshots.h"
#include "server/usecase/coalescer.h"
#include "server/usecase/ports.h"

namespace orderquery::usecase {

struct TradeQueryRequest {
  std::string merchant;  // configured merchant name; empty = the default merchant
  std::string trade_order_id;
  bool force_refresh = false;  // ask upstream even when a final or fresh record is stored
  absl::Time deadline = absl::InfiniteFuture();
};

struct TradeQueryResult {
  domain::TradeOrderRecord order;
  bool asked_upstream = false;  // false: answered from storage
};

class TradeQuery {
 public:
  using Done = std::function<void(absl::StatusOr<TradeQueryResult>)>;
  using Clock = std::function<absl::Time()>;

  // `default_merchant` may be empty (then requests must name one). All pointers must outlive
  // the use case and its in-flight runs. `timer` fires callers' deadlines (null: a thread of
  // its own; tests inject one).
  TradeQuery(
      domain::TradeOrderRepository* repo, usecase::TradeStatusProvider* client,
      BlockingExecutor* executor, std::string default_merchant, absl::Duration refresh_interval,
      Clock clock = [] { return absl::Now(); }, DeadlineTimer* timer = nullptr);

  // The longest one shared upstream query may take, retries included (config: the upstream
  // request timeout times its attempts, plus backoffs). The query is bounded by this, not by the
  // deadline of the caller that started it: callers that join it later may wait longer, and
  // each caller leaves at its own deadline. Call before the first Run().
  void SetUpstreamBudget(absl::Duration budget) { upstream_budget_ = budget; }

  // `done` runs exactly once, by req.deadline at the latest (DEADLINE_EXCEEDED while the shared
  // upstream query goes on): on an executor or timer thread, or inline for a request rejected
  // before any I/O (INVALID_ARGUMENT: bad trade_order_id, unknown or missing merchant) or when the
  // executor's queue is full (RESOURCE_EXHAUSTED). Upstream failures come back as the client
  // reports them (payment/tradeapi/errors.h). A failed store after a good upstream answer is
  // logged and the answer still returned: storage is the cache, the merchant API the truth.
  void Run(TradeQueryRequest req, Done done);
  // Callers that joined an upstream query already under way (metrics).
  int64_t coalesced_joins() const { return coalescer_.joins(); }

 private:
  void AfterLoad(const TradeQueryRequest& req,
                 const std::optional<domain::TradeOrderRecord>& stored, Done done);
  void OnUpstream(const std::string& key, const std::string& merchant,
                  const std::optional<domain::TradeOrderRecord>& stored,
                  absl::StatusOr<domain::TradeOrderRecord> reply);

  domain::TradeOrderRepository* repo_;
  usecase::TradeStatusProvider* client_;
  BlockingExecutor* executor_;
  std::string default_merchant_;
  absl::Duration refresh_interval_;
  Clock clock_;
  absl::Duration upstream_budget_ = absl::Seconds(30);
  Coalescer<TradeQueryResult> coalescer_;
};

}  // namespace orderquery::usecase

#endif  // ORDERQUERY_SERVER_USECASE_TRADE_QUERY_H_
