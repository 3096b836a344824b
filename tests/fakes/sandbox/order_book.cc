#include "tests/fakes/sandbox/order_book.h"

#include <algorithm>

namespace orderquery::sandbox {

using nlohmann::json;

absl::Status ReadInt(const json& j, const char* key, std::optional<int64_t>* out,
                     const std::string& hint) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat("'", key, "' must be an integer", hint));
  }
  *out = it->get<int64_t>();
  return absl::OkStatus();
}

absl::Status ParseScript(const json& order, const OrderFormat& format, Script* out) {
  std::optional<int64_t> latency;
  if (absl::Status s = ReadInt(order, "latency_ms", &latency, format.integer_hint); !s.ok()) {
    return s;
  }
  out->latency_ms = latency.value_or(0);
  if (auto it = order.find("transitions"); it != order.end() && !it->is_null()) {
    if (!it->is_array()) return absl::InvalidArgumentError("'transitions' must be an array");
    for (const json& t : *it) {
      if (!t.is_object() || !t.contains("to") ||
          !(format.integer_states ? t["to"].is_number_integer() : t["to"].is_string())) {
        return absl::InvalidArgumentError(
            absl::StrCat("a ", format.noun, "transition is {\"to\": ", format.state_name,
                         ", \"after_queries\": N and/or \"after_ms\": T}"));
      }
      std::optional<int64_t> q, ms;
      if (absl::Status s = ReadInt(t, "after_queries", &q, format.integer_hint); !s.ok()) return s;
      if (absl::Status s = ReadInt(t, "after_ms", &ms, format.integer_hint); !s.ok()) return s;
      if (!q.has_value() && !ms.has_value()) {
        return absl::InvalidArgumentError("a transition needs after_queries or after_ms");
      }
      out->transitions.push_back(Transition{t["to"], q.value_or(-1), ms.value_or(-1)});
    }
  }
  if (auto it = order.find("faults"); it != order.end()) {
    absl::StatusOr<std::vector<FaultSpec>> faults = ParseFaults(*it, format.fault_types);
    if (!faults.ok()) return faults.status();
    out->faults = *std::move(faults);
  }
  return absl::OkStatus();
}

absl::Status ParseDefaults(const json& j, const OrderFormat& format, int64_t* latency_ms,
                           std::vector<FaultSpec>* faults) {
  const std::string name = format.prefix + "defaults";
  if (!j.is_object())
    return absl::InvalidArgumentError(absl::StrCat("'", name, "' must be an object"));
  for (const auto& item : j.items()) {
    if (item.key() != "latency_ms" && item.key() != "faults") {
      return absl::InvalidArgumentError(absl::StrCat("unknown ", name, " key '", item.key(), "'"));
    }
  }
  std::optional<int64_t> l;
  if (absl::Status s = ReadInt(j, "latency_ms", &l, format.integer_hint); !s.ok()) return s;
  *latency_ms = l.value_or(0);
  absl::StatusOr<std::vector<FaultSpec>> f =
      ParseFaults(j.contains("faults") ? j["faults"] : json(), format.fault_types);
  if (!f.ok()) return f.status();
  *faults = *std::move(f);
  return absl::OkStatus();
}

bool SleepLatency(const SandboxContext& ctx, int64_t latency_ms) {
  return latency_ms <= 0 || ctx.sleeper->SleepFor(absl::Milliseconds(latency_ms));
}

bool SleepForTimeoutFault(const SandboxContext& ctx, const FaultSpec* fault) {
  if (fault == nullptr || fault->type != "timeout") return true;
  return ctx.sleeper->SleepFor(fault->sleep_ms >= 0 ? absl::Milliseconds(fault->sleep_ms)
                                                    : ctx.default_timeout_sleep);
}

void RequestCounters::CountSignError(const std::string& id) {
  ++sign_errors_;
  ++orders_[id].sign_errors;
}

void RequestCounters::CountReply(const std::string& id, int status, const std::string& code,
                                 const FaultSpec* fault) {
  OrderCounters& c = orders_[id];
  ++c.statuses[std::to_string(status)];
  if (count_codes_ && !code.empty()) ++c.codes[code];
  if (fault != nullptr) ++c.faults[fault->type];
}

uint64_t RequestCounters::Verified(const std::string& id) { return ++orders_[id].verified; }

void RequestCounters::Enter(const std::string& id, const std::string& merchant) {
  OrderCounters& c = orders_[id];
  c.max_inflight = std::max(c.max_inflight, ++c.inflight);
  MerchantCounters& m = merchants_[merchant];
  ++m.requests;
  m.max_inflight = std::max(m.max_inflight, ++m.inflight);
}

void RequestCounters::Leave(const std::string& id, const std::string& merchant) {
  orders_[id].inflight--;
  merchants_[merchant].inflight--;
}

void RequestCounters::Reset() {
  for (auto it = orders_.begin(); it != orders_.end();) {
    if (it->second.inflight == 0) {
      it = orders_.erase(it);
    } else {
      OrderCounters fresh;
      fresh.inflight = fresh.max_inflight = it->second.inflight;
      it->second = fresh;
      ++it;
    }
  }
  for (auto& [merchant, m] : merchants_) m = MerchantCounters{0, m.inflight, m.inflight};
  sign_errors_ = 0;
  unknown_order_requests_ = 0;
}

json RequestCounters::OrderJson(const std::string& id) const {
  static const OrderCounters kNone;
  auto it = orders_.find(id);
  const OrderCounters& c = it == orders_.end() ? kNone : it->second;
  json j = {{"requests", c.requests}, {"verified", c.verified},
            {"answered", c.answered}, {"sign_errors", c.sign_errors},
            {"inflight", c.inflight}, {"max_inflight", c.max_inflight},
            {"statuses", c.statuses}, {"faults", c.faults}};
  if (count_codes_) j["codes"] = c.codes;
  for (const std::string& name : event_names_) {
    auto e = c.events.find(name);
    j[name] = e == c.events.end() ? 0 : e->second;
  }
  return j;
}

json RequestCounters::MerchantJson(const std::string& merchant) const {
  auto it = merchants_.find(merchant);
  const MerchantCounters m = it == merchants_.end() ? MerchantCounters{} : it->second;
  return {{"requests", m.requests}, {"inflight", m.inflight}, {"max_inflight", m.max_inflight}};
}

std::vector<std::string> RequestCounters::OrderIds() const {
  std::vector<std::string> ids;
  for (const auto& [id, c] : orders_) ids.push_back(id);
  return ids;
}

json RequestCounters::MerchantsJson() const {
  json merchants = json::object();
  for (const auto& [merchant, m] : merchants_) merchants[merchant] = MerchantJson(merchant);
  return merchants;
}

}  // namespace orderquery::sandbox
