// The event loop behind CurlTransport, internal to the transport. Its members are defined by
// responsibility:
//   curl_loop.cc     the thread, the curl multi handle, intake, the limiter slots, shutdown
//   curl_attempt.cc  one attempt: the easy handle built from the Request, header/body capture
//   curl_outcome.cc  an attempt's end: error mapping, retry scheduling on timers, the answer
// Everything runs on the loop thread; only Submit(), the destructor and stats() are called from
// other threads, through mu_ and atomics.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_CURL_LOOP_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_CURL_LOOP_H_

#include <curl/curl.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/payment/http/curl_transport.h"
#include "server/payment/http/limiter.h"
#include "server/payment/http/retry.h"
#include "server/payment/http/upstream_metrics.h"

namespace orderquery::payment::http {

class CurlTransport::Loop {
 public:
  Loop(TransportOptions options, CURLM* multi);
  // Stops the thread (failing what is pending, see FailEverything) and frees the multi handle.
  ~Loop();

  void StartThread();
  void Submit(Request request, Callback done);
  CurlTransport::Stats stats() const;

 private:
  struct Pending {
    Request request;
    Callback done;
  };

  enum class Phase { kNew, kQueued, kRunning, kBackoff };

  struct Call {
    uint64_t id = 0;
    Request request;
    Callback done;
    Phase phase = Phase::kNew;
    bool holds_slot = false;
    int attempts = 0;
    std::optional<absl::StatusOr<Response>> last_outcome;
    // The attempt in flight.
    CURL* easy = nullptr;
    curl_slist* header_list = nullptr;
    Response response;
    bool body_too_large = false;
    absl::Time attempt_start;
    bool connect_capped_by_deadline = false;
    bool total_capped_by_deadline = false;
    char error[CURL_ERROR_SIZE] = {0};
  };

  enum class TimerKind { kRetry, kQueueDeadline };
  struct Timer {
    uint64_t call_id;
    TimerKind kind;
  };

  // curl_loop.cc
  void Run();
  int WaitMillis() const;
  void Accept(Pending p);
  void Queue(Call& c);
  void StartReady();
  void ReleaseSlot(Call& c);
  void ReapCompleted();
  void FailEverything();

  // curl_attempt.cc
  void StartAttempt(Call& c);
  // Builds the easy handle of an attempt with `left` before the deadline; false if curl could
  // not make one.
  bool SetUpEasy(Call& c, absl::Duration left);
  void CleanupEasy(Call& c);
  static size_t OnHeader(char* data, size_t size, size_t n, void* user);
  static size_t OnBody(char* data, size_t size, size_t n, void* user);

  // curl_outcome.cc
  void OnAttemptDone(Call& c, CURLcode code);
  void FireDueTimers(absl::Time now);
  void FinishWithLastOr(uint64_t id, absl::Status status);
  void Finish(uint64_t id, absl::StatusOr<Response> outcome);

  const TransportOptions options_;
  CURLM* const multi_;
  RetryPolicy policy_;
  std::thread thread_;

  std::mutex mu_;
  bool stopping_ = false;          // guarded by mu_
  std::vector<Pending> incoming_;  // guarded by mu_

  // Loop-thread state.
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Call>> calls_;
  std::multimap<absl::Time, Timer> timers_;
  std::deque<uint64_t> ready_;
  KeyedLimiter limiter_;

  std::atomic<uint64_t> requests_{0}, attempts_{0}, retries_{0}, connections_{0}, rejected_{0},
      inflight_{0};

  // Upstream metrics: recorded on the loop thread only.
  internal::UpstreamMetrics metrics_;
};

}  // namespace orderquery::payment::http

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_CURL_LOOP_H_
