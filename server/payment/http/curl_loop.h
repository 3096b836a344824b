// The event loop behind CurlTransport, internal to the transport. Its members are defined by
// responsibility:
//   curl_loop.cc     the thread, intake, timers, shutdown
//   curl_sockets.cc  the multi handle driven by curl_multi_socket_action: curl's sockets in an
//                    epoll set, curl's timer, an eventfd for wake-ups; a turn of the loop costs
//                    O(ready sockets), not O(every cached keep-alive connection)
//   curl_attempt.cc  one exchange: the easy handle built from the Request, header/body capture
//   curl_outcome.cc  an exchange's end: curl's result mapped to a Response or a marked Status
// Exchanges live on the loop thread only; Submit(), RunAt(), Cancel() and the destructor are
// called from other threads and go through mu_.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_CURL_LOOP_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_CURL_LOOP_H_

#include <curl/curl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/payment/http/curl_transport.h"

namespace orderquery::payment::http {

class CurlTransport::Loop {
 public:
  Loop(TransportOptions options, CURLM* multi, std::shared_ptr<TransportCounters> counters);
  // Stops the thread (failing what is pending, see FailEverything) and frees the multi handle.
  ~Loop();

  // Sets up the epoll set, the wake-up eventfd and curl's socket and timer callbacks.
  absl::Status Init();
  void StartThread();
  void Submit(Request request, Callback done);
  TimerId RunAt(absl::Time when, TimerFn fn);
  bool Cancel(TimerId id);

 private:
  struct Pending {
    Request request;
    Callback done;
  };

  struct Exchange {
    Request request;
    Callback done;
    CURL* easy = nullptr;
    curl_slist* header_list = nullptr;
    Response response;
    bool body_too_large = false;
    absl::Time start;
    bool connect_capped_by_deadline = false;
    bool total_capped_by_deadline = false;
    char error[CURL_ERROR_SIZE] = {0};
  };

  // curl_loop.cc
  void Run();
  int WaitMillis();
  void Accept(Pending p);
  void RunDueTimers();
  void ReapCompleted();
  void FailEverything();

  // curl_sockets.cc
  void Wake();
  // Runs curl on its timer if due, waits up to `wait_ms` for ready sockets or a wake-up, and
  // hands curl the sockets that are ready.
  void DriveCurl(int wait_ms);
  static int OnSocket(CURL* easy, curl_socket_t fd, int what, void* loop, void* socketp);
  static int OnCurlTimer(CURLM* multi, long timeout_ms, void* loop);  // NOLINT(runtime/int)
  void CloseFds();

  // curl_attempt.cc
  // Builds the easy handle of an exchange with `left` before the deadline; false if curl could
  // not make one.
  bool SetUpEasy(Exchange& x, absl::Duration left);
  // Detaches the exchange's easy handle and keeps it for reuse (or frees it); frees its headers.
  void CleanupEasy(Exchange& x);
  void FreeSpareEasy();
  static size_t OnHeader(char* data, size_t size, size_t n, void* user);
  static size_t OnBody(char* data, size_t size, size_t n, void* user);

  // curl_outcome.cc
  void OnExchangeDone(Exchange* x, CURLcode code);

  const TransportOptions options_;
  CURLM* const multi_;
  const std::shared_ptr<TransportCounters> counters_;
  std::thread thread_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: written by Wake(), drained by the loop
  // When curl wants curl_multi_socket_action(CURL_SOCKET_TIMEOUT); loop thread only.
  absl::Time curl_due_ = absl::InfiniteFuture();
  std::unordered_set<curl_socket_t> watched_;  // sockets in the epoll set; loop thread only

  std::mutex mu_;
  bool stopping_ = false;          // guarded by mu_
  std::vector<Pending> incoming_;  // guarded by mu_
  TimerId next_timer_ = 1;         // guarded by mu_
  // Pending timers by id, and their order (due time, id); both guarded by mu_.
  struct TimerEntry {
    absl::Time when;
    TimerFn fn;
  };
  std::unordered_map<TimerId, TimerEntry> timers_;
  std::set<std::pair<absl::Time, TimerId>> timer_order_;

  // Loop-thread state: the exchanges in the multi handle.
  std::unordered_map<Exchange*, std::unique_ptr<Exchange>> running_;
  // Easy handles of finished exchanges, reset (curl_easy_reset) and kept for the next ones: a
  // fresh handle costs a few large allocations (curl's receive buffer among them) that made glibc
  // consolidate its free lists on every request. Loop thread only; at most kMaxSpareEasy.
  static constexpr size_t kMaxSpareEasy = 64;
  std::vector<CURL*> spare_easy_;
};

}  // namespace orderquery::payment::http

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_CURL_LOOP_H_
