#include "server/payment/http/retrying_transport.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/log.h"
#include "server/payment/http/attempt_marks.h"
#include "server/payment/http/curl_errors.h"

namespace orderquery::payment::http {
namespace {

using internal::ShutDownError;

// Appends the attempt count: a header of a Response, a payload (and a note in the message) of a
// failure.
void Annotate(int attempts, absl::StatusOr<Response>& outcome) {
  if (outcome.ok()) {
    outcome->headers.emplace_back(kAttemptsHeader, absl::StrCat(attempts));
    return;
  }
  absl::Status s = outcome.status();
  if (attempts > 1) {
    absl::Status annotated(s.code(), absl::StrCat(s.message(), " (after ", attempts, " attempts)"));
    s.ForEachPayload([&annotated](absl::string_view url, const absl::Cord& payload) {
      annotated.SetPayload(url, payload);
    });
    s = annotated;
  }
  s.SetPayload(kAttemptsPayloadUrl, absl::Cord(absl::StrCat(attempts)));
  outcome = s;
}

}  // namespace

RetryingTransport::RetryingTransport(std::unique_ptr<Transport> inner, Timers* timers,
                                     RetryOptions options, retry::UniformRandom random)
    : inner_(std::move(inner)), timers_(timers), policy_(options, std::move(random)) {}

RetryingTransport::~RetryingTransport() { Shutdown(); }

void RetryingTransport::Send(Request request, Callback done) {
  bool shut = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut = shut_;
  }
  if (shut) {
    done(ShutDownError());
    return;
  }
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  call->done = std::move(done);
  Attempt(std::move(call));
}

void RetryingTransport::Attempt(std::shared_ptr<Call> call) {
  call->request.attempt = call->attempts + 1;
  Request copy = call->request;  // the call keeps its request for the next attempt
  inner_->Send(std::move(copy), [this, call](absl::StatusOr<Response> outcome) {
    OnAttemptDone(call, std::move(outcome));
  });
}

void RetryingTransport::OnAttemptDone(const std::shared_ptr<Call>& call,
                                      absl::StatusOr<Response> outcome) {
  Call& c = *call;
  if (!outcome.ok() && absl::IsCancelled(outcome.status())) {
    c.done(std::move(outcome));  // shutting down: answered as the transport said
    return;
  }
  if (!outcome.ok() && internal::IsNotSent(outcome.status())) {
    Finish(c, c.last_outcome.has_value() ? std::move(*c.last_outcome) : std::move(outcome));
    return;
  }
  ++c.attempts;
  const bool attempt_timeout = !outcome.ok() && internal::IsAttemptTimeout(outcome.status());
  const absl::Duration took = internal::ElapsedOf(outcome);
  internal::ClearMarks(outcome);
  const absl::Time now = absl::Now();
  RetryDecision d = policy_.Decide(c.request.idempotent, outcome, attempt_timeout, c.attempts, now,
                                   c.request.deadline, took);
  if (!d.retry) {
    Finish(c, std::move(outcome));
    return;
  }
  log::Debug("http_retry", {{"host", internal::HostOf(c.request.url)},
                            {"attempt", c.attempts},
                            {"outcome", outcome.ok() ? absl::StrCat("http ", outcome->status)
                                                     : outcome.status().ToString()},
                            {"backoff_ms", absl::ToInt64Milliseconds(d.delay)}});
  c.last_outcome = std::move(outcome);
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!shut_) {
      id = next_id_++;
      backing_off_.emplace(id, call);
    }
  }
  if (id == 0) {
    c.done(ShutDownError());
    return;
  }
  timers_->RunAt(now + d.delay, [this, id](absl::Status s) { OnBackoffDone(id, s); });
}

void RetryingTransport::OnBackoffDone(uint64_t id, const absl::Status& timer) {
  std::shared_ptr<Call> call;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = backing_off_.find(id);
    if (it == backing_off_.end()) return;  // failed by Shutdown already
    call = std::move(it->second);
    backing_off_.erase(it);
  }
  if (!timer.ok()) {
    call->done(ShutDownError());
    return;
  }
  Attempt(std::move(call));
}

void RetryingTransport::Finish(Call& call, absl::StatusOr<Response> outcome) {
  internal::ClearMarks(outcome);
  Annotate(call.attempts, outcome);
  Callback done = std::move(call.done);
  done(std::move(outcome));
}

void RetryingTransport::Shutdown() {
  std::vector<std::shared_ptr<Call>> cancelled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut_ = true;
    for (auto& [id, call] : backing_off_) cancelled.push_back(std::move(call));
    backing_off_.clear();
  }
  // Their timers stay armed and find nothing when they fire (or are cancelled by the loop).
  for (auto& call : cancelled) call->done(ShutDownError());
  inner_->Shutdown();
}

}  // namespace orderquery::payment::http
