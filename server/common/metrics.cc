#include "server/common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include "server/common/log.h"

namespace orderquery::metrics {

namespace {

void AtomicAdd(std::atomic<double>& a, double d) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
  }
}

bool ValidName(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"}` (with an optional trailing extra pair, for `le`); empty when no labels.
std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     const char* extra_name = nullptr, const std::string& extra_value = "") {
  if (names.empty() && extra_name == nullptr) return "";
  std::string out = "{";
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(i < values.size() ? values[i] : std::string());
    out += '"';
  }
  if (extra_name != nullptr) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += EscapeLabelValue(extra_value);
    out += '"';
  }
  out += '}';
  return out;
}

void Line(std::string* out, const std::string& name, const std::string& labels,
          const std::string& value) {
  out->append(name);
  out->append(labels);
  out->push_back(' ');
  out->append(value);
  out->push_back('\n');
}

}  // namespace

void Gauge::Add(double d) { AtomicAdd(value_, d); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // First bucket whose upper bound is >= v (Prometheus buckets are `le`).
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

template <typename T>
T* Family<T>::WithLabels(const std::vector<std::string>& values) {
  std::vector<std::string> key = values;
  key.resize(label_names_.size());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = children_.find(key);
  if (it != children_.end()) return it->second.get();
  std::unique_ptr<T> child;
  if constexpr (std::is_same_v<T, Histogram>) {
    child = std::make_unique<Histogram>(bounds_);
  } else {
    child = std::make_unique<T>();
  }
  T* raw = child.get();
  children_.emplace(std::move(key), std::move(child));
  return raw;
}

template <typename T>
std::vector<std::pair<std::vector<std::string>, const T*>> Family<T>::Children() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::vector<std::string>, const T*>> out;
  out.reserve(children_.size());
  for (const auto& [k, v] : children_) out.emplace_back(k, v.get());
  return out;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry::Entry* Registry::Find(const std::string& name, Type type,
                                const std::vector<std::string>& label_names, bool* conflict) {
  *conflict = false;
  auto it = entries_.find(name);
  if (it == entries_.end()) return nullptr;
  if (it->second.type != type || it->second.label_names != label_names) {
    *conflict = true;
    log::Error("metrics_conflict", {{"metric", name}});
    return nullptr;
  }
  return &it->second;
}

CounterFamily& Registry::Counters(const std::string& name, const std::string& help,
                                  const std::vector<std::string>& label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  bool conflict = false;
  Entry* e = Find(name, Type::kCounter, label_names, &conflict);
  if (conflict || !ValidName(name)) {
    detached_counters_.push_back(std::make_unique<CounterFamily>(name, help, label_names));
    return *detached_counters_.back();
  }
  if (e == nullptr) {
    e = &entries_[name];
    e->type = Type::kCounter;
    e->help = help;
    e->label_names = label_names;
  }
  if (!e->counter) e->counter = std::make_unique<CounterFamily>(name, help, label_names);
  return *e->counter;
}

GaugeFamily& Registry::Gauges(const std::string& name, const std::string& help,
                              const std::vector<std::string>& label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  bool conflict = false;
  Entry* e = Find(name, Type::kGauge, label_names, &conflict);
  if (conflict || !ValidName(name)) {
    detached_gauges_.push_back(std::make_unique<GaugeFamily>(name, help, label_names));
    return *detached_gauges_.back();
  }
  if (e == nullptr) {
    e = &entries_[name];
    e->type = Type::kGauge;
    e->help = help;
    e->label_names = label_names;
  }
  if (!e->gauge) e->gauge = std::make_unique<GaugeFamily>(name, help, label_names);
  return *e->gauge;
}

HistogramFamily& Registry::Histograms(const std::string& name, const std::string& help,
                                      const std::vector<std::string>& label_names,
                                      std::vector<double> bounds) {
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  bounds.erase(std::remove_if(bounds.begin(), bounds.end(), [](double b) { return std::isinf(b); }),
               bounds.end());
  std::lock_guard<std::mutex> lock(mu_);
  bool conflict = false;
  Entry* e = Find(name, Type::kHistogram, label_names, &conflict);
  if (conflict || !ValidName(name)) {
    detached_histograms_.push_back(
        std::make_unique<HistogramFamily>(name, help, label_names, bounds));
    return *detached_histograms_.back();
  }
  if (e == nullptr) {
    e = &entries_[name];
    e->type = Type::kHistogram;
    e->help = help;
    e->label_names = label_names;
  }
  if (!e->histogram) {
    e->histogram = std::make_unique<HistogramFamily>(name, help, label_names, std::move(bounds));
  }
  return *e->histogram;
}

void Registry::AddCallback(const std::string& name, const std::string& help, Type type,
                           const std::vector<std::string>& label_names, Collector collect) {
  if (type == Type::kHistogram || !collect) return;
  std::lock_guard<std::mutex> lock(mu_);
  bool conflict = false;
  Entry* e = Find(name, type, label_names, &conflict);
  if (conflict || !ValidName(name)) return;
  if (e == nullptr) {
    e = &entries_[name];
    e->type = type;
    e->help = help;
    e->label_names = label_names;
  }
  e->collectors.push_back(std::move(collect));
}

void Registry::AddCallback(const std::string& name, const std::string& help, Type type,
                           std::function<double()> read) {
  if (!read) return;
  AddCallback(name, help, type, {}, [read = std::move(read)]() {
    return std::vector<Sample>{Sample{{}, read()}};
  });
}

std::string Registry::Expose() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out.reserve(4096);
  for (const auto& [name, e] : entries_) {
    out += "# HELP " + name + " " + EscapeHelp(e.help) + "\n";
    out += "# TYPE " + name + " " + TypeName(e.type) + "\n";
    if (e.counter) {
      for (const auto& [labels, c] : e.counter->Children()) {
        Line(&out, name, LabelSet(e.label_names, labels), FormatValue(double(c->Value())));
      }
    }
    if (e.gauge) {
      for (const auto& [labels, g] : e.gauge->Children()) {
        Line(&out, name, LabelSet(e.label_names, labels), FormatValue(g->Value()));
      }
    }
    if (e.histogram) {
      for (const auto& [labels, h] : e.histogram->Children()) {
        // Read the count first and derive cumulative buckets from one snapshot, so that the
        // +Inf bucket equals _count within a scrape even while observations land.
        const std::vector<uint64_t> counts = h->BucketCounts();
        uint64_t cumulative = 0;
        for (size_t i = 0; i < counts.size(); ++i) {
          cumulative += counts[i];
          const std::string le = i < h->bounds().size() ? FormatValue(h->bounds()[i]) : "+Inf";
          Line(&out, name + "_bucket", LabelSet(e.label_names, labels, "le", le),
               FormatValue(double(cumulative)));
        }
        Line(&out, name + "_sum", LabelSet(e.label_names, labels), FormatValue(h->Sum()));
        Line(&out, name + "_count", LabelSet(e.label_names, labels),
             FormatValue(double(cumulative)));
      }
    }
    for (const Collector& collect : e.collectors) {
      for (const Sample& s : collect()) {
        Line(&out, name, LabelSet(e.label_names, s.label_values), FormatValue(s.value));
      }
    }
  }
  return out;
}

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string EscapeHelp(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(v));
    return buf;
  }
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  // Shortest form that reads back exactly.
  for (int prec = 1; prec <= 17; ++prec) {
    char shorter[40];
    std::snprintf(shorter, sizeof(shorter), "%.*g", prec, v);
    if (std::strtod(shorter, nullptr) == v) return shorter;
  }
  return buf;
}

}  // namespace orderquery::metrics
