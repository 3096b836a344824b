#include "server/usecase/recharge_query.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/common/validation.h"

namespace orderquery::usecase {

using domain::ResultCode;

RechargeQuery::RechargeQuery(domain::RechargeRepository* repo, TransactionQuerier* upstream,
                             BlockingExecutor* executor, absl::Duration refresh_interval,
                             Clock clock)
    : repo_(repo),
      upstream_(upstream),
      executor_(executor),
      refresh_interval_(refresh_interval),
      clock_(std::move(clock)) {}

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
  auto task = [this, req, done]() {
    auto session = repo_->ResolveToken(req.token, clock_());
    if (!session.ok()) return done(session.status());
    if (session->appid != req.appid) {
      return done(absl::UnauthenticatedError("token was not issued for this appid"));
    }
    auto order = repo_->GetOrder(req.order_no);
    // Another user's or another appid's order looks exactly like a missing one.
    const bool foreign =
        order.ok() && (order->user_id != session->user_id || order->appid != req.appid);
    if (foreign || (!order.ok() && absl::IsNotFound(order.status()))) {
      return done(Answer(ResultCode::kOrderNotExist, session->user_id, std::nullopt, false));
    }
    if (!order.ok()) return done(order.status());
    AfterLoad(req, *session, *order, done);
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

void RechargeQuery::AfterLoad(const RechargeQueryRequest& req, const domain::Session& session,
                              const domain::RechargeOrder& order, Done done) {
  if (!req.force_refresh) {
    // SUCCESS is final only once credited: a paid but uncredited order must go on to credit.
    const bool paid_uncredited = order.state == domain::RechargeState::kSuccess && !order.credited;
    if (domain::IsFinal(order.state) && !paid_uncredited) {
      return done(Answer(domain::CodeForState(order.state), order.user_id, order, false));
    }
    if (order.last_queried_at && clock_() - *order.last_queried_at < refresh_interval_) {
      return done(Answer(domain::CodeForState(order.state), order.user_id, order, false));
    }
  }
  const bool leader = coalescer_.Join(
      order.order_no, [done](const absl::StatusOr<RechargeQueryResult>& r) { done(r); });
  if (!leader) return;
  const absl::Time started = clock_();
  upstream_->Query(
      order, req.deadline,
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

void RechargeQuery::OnUpstream(const domain::RechargeOrder& order, absl::Time started,
                               absl::StatusOr<domain::UpstreamTransaction> reply) {
  domain::QueryLogEntry entry;
  entry.user_id = order.user_id;
  entry.appid = order.appid;
  entry.order_no = order.order_no;
  entry.latency_ms = absl::ToInt64Milliseconds(clock_() - started);
  if (reply.ok()) {
    entry.trade_state = reply->trade_state;
  } else {
    entry.error_code = upstream_->ErrorCode(reply.status());
    if (entry.error_code.empty())
      entry.error_code = absl::StatusCodeToString(reply.status().code());
    entry.error_message = std::string(reply.status().message().substr(0, 250));
  }
  if (absl::Status s = repo_->AppendQueryLog(entry); !s.ok()) {
    log::Error("query_log_write_failed", {{"order_no", order.order_no}, {"error", s.ToString()}});
  }
  // The refresh interval lets later calls answer from the database, so it may only start when
  // the database now says what WeChat said: never after a failure, a not-found, an unknown
  // state or a paid reply that failed the crediting checks.
  auto mark_asked = [&] {
    if (absl::Status s = repo_->TouchLastQueried(order.order_no, clock_()); !s.ok()) {
      log::Warn("touch_last_queried_failed",
                {{"order_no", order.order_no}, {"error", s.ToString()}});
    }
  };

  absl::StatusOr<RechargeQueryResult> result;
  if (!reply.ok()) {
    if (absl::IsNotFound(reply.status())) {
      // WeChat does not know the order: answer 2047, keep the local state (a late payment must
      // still be credited when it shows up).
      result = Answer(ResultCode::kOrderNotExist, order.user_id, std::nullopt, true);
    } else {
      log::Warn("recharge_upstream_failed",
                {{"order_no", order.order_no}, {"error", reply.status().ToString()}});
      result = reply.status();
    }
    coalescer_.Complete(order.order_no, result);
    return;
  }

  domain::Decision d = domain::Decide(order, *reply);
  if (d.code != ResultCode::kUnknown) mark_asked();
  if (!d.mismatch.empty()) {
    log::Error("recharge_credit_refused", {{"order_no", order.order_no},
                                           {"trade_state", reply->trade_state},
                                           {"reason", d.mismatch}});
  }
  if (d.change) {
    auto applied = repo_->ApplyStateChange(*d.change);
    if (!applied.ok()) {
      log::Error("recharge_apply_failed",
                 {{"order_no", order.order_no}, {"error", applied.status().ToString()}});
      result = applied.status();
    } else {
      if (applied->credited_now) {
        log::Info("recharge_credited", {{"order_no", order.order_no},
                                        {"user_id", order.user_id},
                                        {"amount_fen", order.amount_fen},
                                        {"balance_fen", applied->balance_fen}});
      }
      RechargeQueryResult r;
      r.code = d.code;
      r.order = applied->order;
      r.balance_fen = applied->balance_fen;
      r.asked_upstream = true;
      result = r;
    }
  } else {
    domain::RechargeOrder seen = order;
    seen.trade_state = reply->trade_state;
    result = Answer(d.code, seen.user_id, std::move(seen), true);
  }
  coalescer_.Complete(order.order_no, result);
}

}  // namespace orderquery::usecase
