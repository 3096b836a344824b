#include "server/common/metrics.h"

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace orderquery::metrics {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(MetricsExposition, CounterWithLabelsAndHelpType) {
  Registry r;
  auto& f = r.Counters("oq_calls_total", "Calls made", {"method", "code"});
  f.WithLabels({"/a.B/C", "OK"})->Inc();
  f.WithLabels({"/a.B/C", "OK"})->Inc(2);
  f.WithLabels({"/a.B/C", "UNAVAILABLE"})->Inc();
  const std::string text = r.Expose();
  EXPECT_TRUE(Has(text, "# HELP oq_calls_total Calls made")) << text;
  EXPECT_TRUE(Has(text, "# TYPE oq_calls_total counter")) << text;
  EXPECT_TRUE(Has(text, "oq_calls_total{method=\"/a.B/C\",code=\"OK\"} 3")) << text;
  EXPECT_TRUE(Has(text, "oq_calls_total{method=\"/a.B/C\",code=\"UNAVAILABLE\"} 1")) << text;
}

TEST(MetricsExposition, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.Counters("oq_x_total", "line one\nback\\slash \"quoted\"", {"v"})
      .WithLabels({"a\"b\\c\nd"})
      ->Inc();
  const std::string text = r.Expose();
  // HELP escapes backslash and newline only; label values also escape the double quote.
  EXPECT_TRUE(Has(text, "# HELP oq_x_total line one\\nback\\\\slash \"quoted\"")) << text;
  EXPECT_TRUE(Has(text, "oq_x_total{v=\"a\\\"b\\\\c\\nd\"} 1")) << text;
}

TEST(MetricsExposition, HistogramBucketsAreCumulativeWithInf) {
  Registry r;
  auto* h = r.Histograms("oq_latency_seconds", "Latency", {"m"}, {0.1, 0.5, 1}).WithLabels({"x"});
  h->Observe(0.05);
  h->Observe(0.1);  // le is inclusive
  h->Observe(0.3);
  h->Observe(7);
  const std::string text = r.Expose();
  EXPECT_TRUE(Has(text, "# TYPE oq_latency_seconds histogram")) << text;
  EXPECT_TRUE(Has(text, "oq_latency_seconds_bucket{m=\"x\",le=\"0.1\"} 2")) << text;
  EXPECT_TRUE(Has(text, "oq_latency_seconds_bucket{m=\"x\",le=\"0.5\"} 3")) << text;
  EXPECT_TRUE(Has(text, "oq_latency_seconds_bucket{m=\"x\",le=\"1\"} 3")) << text;
  EXPECT_TRUE(Has(text, "oq_latency_seconds_bucket{m=\"x\",le=\"+Inf\"} 4")) << text;
  EXPECT_TRUE(Has(text, "oq_latency_seconds_sum{m=\"x\"} 7.4500000000000002") ||
              Has(text, "oq_latency_seconds_sum{m=\"x\"} 7.45"))
      << text;
  EXPECT_TRUE(Has(text, "oq_latency_seconds_count{m=\"x\"} 4")) << text;
}

TEST(MetricsExposition, UnlabelledHistogramHasOnlyLe) {
  Registry r;
  r.Histograms("oq_h_seconds", "h", {}, {1}).WithLabels({})->Observe(2);
  const std::string text = r.Expose();
  EXPECT_TRUE(Has(text, "oq_h_seconds_bucket{le=\"1\"} 0")) << text;
  EXPECT_TRUE(Has(text, "oq_h_seconds_bucket{le=\"+Inf\"} 1")) << text;
  EXPECT_TRUE(Has(text, "oq_h_seconds_sum 2")) << text;
  EXPECT_TRUE(Has(text, "oq_h_seconds_count 1")) << text;
}

TEST(MetricsExposition, GaugesAndCallbacks) {
  Registry r;
  r.UnlabelledGauge("oq_depth", "Depth")->Set(3.5);
  r.UnlabelledGauge("oq_depth", "Depth")->Add(-1);
  uint64_t kept_elsewhere = 41;
  r.AddCallback("oq_elsewhere_total", "Read at scrape time", Type::kCounter,
                [&] { return double(kept_elsewhere); });
  r.AddCallback("oq_by_reason_total", "Labelled callback", Type::kCounter, {"reason"}, [] {
    return std::vector<Sample>{{{"amount"}, 2}, {{"mchid"}, 0}};
  });
  kept_elsewhere = 42;
  const std::string text = r.Expose();
  EXPECT_TRUE(Has(text, "# TYPE oq_depth gauge")) << text;
  EXPECT_TRUE(Has(text, "oq_depth 2.5")) << text;
  EXPECT_TRUE(Has(text, "# TYPE oq_elsewhere_total counter")) << text;
  EXPECT_TRUE(Has(text, "oq_elsewhere_total 42")) << text;
  EXPECT_TRUE(Has(text, "oq_by_reason_total{reason=\"amount\"} 2")) << text;
  EXPECT_TRUE(Has(text, "oq_by_reason_total{reason=\"mchid\"} 0")) << text;
}

TEST(MetricsRegistry, SameNameSameFamilyConflictDetached) {
  Registry r;
  auto& a = r.Counters("oq_a_total", "a", {"x"});
  auto& b = r.Counters("oq_a_total", "a", {"x"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(a.WithLabels({"1"}), b.WithLabels({"1"}));
  // Another type under the same name is never exposed twice.
  r.UnlabelledGauge("oq_a_total", "clash")->Set(9);
  const std::string text = r.Expose();
  EXPECT_EQ(text.find("# TYPE oq_a_total gauge"), std::string::npos) << text;
  EXPECT_EQ(text.find("oq_a_total 9"), std::string::npos) << text;
}

TEST(MetricsValue, Format) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(12345678901.0), "12345678901");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(0.001), "0.001");
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatValue(0.0 / 0.0), "NaN");
}

TEST(MetricsConcurrency, IncrementsFromManyThreadsAreAllCounted) {
  Registry r;
  auto* c = r.Counters("oq_c_total", "c", {"t"}).WithLabels({"x"});
  auto* h = r.Histograms("oq_hc_seconds", "h", {}, {0.5}).WithLabels({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c->Inc();
        h->Observe(i % 2 ? 0.25 : 1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->Value(), 40000u);
  EXPECT_EQ(h->Count(), 40000u);
  EXPECT_EQ(h->BucketCounts()[0], 20000u);
  EXPECT_DOUBLE_EQ(h->Sum(), 20000 * 0.25 + 20000 * 1.0);
}

}  // namespace
}  // namespace orderquery::metrics
