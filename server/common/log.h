// Structured one-line logs: `ts=... level=... event=... key=value ...` on stderr.
// The one global of the process (ARCHITECTURE.md, Style). Values are quoted when needed and
// never contain a newline, so one event is one line. Never pass a secret as a field.
#ifndef ORDERQUERY_SERVER_COMMON_LOG_H_
#define ORDERQUERY_SERVER_COMMON_LOG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace orderquery::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// A field value: strings and integers are enough for our events.
class Value {
 public:
  Value(std::string_view s) : text_(s), quoted_(true) {}           // NOLINT: implicit by design
  Value(const std::string& s) : text_(s), quoted_(true) {}         // NOLINT
  Value(absl::string_view s) : text_(s), quoted_(true) {}          // NOLINT
  Value(const char* s) : text_(s ? s : ""), quoted_(true) {}       // NOLINT
  Value(int64_t v) : text_(std::to_string(v)), quoted_(false) {}   // NOLINT
  Value(int v) : text_(std::to_string(v)), quoted_(false) {}       // NOLINT
  Value(uint64_t v) : text_(std::to_string(v)), quoted_(false) {}  // NOLINT
  Value(double v);                                                 // NOLINT
  Value(bool v) : text_(v ? "true" : "false"), quoted_(false) {}   // NOLINT
  const std::string& text() const { return text_; }
  bool quoted() const { return quoted_; }

 private:
  std::string text_;
  bool quoted_;
};

using Field = std::pair<std::string_view, Value>;

void SetMinLevel(Level level);
Level MinLevel();
// Parses "debug", "info", "warn", "error"; false if unknown.
bool ParseLevel(std::string_view name, Level* out);

void Emit(Level level, std::string_view event, std::initializer_list<Field> fields);

// 16 random hex digits: the id that ties what a caller sees (correlation_id) or a failed upstream
// call (upstream_log_id) to its log line. A thread-local generator: never shared or locked.
std::string NewId();
// The level a failure is logged at: INTERNAL is ours to fix (signing, configuration, a reply
// that failed verification), so an error; anything else a warning.
Level FailureLevel(const absl::Status& s);

inline void Debug(std::string_view e, std::initializer_list<Field> f = {}) {
  Emit(Level::kDebug, e, f);
}
inline void Info(std::string_view e, std::initializer_list<Field> f = {}) {
  Emit(Level::kInfo, e, f);
}
inline void Warn(std::string_view e, std::initializer_list<Field> f = {}) {
  Emit(Level::kWarn, e, f);
}
inline void Error(std::string_view e, std::initializer_list<Field> f = {}) {
  Emit(Level::kError, e, f);
}

// Formats one line without emitting it (used by Emit and by tests).
std::string Format(Level level, std::string_view event, std::initializer_list<Field> fields);

// A configured file path as a log line or an error may show it. A value that cannot be a path
// (it holds a control character, "-----" or the two characters \n, or is over 512 bytes) may be
// a key pasted into the wrong setting: it becomes "(N bytes that are not a path, not shown)".
std::string ShownPath(std::string_view path);

// Repeats of one event key, such as the failure every call meets while the database is down:
// the first is emitted, then at most one per `interval`, carrying suppressed=N (how many of that
// key were dropped since the previous one emitted; the next line emitted carries the count,
// however late it comes). Thread-safe. Only for events whose repeats all say the same thing: an
// event an operator looks up by id (rpc_failed's correlation id) must never go through one.
class RateLimiter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  explicit RateLimiter(std::chrono::milliseconds interval, Clock clock = nullptr);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // True when an event of `key` is to be emitted now; *suppressed is then the number of `key`'s
  // events dropped since the last one emitted. False (and one more dropped) otherwise.
  bool Allow(std::string_view key, int64_t* suppressed);

  // Emit(level, event, fields), with suppressed=N appended when N > 0, if Allow(key) where the
  // key is `event` followed by `key_suffix` (e.g. the endpoint, so that two pools count apart).
  // Events below the minimum level are neither emitted nor counted.
  void Emit(Level level, std::string_view event, std::initializer_list<Field> fields,
            std::string_view key_suffix = {});

 private:
  struct KeyState {
    std::chrono::steady_clock::time_point last_emitted;
    int64_t suppressed = 0;
  };
  std::chrono::steady_clock::time_point Now() const;

  const std::chrono::milliseconds interval_;
  const Clock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, KeyState> keys_;  // guarded by mu_
};

// RateLimiter::Emit on the process's own limiter (part of the logger, the one global), which
// lets one line per key through every kRepeatInterval.
inline constexpr std::chrono::seconds kRepeatInterval{10};
void EmitLimited(Level level, std::string_view event, std::initializer_list<Field> fields,
                 std::string_view key_suffix = {});

}  // namespace orderquery::log

#endif  // ORDERQUERY_SERVER_COMMON_LOG_H_
