// App::RegisterMetrics: scrape-time metrics over the counters the components keep (no rewrite
// of those). The transport and the providers register their own series.
#include <atomic>
#include <vector>

#include "server/app.h"
#include "server/app_services.h"
#include "server/common/executor.h"
#include "server/common/metrics.h"
#include "storage/mysql_pool.h"
#include "storage/retention.h"

namespace orderquery {

void App::RegisterMetrics() {
  metrics::Registry* r = metrics_.get();
  if (r == nullptr) return;
  using metrics::Sample;
  using metrics::Type;
  Services& s = *services_;
  // Providers register their own series (verification failures, notifications, key expiry).

  // The lifecycle's own counters, read at scrape time.
  const usecase::LifecycleCounters* lc = &s.recharge->counters();
  auto read = [](const std::atomic<int64_t>& a) { return static_cast<double>(a.load()); };
  r->AddCallback("orderquery_credits_total", "Recharges credited", Type::kCounter,
                 [lc, read] { return read(lc->credits); });
  r->AddCallback("orderquery_credited_fen_total", "Fen credited", Type::kCounter,
                 [lc, read] { return read(lc->credited_fen); });
  r->AddCallback("orderquery_late_credits_total",
                 "Credits of a payment that arrived after the order was closed", Type::kCounter,
                 [lc, read] { return read(lc->late_credits); });
  r->AddCallback("orderquery_credits_refused_total",
                 "Paid replies that failed a crediting check (reasons in the log)", Type::kCounter,
                 [lc, read] { return read(lc->refused_credits); });
  r->AddCallback("orderquery_state_moves_refused_total",
                 "State changes the order state machine refused (details in the log)",
                 Type::kCounter, [lc, read] { return read(lc->refused_moves); });
  r->AddCallback("orderquery_refunds_after_credit_total",
                 "REFUND seen after a credit (balance kept)", Type::kCounter,
                 [lc, read] { return read(lc->refunds_after_credit); });
  r->AddCallback("orderquery_state_races_lost_total",
                 "State changes decided on a row that changed meanwhile (decided again)",
                 Type::kCounter, [lc, read] { return read(lc->lost_races); });
  r->AddCallback("orderquery_coalesced_joins_total",
                 "Callers that joined an upstream query already under way", Type::kCounter,
                 {"flow"}, [&s] {
                   return std::vector<Sample>{
                       {{"recharge"}, static_cast<double>(s.recharge->coalesced_joins())},
                       {{"vehicle"}, static_cast<double>(s.vehicle->coalesced_joins())},
                       {{"trade"}, static_cast<double>(s.trade->coalesced_joins())}};
                 });
  if (s.reconciler) {
    const usecase::Reconciler::Totals* t = &s.reconciler->totals();
    r->AddCallback("orderquery_reconcile_lag_seconds",
                   "Age of the oldest overdue reconciliation check at the last sweep", Type::kGauge,
                   [t] { return static_cast<double>(t->lag_ms.load()) / 1000.0; });
    r->AddCallback("orderquery_reconcile_overdue", "Checks due and not yet claimed (last sweep)",
                   Type::kGauge, [t, read] { return read(t->overdue); });
    const usecase::Reconciler* rec = s.reconciler.get();
    r->AddCallback("orderquery_pending_orders",
                   "Pending recharge orders by state and age since creation (last sweep)",
                   Type::kGauge, {"state", "age"}, [rec] {
                     std::vector<Sample> out;
                     for (const auto& b : rec->PendingByStateAndAge()) {
                       out.push_back({{b.state, b.age}, static_cast<double>(b.count)});
                     }
                     return out;
                   });
    r->AddCallback("orderquery_reconcile_sweeps_total", "Reconciliation sweeps", Type::kCounter,
                   [t, read] { return read(t->sweeps); });
    r->AddCallback("orderquery_reconcile_claimed_total", "Orders claimed for a check",
                   Type::kCounter, [t, read] { return read(t->claimed); });
    r->AddCallback("orderquery_reconcile_checks_total",
                   "Reconciliation work done, by outcome (late_credit is a subset of credited)",
                   Type::kCounter, {"outcome"}, [t, read] {
                     return std::vector<Sample>{{{"credited"}, read(t->credited)},
                                                {{"late_credit"}, read(t->late_credits)},
                                                {{"closed"}, read(t->closed)},
                                                {{"failed"}, read(t->failed)}};
                   });
  }
  // Only the caches that are on: a cache that is off has nothing to count.
  const bool session_cache = cfg_.recharge_session_cache_ms > 0;
  const bool final_cache = cfg_.recharge_final_cache_ms > 0;
  if (session_cache || final_cache) {
    usecase::RechargeQuery* rq = s.recharge.get();
    r->AddCallback("orderquery_cache_requests_total",
                   "Recharge cache lookups: cache session or final, result hit or miss",
                   Type::kCounter, {"cache", "result"}, [rq, session_cache, final_cache] {
                     const usecase::RechargeQuery::CacheStats st = rq->cache_stats();
                     std::vector<Sample> out;
                     if (session_cache) {
                       out.push_back({{"session", "hit"}, static_cast<double>(st.session_hits)});
                       out.push_back({{"session", "miss"}, static_cast<double>(st.session_misses)});
                     }
                     if (final_cache) {
                       out.push_back({{"final", "hit"}, static_cast<double>(st.final_hits)});
                       out.push_back({{"final", "miss"}, static_cast<double>(st.final_misses)});
                     }
                     return out;
                   });
    r->AddCallback("orderquery_cache_bytes", "Bytes held by the recharge caches", Type::kGauge,
                   [rq] { return static_cast<double>(rq->cache_stats().bytes); });
  }
  if (storage::ConnectionPool* pool = pool_.get(); pool != nullptr) {
    r->AddCallback("orderquery_db_pool_in_use", "Database connections in use", Type::kGauge,
                   [pool] {
                     const auto st = pool->GetStats();
                     return static_cast<double>(st.open - st.idle);
                   });
    r->AddCallback("orderquery_db_pool_size", "Database connections the pool may open",
                   Type::kGauge,
                   [pool] { return static_cast<double>(pool->GetStats().pool_size); });
    r->AddCallback("orderquery_db_pool_waits_total", "Connection acquisitions that had to wait",
                   Type::kCounter,
                   [pool] { return static_cast<double>(pool->GetStats().waits_total); });
    r->AddCallback("orderquery_db_pool_timeouts_total",
                   "Connection acquisitions that timed out (UNAVAILABLE)", Type::kCounter,
                   [pool] { return static_cast<double>(pool->GetStats().timeouts_total); });
  }
  BlockingExecutor* executor = executor_.get();
  r->AddCallback("orderquery_executor_queue_depth", "Blocking work queued for a thread",
                 Type::kGauge, [executor] { return static_cast<double>(executor->queue_depth()); });
  r->AddCallback("orderquery_executor_max_queue", "Queue bound (RESOURCE_EXHAUSTED above it)",
                 Type::kGauge, [max = cfg_.max_queue] { return static_cast<double>(max); });
  if (retention_) {
    storage::RetentionTask* rt = retention_.get();
    r->AddCallback("orderquery_retention_deleted_rows_total",
                   "Rows deleted because they outlived their retention", Type::kCounter, {"table"},
                   [rt] {
                     using storage::RetainedTable;
                     return std::vector<Sample>{
                         {{"t_user_order_query_log"},
                          static_cast<double>(rt->deleted(RetainedTable::kQueryLog))},
                         {{"t_payment_notification"},
                          static_cast<double>(rt->deleted(RetainedTable::kNotifications))}};
                   });
    r->AddCallback("orderquery_retention_failures_total", "Retention passes that failed",
                   Type::kCounter, [rt] { return static_cast<double>(rt->failures()); });
  }
}

}  // namespace orderquery
