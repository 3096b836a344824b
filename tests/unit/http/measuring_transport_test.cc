// MeasuringTransport over a scripted inner transport: one record per call at kCalls, one per
// exchange that went out at kAttempts, in the orderquery_upstream_* families with their labels.
#include "server/payment/http/measuring_transport.h"

#include <memory>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/metrics.h"
#include "server/payment/http/attempt_marks.h"
#include "tests/unit/http/fake_transport.h"

namespace orderquery::payment::http {
namespace {

using testing::ScriptedTransport;
using testing::WithStatus;

class MeasuringTransportTest : public ::testing::Test {
 protected:
  void Make(MeasuringTransport::Level level) {
    auto inner = std::make_unique<ScriptedTransport>();
    inner_ = inner.get();
    t_ = std::make_unique<MeasuringTransport>(
        std::move(inner), level, std::make_shared<internal::UpstreamMetrics>(&registry_),
        counters_);
  }

  void Send(int attempt = 0) {
    Request r;
    r.limiter_key = "1230000109";
    r.metric_provider = "wechat";
    r.metric_endpoint = "query";
    r.attempt = attempt;
    t_->Send(std::move(r), [this](absl::StatusOr<Response>) { ++answers_; });
  }

  // Before the members its callbacks write to go.
  void TearDown() override { t_.reset(); }

  uint64_t Requests(const std::string& outcome) {
    return registry_
        .Counters("orderquery_upstream_requests_total", "",
                  {"provider", "merchant", "endpoint", "outcome"})
        .WithLabels({"wechat", "1230000109", "query", outcome})
        ->Value();
  }
  uint64_t LatencyCount() {
    return registry_.Histograms("orderquery_upstream_latency_seconds", "", {"provider", "endpoint"})
        .WithLabels({"wechat", "query"})
        ->Count();
  }
  uint64_t Counted(const std::string& family) {
    return registry_.Counters(family, "", {"provider", "merchant"})
        .WithLabels({"wechat", "1230000109"})
        ->Value();
  }

  metrics::Registry registry_;
  std::shared_ptr<TransportCounters> counters_ = std::make_shared<TransportCounters>();
  ScriptedTransport* inner_ = nullptr;
  std::unique_ptr<MeasuringTransport> t_;
  int answers_ = 0;
};

TEST_F(MeasuringTransportTest, CallsAreRecordedOnceWithTheirFinalOutcome) {
  Make(MeasuringTransport::Level::kCalls);
  Send();
  Send();
  Send();
  EXPECT_EQ(counters_->requests.load(), 3u);
  inner_->Answer(0, WithStatus(200));
  inner_->Answer(1, internal::MarkNotSent(absl::ResourceExhaustedError("queue full")));
  inner_->Answer(2, internal::ShutDownError());
  EXPECT_EQ(answers_, 3);
  EXPECT_EQ(Requests("200"), 1u);
  EXPECT_EQ(Requests("transport_error"), 1u) << "a refusal is a call that failed";
  EXPECT_EQ(LatencyCount(), 0u) << "latency is per attempt, not per call";
  EXPECT_EQ(Counted("orderquery_upstream_retries_total"), 0u);
}

TEST_F(MeasuringTransportTest, AttemptsAreRecordedOncePerExchangeThatWentOut) {
  Make(MeasuringTransport::Level::kAttempts);
  Send(1);
  Send(2);
  Send(3);
  Send(2);
  Response limited = WithStatus(429);
  limited.elapsed = absl::Milliseconds(30);
  inner_->Answer(0, limited);
  inner_->Answer(1, internal::MarkElapsed(absl::UnavailableError("reset"), absl::Milliseconds(5)));
  inner_->Answer(2, WithStatus(200));
  // Never sent: no latency, no retry counted.
  inner_->Answer(3, internal::MarkNotSent(absl::DeadlineExceededError("deadline passed")));
  EXPECT_EQ(answers_, 4);
  EXPECT_EQ(LatencyCount(), 3u);
  EXPECT_EQ(Counted("orderquery_upstream_rate_limited_total"), 1u);
  EXPECT_EQ(Counted("orderquery_upstream_retries_total"), 2u);
  EXPECT_EQ(counters_->retries.load(), 2u);
  EXPECT_EQ(Requests("200"), 0u) << "the call-level record is not this layer's";
  EXPECT_EQ(counters_->requests.load(), 0u);
}

TEST_F(MeasuringTransportTest, ShutdownPassesThrough) {
  Make(MeasuringTransport::Level::kAttempts);
  Send(1);
  t_->Shutdown();
  EXPECT_EQ(inner_->shutdowns(), 1);
  EXPECT_EQ(answers_, 1);
  EXPECT_EQ(LatencyCount(), 0u);
}

}  // namespace
}  // namespace orderquery::payment::http
