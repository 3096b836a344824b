#include "server/common/settings.h"

#include <algorithm>
#include <cctype>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "server/common/log.h"

namespace orderquery::settings {
namespace {

using Json = nlohmann::json;

// Flattens the JSON file into "a.b.c" -> text. Group maps stay keyed by name.
absl::Status Flatten(const Json& j, const std::string& prefix,
                     std::map<std::string, std::string>* out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    const Json& v = it.value();
    if (v.is_object()) {
      if (auto s = Flatten(v, key, out); !s.ok()) return s;
    } else if (v.is_string()) {
      (*out)[key] = v.get<std::string>();
    } else if (v.is_boolean()) {
      (*out)[key] = v.get<bool>() ? "true" : "false";
    } else if (v.is_number_integer()) {
      (*out)[key] = std::to_string(v.get<int64_t>());
    } else if (v.is_array()) {
      std::vector<std::string> parts;
      for (const auto& e : v) {
        if (!e.is_string()) return KeyError(key, "must be an array of strings");
        parts.push_back(e.get<std::string>());
      }
      (*out)[key] = absl::StrJoin(parts, ",");
    } else if (v.is_null()) {
      continue;
    } else {
      return KeyError(key, "unsupported value (use a string, an integer, a boolean or a list)");
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string EnvName(const std::string& key) {
  std::string out = "ORDERQUERY_";
  for (char ch : key)
    out.push_back(ch == '.' ? '_'
                            : static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  return out;
}

absl::Status KeyError(const std::string& key, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(key, " (", EnvName(key), "): ", why));
}

absl::Status CheckHttpUrl(const std::string& key, const std::string& url) {
  if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) return absl::OkStatus();
  return KeyError(key, "must start with http:// or https://");
}

bool ValidName(const std::string& n) {
  return !n.empty() &&
         std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::isalnum(c); });
}

absl::Status CheckReadable(const std::string& key, const std::string& path) {
  if (path.empty()) return absl::OkStatus();
  std::ifstream f(path);
  // A key pasted where its path belongs is not echoed.
  if (!f.good()) return KeyError(key, "cannot read file " + log::ShownPath(path));
  return absl::OkStatus();
}

absl::Status ParseInt(const std::string& v, int min, int max, int* out) {
  int n = 0;
  if (!absl::SimpleAtoi(v, &n)) return absl::InvalidArgumentError("not an integer: \"" + v + "\"");
  if (n < min || n > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be between ", min, " and ", max, " (got ", n, ")"));
  }
  *out = n;
  return absl::OkStatus();
}

absl::Status ParseBool(const std::string& v, bool* out) {
  if (v == "true" || v == "1") {
    *out = true;
  } else if (v == "false" || v == "0") {
    *out = false;
  } else {
    return absl::InvalidArgumentError("must be true or false (got \"" + v + "\")");
  }
  return absl::OkStatus();
}

std::vector<std::string> ParseList(const std::string& v) {
  std::vector<std::string> items = absl::StrSplit(v, ',', absl::SkipWhitespace());
  for (auto& s : items) s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  return items;
}

std::string JoinList(const std::vector<std::string>& items) { return absl::StrJoin(items, ","); }

absl::StatusOr<Source> Source::Read(const std::string& path, Env env) {
  std::map<std::string, std::string> flat;
  if (!path.empty()) {
    std::ifstream in(path);
    if (!in.good()) return absl::InvalidArgumentError("config file " + path + ": cannot read");
    Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return absl::InvalidArgumentError("config file " + path + ": not a JSON object");
    }
    if (auto s = Flatten(j, "", &flat); !s.ok()) return s;
  }
  return Source(std::move(flat), std::move(env));
}

bool Source::Get(const std::string& key, std::string* value) const {
  bool have = false;
  if (auto it = flat_.find(key); it != flat_.end()) {
    *value = it->second;
    have = true;
  }
  if (auto it = env_.find(EnvName(key)); it != env_.end()) {
    *value = it->second;
    have = true;
  }
  return have;
}

absl::Status Source::GroupNames(const std::string& group, std::set<std::string>* names) const {
  for (const auto& [k, v] : flat_) {
    if (k.rfind(group + ".", 0) != 0) continue;
    std::string rest = k.substr(group.size() + 1);
    names->insert(rest.substr(0, rest.find('.')));
  }
  if (auto it = env_.find(EnvName(group)); it != env_.end()) {
    for (absl::string_view n : absl::StrSplit(it->second, ',', absl::SkipWhitespace())) {
      names->insert(std::string(n));
    }
  }
  for (const std::string& name : *names) {
    if (!ValidName(name))
      return KeyError(group + "." + name, "merchant names are letters and digits only");
  }
  return absl::OkStatus();
}

absl::Status Source::CheckGroupFields(const std::string& group,
                                      const std::set<std::string>& fields) const {
  for (const auto& [k, v] : flat_) {
    if (k.rfind(group + ".", 0) != 0) continue;
    std::string rest = k.substr(group.size() + 1);
    size_t dot = rest.find('.');
    std::string field = dot == std::string::npos ? "" : rest.substr(dot + 1);
    if (!fields.count(field)) return KeyError(k, "unknown key");
  }
  return absl::OkStatus();
}

}  // namespace orderquery::settings
