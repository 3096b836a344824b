// oq-loadgen: a closed-loop asynchronous gRPC load client for orderqueryd, on the generated C++
// stubs and the completion-queue client API.
//
// N calls are kept in flight (spread over T threads, each with its own completion queue, and C
// HTTP/2 connections); as soon as one completes the next one starts, until a duration or a
// request count is reached. QueryRechargeOrder can name a different order on every request
// (prefix + counter, or lines of a file), which h2load cannot do. It prints throughput, latency
// percentiles, gRPC status counts and (recharge) answer-code counts, and a one-line
// machine-readable summary. With --write-frame it instead writes one length-prefixed gRPC
// message (the body h2load needs) and exits.
//
//   oq-loadgen --target 127.0.0.1:50051 --rpc health --concurrency 64 --duration 10
//   oq-loadgen --target ... --rpc recharge --appid wx... --token T --order-prefix BENCHP
//              --order-width 8 --requests 30000 -c 256        (a different order per request)
//   oq-loadgen --rpc recharge --order-no X --write-frame body.bin     # for h2load -d

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "orderquery/v1/service.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = ::orderquery::v1;
namespace health = ::grpc::health::v1;

constexpr char kUsage[] = R"(oq-loadgen: closed-loop asynchronous gRPC load for orderqueryd.

Usage: oq-loadgen --target HOST:PORT [options]
       oq-loadgen --write-frame FILE [--rpc ...] [request options]

What to call:
  --rpc health|recharge     grpc.health.v1.Health/Check or
                            orderquery.v1.OrderQueryService/QueryRechargeOrder (default health)
  --health-service NAME     Check's service field (default "": the whole server)
  --appid ID                metadata "appid" (recharge)
  --token T                 metadata "token" (recharge)
  --token-in-body           send the token in the request field instead of metadata
  --force-refresh           set force_refresh on every recharge request
Order numbers (recharge; exactly one source):
  --order-no NO             the same order on every request
  --order-prefix P          P + counter: the i-th request (i = 0, 1, ...) names
  --order-start K             P + (K + i), left-padded with zeros to --order-width digits
  --order-width W             (defaults K=1, W=0 = no padding); every request a different order
  --orders-file FILE        one order number a line, used in order; the run stops when the
                            file is used up unless --cycle is given

How much:
  -c, --concurrency N       calls in flight at once (default 64)
  --threads T               client threads, one completion queue each (default 2)
  --connections C           HTTP/2 connections (distinct channels) (default = threads)
  --duration S              seconds to run after the warm-up (default 10)
  --requests N              stop after N requests have been started (the warm-up's count);
                            with --duration, whichever comes first
  --warmup S                seconds whose calls are not counted (default 0)
  --deadline-ms MS          per-call deadline (default 10000)

Output:
  --quiet                   only the final "result:" line
  --write-frame FILE        write one gRPC frame (0x00, 4-byte big-endian length, message)
                            of the request that --rpc/--order-no/--token describe, and exit
  -h, --help                this text

The final line is machine-readable:
  result: rpc=... all=N calls=N ok=N errors=N rps=X p50_ms=X p90_ms=X p99_ms=X max_ms=X ...
  (all = every call completed, warm-up included; calls/ok/errors/latency = counted calls only)
Exit status: 0 if every counted call returned OK, 1 if some failed, 2 for bad flags or
no call at all.
)";

[[noreturn]] void Die(const std::string& msg) {
  std::cerr << "oq-loadgen: " << msg << "\n(see --help)\n";
  std::exit(2);
}

struct Options {
  std::string target;
  std::string rpc = "health";
  std::string health_service;
  std::string appid, token;
  bool token_in_body = false;
  bool force_refresh = false;
  std::string order_no, order_prefix, orders_file;
  bool have_prefix = false;
  uint64_t order_start = 1;
  int order_width = 0;
  bool cycle = false;
  int concurrency = 64;
  int threads = 2;
  int connections = 0;
  double duration_s = 10;
  bool duration_given = false;
  uint64_t requests = 0;
  double warmup_s = 0;
  int deadline_ms = 10000;
  bool quiet = false;
  std::string write_frame;
};

int64_t ParseInt(const std::string& flag, const std::string& v, int64_t lo, int64_t hi) {
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || x < lo || x > hi) {
    Die(flag + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
        "], got \"" + v + "\"");
  }
  return x;
}

double ParseDouble(const std::string& flag, const std::string& v, double lo) {
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(x >= lo)) Die(flag + ": bad number \"" + v + "\"");
  return x;
}

Options ParseFlags(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    auto eq = a.find('=');
    bool inline_value = a.rfind("--", 0) == 0 && eq != std::string::npos;
    if (inline_value) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto value = [&]() -> std::string {
      if (inline_value) return v;
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--target") {
      o.target = value();
    } else if (a == "--rpc") {
      o.rpc = value();
      if (o.rpc != "health" && o.rpc != "recharge") Die("--rpc: health or recharge");
    } else if (a == "--health-service") {
      o.health_service = value();
    } else if (a == "--appid") {
      o.appid = value();
    } else if (a == "--token") {
      o.token = value();
    } else if (a == "--token-in-body") {
      o.token_in_body = true;
    } else if (a == "--force-refresh") {
      o.force_refresh = true;
    } else if (a == "--order-no") {
      o.order_no = value();
    } else if (a == "--order-prefix") {
      o.order_prefix = value();
      o.have_prefix = true;
    } else if (a == "--order-start") {
      o.order_start = static_cast<uint64_t>(ParseInt(a, value(), 0, INT64_MAX));
    } else if (a == "--order-width") {
      o.order_width = static_cast<int>(ParseInt(a, value(), 0, 32));
    } else if (a == "--orders-file") {
      o.orders_file = value();
    } else if (a == "--cycle") {
      o.cycle = true;
    } else if (a == "-c" || a == "--concurrency") {
      o.concurrency = static_cast<int>(ParseInt(a, value(), 1, 100000));
    } else if (a == "--threads") {
      o.threads = static_cast<int>(ParseInt(a, value(), 1, 256));
    } else if (a == "--connections") {
      o.connections = static_cast<int>(ParseInt(a, value(), 1, 1024));
    } else if (a == "--duration") {
      o.duration_s = ParseDouble(a, value(), 0.001);
      o.duration_given = true;
    } else if (a == "--requests") {
      o.requests = static_cast<uint64_t>(ParseInt(a, value(), 1, INT64_MAX));
    } else if (a == "--warmup") {
      o.warmup_s = ParseDouble(a, value(), 0);
    } else if (a == "--deadline-ms") {
      o.deadline_ms = static_cast<int>(ParseInt(a, value(), 1, 3600 * 1000));
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--write-frame") {
      o.write_frame = value();
    } else {
      Die("unknown flag " + a);
    }
  }
  if (o.connections == 0) o.connections = o.threads;
  if (o.rpc == "recharge") {
    int sources = !o.order_no.empty() + o.have_prefix + !o.orders_file.empty();
    if (sources != 1)
      Die("recharge needs exactly one of --order-no, --order-prefix, --orders-file");
    if (o.appid.empty() && o.write_frame.empty()) Die("recharge needs --appid");
    if (o.token.empty() && o.write_frame.empty()) Die("recharge needs --token");
  }
  if (o.write_frame.empty() && o.target.empty()) Die("--target is required");
  if (o.requests > 0 && !o.duration_given) o.duration_s = 1e9;  // count alone bounds the run
  return o;
}

// The i-th order number of the run (i counts every request started, warm-up included).
class OrderSource {
 public:
  explicit OrderSource(const Options& o) : o_(o) {
    if (!o.orders_file.empty()) {
      std::ifstream in(o.orders_file);
      if (!in.good()) Die("--orders-file: cannot read " + o.orders_file);
      std::string line;
      while (std::getline(in, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty()) file_.push_back(line);
      }
      if (file_.empty()) Die("--orders-file: no order numbers in " + o.orders_file);
    }
  }
  // False when the file is used up (and --cycle is not given).
  bool Get(uint64_t i, std::string* out) const {
    if (!o_.order_no.empty()) {
      *out = o_.order_no;
    } else if (!file_.empty()) {
      if (i >= file_.size() && !o_.cycle) return false;
      *out = file_[i % file_.size()];
    } else {
      std::string n = std::to_string(o_.order_start + i);
      if (static_cast<int>(n.size()) < o_.order_width) n.insert(0, o_.order_width - n.size(), '0');
      *out = o_.order_prefix + n;
    }
    return true;
  }
  size_t file_size() const { return file_.size(); }

 private:
  const Options& o_;
  std::vector<std::string> file_;
};

// One call in flight. The completion queue hands back its address as the tag.
struct Call {
  grpc::ClientContext ctx;
  grpc::Status status;
  Clock::time_point start;
  bool counted = false;  // started after the warm-up
  health::HealthCheckResponse health_resp;
  v1::QueryRechargeOrderResponse recharge_resp;
  std::unique_ptr<grpc::ClientAsyncResponseReader<health::HealthCheckResponse>> health_reader;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::QueryRechargeOrderResponse>> recharge_reader;
};

struct ThreadStats {
  std::vector<uint32_t> latency_us;  // counted calls only
  std::map<int, uint64_t> status_counts;
  std::map<int, uint64_t> answer_codes;  // recharge: response code of OK calls
  uint64_t in_window = 0;                // calls completed between the warm-up and the deadline
  uint64_t all = 0;                      // every completed call, warm-up included
  Clock::time_point last_done{};
  std::string first_error;
};

class LoadGen {
 public:
  explicit LoadGen(const Options& o) : o_(o), orders_(o) {
    for (int i = 0; i < o.connections; ++i) {
      grpc::ChannelArguments args;
      // A channel of its own per connection: without a local subchannel pool, channels to the
      // same target share one TCP connection.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt("oq.loadgen.channel", i);
      auto ch = grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args);
      health_stubs_.push_back(health::Health::NewStub(ch));
      recharge_stubs_.push_back(v1::OrderQueryService::NewStub(ch));
      channels_.push_back(std::move(ch));
    }
  }

  bool Connect() {
    auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(5);
    for (auto& ch : channels_) {
      if (!ch->WaitForConnected(deadline)) return false;
    }
    return true;
  }

  int Run() {
    begin_ = Clock::now();
    warm_end_ = begin_ + ToDuration(o_.warmup_s);
    end_ = warm_end_ + ToDuration(o_.duration_s);
    stats_.resize(o_.threads);
    std::vector<std::thread> threads;
    for (int t = 0; t < o_.threads; ++t) {
      // Slots of this thread: concurrency spread evenly, the remainder to the first threads.
      int slots = o_.concurrency / o_.threads + (t < o_.concurrency % o_.threads ? 1 : 0);
      threads.emplace_back([this, t, slots] { Worker(t, slots); });
    }
    for (auto& th : threads) th.join();
    return Report();
  }

 private:
  static Clock::duration ToDuration(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }

  // Starts one call on cq; false when the run is over (time, count or orders used up).
  bool Start(int t, grpc::CompletionQueue* cq, uint64_t* seq) {
    Clock::time_point now = Clock::now();
    if (stop_.load(std::memory_order_relaxed)) return false;
    if (now >= end_) {
      CloseWindow(now, /*by_time=*/true);
      return false;
    }
    uint64_t i = issued_.fetch_add(1, std::memory_order_relaxed);
    if (o_.requests > 0 && i >= o_.requests) {
      CloseWindow(now, /*by_time=*/false);
      return false;
    }
    std::string order;
    if (o_.rpc == "recharge" && !orders_.Get(i, &order)) {
      CloseWindow(now, /*by_time=*/false);
      return false;
    }
    auto* call = new Call;
    call->start = now;
    call->counted = now >= warm_end_;
    call->ctx.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::milliseconds(o_.deadline_ms));
    // Thread t uses connections t, t+T, t+2T, ... in turn (or t mod C when C < T), so threads do
    // not contend for one transport unless asked to.
    const size_t nconn = channels_.size(), nthr = static_cast<size_t>(o_.threads);
    size_t conn = static_cast<size_t>(t) % nconn;
    if (nconn > nthr) {
      size_t mine = (nconn - static_cast<size_t>(t) + nthr - 1) / nthr;
      conn = static_cast<size_t>(t) + nthr * static_cast<size_t>((*seq)++ % mine);
    }
    if (o_.rpc == "health") {
      health::HealthCheckRequest req;
      req.set_service(o_.health_service);
      call->health_reader = health_stubs_[conn]->PrepareAsyncCheck(&call->ctx, req, cq);
      call->health_reader->StartCall();
      call->health_reader->Finish(&call->health_resp, &call->status, call);
    } else {
      v1::QueryRechargeOrderRequest req;
      req.set_order_no(order);
      req.set_force_refresh(o_.force_refresh);
      call->ctx.AddMetadata("appid", o_.appid);
      if (o_.token_in_body) {
        req.set_token(o_.token);
      } else {
        call->ctx.AddMetadata("token", o_.token);
      }
      call->recharge_reader =
          recharge_stubs_[conn]->PrepareAsyncQueryRechargeOrder(&call->ctx, req, cq);
      call->recharge_reader->StartCall();
      call->recharge_reader->Finish(&call->recharge_resp, &call->status, call);
    }
    return true;
  }

  // A timed run's throughput window ends at the deadline; a run bounded by a count (or by the
  // orders file) ends when its last call completes.
  void CloseWindow(Clock::time_point now, bool by_time) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!window_closed_) {
      window_closed_ = true;
      by_time_ = by_time;
      window_end_ = std::min(now, end_);
      stop_.store(true);
    }
  }

  void Worker(int t, int slots) {
    grpc::CompletionQueue cq;
    ThreadStats& st = stats_[t];
    st.latency_us.reserve(1 << 16);
    uint64_t seq = 0;
    int outstanding = 0;
    for (int s = 0; s < slots; ++s) {
      if (!Start(t, &cq, &seq)) break;
      ++outstanding;
    }
    void* tag = nullptr;
    bool ok = false;
    while (outstanding > 0 && cq.Next(&tag, &ok)) {
      --outstanding;
      auto* call = static_cast<Call*>(tag);
      Clock::time_point done = Clock::now();
      st.all++;
      // Throughput: every completion inside [warm-up end, deadline), whenever the call started.
      if (done >= warm_end_ && done < end_) st.in_window++;
      if (call->counted) {
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(done - call->start).count();
        st.latency_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
        int code = static_cast<int>(call->status.error_code());
        st.status_counts[code]++;
        if (call->status.ok()) {
          if (o_.rpc == "recharge") st.answer_codes[call->recharge_resp.code()]++;
        } else if (st.first_error.empty()) {
          st.first_error = call->status.error_message();
        }
        st.last_done = std::max(st.last_done, done);
      }
      delete call;
      if (Start(t, &cq, &seq)) ++outstanding;
    }
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) delete static_cast<Call*>(tag);
  }

  int Report() {
    std::vector<uint32_t> lat;
    std::map<int, uint64_t> statuses, codes;
    uint64_t in_window = 0, all = 0;
    Clock::time_point last_done{};
    std::string first_error;
    for (auto& st : stats_) {
      last_done = std::max(last_done, st.last_done);
      lat.insert(lat.end(), st.latency_us.begin(), st.latency_us.end());
      for (auto& [k, v] : st.status_counts) statuses[k] += v;
      for (auto& [k, v] : st.answer_codes) codes[k] += v;
      in_window += st.in_window;
      all += st.all;
      if (first_error.empty()) first_error = st.first_error;
    }
    if (!window_closed_ || !by_time_) {
      window_end_ = std::max(last_done, warm_end_);
      in_window = lat.size();
    }
    double window_s = std::chrono::duration<double>(window_end_ - warm_end_).count();
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) -> double {
      if (lat.empty()) return 0;
      size_t idx = static_cast<size_t>(p / 100.0 * static_cast<double>(lat.size() - 1) + 0.5);
      return lat[std::min(idx, lat.size() - 1)] / 1000.0;
    };
    double mean = 0;
    for (uint32_t x : lat) mean += x;
    mean = lat.empty() ? 0 : mean / static_cast<double>(lat.size()) / 1000.0;
    uint64_t ok = statuses.count(0) ? statuses[0] : 0;
    uint64_t errors = lat.size() - ok;
    double rps = window_s > 0 ? static_cast<double>(in_window) / window_s : 0;

    std::string status_str, codes_str;
    for (auto& [k, v] : statuses) {
      if (!status_str.empty()) status_str += ",";
      status_str += std::to_string(k) + ":" + std::to_string(v);
    }
    for (auto& [k, v] : codes) {
      if (!codes_str.empty()) codes_str += ",";
      codes_str += std::to_string(k) + ":" + std::to_string(v);
    }
    if (!o_.quiet) {
      std::printf("target %s rpc %s concurrency %d threads %d connections %d\n", o_.target.c_str(),
                  o_.rpc.c_str(), o_.concurrency, o_.threads, o_.connections);
      std::printf("window %.2f s (after %.1f s warm-up): %" PRIu64 " calls completed, %.1f req/s\n",
                  window_s, o_.warmup_s, in_window, rps);
      std::printf(
          "latency of %zu counted calls (ms): mean %.2f  p50 %.2f  p90 %.2f  p99 %.2f  "
          "p99.9 %.2f  max %.2f\n",
          lat.size(), mean, pct(50), pct(90), pct(99), pct(99.9),
          lat.empty() ? 0.0 : lat.back() / 1000.0);
      std::printf("gRPC status:");
      for (auto& [k, v] : statuses) {
        // gRPC and absl status codes are the same numbers, so absl names them for us.
        const std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(k));
        std::printf("  %s %" PRIu64, name.empty() ? "?" : name.c_str(), v);
      }
      std::printf("\n");
      if (o_.rpc == "recharge") {
        std::printf("answer code (OK calls):");
        for (auto& [k, v] : codes) std::printf("  %d: %" PRIu64, k, v);
        std::printf("\n");
      }
      if (!first_error.empty()) std::printf("first error: %s\n", first_error.c_str());
    }
    std::printf(
        "result: rpc=%s concurrency=%d all=%" PRIu64 " calls=%zu ok=%" PRIu64 " errors=%" PRIu64
        " window_s=%.3f rps=%.1f mean_ms=%.3f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f "
        "status=%s codes=%s\n",
        o_.rpc.c_str(), o_.concurrency, all, lat.size(), ok, errors, window_s, rps, mean, pct(50),
        pct(90), pct(99), lat.empty() ? 0.0 : lat.back() / 1000.0,
        status_str.empty() ? "-" : status_str.c_str(), codes_str.empty() ? "-" : codes_str.c_str());
    std::fflush(stdout);
    if (lat.empty()) return 2;
    return errors == 0 ? 0 : 1;
  }

  const Options& o_;
  OrderSource orders_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<health::Health::Stub>> health_stubs_;
  std::vector<std::unique_ptr<v1::OrderQueryService::Stub>> recharge_stubs_;
  Clock::time_point begin_, warm_end_, end_;
  std::atomic<uint64_t> issued_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  bool window_closed_ = false;
  bool by_time_ = false;
  Clock::time_point window_end_;
  std::vector<ThreadStats> stats_;
};

int WriteFrame(const Options& o) {
  std::string msg;
  if (o.rpc == "health") {
    health::HealthCheckRequest req;
    req.set_service(o.health_service);
    req.SerializeToString(&msg);
  } else {
    OrderSource orders(o);
    std::string order;
    orders.Get(0, &order);
    v1::QueryRechargeOrderRequest req;
    req.set_order_no(order);
    req.set_force_refresh(o.force_refresh);
    if (o.token_in_body) req.set_token(o.token);
    req.SerializeToString(&msg);
  }
  std::string frame(5, '\0');
  uint32_t n = static_cast<uint32_t>(msg.size());
  frame[1] = static_cast<char>(n >> 24);
  frame[2] = static_cast<char>(n >> 16);
  frame[3] = static_cast<char>(n >> 8);
  frame[4] = static_cast<char>(n);
  frame += msg;
  std::ofstream out(o.write_frame, std::ios::binary | std::ios::trunc);
  out << frame;
  if (!out.good()) Die("--write-frame: cannot write " + o.write_frame);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = ParseFlags(argc, argv);
  if (!o.write_frame.empty()) return WriteFrame(o);
  LoadGen gen(o);
  if (!gen.Connect()) {
    std::cerr << "oq-loadgen: cannot connect to " << o.target << " within 5 s\n";
    return 2;
  }
  return gen.Run();
}
