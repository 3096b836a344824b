#include "tests/fakes/sandbox/faults.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace orderquery::sandbox {
namespace {

template <typename T>
absl::Status Read(const nlohmann::json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end()) return absl::OkStatus();
  try {
    *out = it->get<T>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("fault key '", key, "': ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace

nlohmann::json FaultSpec::ToJson() const {
  nlohmann::json j = {{"type", type}};
  if (first > 0) j["first"] = first;
  if (percent >= 0) j["percent"] = percent;
  if (status >= 0) j["status"] = status;
  if (!code.empty()) j["code"] = code;
  if (!message.empty()) j["message"] = message;
  if (sleep_ms >= 0) j["sleep_ms"] = sleep_ms;
  if (type == "stale_timestamp") j["skew_s"] = skew_s;
  if (!value.empty()) j["value"] = value;
  if (type == "amount_mismatch") j["delta"] = delta;
  if (cut_at >= 0) j["cut_at"] = cut_at;
  if (unsigned_reply) j["unsigned"] = true;
  return j;
}

absl::StatusOr<FaultSpec> ParseFault(const nlohmann::json& j, const std::set<std::string>& types) {
  if (j.is_string()) return ParseFault(nlohmann::json{{"type", j}}, types);
  if (!j.is_object()) return absl::InvalidArgumentError("a fault is an object or a type name");
  static const std::set<std::string> kKeys = {"type",  "first",   "percent",  "status",
                                              "code",  "message", "sleep_ms", "skew_s",
                                              "value", "delta",   "cut_at",   "unsigned"};
  for (const auto& item : j.items()) {
    if (kKeys.count(item.key()) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("unknown fault key '", item.key(), "'"));
    }
  }
  FaultSpec f;
  absl::Status s;
  if (!(s = Read(j, "type", &f.type)).ok()) return s;
  if (types.count(f.type) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown fault type '", f.type, "'; known: ", absl::StrJoin(types, ", ")));
  }
  if (!(s = Read(j, "first", &f.first)).ok()) return s;
  if (!(s = Read(j, "percent", &f.percent)).ok()) return s;
  if (!(s = Read(j, "status", &f.status)).ok()) return s;
  if (!(s = Read(j, "code", &f.code)).ok()) return s;
  if (!(s = Read(j, "message", &f.message)).ok()) return s;
  if (!(s = Read(j, "sleep_ms", &f.sleep_ms)).ok()) return s;
  if (!(s = Read(j, "skew_s", &f.skew_s)).ok()) return s;
  if (!(s = Read(j, "value", &f.value)).ok()) return s;
  if (!(s = Read(j, "delta", &f.delta)).ok()) return s;
  if (!(s = Read(j, "cut_at", &f.cut_at)).ok()) return s;
  if (!(s = Read(j, "unsigned", &f.unsigned_reply)).ok()) return s;
  if (j.contains("first") && j.contains("percent")) {
    return absl::InvalidArgumentError("a fault takes 'first' or 'percent', not both");
  }
  if (j.contains("first") && f.first < 1) {
    return absl::InvalidArgumentError("fault 'first' must be >= 1");
  }
  if (j.contains("percent") && (f.percent < 0 || f.percent > 100)) {
    return absl::InvalidArgumentError("fault 'percent' must be within [0, 100]");
  }
  if (j.contains("status") && (f.status < 100 || f.status > 599)) {
    return absl::InvalidArgumentError("fault 'status' must be an HTTP status");
  }
  return f;
}

absl::StatusOr<std::vector<FaultSpec>> ParseFaults(const nlohmann::json& j,
                                                   const std::set<std::string>& types) {
  std::vector<FaultSpec> out;
  if (j.is_null()) return out;
  if (!j.is_array()) return absl::InvalidArgumentError("'faults' must be an array");
  for (const auto& item : j) {
    absl::StatusOr<FaultSpec> f = ParseFault(item, types);
    if (!f.ok()) return f.status();
    out.push_back(*std::move(f));
  }
  return out;
}

const FaultSpec* PickFault(const std::vector<FaultSpec>& faults, uint64_t n,
                           const std::function<double()>& roll) {
  for (const FaultSpec& f : faults) {
    if (f.first > 0) {
      if (n <= static_cast<uint64_t>(f.first)) return &f;
    } else if (f.percent >= 0) {
      if (roll() < f.percent) return &f;
    } else {
      return &f;
    }
  }
  return nullptr;
}

}  // namespace orderquery::sandbox
