#include "server/common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <mutex>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"

namespace orderquery::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

bool NeedsQuotes(std::string_view s) {
  if (s.empty()) return true;
  for (unsigned char c : s) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

void AppendQuoted(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string NowRfc3339() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace

Value::Value(double v) : quoted_(false) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  text_ = buf;
}

void SetMinLevel(Level level) { g_min_level.store(static_cast<int>(level)); }
Level MinLevel() { return static_cast<Level>(g_min_level.load()); }

bool ParseLevel(std::string_view name, Level* out) {
  if (name == "debug")
    *out = Level::kDebug;
  else if (name == "info")
    *out = Level::kInfo;
  else if (name == "warn")
    *out = Level::kWarn;
  else if (name == "error")
    *out = Level::kError;
  else
    return false;
  return true;
}

namespace {

std::string FormatRange(Level level, std::string_view event, const Field* begin, const Field* end) {
  std::string line = "ts=" + NowRfc3339() + " level=" + LevelName(level) + " event=";
  if (NeedsQuotes(event))
    AppendQuoted(&line, event);
  else
    line.append(event);
  for (const Field* f = begin; f != end; ++f) {
    const auto& [key, value] = *f;
    line.push_back(' ');
    line.append(key);
    line.push_back('=');
    if (value.quoted() && NeedsQuotes(value.text()))
      AppendQuoted(&line, value.text());
    else
      line.append(value.text());
  }
  return line;
}

bool Enabled(Level level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

void Write(Level level, std::string_view event, const Field* begin, const Field* end) {
  std::string line = FormatRange(level, event, begin, end);
  line.push_back('\n');
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

// Past this many keys, a new key first drops those quiet for an interval with nothing dropped
// (they would be emitted at once anyway), so a key suffix with many values cannot grow the map.
constexpr size_t kMaxKeys = 1024;

}  // namespace

std::string Format(Level level, std::string_view event, std::initializer_list<Field> fields) {
  return FormatRange(level, event, fields.begin(), fields.end());
}

std::string ShownPath(std::string_view path) {
  constexpr size_t kMaxPath = 512;
  bool path_like = path.size() <= kMaxPath && path.find("-----") == std::string_view::npos &&
                   path.find("\\n") == std::string_view::npos;
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f) path_like = false;
  }
  if (path_like) return std::string(path);
  return "(" + std::to_string(path.size()) + " bytes that are not a path, not shown)";
}

void Emit(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  Write(level, event, fields.begin(), fields.end());
}

RateLimiter::RateLimiter(std::chrono::milliseconds interval, Clock clock)
    : interval_(interval), clock_(std::move(clock)) {}

std::chrono::steady_clock::time_point RateLimiter::Now() const {
  return clock_ ? clock_() : std::chrono::steady_clock::now();
}

bool RateLimiter::Allow(std::string_view key, int64_t* suppressed) {
  const auto now = Now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(std::string(key));
  if (it == keys_.end()) {
    if (keys_.size() >= kMaxKeys) {
      for (auto k = keys_.begin(); k != keys_.end();) {
        const bool quiet = k->second.suppressed == 0 && now - k->second.last_emitted >= interval_;
        k = quiet ? keys_.erase(k) : std::next(k);
      }
    }
    keys_.emplace(std::string(key), KeyState{now, 0});
    *suppressed = 0;
    return true;
  }
  KeyState& state = it->second;
  if (now - state.last_emitted < interval_) {
    ++state.suppressed;
    return false;
  }
  *suppressed = state.suppressed;
  state.suppressed = 0;
  state.last_emitted = now;
  return true;
}

void RateLimiter::Emit(Level level, std::string_view event, std::initializer_list<Field> fields,
                       std::string_view key_suffix) {
  if (!Enabled(level)) return;
  std::string key(event);
  key.append(key_suffix);
  int64_t suppressed = 0;
  if (!Allow(key, &suppressed)) return;
  if (suppressed == 0) {
    Write(level, event, fields.begin(), fields.end());
    return;
  }
  std::vector<Field> with_count(fields.begin(), fields.end());
  with_count.emplace_back("suppressed", suppressed);
  Write(level, event, with_count.data(), with_count.data() + with_count.size());
}

void EmitLimited(Level level, std::string_view event, std::initializer_list<Field> fields,
                 std::string_view key_suffix) {
  static RateLimiter* const limiter = new RateLimiter(kRepeatInterval);
  limiter->Emit(level, event, fields, key_suffix);
}

std::string NewId() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return absl::StrCat(absl::Hex(gen(), absl::kZeroPad16));
}

Level FailureLevel(const absl::Status& s) {
  return s.code() == absl::StatusCode::kInternal ? Level::kError : Level::kWarn;
}

}  // namespace orderquery::log
