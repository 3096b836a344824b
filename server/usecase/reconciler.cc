#include "server/usecase/reconciler.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/await.h"
#include "server/common/log.h"
#include "server/domain/lifecycle.h"
#include "server/usecase/port_logging.h"

namespace orderquery::usecase {

Reconciler::Reconciler(RechargeQuery* recharge, domain::RechargeRepository* repo,
                       domain::CheckSchedule* schedule, OrderStatusProvider* querier,
                       OrderCloser* closer, ReconcilerOptions options, Clock clock)
    : recharge_(recharge),
      repo_(repo),
      schedule_(schedule),
      querier_(querier),
      closer_(closer),
      options_(std::move(options)),
      clock_(std::move(clock)) {
  if (options_.backoff.empty()) options_.backoff.push_back(absl::Minutes(5));
  options_.batch = std::max(options_.batch, 1);
  options_.max_inflight = std::max(options_.max_inflight, 1);
}

Reconciler::~Reconciler() { Stop(); }

void Reconciler::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void Reconciler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Reconciler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    SweepOnce();
    lock.lock();
    cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.sweep_interval),
                 [this] { return stopping_; });
  }
}

std::vector<domain::ScheduleStats::Bucket> Reconciler::PendingByStateAndAge() const {
  std::lock_guard<std::mutex> lock(pending_mu_);
  return pending_;
}

absl::Time Reconciler::NextCheck(const domain::RechargeOrder& order, absl::Time now) const {
  const size_t attempts = static_cast<size_t>(std::max(order.check_attempts, 1));
  const absl::Duration wait = options_.backoff[std::min(attempts, options_.backoff.size()) - 1];
  const absl::Time expiry = order.created_at + options_.expire_after;
  const absl::Time next = now + wait;
  // The last check is the one at expiry: it closes the order.
  return now < expiry ? std::min(next, expiry) : next;
}

SweepCounts Reconciler::SweepOnce() {
  SweepCounts counts;
  const absl::Time now = clock_();
  auto scheduled = schedule_->ScheduleNewOrders(options_.first_delay, options_.batch * 10);
  if (scheduled.ok()) {
    counts.scheduled = *scheduled;
  } else {
    log::Warn("reconcile_schedule_failed", {{"error", scheduled.status().ToString()}});
  }
  if (auto stats = schedule_->GetScheduleStats(now); stats.ok()) {
    {
      std::lock_guard<std::mutex> lock(pending_mu_);
      pending_ = stats->pending;
    }
    totals_.overdue.store(stats->overdue);
    totals_.lag_ms.store(stats->oldest_due && *stats->oldest_due < now
                             ? absl::ToInt64Milliseconds(now - *stats->oldest_due)
                             : 0);
  }
  auto claimed = schedule_->ClaimDueOrders(now, options_.lease, options_.batch);
  if (!claimed.ok()) {
    log::Warn("reconcile_claim_failed", {{"error", claimed.status().ToString()}});
    return counts;
  }
  counts.claimed = static_cast<int>(claimed->size());
  totals_.sweeps.fetch_add(1);
  if (claimed->empty()) return counts;

  // A few workers, each working one order at a time to its outcome.
  std::mutex counts_mu;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next.fetch_add(1); i < claimed->size(); i = next.fetch_add(1)) {
      SweepCounts mine;
      Work((*claimed)[i], &mine);
      std::lock_guard<std::mutex> lock(counts_mu);
      counts.final_now += mine.final_now;
      counts.credited += mine.credited;
      counts.late_credits += mine.late_credits;
      counts.closed += mine.closed;
      counts.failed += mine.failed;
    }
  };
  const int n = std::min<int>(options_.max_inflight, static_cast<int>(claimed->size()));
  std::vector<std::thread> workers;
  for (int i = 1; i < n; ++i) workers.emplace_back(worker);
  worker();
  for (auto& t : workers) t.join();

  totals_.claimed.fetch_add(counts.claimed);
  totals_.credited.fetch_add(counts.credited);
  totals_.late_credits.fetch_add(counts.late_credits);
  totals_.closed.fetch_add(counts.closed);
  totals_.failed.fetch_add(counts.failed);
  log::Info("reconcile_sweep", {{"scheduled", counts.scheduled},
                                {"claimed", counts.claimed},
                                {"final", counts.final_now},
                                {"credited", counts.credited},
                                {"late_credits", counts.late_credits},
                                {"closed", counts.closed},
                                {"failed", counts.failed},
                                {"lag_ms", totals_.lag_ms.load()}});
  return counts;
}

absl::StatusOr<domain::UpstreamTransaction> Reconciler::AskProvider(
    const domain::RechargeOrder& order) {
  using Reply = absl::StatusOr<domain::UpstreamTransaction>;
  const absl::Time deadline = clock_() + options_.request_timeout;
  return AwaitCallback<Reply>(
      [&](std::function<void(Reply)> done) { querier_->Query(order, deadline, std::move(done)); },
      options_.request_timeout + absl::Seconds(5), "provider call");
}

absl::Status Reconciler::CloseAtProvider(const domain::RechargeOrder& order) {
  const absl::Time deadline = clock_() + options_.request_timeout;
  return AwaitCallback<absl::Status>(
      [&](std::function<void(absl::Status)> done) {
        closer_->Close(order, deadline, std::move(done));
      },
      options_.request_timeout + absl::Seconds(5), "close call");
}

domain::QueryLogEntry Reconciler::LogEntry(
    const domain::RechargeOrder& order, absl::Time started,
    const absl::StatusOr<domain::UpstreamTransaction>& reply) const {
  return QueryLogEntryFor(order, clock_() - started, reply, *querier_);
}

void Reconciler::Work(const domain::RechargeOrder& order, SweepCounts* counts) {
  if (clock_() >= order.created_at + options_.expire_after) return Expire(order, counts);
  const absl::Time started = clock_();
  auto reply = AskProvider(order);
  domain::QueryOutcome base;
  base.order_no = order.order_no;
  base.query_log = LogEntry(order, started, reply);
  base.next_check_at = NextCheck(order, clock_());
  if (!reply.ok()) {
    // Unknown at the provider (not paid yet, perhaps never opened) or a failure: the next slot.
    if (!absl::IsNotFound(reply.status())) ++counts->failed;
    if (auto r = repo_->RecordOutcome(base); !r.ok()) {
      log::Warn("reconcile_record_failed",
                {{"order_no", order.order_no}, {"error", r.status().ToString()}});
    }
    return;
  }
  auto applied = recharge_->ApplyAnswer(order, *reply, base, Source::kReconciler);
  if (!applied.ok()) {
    ++counts->failed;
    log::Warn("reconcile_apply_failed",
              {{"order_no", order.order_no}, {"error", applied.status().ToString()}});
    return;
  }
  if (applied->credited_now) ++counts->credited;
  if (domain::IsFinal(applied->order.state)) ++counts->final_now;
}

void Reconciler::Expire(const domain::RechargeOrder& order, SweepCounts* counts) {
  const absl::Time started = clock_();
  absl::Status closed = CloseAtProvider(order);
  // Closed, or unknown at the provider (nobody can pay it): either way it can be closed here
  // once the provider, asked again, does not report it paid.
  const bool provider_closed = closed.ok() || absl::IsNotFound(closed);
  const bool paid = closer_->IsAlreadyPaid(closed);
  domain::QueryOutcome retry;
  retry.order_no = order.order_no;
  retry.next_check_at = clock_() + options_.backoff.front();
  // A close has no transaction to report: an empty one when it succeeded, else its failure.
  domain::QueryLogEntry close_log = LogEntry(
      order, started,
      closed.ok() ? absl::StatusOr<domain::UpstreamTransaction>(domain::UpstreamTransaction{})
                  : absl::StatusOr<domain::UpstreamTransaction>(closed));
  close_log.error_message = closed.ok() ? std::string("close-order: closed")
                                        : absl::StrCat("close-order: ", closed.message());
  if (!provider_closed && !paid) {
    ++counts->failed;
    retry.query_log = close_log;
    // A failed upstream call was logged by the port's decorator; anything else is logged here.
    if (!UpstreamLogIdOf(closed)) {
      log::Warn("reconcile_close_failed",
                {{"order_no", order.order_no}, {"error", closed.ToString()}});
    }
    if (auto r = repo_->RecordOutcome(retry); !r.ok()) {
      log::Warn("reconcile_record_failed",
                {{"order_no", order.order_no}, {"error", r.status().ToString()}});
    }
    return;
  }
  if (auto r = repo_->AppendQueryLog(close_log); !r.ok()) {
    log::Warn("reconcile_record_failed", {{"order_no", order.order_no}, {"error", r.ToString()}});
  }

  // One more question: a payment that landed before the close is credited, not closed.
  const absl::Time asked = clock_();
  auto reply = AskProvider(order);
  domain::QueryOutcome base = retry;
  base.query_log = LogEntry(order, asked, reply);
  if (!reply.ok() && !(absl::IsNotFound(reply.status()) && provider_closed)) {
    ++counts->failed;
    if (auto r = repo_->RecordOutcome(base); !r.ok()) {
      log::Warn("reconcile_record_failed",
                {{"order_no", order.order_no}, {"error", r.status().ToString()}});
    }
    return;
  }
  const bool known = reply.ok() && reply->state.has_value();
  absl::StatusOr<Applied> applied;
  if (known && !domain::IsPending(*reply->state)) {
    applied = recharge_->ApplyAnswer(order, *reply, base, Source::kReconciler);
  } else if (provider_closed) {
    applied = recharge_->CloseLocally(
        order,
        absl::StrCat("expired ", absl::FormatDuration(options_.expire_after),
                     " after creation: closed at the provider (",
                     closed.ok() ? "closed" : "unknown there", "), which then said ",
                     reply.ok() ? reply->provider_state : std::string("not found"),
                     " (reconciler)"),
        base);
  } else {
    // The provider refused the close as paid but does not report it paid yet: ask again soon.
    ++counts->failed;
    if (auto r = repo_->RecordOutcome(base); !r.ok()) {
      log::Warn("reconcile_record_failed",
                {{"order_no", order.order_no}, {"error", r.status().ToString()}});
    }
    return;
  }
  if (!applied.ok()) {
    ++counts->failed;
    log::Warn("reconcile_apply_failed",
              {{"order_no", order.order_no}, {"error", applied.status().ToString()}});
    return;
  }
  if (applied->credited_now) {
    ++counts->credited;
    ++counts->late_credits;
    log::Warn("reconcile_late_credit", {{"order_no", order.order_no},
                                        {"amount_fen", order.amount_fen},
                                        {"why", "paid just before expiry; credited, not closed"}});
  }
  if (applied->order.state == domain::RechargeState::kClosed) {
    ++counts->closed;
    log::Info("reconcile_closed", {{"order_no", order.order_no}});
  }
  if (domain::IsFinal(applied->order.state)) ++counts->final_now;
}

}  // namespace orderquery::usecase
