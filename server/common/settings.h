// The configuration engine every section uses: a JSON file flattened to dotted keys, each key
// overridable by the environment variable ORDERQUERY_<KEY> (dots and the key's own underscores
// become '_', upper-cased), typed key tables that parse and show a key, and keyed groups
// ("wechat.merchants.NAME.field") whose names come from the file or from an env list. The
// server's own keys live in config/; each payment provider declares its section's keys in its
// own folder with the same engine.
#ifndef ORDERQUERY_SERVER_COMMON_SETTINGS_H_
#define ORDERQUERY_SERVER_COMMON_SETTINGS_H_

#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace orderquery::settings {

using Env = std::map<std::string, std::string>;

// Environment variable name of a key, e.g. "db.pool_size" -> "ORDERQUERY_DB_POOL_SIZE".
std::string EnvName(const std::string& key);
// INVALID_ARGUMENT "KEY (ENV_NAME): why" -- never the key's value.
absl::Status KeyError(const std::string& key, absl::string_view why);
// Group member names: letters and digits.
bool ValidName(const std::string& name);
// INVALID_ARGUMENT naming `key` when `path` is set and cannot be read.
absl::Status CheckReadable(const std::string& key, const std::string& path);

// One configuration key of a T: how to set it from its text form and how to show its default.
template <typename T>
struct KeyDef {
  std::string name;
  std::string help;
  bool secret = false;
  std::function<absl::Status(T&, const std::string&)> set;
  std::function<std::string(const T&)> get;
};

// Parsers shared by the key helpers below (errors say what is wrong, never echo a secret).
absl::Status ParseInt(const std::string& text, int min, int max, int* out);
absl::Status ParseBool(const std::string& text, bool* out);
std::vector<std::string> ParseList(const std::string& text);
std::string JoinList(const std::vector<std::string>& items);

template <typename T, typename Ref>
KeyDef<T> Str(std::string name, std::string help, Ref ref, bool secret = false) {
  return {std::move(name), std::move(help), secret,
          [ref](T& c, const std::string& v) {
            ref(c) = v;
            return absl::OkStatus();
          },
          [ref](const T& c) { return ref(const_cast<T&>(c)); }};
}

template <typename T, typename Ref>
KeyDef<T> Int(std::string name, std::string help, Ref ref, int min, int max) {
  return {std::move(name), std::move(help), false,
          [ref, min, max](T& c, const std::string& v) { return ParseInt(v, min, max, &ref(c)); },
          [ref](const T& c) { return std::to_string(ref(const_cast<T&>(c))); }};
}

template <typename T, typename Ref>
KeyDef<T> Bool(std::string name, std::string help, Ref ref) {
  return {std::move(name), std::move(help), false,
          [ref](T& c, const std::string& v) { return ParseBool(v, &ref(c)); },
          [ref](const T& c) { return std::string(ref(const_cast<T&>(c)) ? "true" : "false"); }};
}

template <typename T, typename Ref>
KeyDef<T> List(std::string name, std::string help, Ref ref) {
  return {std::move(name), std::move(help), false,
          [ref](T& c, const std::string& v) {
            ref(c) = ParseList(v);
            return absl::OkStatus();
          },
          [ref](const T& c) { return JoinList(ref(const_cast<T&>(c))); }};
}

// The configuration as read: the file's keys flattened ("a.b.c" -> text) and the environment.
class Source {
 public:
  Source() = default;
  Source(std::map<std::string, std::string> flat, Env env)
      : flat_(std::move(flat)), env_(std::move(env)) {}
  // Reads a JSON file (may be empty: the environment alone). Errors name the file or the key.
  static absl::StatusOr<Source> Read(const std::string& path, Env env);

  // The value of `key` (the environment wins over the file); false when neither sets it.
  bool Get(const std::string& key, std::string* value) const;
  const std::map<std::string, std::string>& flat() const { return flat_; }
  const Env& env() const { return env_; }

  // Sets `out`'s keys `prefix + def.name` that the file or the environment give.
  template <typename T>
  absl::Status Apply(const std::string& prefix, const std::vector<KeyDef<T>>& defs, T* out) const {
    for (const auto& def : defs) {
      const std::string key = prefix + def.name;
      std::string value;
      if (!Get(key, &value)) continue;
      if (absl::Status s = def.set(*out, value); !s.ok()) return KeyError(key, s.message());
    }
    return absl::OkStatus();
  }

  // A keyed group "GROUP.NAME.field": names come from the file and from the env list
  // ORDERQUERY_<GROUP>=NAME1,NAME2; each member gets `name` set and its fields applied. A field
  // no def knows is an error naming it.
  template <typename T>
  absl::Status ApplyGroup(const std::string& group, const std::vector<KeyDef<T>>& defs,
                          std::map<std::string, T>* out) const {
    std::set<std::string> names;
    if (absl::Status s = GroupNames(group, &names); !s.ok()) return s;
    for (const std::string& name : names) {
      T m;
      m.name = name;
      if (absl::Status s = Apply(group + "." + name + ".", defs, &m); !s.ok()) return s;
      (*out)[name] = std::move(m);
    }
    std::set<std::string> fields;
    for (const auto& def : defs) fields.insert(def.name);
    return CheckGroupFields(group, fields);
  }

 private:
  absl::Status GroupNames(const std::string& group, std::set<std::string>* names) const;
  absl::Status CheckGroupFields(const std::string& group,
                                const std::set<std::string>& fields) const;

  std::map<std::string, std::string> flat_;
  Env env_;
};

// A provider URL setting: INVALID_ARGUMENT naming `key` unless `url` starts with http:// or
// https:// (env production narrows that with RequireHttps below).
absl::Status CheckHttpUrl(const std::string& key, const std::string& url);

// env production: every member's base_url must be https:// (requests carry our signature and
// replies money: never in clear text). Errors name GROUP.NAME.base_url.
template <typename M>
absl::Status RequireHttps(const std::string& group, const std::map<std::string, M>& members) {
  for (const auto& [name, m] : members) {
    if (m.base_url.rfind("https://", 0) != 0) {
      return KeyError(group + "." + name + ".base_url", "env production needs an https:// URL");
    }
  }
  return absl::OkStatus();
}

// --help lines for a key table: "  PREFIXname  [ENV]  help (default D)". `env_prefix` names
// the env form of `prefix` (e.g. "ORDERQUERY_WECHAT_MERCHANTS_NAME_" for "wechat.merchants.NAME.").
template <typename T>
std::string KeyTableHelp(const std::string& prefix, const std::string& env_prefix,
                         const std::vector<KeyDef<T>>& defs, const T& defaults) {
  std::ostringstream out;
  for (const auto& def : defs) {
    const std::string d = def.get(defaults);
    const std::string env =
        env_prefix.empty() ? EnvName(prefix + def.name) : env_prefix + EnvName(def.name).substr(11);
    out << "  " << prefix << def.name << "  [" << env << "]  " << def.help;
    if (!d.empty() && !def.secret) out << " (default " << d << ")";
    out << "\n";
  }
  return out.str();
}

}  // namespace orderquery::settings

#endif  // ORDERQUERY_SERVER_COMMON_SETTINGS_H_
