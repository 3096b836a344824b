// A micro-benchmark, not a test (issue 13 c): what one HTTP exchange with the payment sandbox
// costs this process through the transport stack orderqueryd uses (keep-alive, curl loop thread,
// retry and limiter layers), without signing or verifying. Sends `calls` GETs of one order, first
// one at a time, then `inflight` at a time, and prints wall time and this process's CPU per
// exchange. The sandbox (its own process) is not counted. With OQ_BENCH_CLIENT_CPU=N this process
// moves to CPU N once the sandbox has started, so that the two can run on different CPUs:
//
//   OQ_BENCH_CLIENT_CPU=0 taskset -c 1 \
//     build/release/tests/integration/http/http_exchange_bench [calls] [inflight] [rounds]
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/payment/http/transport_stack.h"
#include "tests/fakes/sandbox_process.h"
#include "tests/integration/http/test_util.h"
#include "tests/support/cpu_time.h"

namespace orderquery::payment::http {
namespace {

using test_support::ProcessCpuSeconds;

struct Figures {
  int64_t exchanges = 0;
  double wall = 0, cpu = 0;
};

// Sends `calls` requests with at most `inflight` outstanding; false if any failed.
bool Round(Transport& t, const std::string& url, int calls, int inflight, Figures& f) {
  const double c0 = ProcessCpuSeconds();
  const absl::Time t0 = absl::Now();
  bool ok = true;
  for (int sent = 0; sent < calls;) {
    const int batch = std::min(inflight, calls - sent);
    absl::BlockingCounter left(batch);
    std::vector<int> status(batch, 0);
    for (int i = 0; i < batch; ++i) {
      Request r;
      r.url = url;
      r.headers = {{"Accept", "application/json"}};
      r.deadline = absl::Now() + absl::Seconds(10);
      t.Send(std::move(r), [&status, &left, i](absl::StatusOr<Response> resp) {
        status[i] = resp.ok() ? resp->status : -1;
        left.DecrementCount();
      });
    }
    left.Wait();
    for (int s : status) ok = ok && s == 200;
    sent += batch;
  }
  f.wall += absl::ToDoubleSeconds(absl::Now() - t0);
  f.cpu += ProcessCpuSeconds() - c0;
  f.exchanges += calls;
  return ok;
}

int Run(int calls, int inflight, int rounds) {
  const std::string dir = testutil::TempDir("http-exchange-bench");
  absl::StatusOr<fakes::TestKeys> keys = fakes::MakeTestKeys(dir, /*with_tls=*/false);
  if (!keys.ok()) {
    std::fprintf(stderr, "%s\n", keys.status().ToString().c_str());
    return 1;
  }
  fakes::SandboxProcess::Options o = fakes::SandboxProcess::Options::FromKeys(*keys);
  o.extra_args = {"--no-verify-requests"};
  auto sandbox = fakes::SandboxProcess::Start(o);
  if (!sandbox.ok()) {
    std::fprintf(stderr, "%s\n", sandbox.status().ToString().c_str());
    return 1;
  }
  if (!(*sandbox)
           ->UpsertOrder(
               {{"out_trade_no", "XBENCH1"}, {"mchid", "1230000109"}, {"trade_state", "NOTPAY"}})
           .ok()) {
    return 1;
  }
  if (const char* cpu = std::getenv("OQ_BENCH_CLIENT_CPU"); cpu != nullptr) {
    // The sandbox keeps the CPUs it was started with; the curl loop thread inherits this one.
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(std::atoi(cpu), &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) std::perror("sched_setaffinity");
  }
  auto stack = TransportStack::Create(TransportOptions());
  if (!stack.ok()) return 1;
  const std::string url = absl::StrCat(
      (*sandbox)->base_url(), "/v3/pay/transactions/out-trade-no/XBENCH1?mchid=1230000109");
  Figures warm, one, many;
  if (!Round(**stack, url, 200, inflight, warm)) return 1;  // connections opened, caches warm
  for (int round = 0; round < rounds; ++round) {
    if (!Round(**stack, url, calls, 1, one) || !Round(**stack, url, calls, inflight, many)) {
      std::fprintf(stderr, "an exchange failed\n");
      return 1;
    }
  }
  auto print = [](const std::string& name, const Figures& f) {
    const double n = static_cast<double>(f.exchanges);
    std::printf("%-22s exchanges %6lld  wall %7.1f us  client CPU %6.1f us per exchange\n",
                name.c_str(), static_cast<long long>(f.exchanges), f.wall / n * 1e6,
                f.cpu / n * 1e6);
  };
  print("one at a time", one);
  print(absl::StrCat(inflight, " in flight"), many);
  (*sandbox)->Stop().IgnoreError();
  testutil::RemoveTree(dir);
  return 0;
}

}  // namespace
}  // namespace orderquery::payment::http

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int inflight = argc > 2 ? std::atoi(argv[2]) : 32;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
  return orderquery::payment::http::Run(calls, inflight, rounds);
}
