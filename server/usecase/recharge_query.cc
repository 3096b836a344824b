#include "server/usecase/recharge_query.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/common/validation.h"
#include "server/domain/lifecycle.h"

namespace orderquery::usecase {

using domain::ResultCode;

RechargeQuery::RechargeQuery(domain::RechargeRepository* repo, OrderStatusProvider* upstream,
                             BlockingExecutor* executor, absl::Duration refresh_interval,
                             Clock clock, DeadlineTimer* timer)
    : repo_(repo),
      upstream_(upstream),
      executor_(executor),
      refresh_interval_(refresh_interval),
      clock_(std::move(clock)),
      coalescer_(timer) {}

void RechargeQuery::ConfigureCaches(const CacheOptions& options) {
  cache_options_ = options;
  sessions_.reset();
  finals_.reset();
  if (options.session_ttl > absl::ZeroDuration()) {
    sessions_ =
        std::make_unique<TtlCache<domain::Session>>(options.max_entries, options.max_bytes / 2);
  }
  if (options.final_ttl > absl::ZeroDuration()) {
    finals_ = std::make_unique<TtlCache<CachedFinal>>(options.max_entries, options.max_bytes / 2);
  }
}

void RechargeQuery::ConfigureFailureBackoff(const FailureBackoff& backoff) {
  failure_backoff_ = backoff;
  failures_.reset();
  if (backoff.initial > absl::ZeroDuration()) {
    failures_ = std::make_unique<TtlCache<RecentFailure>>(
        std::max<size_t>(cache_options_.max_entries, 1000), 16 << 20);
  }
}

std::optional<absl::StatusOr<RechargeQueryResult>> RechargeQuery::RecentFailureAnswer(
    const domain::RechargeOrder& order) {
  if (!failures_) return std::nullopt;
  const absl::Time now = clock_();
  std::optional<RecentFailure> f = failures_->Get(order.order_no, now);
  if (!f || now >= f->until) return std::nullopt;
  if (f->not_found) return Answer(ResultCode::kOrderNotExist, order.user_id, std::nullopt, false);
  return absl::StatusOr<RechargeQueryResult>(f->status);
}

void RechargeQuery::RememberFailure(const domain::RechargeOrder& order,
                                    const absl::Status& status) {
  if (!failures_) return;
  const absl::Time now = clock_();
  std::optional<RecentFailure> before = failures_->Get(order.order_no, now);
  RecentFailure f;
  f.not_found = absl::IsNotFound(status);
  f.status = status;
  f.streak = before ? before->streak + 1 : 1;
  absl::Duration wait = failure_backoff_.initial;
  for (int i = 1; i < f.streak && wait < failure_backoff_.max; ++i) wait *= 2;
  wait = std::min(wait, failure_backoff_.max);
  f.until = now + wait;
  // The streak is remembered a while after the window, so that repeated failures grow it.
  failures_->Put(order.order_no, f, f.until + failure_backoff_.max,
                 order.order_no.size() * 2 + status.message().size() + sizeof(RecentFailure));
}

RechargeQuery::CacheStats RechargeQuery::cache_stats() const {
  CacheStats st;
  if (sessions_) {
    st.session_hits = sessions_->hits();
    st.session_misses = sessions_->misses();
    st.session_entries = sessions_->size();
    st.bytes += sessions_->bytes();
  }
  if (finals_) {
    st.final_hits = finals_->hits();
    st.final_misses = finals_->misses();
    st.final_entries = finals_->size();
    st.bytes += finals_->bytes();
  }
  return st;
}

void RechargeQuery::RememberSession(const std::string& token, const domain::Session& session) {
  if (!sessions_) return;
  // Never past the session's own expiry: a revoked or expired token is refused within the TTL.
  const absl::Time until = std::min(clock_() + cache_options_.session_ttl, session.expires_at);
  sessions_->Put(token, session, until, token.size() + session.appid.size() + sizeof(session));
}

void RechargeQuery::RememberFinal(const domain::RechargeOrder& order, int64_t credited_balance) {
  if (!finals_) return;
  const size_t bytes = order.order_no.size() * 2 + order.appid.size() + order.mchid.size() +
                       order.sub_mchid.size() + order.trade_state.size() +
                       order.transaction_id.size() + sizeof(CachedFinal);
  finals_->Put(order.order_no, CachedFinal{order, credited_balance},
               clock_() + cache_options_.final_ttl, bytes);
}

void RechargeQuery::ForgetFinal(const std::string& order_no) {
  if (finals_) finals_->Erase(order_no);
}

bool RechargeQuery::AnswerFromMemory(const RechargeQueryRequest& req, const Done& done) {
  if (!sessions_ || !finals_ || req.force_refresh) return false;
  const absl::Time now = clock_();
  std::optional<domain::Session> session = sessions_->Get(req.token, now);
  if (!session || session->appid != req.appid) return false;
  std::optional<CachedFinal> final_answer = finals_->Get(req.order_no, now);
  // Another user's order goes the long way (and answers 2047 there).
  if (!final_answer || final_answer->order.user_id != session->user_id ||
      final_answer->order.appid != req.appid) {
    return false;
  }
  RechargeQueryResult r;
  r.code = domain::CodeForState(final_answer->order.state);
  r.order = std::move(final_answer->order);
  r.balance_fen = final_answer->balance_fen;
  done(std::move(r));
  return true;
}

void RechargeQuery::Run(RechargeQueryRequest req, Done done) {
  // Validation happens before any I/O, and a rejected request writes nothing.
  if (req.appid.empty()) {
    return done(
        absl::InvalidArgumentError("appid is required (request header/metadata \"appid\")"));
  }
  if (absl::Status s = ValidateOutTradeNo(req.order_no, "order_no"); !s.ok()) return done(s);
  if (req.token.empty()) {
    return done(
        absl::UnauthenticatedError("token is required (metadata \"token\" or field token)"));
  }
  // The app polls a paid order every second: a credited answer costs no database round trip and
  // no hop to the executor.
  if (AnswerFromMemory(req, done)) return;
  auto task = [this, req, done]() {
    auto view = repo_->LoadForQuery(req.token, req.order_no, clock_());
    if (!view.ok()) return done(view.status());
    const domain::Session& session = view->session;
    if (session.appid != req.appid) {
      return done(absl::UnauthenticatedError("token was not issued for this appid"));
    }
    RememberSession(req.token, session);
    if (!view->balance_fen) {
      return done(absl::NotFoundError(absl::StrCat("user ", session.user_id, " not found")));
    }
    // Another user's or another appid's order looks exactly like a missing one.
    const bool foreign =
        view->order && (view->order->user_id != session.user_id || view->order->appid != req.appid);
    if (!view->order || foreign) {
      RechargeQueryResult r;
      r.code = ResultCode::kOrderNotExist;
      r.balance_fen = *view->balance_fen;
      return done(std::move(r));
    }
    AfterLoad(req, *view, done);
  };
  if (!executor_->TrySubmit(task)) {
    done(absl::ResourceExhaustedError("orderqueryd is overloaded: work queue full, retry later"));
  }
}

absl::StatusOr<RechargeQueryResult> RechargeQuery::Answer(
    ResultCode code, int64_t user_id, std::optional<domain::RechargeOrder> order,
    bool asked_upstream) {
  auto balance = repo_->GetBalance(user_id);
  if (!balance.ok()) return balance.status();
  RechargeQueryResult r;
  r.code = code;
  r.order = std::move(order);
  r.balance_fen = *balance;
  r.asked_upstream = asked_upstream;
  return r;
}

void RechargeQuery::AfterLoad(const RechargeQueryRequest& req, const domain::QueryView& view,
                              Done done) {
  const domain::RechargeOrder& order = *view.order;
  if (!req.force_refresh) {
    // SUCCESS is final only once credited: a paid but uncredited order must go on to credit.
    const bool paid_uncredited = order.state == domain::RechargeState::kSuccess && !order.credited;
    if (domain::IsFinal(order.state) && !paid_uncredited) {
      RechargeQueryResult r;
      r.code = domain::CodeForState(order.state);
      r.order = order;
      // A credited order answers the balance right after its credit: an immutable ledger fact.
      if (order.credited && view.credited_balance_fen) {
        r.balance_fen = *view.credited_balance_fen;
        RememberFinal(order, *view.credited_balance_fen);
      } else {
        r.balance_fen = *view.balance_fen;
      }
      return done(std::move(r));
    }
    if (order.last_queried_at && clock_() - *order.last_queried_at < refresh_interval_) {
      RechargeQueryResult r;
      r.code = domain::CodeForState(order.state);
      r.order = order;
      r.balance_fen = *view.balance_fen;
      return done(std::move(r));
    }
  }
  if (!req.force_refresh) {
    // A failure a moment ago: the same answer, without asking the provider again.
    if (auto recent = RecentFailureAnswer(order)) return done(*std::move(recent));
  }
  const bool leader =
      coalescer_.Join(order.order_no, req.deadline,
                      [done](const absl::StatusOr<RechargeQueryResult>& r) { done(r); });
  if (!leader) return;
  const absl::Time started = clock_();
  // Bounded by the budget, not by this caller's deadline: others may join and wait longer, and
  // an answer that comes after every caller left is still applied (a credit included).
  upstream_->Query(
      order, started + upstream_budget_,
      [this, order, started](absl::StatusOr<domain::UpstreamTransaction> reply) {
        // Runs on the transport thread: hop to the executor for storage work.
        auto shared =
            std::make_shared<absl::StatusOr<domain::UpstreamTransaction>>(std::move(reply));
        bool queued = executor_->TrySubmit(
            [this, order, started, shared] { OnUpstream(order, started, std::move(*shared)); });
        if (!queued) {
          // WeChat keeps the truth: nothing is lost, the next query asks again.
          log::Error("recharge_reply_dropped",
                     {{"order_no", order.order_no}, {"why", "work queue full"}});
          coalescer_.Complete(order.order_no,
                              absl::ResourceExhaustedError(
                                  "orderqueryd is overloaded: work queue full, retry later"));
        }
      });
}

domain::QueryLogEntry QueryLogEntryFor(const domain::RechargeOrder& order, absl::Duration latency,
                                       const absl::StatusOr<domain::UpstreamTransaction>& reply,
                                       const OrderStatusProvider& upstream) {
  domain::QueryLogEntry entry;
  entry.user_id = order.user_id;
  entry.appid = order.appid;
  entry.order_no = order.order_no;
  entry.latency_ms = absl::ToInt64Milliseconds(latency);
  if (reply.ok()) {
    entry.trade_state = reply->provider_state;
  } else {
    entry.error_code = upstream.ErrorCode(reply.status());
    if (entry.error_code.empty()) {
      entry.error_code = absl::StatusCodeToString(reply.status().code());
    }
    // Whole: storage cuts it on a character boundary.
    entry.error_message = std::string(reply.status().message());
  }
  return entry;
}

const char* SourceName(Source s) {
  switch (s) {
    case Source::kQuery:
      return "query";
    case Source::kNotification:
      return "notification";
    case Source::kReconciler:
      return "reconciler";
  }
  return "query";
}

namespace {

// A race lost this many times in a row means something keeps moving the row: give up loudly.
constexpr int kMaxDecideAttempts = 5;

}  // namespace

absl::StatusOr<Applied> RechargeQuery::ApplyAnswer(domain::RechargeOrder order,
                                                   const domain::UpstreamTransaction& tx,
                                                   domain::QueryOutcome base, Source source) {
  return DecideAndRecord(
      std::move(order), base, source,
      [&tx, source](const domain::RechargeOrder& o) {
        domain::Decision d = domain::Decide(o, tx);
        if (d.change)
          d.change->reason = absl::StrCat(d.change->reason, " (", SourceName(source), ")");
        return d;
      },
      tx.provider_state);
}

absl::StatusOr<Applied> RechargeQuery::CloseLocally(domain::RechargeOrder order,
                                                    const std::string& reason,
                                                    domain::QueryOutcome base) {
  return DecideAndRecord(
      std::move(order), base, Source::kReconciler,
      [&reason](const domain::RechargeOrder& o) {
        domain::Decision d;
        // Only a pending order is closed here; one that moved on meanwhile keeps its state.
        d.code = domain::CodeForState(o.state);
        if (domain::CheckMove(o.state, domain::RechargeState::kClosed, false) ==
            domain::Move::kAllowed) {
          domain::StateChange c;
          c.order_no = o.order_no;
          c.to = domain::RechargeState::kClosed;
          c.from = o.state;
          c.from_credited = o.credited;
          c.reason = reason;
          d.change = std::move(c);
          d.code = ResultCode::kClosed;
        }
        return d;
      },
      "");
}

absl::StatusOr<Applied> RechargeQuery::DecideAndRecord(
    domain::RechargeOrder order, const domain::QueryOutcome& base, Source source,
    const std::function<domain::Decision(const domain::RechargeOrder&)>& decide,
    absl::string_view provider_state) {
  for (int attempt = 1; attempt <= kMaxDecideAttempts; ++attempt) {
    domain::Decision d = decide(order);
    domain::QueryOutcome outcome = base;
    outcome.order_no = order.order_no;
    outcome.expect_state = order.state;
    outcome.expect_credited = order.credited;
    outcome.change = d.change;
    // The refresh interval starts only with what the provider said written beside it.
    if (d.code != ResultCode::kUnknown) outcome.queried_at = clock_();
    auto r = repo_->RecordOutcome(outcome);
    if (!r.ok()) return r.status();
    if (r->conflict) {
      counters_.lost_races.fetch_add(1);
      log::Info("recharge_race_lost", {{"order_no", order.order_no},
                                       {"decided_on", domain::RechargeStateName(order.state)},
                                       {"now", domain::RechargeStateName(r->order.state)},
                                       {"source", SourceName(source)}});
      order = r->order;
      continue;
    }
    Applied a;
    a.duplicate_notification = r->duplicate_notification;
    if (a.duplicate_notification) return a;
    if (r->state_changed || r->credited_now) ForgetFinal(order.order_no);
    a.code = d.code;
    a.order = r->order;
    a.balance_fen = r->balance_fen;
    a.credited_now = r->credited_now;
    a.refused_move = d.refused_move;
    a.mismatch = d.mismatch;
    if (!d.mismatch.empty()) {
      counters_.refused_credits.fetch_add(1);
      log::Error("recharge_credit_refused", {{"order_no", order.order_no},
                                             {"trade_state", provider_state},
                                             {"reason", d.mismatch},
                                             {"source", SourceName(source)}});
    }
    if (!d.refused_move.empty()) {
      counters_.refused_moves.fetch_add(1);
      log::Warn(
          "recharge_move_refused",
          {{"order_no", order.order_no}, {"move", d.refused_move}, {"source", SourceName(source)}});
    }
    if (d.change && order.state == domain::RechargeState::kSuccess &&
        d.change->to == domain::RechargeState::kRefund && order.credited && r->state_changed) {
      counters_.refunds_after_credit.fetch_add(1);
      log::Warn("recharge_refund_after_credit", {{"order_no", order.order_no},
                                                 {"user_id", order.user_id},
                                                 {"amount_fen", order.amount_fen},
                                                 {"balance", "kept; the refund owner debits it"},
                                                 {"source", SourceName(source)}});
    }
    if (r->credited_now) {
      counters_.credits.fetch_add(1);
      counters_.credited_fen.fetch_add(order.amount_fen);
      if (d.late_payment) {
        counters_.late_credits.fetch_add(1);
        log::Warn("recharge_late_payment_credited",
                  {{"order_no", order.order_no},
                   {"was", domain::RechargeStateName(order.state)},
                   {"amount_fen", order.amount_fen},
                   {"source", SourceName(source)}});
      }
      log::Info("recharge_credited", {{"order_no", order.order_no},
                                      {"user_id", order.user_id},
                                      {"amount_fen", order.amount_fen},
                                      {"balance_fen", r->balance_fen},
                                      {"source", SourceName(source)}});
    }
    return a;
  }
  return absl::AbortedError(absl::StrCat("order ", order.order_no, " kept changing under us ",
                                         kMaxDecideAttempts, " times; nothing written, retry"));
}

RechargeQuery::NotifyResult RechargeQuery::ApplyNotification(
    const domain::NotificationRecord& record, const domain::UpstreamTransaction& tx) {
  NotifyResult result;
  auto order = repo_->GetOrder(tx.out_trade_no);
  if (!order.ok()) {
    result.outcome =
        absl::IsNotFound(order.status()) ? NotifyOutcome::kUnknownOrder : NotifyOutcome::kFailed;
    result.message = absl::IsNotFound(order.status()) ? "order not found" : "storage unavailable";
    if (!absl::IsNotFound(order.status())) {
      log::Error("notification_apply_failed",
                 {{"order_no", tx.out_trade_no}, {"error", order.status().ToString()}});
    }
    return result;
  }
  // The crediting checks read only what never changes on an order (amount, ids): a payment
  // that fails them is refused before anything is stored, so every redelivery is refused too.
  if (domain::Decision pre = domain::Decide(*order, tx); !pre.mismatch.empty()) {
    counters_.refused_credits.fetch_add(1);
    log::Error("recharge_credit_refused", {{"order_no", order->order_no},
                                           {"trade_state", tx.provider_state},
                                           {"reason", pre.mismatch},
                                           {"source", SourceName(Source::kNotification)}});
    result.outcome = NotifyOutcome::kRefused;
    result.message = "payment does not match the order";
    return result;
  }
  domain::QueryOutcome base;
  base.order_no = order->order_no;
  base.notification = record;
  auto applied = ApplyAnswer(*order, tx, base, Source::kNotification);
  if (!applied.ok()) {
    result.outcome =
        absl::IsNotFound(applied.status()) ? NotifyOutcome::kUnknownOrder : NotifyOutcome::kFailed;
    result.message = "could not apply; retry";
    log::Error("notification_apply_failed",
               {{"order_no", tx.out_trade_no}, {"error", applied.status().ToString()}});
    return result;
  }
  if (applied->duplicate_notification) {
    result.outcome = NotifyOutcome::kDuplicate;
    result.message = "duplicate";
    return result;
  }
  result.outcome = NotifyOutcome::kApplied;
  result.message = "applied";
  result.applied = *std::move(applied);
  return result;
}

void RechargeQuery::OnUpstream(const domain::RechargeOrder& order, absl::Time started,
                               absl::StatusOr<domain::UpstreamTransaction> reply) {
  const domain::QueryLogEntry entry =
      QueryLogEntryFor(order, clock_() - started, reply, *upstream_);
  domain::QueryOutcome base;
  base.order_no = order.order_no;
  base.query_log = entry;

  absl::StatusOr<RechargeQueryResult> result;
  if (!reply.ok()) {
    // Only the query-log row: the refresh interval never starts on a failure or a not-found.
    if (auto r = repo_->RecordOutcome(base); !r.ok()) {
      log::Error("query_log_write_failed",
                 {{"order_no", order.order_no}, {"error", r.status().ToString()}});
    }
    RememberFailure(order, reply.status());
    if (absl::IsNotFound(reply.status())) {
      // WeChat does not know the order: answer 2047, keep the local state (a late payment must
      // still be credited when it shows up).
      result = Answer(ResultCode::kOrderNotExist, order.user_id, std::nullopt, true);
    } else {
      // Logged once where it happened (the port's logging decorator) and by the RPC layer.
      result = reply.status();
    }
    coalescer_.Complete(order.order_no, result);
    return;
  }

  if (failures_) failures_->Erase(order.order_no);
  auto applied = ApplyAnswer(order, *reply, base, Source::kQuery);
  if (!applied.ok()) {
    log::Error("recharge_apply_failed",
               {{"order_no", order.order_no}, {"error", applied.status().ToString()}});
    result = applied.status();
  } else {
    RechargeQueryResult r;
    r.code = applied->code;
    r.order = applied->order;
    // The answer shows what the provider said, unless that was a move the lifecycle refused.
    if (applied->refused_move.empty()) r.order->trade_state = reply->provider_state;
    r.balance_fen = applied->balance_fen;
    r.asked_upstream = true;
    result = r;
  }
  coalescer_.Complete(order.order_no, result);
}

}  // namespace orderquery::usecase
