// Decorator: retries an idempotent request's retryable outcomes (retry.h's RetryPolicy: 429 and
// 5xx, connection failures, per-attempt timeouts when allowed, Retry-After, min_attempt_time,
// the deadline) with a jittered exponential backoff waited on a timer of the loop (timers.h): no
// thread sleeps, and the next attempt starts on the loop thread.
//
// Attempts are visible to callers: a final Response carries the header `x-oq-attempts: N`
// (appended after the upstream's headers), a failure Status the payload kAttemptsPayloadUrl
// (AttemptsOf reads either). The marks the layers below put on failures (attempt_marks.h) are
// read here and removed. An outcome that was never sent is not an attempt; after a retry was
// granted it is replaced by the previous attempt's outcome, which says more about the upstream.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_RETRYING_TRANSPORT_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_RETRYING_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "server/common/retry.h"
#include "server/payment/http/retry.h"
#include "server/payment/http/timers.h"
#include "server/payment/http/transport.h"

namespace orderquery::payment::http {

class RetryingTransport final : public Transport {
 public:
  // `timers` must outlive this object (in the stack it is the curl transport, owned below
  // `inner`). `random` as RetryPolicy's.
  RetryingTransport(std::unique_ptr<Transport> inner, Timers* timers, RetryOptions options,
                    retry::UniformRandom random = nullptr);
  ~RetryingTransport() override;

  void Send(Request request, Callback done) override;
  // Fails every call waiting out a backoff (CANCELLED) on the calling thread, then shuts the
  // inner transport (which fails the attempts in flight).
  void Shutdown() override;

 private:
  struct Call {
    Request request;  // request.attempt: the attempt in flight or next
    Callback done;
    int attempts = 0;  // attempts that went out
    std::optional<absl::StatusOr<Response>> last_outcome;
  };

  void Attempt(std::shared_ptr<Call> call);
  void OnAttemptDone(const std::shared_ptr<Call>& call, absl::StatusOr<Response> outcome);
  void OnBackoffDone(uint64_t id, const absl::Status& timer);
  static void Finish(Call& call, absl::StatusOr<Response> outcome);

  const std::unique_ptr<Transport> inner_;
  Timers* const timers_;
  const RetryPolicy policy_;

  std::mutex mu_;
  bool shut_ = false;                                                // guarded by mu_
  uint64_t next_id_ = 1;                                             // guarded by mu_
  std::unordered_map<uint64_t, std::shared_ptr<Call>> backing_off_;  // guarded by mu_
};

}  // namespace orderquery::payment::http

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_RETRYING_TRANSPORT_H_
