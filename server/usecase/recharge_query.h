// QueryRechargeOrder's flow (seed 000): validate -> resolve the token -> load the order (it must
// be this user's and this appid's) -> final or recently asked: answer from the database ->
// else ask WeChat (one request per order at a time) -> log the query -> decide -> apply in one
// transaction -> answer. Blocking storage work runs on the executor; the upstream call is
// asynchronous, so a slow WeChat holds no thread.
#ifndef ORDERQUERY_SERVER_USECASE_RECHARGE_QUERY_H_
#define ORDERQUERY_SERVER_USECASE_RECHARGE_QUERY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/common/executor.h"
#include "server/domain/recharge.h"
#include "server/domain/recharge_policy.h"
#include "server/usecase/coalescer.h"
#include "server/usecase/ports.h"
#include "server/usecase/ttl_cache.h"

namespace orderquery::usecase {

// The t_user_order_query_log row for one upstream call about `order`: the provider's answer,
// or its failure (the provider's error code when there is one, else the status code's name).
domain::QueryLogEntry QueryLogEntryFor(const domain::RechargeOrder& order, absl::Duration latency,
                                       const absl::StatusOr<domain::UpstreamTransaction>& reply,
                                       const OrderStatusProvider& upstream);

// Who learned what we are applying (logs, order-log reasons).
enum class Source { kQuery, kNotification, kReconciler };
const char* SourceName(Source s);

// What applying one provider answer concluded.
struct Applied {
  domain::ResultCode code = domain::ResultCode::kUnknown;
  domain::RechargeOrder order;  // as the database holds it now
  int64_t balance_fen = 0;
  bool credited_now = false;
  bool duplicate_notification = false;
  std::string refused_move;  // set when the answer would have moved a final state back
  std::string mismatch;      // set when a paid answer failed a crediting check
};

// Counts the lifecycle events operators watch (the metrics endpoint reads them).
struct LifecycleCounters {
  std::atomic<int64_t> credits{0};
  std::atomic<int64_t> credited_fen{0};
  std::atomic<int64_t> late_credits{0};
  std::atomic<int64_t> refused_moves{0};
  std::atomic<int64_t> refused_credits{0};
  std::atomic<int64_t> refunds_after_credit{0};
  std::atomic<int64_t> lost_races{0};
};

struct RechargeQueryRequest {
  std::string appid;
  std::string token;
  std::string order_no;
  bool force_refresh = false;
  absl::Time deadline = absl::InfiniteFuture();
};

struct RechargeQueryResult {
  domain::ResultCode code = domain::ResultCode::kUnknown;
  std::optional<domain::RechargeOrder> order;  // nullopt for 2047 when not this user's
  int64_t balance_fen = 0;
  bool asked_upstream = false;
};

class RechargeQuery {
 public:
  using Done = std::function<void(absl::StatusOr<RechargeQueryResult>)>;
  using Clock = std::function<absl::Time()>;

  // `timer` fires callers' deadlines (null: a thread of its own; tests inject one).
  RechargeQuery(
      domain::RechargeRepository* repo, OrderStatusProvider* upstream, BlockingExecutor* executor,
      absl::Duration refresh_interval, Clock clock = [] { return absl::Now(); },
      DeadlineTimer* timer = nullptr);
  // The longest one shared upstream query may take, retries included (config: the upstream
  // request timeout times its attempts, plus backoffs). The query is bounded by this, not by the
  // deadline of the caller that started it: callers that join it later may wait longer, and
  // each caller leaves at its own deadline. Call before the first Run().
  void SetUpstreamBudget(absl::Duration budget) { upstream_budget_ = budget; }

  // Process-memory caches for the polling path (off until configured): sessions for at most
  // session_ttl (never past the session's own expiry), and credited final answers for at most
  // final_ttl (the bound within which a change written by another replica, e.g. a refund, is
  // seen here; changes made by this process evict at once). Both bounded in entries and bytes.
  struct CacheOptions {
    absl::Duration session_ttl = absl::ZeroDuration();
    absl::Duration final_ttl = absl::ZeroDuration();
    size_t max_entries = 100000;
    size_t max_bytes = 64 << 20;
  };
  // Call before the first Run().
  void ConfigureCaches(const CacheOptions& options);
  // Negative caching: after a failed upstream query (404, 429, 5xx, an unverifiable reply, a
  // timeout) the order is not asked again for `initial`, doubling on each failure in a row up
  // to `max`; meanwhile callers get the same answer (the failure's status, or 2047 for a
  // not-found) without an upstream request. Per replica (process memory); force_refresh and a
  // success end it. Zero `initial` turns it off.
  struct FailureBackoff {
    absl::Duration initial = absl::ZeroDuration();
    absl::Duration max = absl::Seconds(30);
  };
  void ConfigureFailureBackoff(const FailureBackoff& backoff);
  struct CacheStats {
    int64_t session_hits = 0, session_misses = 0, final_hits = 0, final_misses = 0;
    size_t session_entries = 0, final_entries = 0, bytes = 0;
  };
  CacheStats cache_stats() const;

  // `done` runs exactly once, by req.deadline at the latest (DEADLINE_EXCEEDED while the shared
  // upstream query goes on): inline for a rejected request or an answer from memory, else on
  // an executor or timer thread.
  void Run(RechargeQueryRequest req, Done done);

  // Decides on `order` given the provider's verified answer and writes the decision together
  // with `base` (query-log row, notification, schedule) in one transaction. A lost race (the
  // row moved since `order` was read) re-reads and decides again. Blocking: call it on a thread
  // that may wait for the database.
  absl::StatusOr<Applied> ApplyAnswer(domain::RechargeOrder order,
                                      const domain::UpstreamTransaction& tx,
                                      domain::QueryOutcome base, Source source);
  // Moves a pending order to CLOSED on our own authority (expired, closed at the provider,
  // which did not report it paid). Same transaction and race rules as ApplyAnswer.
  absl::StatusOr<Applied> CloseLocally(domain::RechargeOrder order, const std::string& reason,
                                       domain::QueryOutcome base);

  // A verified provider notification for a recharge order: the same decision and credit path,
  // in one transaction with the stored notification (its id UNIQUE: a duplicate delivery has no
  // second effect). Blocking. The caller answers the provider from the outcome.
  enum class NotifyOutcome {
    kApplied,       // committed (also when the lifecycle refused the move: nothing to retry)
    kDuplicate,     // stored before: already acknowledged or being applied
    kUnknownOrder,  // not in our database (yet): the provider must retry
    kRefused,       // failed a crediting check: not applied, not stored
    kFailed,        // database trouble: the provider must retry
  };
  struct NotifyResult {
    NotifyOutcome outcome = NotifyOutcome::kFailed;
    std::string message;  // why, for the answer and the log (no secrets)
    std::optional<Applied> applied;
  };
  NotifyResult ApplyNotification(const domain::NotificationRecord& record,
                                 const domain::UpstreamTransaction& tx);

  const LifecycleCounters& counters() const { return counters_; }
  int64_t coalesced_joins() const { return coalescer_.joins(); }
  absl::Time Now() const { return clock_(); }

 private:
  struct Outcome;  // what one upstream query concluded, shared by coalesced callers
  void AfterLoad(const RechargeQueryRequest& req, const domain::QueryView& view, Done done);
  // The compare-and-set loop ApplyAnswer and CloseLocally share: decide on the row as read,
  // write the decision with `base`, and on a lost race decide again on the row as it is now.
  absl::StatusOr<Applied> DecideAndRecord(
      domain::RechargeOrder order, const domain::QueryOutcome& base, Source source,
      const std::function<domain::Decision(const domain::RechargeOrder&)>& decide,
      absl::string_view provider_state);
  // A credited final answer for this caller from memory; false when there is none.
  bool AnswerFromMemory(const RechargeQueryRequest& req, const Done& done);
  void RememberSession(const std::string& token, const domain::Session& session);
  void RememberFinal(const domain::RechargeOrder& order, int64_t credited_balance);
  void ForgetFinal(const std::string& order_no);
  void OnUpstream(const domain::RechargeOrder& order, absl::Time started,
                  absl::StatusOr<domain::UpstreamTransaction> reply);
  // An answer with the user's current balance; `order` is nullopt for 2047 (data: null).
  absl::StatusOr<RechargeQueryResult> Answer(domain::ResultCode code, int64_t user_id,
                                             std::optional<domain::RechargeOrder> order,
                                             bool asked_upstream);

  domain::RechargeRepository* repo_;
  OrderStatusProvider* upstream_;
  BlockingExecutor* executor_;
  absl::Duration refresh_interval_;
  Clock clock_;
  absl::Duration upstream_budget_ = absl::Seconds(30);
  Coalescer<RechargeQueryResult> coalescer_;
  LifecycleCounters counters_;
  CacheOptions cache_options_;
  struct CachedFinal {
    domain::RechargeOrder order;
    int64_t balance_fen = 0;  // right after its credit
  };
  std::unique_ptr<TtlCache<domain::Session>> sessions_;
  std::unique_ptr<TtlCache<CachedFinal>> finals_;
  struct RecentFailure {
    absl::Status status;  // OK with not_found set: the provider did not know the order
    bool not_found = false;
    int streak = 0;
    absl::Time until;  // callers get this answer until then
  };
  FailureBackoff failure_backoff_;
  std::unique_ptr<TtlCache<RecentFailure>> failures_;
  // The answer a recent failure still stands for, if any.
  std::optional<absl::StatusOr<RechargeQueryResult>> RecentFailureAnswer(
      const domain::RechargeOrder& order);
  void RememberFailure(const domain::RechargeOrder& order, const absl::Status& status);
};

}  // namespace orderquery::usecase

#endif  // ORDERQUERY_SERVER_USECASE_RECHARGE_QUERY_H_
