// Reconciliation: every pending recharge order is asked about without anybody calling, on a
// durable schedule kept in the database (first check shortly after creation, then backing off),
// until it is final or expires; at expiry the order is closed at the provider and asked once
// more, so a payment that landed at the last moment is credited, not closed.
//
// Every replica runs one; they share the work through the database (row claims with SKIP
// LOCKED, a lease that lapses if the claimant dies). Its own thread does the database work and
// at most max_inflight provider calls are out at once, so interactive calls keep the executor,
// most of the database pool and most of each merchant's upstream budget.
#ifndef ORDERQUERY_SERVER_USECASE_RECONCILER_H_
#define ORDERQUERY_SERVER_USECASE_RECONCILER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "server/domain/recharge.h"
#include "server/usecase/recharge_query.h"

namespace orderquery::usecase {

struct ReconcilerOptions {
  absl::Duration first_delay = absl::Seconds(60);
  // Waits between checks, by attempt; the last one repeats.
  std::vector<absl::Duration> backoff = {absl::Minutes(2), absl::Minutes(5), absl::Minutes(10),
                                         absl::Minutes(30), absl::Hours(1)};
  absl::Duration expire_after = absl::Hours(2);  // after creation: close at the provider
  absl::Duration sweep_interval = absl::Seconds(5);
  // How long a claimed order stays with this replica; longer than one order's work takes.
  absl::Duration lease = absl::Seconds(60);
  int batch = 50;
  int max_inflight = 4;
  absl::Duration request_timeout = absl::Seconds(10);  // per provider call
};

struct SweepCounts {
  int scheduled = 0;  // pending orders given their first check
  int claimed = 0;
  int final_now = 0;  // answers that left the order final
  int credited = 0;
  int late_credits = 0;  // credited at or after expiry, or after a local close
  int closed = 0;        // closed at expiry
  int failed = 0;        // provider or database failures (retried on the next slot)
};

class Reconciler {
 public:
  using Clock = std::function<absl::Time()>;

  // All pointers must outlive the reconciler.
  Reconciler(
      RechargeQuery* recharge, domain::RechargeRepository* repo, domain::CheckSchedule* schedule,
      OrderStatusProvider* querier, OrderCloser* closer, ReconcilerOptions options,
      Clock clock = [] { return absl::Now(); });
  ~Reconciler();

  // Sweeps every sweep_interval on a thread of its own until Stop().
  void Start();
  // Finishes the order in hand (provider calls in flight are waited for), then returns.
  void Stop();

  // One sweep: schedule new orders, claim the due ones, work them, wait for all. For the
  // thread and for tests.
  SweepCounts SweepOnce();

  // When the order's next check falls, given the checks made so far (never after its expiry).
  absl::Time NextCheck(const domain::RechargeOrder& order, absl::Time now) const;

  // Totals since start, for the metrics endpoint and the log.
  struct Totals {
    std::atomic<int64_t> sweeps{0}, claimed{0}, credited{0}, late_credits{0}, closed{0}, failed{0};
    std::atomic<int64_t> lag_ms{0};   // oldest overdue check at the last sweep
    std::atomic<int64_t> overdue{0};  // due and not yet claimed at the last sweep
  };
  const Totals& totals() const { return totals_; }
  // Pending orders by state and age at the last sweep (for the metrics endpoint).
  std::vector<domain::ScheduleStats::Bucket> PendingByStateAndAge() const;

 private:
  void Loop();
  // Works one claimed order to its outcome (blocking on the provider with a deadline).
  void Work(const domain::RechargeOrder& order, SweepCounts* counts);
  void Expire(const domain::RechargeOrder& order, SweepCounts* counts);
  absl::StatusOr<domain::UpstreamTransaction> AskProvider(const domain::RechargeOrder& order);
  absl::Status CloseAtProvider(const domain::RechargeOrder& order);
  domain::QueryLogEntry LogEntry(const domain::RechargeOrder& order, absl::Time started,
                                 const absl::StatusOr<domain::UpstreamTransaction>& reply) const;

  RechargeQuery* recharge_;
  domain::RechargeRepository* repo_;
  domain::CheckSchedule* schedule_;
  OrderStatusProvider* querier_;
  OrderCloser* closer_;
  ReconcilerOptions options_;
  Clock clock_;
  Totals totals_;

  mutable std::mutex pending_mu_;
  std::vector<domain::ScheduleStats::Bucket> pending_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace orderquery::usecase

#endif  // ORDERQUERY_SERVER_USECASE_RECONCILER_H_
