// Prometheus metrics without a client library (none is packaged for Debian 12): a registry of
// counters, gauges and fixed-bucket histograms with label sets, and a writer for the text
// exposition format 0.0.4 that /metrics serves.
//
// Ownership: App owns one Registry and hands a pointer to whatever records into it (no global;
// ARCHITECTURE.md allows only the logger). A component that gets a null Registry* records
// nothing.
//
// Hot path: look a labelled child up once (`family.WithLabels({...})` takes a mutex), keep the
// returned pointer (stable for the registry's life) and call Inc/Set/Observe on it (atomics).
//
// Counters already kept elsewhere as atomics need no rewrite: register a callback that reads
// them at scrape time (AddCallback). A callback must stay valid until the registry stops being
// scraped (App stops the admin listener before it destroys what callbacks read).
//
// Example (a component given `metrics::Registry* registry`):
//   auto& expiry = registry->Gauges("orderquery_cert_expiry_days",
//                                   "Days until a key or certificate expires",
//                                   {"merchant", "kind"});
//   expiry.WithLabels({"app", "platform_cert"})->Set(days);
#ifndef ORDERQUERY_SERVER_COMMON_METRICS_H_
#define ORDERQUERY_SERVER_COMMON_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace orderquery::metrics {

// A monotonically increasing count. Integer-valued: everything counted here (calls, fen) is.
class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Fixed upper bounds (ascending, +Inf implied). Observe is lock-free.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  const std::vector<double>& bounds() const { return bounds_; }
  // Per-bucket (not cumulative) counts; the last is the +Inf bucket.
  std::vector<uint64_t> BucketCounts() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Latency buckets in seconds, 1 ms .. 10 s.
std::vector<double> LatencyBuckets();

enum class Type { kCounter, kGauge, kHistogram };

// One metric name with its label names; children per label-value tuple.
template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}

  // The child for these label values (one per label name, in order). The pointer is stable for
  // the registry's life: cache it. A wrong number of values yields a child with the missing ones
  // empty (never a crash on a hot path).
  T* WithLabels(const std::vector<std::string>& values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Snapshot for the writer: (label values, child) in label-value order.
  std::vector<std::pair<std::vector<std::string>, const T*>> Children() const;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// What a callback reports at scrape time: one value per label-value tuple.
struct Sample {
  std::vector<std::string> label_values;
  double value = 0;
};
using Collector = std::function<std::vector<Sample>()>;

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registering a name again with the same type and label names returns the same family, so
  // independent components may ask for it. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*; a counter
  // name should end in `_total`. A name reused with another type or labels is a programming
  // error: it returns a detached family that is recorded into but never exposed, and logs.
  CounterFamily& Counters(const std::string& name, const std::string& help,
                          const std::vector<std::string>& label_names = {});
  GaugeFamily& Gauges(const std::string& name, const std::string& help,
                      const std::vector<std::string>& label_names = {});
  HistogramFamily& Histograms(const std::string& name, const std::string& help,
                              const std::vector<std::string>& label_names,
                              std::vector<double> bounds = LatencyBuckets());

  // Shorthands for unlabelled metrics.
  Counter* UnlabelledCounter(const std::string& name, const std::string& help) {
    return Counters(name, help).WithLabels({});
  }
  Gauge* UnlabelledGauge(const std::string& name, const std::string& help) {
    return Gauges(name, help).WithLabels({});
  }

  // A counter or gauge whose samples are read at scrape time. `type` is kCounter or kGauge.
  // Several callbacks may share one name (same type and label names): their samples are merged.
  void AddCallback(const std::string& name, const std::string& help, Type type,
                   const std::vector<std::string>& label_names, Collector collect);
  // Unlabelled shorthand.
  void AddCallback(const std::string& name, const std::string& help, Type type,
                   std::function<double()> read);

  // The text exposition format 0.0.4, families sorted by name.
  std::string Expose() const;

 private:
  struct Entry {
    Type type;
    std::string help;
    std::vector<std::string> label_names;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
    std::vector<Collector> collectors;
  };
  Entry* Find(const std::string& name, Type type, const std::vector<std::string>& label_names,
              bool* conflict);

  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::vector<std::unique_ptr<CounterFamily>> detached_counters_;
  std::vector<std::unique_ptr<GaugeFamily>> detached_gauges_;
  std::vector<std::unique_ptr<HistogramFamily>> detached_histograms_;
};

// Exposition helpers (exposed for tests).
std::string EscapeLabelValue(const std::string& v);  // backslash, double quote, newline
std::string EscapeHelp(const std::string& v);        // backslash, newline
std::string FormatValue(double v);                   // integers exactly, +Inf/-Inf/NaN

// The Content-Type of Expose()'s output.
inline constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace orderquery::metrics

#endif  // ORDERQUERY_SERVER_COMMON_METRICS_H_
