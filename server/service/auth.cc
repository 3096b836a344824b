#include "server/service/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cctype>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "server/common/files.h"
#include "server/common/log.h"
#include "server/common/settings.h"

namespace orderquery::service {
namespace {

const char* const kKnownMethods[] = {kQueryRechargeOrderMethod, kGetVehicleTransactionMethod,
                                     kGetTradeOrderMethod};

using settings::KeyError;

}  // namespace

std::string MetadataValue(const grpc::CallbackServerContext* ctx, const char* key) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

CallerAuth::CallerAuth(std::vector<Caller> callers, bool open_without_callers)
    : callers_(std::move(callers)), open_without_callers_(open_without_callers) {}

CallerAuth::Digest CallerAuth::Sha256(absl::string_view key) {
  Digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), d.data());
  return d;
}

absl::StatusOr<std::unique_ptr<CallerAuth>> CallerAuth::FromConfig(const config::Config& cfg) {
  std::vector<Caller> callers;
  for (const auto& [name, c] : cfg.auth.callers) {
    const std::string p = "auth.callers." + name + ".";
    Caller caller;
    caller.name = name;
    caller.operator_ = c.operator_;
    if (!c.key.empty()) {
      caller.digest = Sha256(c.key);
    } else if (!c.key_file.empty()) {
      const std::string setting = p + "key_file";
      absl::StatusOr<std::string> text =
          files::ReadFile(absl::StrCat(setting, " (", settings::EnvName(setting), ")"), c.key_file);
      if (!text.ok()) return text.status();
      // A trailing newline (echo, editors, Kubernetes secrets made by hand) is not the key's.
      const std::string key(absl::StripTrailingAsciiWhitespace(*text));
      if (key.size() < 16) {
        return KeyError(p + "key_file", "the key must be at least 16 characters");
      }
      caller.digest = Sha256(key);
    } else {
      const std::string raw = absl::HexStringToBytes(absl::AsciiStrToLower(c.key_sha256));
      if (raw.size() != caller.digest.size()) {
        return KeyError(p + "key_sha256", "must be 64 hex digits");
      }
      std::copy(raw.begin(), raw.end(), caller.digest.begin());
    }
    for (const std::string& m : c.methods) {
      if (m == "*") {
        caller.all_methods = true;
        continue;
      }
      const std::string full = m.rfind('/', 0) == 0 ? m : "/" + m;
      bool known = false;
      for (const char* k : kKnownMethods) known = known || full == k;
      if (!known) {
        return KeyError(p + "methods", absl::StrCat("unknown method \"", m, "\" (known: ",
                                                    absl::StrJoin(kKnownMethods, ", "), ", *)"));
      }
      caller.methods.insert(full);
    }
    callers.push_back(std::move(caller));
  }
  const bool open = cfg.env != "production";
  if (callers.empty()) {
    log::Warn("internal_rpcs_unprotected",
              {{"open", open},
               {"why", open ? "no auth.callers: GetVehicleTransaction and GetTradeOrder need no "
                              "API key (env development)"
                            : "no auth.callers: GetVehicleTransaction and GetTradeOrder refuse "
                              "every call (env production)"}});
  }
  return std::make_unique<CallerAuth>(std::move(callers), open);
}

const CallerAuth::Caller* CallerAuth::Find(absl::string_view key) const {
  const Digest d = Sha256(key);
  const Caller* found = nullptr;
  for (const Caller& c : callers_) {
    // No early exit: the time taken does not say which caller (if any) matched.
    const bool same = CRYPTO_memcmp(d.data(), c.digest.data(), d.size()) == 0;
    if (same && found == nullptr) found = &c;
  }
  return found;
}

absl::Status CallerAuth::Authorize(const grpc::CallbackServerContext* ctx, absl::string_view method,
                                   bool internal, bool force_refresh) const {
  if (!internal && !force_refresh) return absl::OkStatus();
  if (internal && !force_refresh && open()) return absl::OkStatus();
  const std::string key = MetadataValue(ctx, kApiKeyMetadata);
  if (key.empty()) {
    if (internal && !open()) {
      return absl::UnauthenticatedError(
          absl::StrCat(method,
                       " is for internal services: send the caller's API key as metadata "
                       "x-api-key"));
    }
    return absl::PermissionDeniedError(
        "force_refresh is for operators: send an operator's API key as metadata x-api-key");
  }
  const Caller* caller = Find(key);
  if (caller == nullptr) {
    return absl::UnauthenticatedError("unknown API key (metadata x-api-key)");
  }
  if (internal && !open() && !caller->all_methods &&
      caller->methods.count(std::string(method)) == 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("caller \"", caller->name, "\" may not call ", method));
  }
  if (force_refresh && !caller->operator_) {
    return absl::PermissionDeniedError(
        absl::StrCat("force_refresh is for operators; caller \"", caller->name, "\" is not one"));
  }
  return absl::OkStatus();
}

}  // namespace orderquery::service
