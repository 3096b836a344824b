// Counters of a transport stack, shared by its layers: each layer adds to the fields it owns
// (requests: the call-level MeasuringTransport; attempts, connections_opened, inflight: the curl
// transport; retries: the attempt-level MeasuringTransport; rejected: LimitingTransport). Read
// without stopping anything; each field is consistent alone.
#ifndef ORDERQUERY_SERVER_PAYMENT_HTTP_TRANSPORT_STATS_H_
#define ORDERQUERY_SERVER_PAYMENT_HTTP_TRANSPORT_STATS_H_

#include <atomic>
#include <cstdint>

namespace orderquery::payment::http {

struct TransportStats {
  uint64_t requests = 0;            // Send() calls
  uint64_t attempts = 0;            // HTTP exchanges started
  uint64_t retries = 0;             // attempts after the first
  uint64_t connections_opened = 0;  // new TCP connections (CURLINFO_NUM_CONNECTS summed)
  uint64_t rejected = 0;            // refused by a full limiter queue
  uint64_t inflight = 0;            // attempts running right now
};

class TransportCounters {
 public:
  std::atomic<uint64_t> requests{0}, attempts{0}, retries{0}, connections_opened{0}, rejected{0},
      inflight{0};

  TransportStats Read() const {
    TransportStats s;
    s.requests = requests.load(std::memory_order_relaxed);
    s.attempts = attempts.load(std::memory_order_relaxed);
    s.retries = retries.load(std::memory_order_relaxed);
    s.connections_opened = connections_opened.load(std::memory_order_relaxed);
    s.rejected = rejected.load(std::memory_order_relaxed);
    s.inflight = inflight.load(std::memory_order_relaxed);
    return s;
  }
};

}  // namespace orderquery::payment::http

#endif  // ORDERQUERY_SERVER_PAYMENT_HTTP_TRANSPORT_STATS_H_
