#include "tests/fakes/sandbox/wechat_module.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/payment/wechat/crypto.h"
#include "server/payment/wechat/signer.h"
#include "server/payment/wechat/verifier.h"
#include "tests/fakes/sandbox/faults.h"

namespace orderquery::sandbox {
namespace {

namespace wx = ::orderquery::payment::wechat;
using nlohmann::json;

enum class Kind { kDirect, kPartner, kVehicle };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kDirect:
      return "direct";
    case Kind::kPartner:
      return "partner";
    case Kind::kVehicle:
      return "vehicle";
  }
  return "?";
}

// Seed 002's 200 example, verbatim: the default vehicle reply and the built-in order.
const char kSeedVehicleReply[] = R"json({
  "appid" : "wxcbda96de0b165486",
  "sub_appid" : "wxcbda96de0b165489",
  "sp_mchid" : "1230000109",
  "sub_mchid" : "1900000109",
  "description" : "停车场扣费",
  "create_time" : "2017-08-26T10:43:39+08:00",
  "out_trade_no" : "20150806125346",
  "transaction_id" : "1009660380201506130728806387",
  "trade_state" : "SUCCESS",
  "trade_state_description" : "支付失败,请重新下单支付",
  "success_time" : "2017-08-26T10:43:39+08:00",
  "bank_type" : "CMC",
  "user_repaid" : "Y",
  "attach" : "深圳分店",
  "trade_scene" : "PARKING",
  "parking_info" : {
    "parking_id" : "5K8264ILTKCH16CQ250",
    "plate_number" : "粤B888888",
    "plate_color" : "BLUE",
    "start_time" : "2017-08-26T10:43:39+08:00",
    "end_time" : "2017-08-26T10:43:39+08:00",
    "parking_name" : "欢乐海岸停车场",
    "charging_duration" : 3600,
    "device_id" : "12313"
  },
  "payer" : {
    "openid" : "oUpF8uMuAJOM2pxb1Q",
    "sub_openid" : "oUpF8uMuAJOM2pxb1Q"
  },
  "amount" : {
    "total" : 888,
    "currency" : "CNY",
    "payer_total" : 100,
    "discount_total" : 100
  },
  "promotion_detail" : [
    {
      "coupon_id" : "109519",
      "name" : "单品惠-6",
      "scope" : "SINGLE",
      "type" : "CASH",
      "stock_id" : "931386",
      "amount" : 5,
      "wechatpay_contribute" : 1,
      "merchant_contribute" : 1,
      "other_contribute" : 1,
      "currency" : "CNY"
    }
  ]
})json";

constexpr char kDefaultMchid[] = "1230000109";
constexpr char kDefaultSubMchid[] = "1900000109";
constexpr char kDefaultAppid[] = "wxd678efh567hg6787";
constexpr char kDefaultOpenid[] = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

const std::set<std::string>& FaultTypes() {
  static const std::set<std::string> types = {"http_429",
                                              "http_500",
                                              "param_error",
                                              "param_error_out_trade_no",
                                              "invalid_request",
                                              "invalid_request_not_parking",
                                              "invalid_request_not_bound",
                                              "not_found",
                                              "sign_error",
                                              "http_error",
                                              "timeout",
                                              "truncated_body",
                                              "disconnect",
                                              "non_json_body",
                                              "wrong_signature",
                                              "signtest_signature",
                                              "stale_timestamp",
                                              "unknown_serial",
                                              "missing_signature_headers",
                                              "wrong_mchid",
                                              "wrong_appid",
                                              "amount_mismatch"};
  return types;
}

bool KnownState(Kind kind, const std::string& s) {
  static const std::set<std::string> pay = {"SUCCESS", "REFUND",     "NOTPAY",  "CLOSED",
                                            "REVOKED", "USERPAYING", "PAYERROR"};
  static const std::set<std::string> vehicle = {"SUCCESS", "ACCEPTED", "PAY_FAIL", "REFUND"};
  return kind == Kind::kVehicle ? vehicle.count(s) > 0 : pay.count(s) > 0;
}

std::string DefaultStateDesc(Kind kind, const std::string& s) {
  static const std::map<std::string, std::string> pay = {
      {"SUCCESS", "支付成功"},
      {"REFUND", "转入退款"},
      {"NOTPAY", "订单未支付"},
      {"CLOSED", "已关闭"},
      {"REVOKED", "已撤销(付款码支付)"},
      {"USERPAYING", "用户支付中(付款码支付)"},
      {"PAYERROR", "支付失败(其他原因,如银行返回失败)"}};
  static const std::map<std::string, std::string> vehicle = {{"SUCCESS", "支付成功"},
                                                             {"ACCEPTED", "已接收,等待扣款"},
                                                             {"PAY_FAIL", "支付失败"},
                                                             {"REFUND", "转入退款"}};
  const auto& table = kind == Kind::kVehicle ? vehicle : pay;
  auto it = table.find(s);
  return it == table.end() ? "" : it->second;
}

bool IsPaid(const std::string& s) { return s == "SUCCESS" || s == "REFUND"; }

std::string Rfc3339Beijing(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", t, absl::FixedTimeZone(8 * 3600));
}

// A stable, plausible 28-digit WeChat transaction id derived from the order number.
std::string TransactionIdFor(const std::string& out_trade_no) {
  uint64_t h = std::hash<std::string>{}(out_trade_no);
  char digits[32];
  std::snprintf(digits, sizeof(digits), "%020llu", static_cast<unsigned long long>(h));  // NOLINT
  return absl::StrCat("42000", std::string(digits).substr(0, 20), "000");
}

bool ValidOutTradeNo(absl::string_view no) {
  if (no.empty() || no.size() > 32) return false;
  for (char c : no) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '*')) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Transition {
  std::string to;
  int64_t after_queries = -1;
  int64_t after_ms = -1;
};

struct OrderSpec {
  std::string out_trade_no;
  Kind kind = Kind::kDirect;
  std::optional<std::string> mchid, sub_mchid, appid, sub_appid, openid, sub_openid, transaction_id,
      success_time, trade_state_desc, currency, bank_type, attach, trade_type;
  std::optional<int64_t> amount, payer_total;
  std::string trade_state;
  std::vector<Transition> transitions;
  int64_t latency_ms = 0;
  std::vector<FaultSpec> faults;
  json reply_patch;
  json source;

  std::string Mchid() const { return mchid.value_or(kDefaultMchid); }
  std::string SubMchid() const { return sub_mchid.value_or(kDefaultSubMchid); }
};

absl::Status ReadStr(const json& j, const char* key, std::optional<std::string>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string())
    return absl::InvalidArgumentError(absl::StrCat("'", key, "' must be a string"));
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status ReadInt(const json& j, const char* key, std::optional<int64_t>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat("'", key, "' must be an integer (fen)"));
  }
  *out = it->get<int64_t>();
  return absl::OkStatus();
}

absl::StatusOr<OrderSpec> ParseOrder(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("an order is a JSON object");
  static const std::set<std::string> kKeys = {
      "out_trade_no",   "kind",         "mchid",     "sp_mchid",    "sub_mchid",
      "appid",          "sp_appid",     "sub_appid", "openid",      "sub_openid",
      "amount",         "payer_total",  "currency",  "trade_state", "trade_state_desc",
      "transaction_id", "success_time", "bank_type", "attach",      "trade_type",
      "transitions",    "latency_ms",   "faults",    "reply_patch"};
  for (const auto& item : j.items()) {
    if (kKeys.count(item.key()) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("unknown order key '", item.key(), "'"));
    }
  }
  OrderSpec o;
  o.source = j;
  std::optional<std::string> s;
  absl::Status st;
  if (!(st = ReadStr(j, "out_trade_no", &s)).ok()) return st;
  if (!s.has_value() || !ValidOutTradeNo(*s)) {
    return absl::InvalidArgumentError("order needs out_trade_no: 1-32 of [0-9A-Za-z_*-]");
  }
  o.out_trade_no = *s;
  s.reset();
  if (!(st = ReadStr(j, "kind", &s)).ok()) return st;
  const std::string kind = s.value_or("direct");
  if (kind == "direct") {
    o.kind = Kind::kDirect;
  } else if (kind == "partner") {
    o.kind = Kind::kPartner;
  } else if (kind == "vehicle") {
    o.kind = Kind::kVehicle;
  } else {
    return absl::InvalidArgumentError("order kind is direct, partner or vehicle");
  }
  struct {
    const char* key;
    std::optional<std::string>* out;
  } strs[] = {{"mchid", &o.mchid},
              {"sp_mchid", &o.mchid},
              {"sub_mchid", &o.sub_mchid},
              {"appid", &o.appid},
              {"sp_appid", &o.appid},
              {"sub_appid", &o.sub_appid},
              {"openid", &o.openid},
              {"sub_openid", &o.sub_openid},
              {"transaction_id", &o.transaction_id},
              {"success_time", &o.success_time},
              {"trade_state_desc", &o.trade_state_desc},
              {"currency", &o.currency},
              {"bank_type", &o.bank_type},
              {"attach", &o.attach},
              {"trade_type", &o.trade_type}};
  for (auto& [key, out] : strs) {
    if (!(st = ReadStr(j, key, out)).ok()) return st;
  }
  if (!(st = ReadInt(j, "amount", &o.amount)).ok()) return st;
  if (!(st = ReadInt(j, "payer_total", &o.payer_total)).ok()) return st;
  s.reset();
  if (!(st = ReadStr(j, "trade_state", &s)).ok()) return st;
  o.trade_state = s.value_or("SUCCESS");
  if (!KnownState(o.kind, o.trade_state)) {
    // Allowed on purpose (tests of "unknown state" answers), but worth a line in the log.
    std::fprintf(stderr, "sandbox: order %s has trade_state %s, unknown for kind %s\n",
                 o.out_trade_no.c_str(), o.trade_state.c_str(), KindName(o.kind));
  }
  std::optional<int64_t> latency;
  if (!(st = ReadInt(j, "latency_ms", &latency)).ok()) return st;
  o.latency_ms = latency.value_or(0);
  if (auto it = j.find("transitions"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return absl::InvalidArgumentError("'transitions' must be an array");
    for (const json& t : *it) {
      if (!t.is_object() || !t.contains("to") || !t["to"].is_string()) {
        return absl::InvalidArgumentError(
            "a transition is {\"to\": STATE, \"after_queries\": N "
            "and/or \"after_ms\": T}");
      }
      Transition tr;
      tr.to = t["to"].get<std::string>();
      std::optional<int64_t> q, ms;
      if (!(st = ReadInt(t, "after_queries", &q)).ok()) return st;
      if (!(st = ReadInt(t, "after_ms", &ms)).ok()) return st;
      if (!q.has_value() && !ms.has_value()) {
        return absl::InvalidArgumentError("a transition needs after_queries or after_ms");
      }
      tr.after_queries = q.value_or(-1);
      tr.after_ms = ms.value_or(-1);
      o.transitions.push_back(tr);
    }
  }
  if (auto it = j.find("faults"); it != j.end()) {
    absl::StatusOr<std::vector<FaultSpec>> faults = ParseFaults(*it, FaultTypes());
    if (!faults.ok()) return faults.status();
    o.faults = *std::move(faults);
  }
  if (auto it = j.find("reply_patch"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return absl::InvalidArgumentError("'reply_patch' must be an object");
    o.reply_patch = *it;
  }
  return o;
}

struct OrderState {
  OrderSpec spec;
  std::string state;
  size_t next_transition = 0;
  absl::Time state_since;
  int64_t answered_in_state = 0;
  std::string entered_success_at;  // when a transition (not the spec) made it SUCCESS

  void Enter(const std::string& to, absl::Time now) {
    state = to;
    state_since = now;
    answered_in_state = 0;
    if (to == "SUCCESS") entered_success_at = Rfc3339Beijing(now);
  }

  void AdvanceByTime(absl::Time now) {
    while (next_transition < spec.transitions.size()) {
      const Transition& t = spec.transitions[next_transition];
      if (t.after_ms < 0 || now - state_since < absl::Milliseconds(t.after_ms)) return;
      ++next_transition;
      // The next state starts when this one was due, so chained timed transitions keep time.
      Enter(t.to, state_since + absl::Milliseconds(t.after_ms));
    }
  }

  void AdvanceByQueries(absl::Time now) {
    if (next_transition >= spec.transitions.size()) return;
    const Transition& t = spec.transitions[next_transition];
    if (t.after_queries >= 0 && answered_in_state >= t.after_queries) {
      ++next_transition;
      Enter(t.to, now);
    }
  }
};

OrderState NewState(OrderSpec spec, absl::Time now) {
  OrderState o;
  o.spec = std::move(spec);
  o.state = o.spec.trade_state;
  o.state_since = now;
  // A transition after 0 queries applies at once.
  o.AdvanceByQueries(now);
  return o;
}

json BuildReply(const OrderState& o) {
  const OrderSpec& s = o.spec;
  const bool paid = IsPaid(o.state);
  const bool has_transaction = o.state != "NOTPAY" && o.state != "CLOSED";
  const std::string success_time = s.success_time.value_or(
      o.entered_success_at.empty() ? Rfc3339Beijing(o.state_since) : o.entered_success_at);
  const int64_t total = s.amount.value_or(100);
  const std::string currency = s.currency.value_or("CNY");
  json r;
  switch (s.kind) {
    case Kind::kDirect:
    case Kind::kPartner: {
      if (s.kind == Kind::kDirect) {
        r["appid"] = s.appid.value_or(kDefaultAppid);
        r["mchid"] = s.Mchid();
      } else {
        r["sp_appid"] = s.appid.value_or(kDefaultAppid);
        r["sp_mchid"] = s.Mchid();
        if (s.sub_appid) r["sub_appid"] = *s.sub_appid;
        r["sub_mchid"] = s.SubMchid();
      }
      r["out_trade_no"] = s.out_trade_no;
      if (has_transaction)
        r["transaction_id"] = s.transaction_id.value_or(TransactionIdFor(s.out_trade_no));
      r["trade_type"] = s.trade_type.value_or("JSAPI");
      r["trade_state"] = o.state;
      r["trade_state_desc"] = s.trade_state_desc.value_or(DefaultStateDesc(s.kind, o.state));
      if (paid) {
        r["bank_type"] = s.bank_type.value_or("OTHERS");
        r["success_time"] = success_time;
      }
      r["attach"] = s.attach.value_or("");
      const std::string openid = s.openid.value_or(kDefaultOpenid);
      if (s.kind == Kind::kDirect) {
        r["payer"] = {{"openid", openid}};
      } else {
        r["payer"] = {{"sp_openid", openid}};
        if (s.sub_openid) r["payer"]["sub_openid"] = *s.sub_openid;
      }
      r["amount"] = {{"total", total}, {"currency", currency}, {"payer_currency", currency}};
      if (paid) r["amount"]["payer_total"] = s.payer_total.value_or(total);
      break;
    }
    case Kind::kVehicle: {
      r = json::parse(kSeedVehicleReply);
      r["out_trade_no"] = s.out_trade_no;
      if (s.appid) r["appid"] = *s.appid;
      if (s.sub_appid) r["sub_appid"] = *s.sub_appid;
      if (s.mchid) r["sp_mchid"] = *s.mchid;
      if (s.sub_mchid) r["sub_mchid"] = *s.sub_mchid;
      if (s.transaction_id) r["transaction_id"] = *s.transaction_id;
      if (s.bank_type) r["bank_type"] = *s.bank_type;
      if (s.attach) r["attach"] = *s.attach;
      if (s.openid) r["payer"]["openid"] = *s.openid;
      if (s.sub_openid) r["payer"]["sub_openid"] = *s.sub_openid;
      if (s.currency) r["amount"]["currency"] = *s.currency;
      r["trade_state"] = o.state;
      if (s.trade_state_desc) {
        r["trade_state_description"] = *s.trade_state_desc;
      } else if (o.state != "SUCCESS") {
        // SUCCESS keeps the seed's own text so the built-in order is the seed verbatim.
        r["trade_state_description"] = DefaultStateDesc(Kind::kVehicle, o.state);
      }
      if (!paid) {
        r.erase("success_time");
      } else if (s.success_time) {
        r["success_time"] = *s.success_time;
      } else if (!o.entered_success_at.empty()) {
        r["success_time"] = o.entered_success_at;
      }
      if (s.amount) {
        r["amount"]["total"] = *s.amount;
        r["amount"]["payer_total"] = s.payer_total.value_or(*s.amount);
        r["amount"]["discount_total"] = 0;
      } else if (s.payer_total) {
        r["amount"]["payer_total"] = *s.payer_total;
      }
      break;
    }
  }
  if (s.reply_patch.is_object()) r.merge_patch(s.reply_patch);
  return r;
}

struct Counters {
  uint64_t requests = 0;     // every request naming this out_trade_no
  uint64_t verified = 0;     // passed signature and parameter checks (fault selection counts these)
  uint64_t answered = 0;     // got a 200 built from the order's state
  uint64_t sign_errors = 0;  // rejected with 401 SIGN_ERROR by the signature check
  int64_t inflight = 0;
  int64_t max_inflight = 0;
  std::map<std::string, uint64_t> statuses;
  std::map<std::string, uint64_t> faults;

  json ToJson() const {
    return {{"requests", requests},       {"verified", verified}, {"answered", answered},
            {"sign_errors", sign_errors}, {"inflight", inflight}, {"max_inflight", max_inflight},
            {"statuses", statuses},       {"faults", faults}};
  }
};

struct MerchantCounters {
  uint64_t requests = 0;
  int64_t inflight = 0;
  int64_t max_inflight = 0;
};

struct Template {
  std::string prefix;
  json order;
};

class Defer {
 public:
  explicit Defer(std::function<void()> f) : f_(std::move(f)) {}
  Defer(const Defer&) = delete;
  Defer& operator=(const Defer&) = delete;
  ~Defer() {
    if (f_) f_();
  }

 private:
  std::function<void()> f_;
};

class WechatModule final : public SandboxModule {
 public:
  WechatModule(const SandboxContext& ctx, std::map<std::string, wx::RsaKey> merchant_keys,
               std::optional<wx::RsaKey> platform_key, std::string platform_serial)
      : ctx_(ctx),
        merchant_keys_(std::move(merchant_keys)),
        platform_key_(std::move(platform_key)),
        platform_serial_(std::move(platform_serial)),
        rng_(ctx.seed != 0 ? ctx.seed : std::random_device{}()) {}

  std::string name() const override { return "wechat"; }

  absl::Status LoadScenario(const json& scenario) override {
    std::vector<OrderSpec> specs;
    std::vector<Template> templates;
    int64_t latency = 0;
    std::vector<FaultSpec> faults;
    bool builtin = true;
    if (scenario.contains("builtin_orders")) {
      if (!scenario["builtin_orders"].is_boolean()) {
        return absl::InvalidArgumentError("'builtin_orders' must be a boolean");
      }
      builtin = scenario["builtin_orders"].get<bool>();
    }
    if (builtin) {
      absl::StatusOr<OrderSpec> seed =
          ParseOrder({{"out_trade_no", "20150806125346"}, {"kind", "vehicle"}});
      if (!seed.ok()) return seed.status();
      specs.push_back(*std::move(seed));
    }
    if (auto it = scenario.find("orders"); it != scenario.end()) {
      absl::StatusOr<std::vector<OrderSpec>> parsed = ParseOrders(*it);
      if (!parsed.ok()) return parsed.status();
      for (auto& o : *parsed) specs.push_back(std::move(o));
    }
    if (auto it = scenario.find("templates"); it != scenario.end()) {
      if (!it->is_array()) return absl::InvalidArgumentError("'templates' must be an array");
      for (const json& t : *it) {
        if (!t.is_object() || !t.contains("prefix") || !t["prefix"].is_string() ||
            !t.contains("order") || !t["order"].is_object()) {
          return absl::InvalidArgumentError(
              "a template is {\"prefix\": \"...\", \"order\": {...without out_trade_no}}");
        }
        json probe = t["order"];
        probe["out_trade_no"] = "TEMPLATE_PROBE";
        if (absl::StatusOr<OrderSpec> ok = ParseOrder(probe); !ok.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "template ", t["prefix"].get<std::string>(), ": ", ok.status().message()));
        }
        templates.push_back(Template{t["prefix"].get<std::string>(), t["order"]});
      }
    }
    if (auto it = scenario.find("defaults"); it != scenario.end()) {
      absl::Status s = ParseDefaults(*it, &latency, &faults);
      if (!s.ok()) return s;
    }
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = absl::Now();
    for (auto& spec : specs) {
      std::string no = spec.out_trade_no;
      orders_.insert_or_assign(no, NewState(std::move(spec), now));
    }
    templates_ = std::move(templates);
    default_latency_ms_ = latency;
    default_faults_ = std::move(faults);
    return absl::OkStatus();
  }

  void RegisterRoutes(httplib::Server& server) override {
    server.Get(R"(/v3/pay/transactions/out-trade-no/([^/]+))",
               [this](const httplib::Request& req, httplib::Response& res) {
                 Query(Kind::kDirect, req, res);
               });
    server.Get(R"(/v3/pay/partner/transactions/out-trade-no/([^/]+))",
               [this](const httplib::Request& req, httplib::Response& res) {
                 Query(Kind::kPartner, req, res);
               });
    server.Get(R"(/v3/vehicle/transactions/out-trade-no/([^/]+))",
               [this](const httplib::Request& req, httplib::Response& res) {
                 Query(Kind::kVehicle, req, res);
               });
    server.Post("/__sandbox/orders", [this](const httplib::Request& req, httplib::Response& res) {
      UpsertOrders(req, res);
    });
    server.Get(R"(/__sandbox/orders/([^/]+))",
               [this](const httplib::Request& req, httplib::Response& res) {
                 GetOrder(req.matches[1], res);
               });
    server.Post("/__sandbox/defaults", [this](const httplib::Request& req, httplib::Response& res) {
      SetDefaults(req, res);
    });
  }

  void Reset(bool keep_orders) override {
    std::lock_guard<std::mutex> lock(mu_);
    // In-flight requests still decrement their counters, so keep the inflight numbers.
    for (auto it = counters_.begin(); it != counters_.end();) {
      Counters fresh;
      fresh.inflight = it->second.inflight;
      fresh.max_inflight = it->second.inflight;
      if (fresh.inflight == 0) {
        it = counters_.erase(it);
      } else {
        it->second = fresh;
        ++it;
      }
    }
    for (auto& [mchid, m] : merchants_) m = MerchantCounters{0, m.inflight, m.inflight};
    sign_errors_ = 0;
    unknown_order_requests_ = 0;
    if (!keep_orders) {
      orders_.clear();
      templates_.clear();
      default_latency_ms_ = 0;
      default_faults_.clear();
    }
  }

  json Stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    json orders = json::object();
    for (const auto& [no, c] : counters_) orders[no] = OrderStatsLocked(no);
    json merchants = json::object();
    for (const auto& [mchid, m] : merchants_) {
      merchants[mchid] = {
          {"requests", m.requests}, {"inflight", m.inflight}, {"max_inflight", m.max_inflight}};
    }
    return {{"orders", orders},
            {"merchants", merchants},
            {"sign_errors", sign_errors_},
            {"unknown_order_requests", unknown_order_requests_},
            {"orders_defined", orders_.size()}};
  }

  std::optional<json> StatsFor(const httplib::Params& params) const override {
    auto it = params.find("out_trade_no");
    if (it != params.end()) {
      std::lock_guard<std::mutex> lock(mu_);
      return OrderStatsLocked(it->second);
    }
    it = params.find("mchid");
    if (it != params.end()) {
      std::lock_guard<std::mutex> lock(mu_);
      auto m = merchants_.find(it->second);
      MerchantCounters c = m == merchants_.end() ? MerchantCounters{} : m->second;
      return json{{"mchid", it->second},
                  {"requests", c.requests},
                  {"inflight", c.inflight},
                  {"max_inflight", c.max_inflight}};
    }
    return std::nullopt;
  }

 private:
  // What the handler decided under the lock, to act on without it.
  struct Plan {
    int64_t latency_ms = 0;
    std::optional<FaultSpec> fault;
  };

  static absl::StatusOr<std::vector<OrderSpec>> ParseOrders(const json& j) {
    std::vector<OrderSpec> out;
    const json* list = &j;
    if (j.is_object() && j.contains("orders")) list = &j["orders"];
    if (list->is_object()) {
      absl::StatusOr<OrderSpec> o = ParseOrder(*list);
      if (!o.ok()) return o.status();
      out.push_back(*std::move(o));
      return out;
    }
    if (!list->is_array()) return absl::InvalidArgumentError("orders: an object or an array");
    for (const json& item : *list) {
      absl::StatusOr<OrderSpec> o = ParseOrder(item);
      if (!o.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("order ", item.is_object() ? item.value("out_trade_no", "?") : "?", ": ",
                         o.status().message()));
      }
      out.push_back(*std::move(o));
    }
    return out;
  }

  static absl::Status ParseDefaults(const json& j, int64_t* latency,
                                    std::vector<FaultSpec>* faults) {
    if (!j.is_object()) return absl::InvalidArgumentError("'defaults' must be an object");
    for (const auto& item : j.items()) {
      if (item.key() != "latency_ms" && item.key() != "faults") {
        return absl::InvalidArgumentError(absl::StrCat("unknown defaults key '", item.key(), "'"));
      }
    }
    std::optional<int64_t> l;
    if (absl::Status s = ReadInt(j, "latency_ms", &l); !s.ok()) return s;
    *latency = l.value_or(0);
    absl::StatusOr<std::vector<FaultSpec>> f =
        ParseFaults(j.contains("faults") ? j["faults"] : json(), FaultTypes());
    if (!f.ok()) return f.status();
    *faults = *std::move(f);
    return absl::OkStatus();
  }

  json OrderStatsLocked(const std::string& no) const {
    auto c = counters_.find(no);
    json j = c == counters_.end() ? Counters().ToJson() : c->second.ToJson();
    j["out_trade_no"] = no;
    auto o = orders_.find(no);
    j["known"] = o != orders_.end();
    j["trade_state"] = o != orders_.end() ? json(o->second.state) : json();
    return j;
  }

  void Count(Counters& c, int status, const FaultSpec* fault) {
    ++c.statuses[std::to_string(status)];
    if (fault != nullptr) ++c.faults[fault->type];
  }

  void UpsertOrders(const httplib::Request& req, httplib::Response& res) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return ReplyError(res, 400, "PARAM_ERROR", "body is not JSON");
    absl::StatusOr<std::vector<OrderSpec>> specs = ParseOrders(body);
    if (!specs.ok())
      return ReplyError(res, 400, "PARAM_ERROR", std::string(specs.status().message()));
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = absl::Now();
    json names = json::array();
    for (auto& spec : *specs) {
      names.push_back(spec.out_trade_no);
      std::string no = spec.out_trade_no;
      orders_.insert_or_assign(no, NewState(std::move(spec), now));
    }
    ReplyJson(res, 200, {{"upserted", names}});
  }

  void GetOrder(const std::string& no, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = orders_.find(no);
    if (it == orders_.end()) return ReplyError(res, 404, "NOT_FOUND", "no such order");
    OrderState& o = it->second;
    o.AdvanceByTime(absl::Now());
    ReplyJson(res, 200,
              {{"order", o.spec.source},
               {"trade_state", o.state},
               {"answered_in_state", o.answered_in_state},
               {"next_transition", o.next_transition},
               {"reply", BuildReply(o)}});
  }

  void SetDefaults(const httplib::Request& req, httplib::Response& res) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return ReplyError(res, 400, "PARAM_ERROR", "body is not JSON");
    int64_t latency = 0;
    std::vector<FaultSpec> faults;
    if (absl::Status s = ParseDefaults(body, &latency, &faults); !s.ok()) {
      return ReplyError(res, 400, "PARAM_ERROR", std::string(s.message()));
    }
    std::lock_guard<std::mutex> lock(mu_);
    default_latency_ms_ = latency;
    default_faults_ = std::move(faults);
    ReplyJson(res, 200, body);
  }

  // Checks the request's Authorization; on success *signer is the mchid it names.
  absl::Status VerifyAuthorization(const httplib::Request& req, std::string* signer) const {
    if (!req.has_header("Authorization")) return absl::UnauthenticatedError("Authorization 缺失");
    absl::StatusOr<wx::Authorization> auth =
        wx::ParseAuthorization(req.get_header_value("Authorization"));
    if (!auth.ok()) {
      return absl::UnauthenticatedError(
          absl::StrCat("Authorization 格式错误: ", auth.status().message()));
    }
    *signer = auth->mchid;
    auto key = merchant_keys_.find(auth->mchid);
    if (key == merchant_keys_.end()) key = merchant_keys_.find("");
    if (key == merchant_keys_.end()) {
      return absl::UnauthenticatedError(absl::StrCat("商户 ", auth->mchid, " 没有配置公钥"));
    }
    int64_t ts = 0;
    if (!absl::SimpleAtoi(auth->timestamp, &ts)) {
      return absl::UnauthenticatedError("timestamp 不是整数");
    }
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    if (ts < now - 300 || ts > now + 300) {
      return absl::UnauthenticatedError(absl::StrCat("timestamp 过期 (", ts - now, "s)"));
    }
    absl::Status s =
        wx::VerifyRequestSignature(*auth, key->second, req.method, req.target, req.body);
    if (!s.ok()) return absl::UnauthenticatedError(absl::StrCat("签名验证失败: ", s.message()));
    return absl::OkStatus();
  }

  // The merchant whose credentials made the request: what a client caps per key.
  static std::string MerchantOf(Kind kind, const httplib::Request& req, const std::string& signer) {
    if (!signer.empty()) return signer;
    if (kind == Kind::kDirect) return req.get_param_value("mchid");
    if (kind == Kind::kPartner) return req.get_param_value("sp_mchid");
    return req.get_param_value("sub_mchid");
  }

  // Missing query parameters: WeChat answers 400 PARAM_ERROR naming the field.
  static std::string MissingParam(Kind kind, const httplib::Request& req) {
    std::vector<const char*> needed;
    if (kind == Kind::kDirect) needed = {"mchid"};
    if (kind == Kind::kPartner) needed = {"sp_mchid", "sub_mchid"};
    if (kind == Kind::kVehicle) needed = {"sub_mchid"};
    for (const char* p : needed) {
      if (req.get_param_value(p).empty()) return p;
    }
    return "";
  }

  void Query(Kind kind, const httplib::Request& req, httplib::Response& res) {
    Traffic::Scope scope = ctx_.traffic->Track(req);
    const std::string no = req.matches[1];
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_[no].requests;
    }
    std::string signer;
    if (ctx_.verify_requests) {
      absl::Status auth = VerifyAuthorization(req, &signer);
      if (!auth.ok()) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++sign_errors_;
          Counters& c = counters_[no];
          ++c.sign_errors;
          Count(c, 401, nullptr);
        }
        return SendError(res, 401, "SIGN_ERROR", std::string(auth.message()), false);
      }
    }
    const std::string merchant = MerchantOf(kind, req, signer);
    if (std::string missing = MissingParam(kind, req); !missing.empty()) {
      CountStatus(no, 400, nullptr);
      return SendError(res, 400, "PARAM_ERROR", absl::StrCat("参数错误: 缺少 ", missing), false);
    }
    if (!ValidOutTradeNo(no)) {
      CountStatus(no, 400, nullptr);
      return SendError(res, 400, "PARAM_ERROR", "参数错误,请检查out_trade_no", false);
    }

    Plan plan;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Counters& c = counters_[no];
      OrderState* order = FindOrCreateLocked(no);
      if (order == nullptr) {
        ++unknown_order_requests_;
        Count(c, 404, nullptr);
        return kind == Kind::kVehicle ? SendError(res, 404, "NOT_FOUND", "订单不存在", false)
                                      : SendError(res, 404, "ORDER_NOT_EXIST", "订单不存在", false);
      }
      if (std::optional<std::pair<int, std::pair<std::string, std::string>>> e =
              OwnershipErrorLocked(kind, *order, req)) {
        Count(c, e->first, nullptr);
        return SendError(res, e->first, e->second.first, e->second.second, false);
      }
      const uint64_t n = ++c.verified;
      auto roll = [this] { return std::uniform_real_distribution<double>(0, 100)(rng_); };
      const FaultSpec* f = PickFault(order->spec.faults, n, roll);
      if (f == nullptr) f = PickFault(default_faults_, n, roll);
      if (f != nullptr) plan.fault = *f;
      plan.latency_ms = order->spec.latency_ms + default_latency_ms_;
      c.inflight++;
      c.max_inflight = std::max(c.max_inflight, c.inflight);
      MerchantCounters& m = merchants_[merchant];
      ++m.requests;
      m.inflight++;
      m.max_inflight = std::max(m.max_inflight, m.inflight);
    }
    Defer leave([this, no, merchant] {
      std::lock_guard<std::mutex> lock(mu_);
      counters_[no].inflight--;
      merchants_[merchant].inflight--;
    });

    if (plan.latency_ms > 0 && !ctx_.sleeper->SleepFor(absl::Milliseconds(plan.latency_ms))) {
      return SendError(res, 503, "SYSTEM_ERROR", "sandbox shutting down", true);
    }
    const FaultSpec* fault = plan.fault ? &*plan.fault : nullptr;
    if (fault != nullptr) {
      if (std::optional<std::pair<int, std::pair<std::string, std::string>>> e =
              ErrorFault(kind, *fault)) {
        CountStatus(no, e->first, fault);
        return SendError(res, e->first, e->second.first, e->second.second, fault->unsigned_reply);
      }
      if (fault->type == "timeout") {
        const absl::Duration sleep =
            fault->sleep_ms >= 0 ? absl::Milliseconds(fault->sleep_ms) : ctx_.default_timeout_sleep;
        if (!ctx_.sleeper->SleepFor(sleep)) {
          return SendError(res, 503, "SYSTEM_ERROR", "sandbox shutting down", true);
        }
      }
    }

    json reply;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = orders_.find(no);
      if (it == orders_.end()) {  // replaced or reset while we slept
        Count(counters_[no], 404, fault);
        return SendError(res, 404, "ORDER_NOT_EXIST", "订单不存在", false);
      }
      OrderState& o = it->second;
      const absl::Time now = absl::Now();
      o.AdvanceByTime(now);
      reply = BuildReply(o);
      ++o.answered_in_state;
      o.AdvanceByQueries(now);
      Counters& c = counters_[no];
      ++c.answered;
      Count(c,
            fault != nullptr && fault->type == "non_json_body" && fault->status > 0 ? fault->status
                                                                                    : 200,
            fault);
    }
    SendReply(kind, reply, fault, res);
  }

  void CountStatus(const std::string& no, int status, const FaultSpec* fault) {
    std::lock_guard<std::mutex> lock(mu_);
    Count(counters_[no], status, fault);
  }

  OrderState* FindOrCreateLocked(const std::string& no) {
    auto it = orders_.find(no);
    if (it != orders_.end()) return &it->second;
    for (const Template& t : templates_) {
      if (!absl::StartsWith(no, t.prefix)) continue;
      json j = t.order;
      j["out_trade_no"] = no;
      absl::StatusOr<OrderSpec> spec = ParseOrder(j);
      if (!spec.ok()) return nullptr;  // validated at load; only an odd number gets here
      return &orders_.insert_or_assign(no, NewState(*std::move(spec), absl::Now())).first->second;
    }
    return nullptr;
  }

  // WeChat's answers when the order exists but not for the asking merchant or endpoint.
  static std::optional<std::pair<int, std::pair<std::string, std::string>>> OwnershipErrorLocked(
      Kind kind, const OrderState& o, const httplib::Request& req) {
    using E = std::pair<int, std::pair<std::string, std::string>>;
    const OrderSpec& s = o.spec;
    if (kind == Kind::kVehicle) {
      if (s.kind != Kind::kVehicle) {
        return E{400, {"INVALID_REQUEST", "不支持查询非支付分停车订单,请更换单号后再试"}};
      }
      if (req.get_param_value("sub_mchid") != s.SubMchid()) {
        return E{400, {"INVALID_REQUEST", "服务商和子商户没有绑定关系"}};
      }
      return std::nullopt;
    }
    const E not_exist{404, {"ORDER_NOT_EXIST", "订单不存在"}};
    if (s.kind != kind) return not_exist;
    if (kind == Kind::kDirect && req.get_param_value("mchid") != s.Mchid()) return not_exist;
    if (kind == Kind::kPartner && (req.get_param_value("sp_mchid") != s.Mchid() ||
                                   req.get_param_value("sub_mchid") != s.SubMchid())) {
      return not_exist;
    }
    return std::nullopt;
  }

  static std::optional<std::pair<int, std::pair<std::string, std::string>>> ErrorFault(
      Kind kind, const FaultSpec& f) {
    using E = std::pair<int, std::pair<std::string, std::string>>;
    const std::string& t = f.type;
    if (t == "http_429") return E{429, {"RATELIMIT_EXCEEDED", "达到调用速率限制"}};
    if (t == "http_500") return E{500, {"SYSTEM_ERROR", "系统异常,请稍后重试"}};
    if (t == "param_error") return E{400, {"PARAM_ERROR", "参数错误"}};
    if (t == "param_error_out_trade_no") {
      return E{400, {"PARAM_ERROR", "参数错误,请检查out_trade_no"}};
    }
    if (t == "invalid_request") {
      return E{400, {"INVALID_REQUEST", "HTTP 请求不符合微信支付 APIv3 接口规则"}};
    }
    if (t == "invalid_request_not_parking") {
      return E{400, {"INVALID_REQUEST", "不支持查询非支付分停车订单,请更换单号后再试"}};
    }
    if (t == "invalid_request_not_bound") {
      return E{400, {"INVALID_REQUEST", "服务商和子商户没有绑定关系"}};
    }
    if (t == "not_found") {
      return kind == Kind::kVehicle ? E{404, {"NOT_FOUND", "订单不存在"}}
                                    : E{404, {"ORDER_NOT_EXIST", "订单不存在"}};
    }
    if (t == "sign_error") return E{401, {"SIGN_ERROR", "签名错误"}};
    if (t == "http_error") {
      return E{f.status > 0 ? f.status : 500,
               {f.code.empty() ? "SYSTEM_ERROR" : f.code,
                f.message.empty() ? "injected error" : f.message}};
    }
    return std::nullopt;
  }

  // Adds the four Wechatpay-* headers (plus Request-ID) for `body`, bent by signature faults.
  void Sign(const std::string& body, const FaultSpec* fault, httplib::Response& res) {
    res.set_header("Request-ID", wx::RandomNonce(32));
    if (!platform_key_.has_value()) return;
    const std::string type = fault != nullptr ? fault->type : "";
    if (type == "missing_signature_headers") return;
    int64_t ts = absl::ToUnixSeconds(absl::Now());
    if (type == "stale_timestamp") ts += fault->skew_s;
    std::string serial = platform_serial_;
    if (type == "unknown_serial") {
      serial =
          fault->value.empty() ? "PUB_KEY_ID_0000000000000000000000000000000000" : fault->value;
    }
    const std::string nonce = wx::RandomNonce(32);
    // A wrong signature is a real signature of other bytes: only checking catches it.
    const std::string signed_body = type == "wrong_signature" ? body + " " : body;
    absl::StatusOr<payment::http::Headers> headers =
        wx::SignedResponseHeaders(*platform_key_, serial, ts, nonce, signed_body);
    if (!headers.ok()) {
      std::fprintf(stderr, "sandbox: signing failed: %s\n", headers.status().ToString().c_str());
      return;
    }
    for (auto& [name, value] : *headers) {
      if (type == "signtest_signature" && absl::EqualsIgnoreCase(name, wx::kSignatureHeader)) {
        value = absl::StrCat(wx::kSignTestPrefix, wx::Base64Encode(wx::RandomNonce(48)));
      }
      res.set_header(name, value);
    }
  }

  void SendError(httplib::Response& res, int status, const std::string& code,
                 const std::string& message, bool unsigned_reply) {
    const std::string body = json{{"code", code}, {"message", message}}.dump(
        -1, ' ', false, json::error_handler_t::replace);
    if (!unsigned_reply) Sign(body, nullptr, res);
    res.status = status;
    res.set_content(body, "application/json");
  }

  void SendReply(Kind kind, json reply, const FaultSpec* fault, httplib::Response& res) {
    const std::string type = fault != nullptr ? fault->type : "";
    if (type == "wrong_mchid") {
      const std::string v = fault->value.empty() ? "1999999999" : fault->value;
      reply[kind == Kind::kDirect ? "mchid" : "sp_mchid"] = v;
    } else if (type == "wrong_appid") {
      const std::string v = fault->value.empty() ? "wx0000000000000000" : fault->value;
      reply[kind == Kind::kPartner ? "sp_appid" : "appid"] = v;
    } else if (type == "amount_mismatch" && reply.contains("amount")) {
      json& a = reply["amount"];
      if (a.contains("total")) a["total"] = a["total"].get<int64_t>() + fault->delta;
      if (a.contains("payer_total")) {
        a["payer_total"] = a["payer_total"].get<int64_t>() + fault->delta;
      }
    }
    std::string body = reply.dump(-1, ' ', false, json::error_handler_t::replace);
    std::string content_type = "application/json";
    int status = 200;
    if (type == "truncated_body") {
      size_t cut = fault->cut_at >= 0 ? static_cast<size_t>(fault->cut_at) : body.size() / 2;
      body.resize(std::min(cut, body.size()));
    } else if (type == "non_json_body") {
      body =
          "<html><head><title>502 Bad Gateway</title></head><body>"
          "<center><h1>502 Bad Gateway</h1></center></body></html>";
      content_type = "text/html";
      if (fault->status > 0) status = fault->status;
    }
    if (!(fault != nullptr && fault->unsigned_reply)) Sign(body, fault, res);
    res.status = status;
    if (type == "disconnect") {
      // The headers promise the whole body; the connection drops after part of it.
      const size_t cut =
          fault->cut_at >= 0 ? std::min<size_t>(fault->cut_at, body.size()) : body.size() / 2;
      res.set_content_provider(body.size(), content_type,
                               [body, cut](size_t offset, size_t, httplib::DataSink& sink) {
                                 if (offset == 0 && cut > 0) sink.write(body.data(), cut);
                                 return false;
                               });
      return;
    }
    res.set_content(body, content_type);
  }

  const SandboxContext ctx_;
  const std::map<std::string, wx::RsaKey> merchant_keys_;
  const std::optional<wx::RsaKey> platform_key_;
  const std::string platform_serial_;

  mutable std::mutex mu_;
  std::map<std::string, OrderState> orders_;
  std::map<std::string, Counters> counters_;
  std::map<std::string, MerchantCounters> merchants_;
  std::vector<Template> templates_;
  int64_t default_latency_ms_ = 0;
  std::vector<FaultSpec> default_faults_;
  uint64_t sign_errors_ = 0;
  uint64_t unknown_order_requests_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SandboxModule>> MakeWechatModule(
    const SandboxContext& context, const std::multimap<std::string, std::string>& flags) {
  std::map<std::string, wx::RsaKey> merchant_keys;
  auto range = flags.equal_range("merchant-public-key");
  for (auto it = range.first; it != range.second; ++it) {
    std::string mchid;
    std::string path = it->second;
    // "MCHID=FILE" binds a key to one merchant; a path never starts with digits and '='.
    if (size_t eq = path.find('='); eq != std::string::npos && eq > 0 &&
                                    std::all_of(path.begin(), path.begin() + eq,
                                                [](char c) { return absl::ascii_isdigit(c); })) {
      mchid = path.substr(0, eq);
      path = path.substr(eq + 1);
    }
    absl::StatusOr<std::string> pem = ReadFile(path);
    if (!pem.ok()) return pem.status();
    absl::StatusOr<wx::RsaKey> key = wx::RsaKey::PublicFromPem(*pem);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--merchant-public-key ", path, ": ", key.status().message()));
    }
    merchant_keys.insert_or_assign(mchid, *key);
  }
  if (merchant_keys.empty() && context.verify_requests) {
    return absl::InvalidArgumentError(
        "--merchant-public-key is required (or --no-verify-requests for manual poking)");
  }
  std::optional<wx::RsaKey> platform_key;
  std::string serial;
  if (auto it = flags.find("platform-private-key"); it != flags.end()) {
    absl::StatusOr<std::string> pem = ReadFile(it->second);
    if (!pem.ok()) return pem.status();
    absl::StatusOr<wx::RsaKey> key = wx::RsaKey::PrivateFromPem(*pem);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--platform-private-key ", it->second, ": ", key.status().message()));
    }
    platform_key = *key;
  } else {
    return absl::InvalidArgumentError("--platform-private-key is required");
  }
  if (auto it = flags.find("platform-serial"); it != flags.end()) serial = it->second;
  if (serial.empty()) return absl::InvalidArgumentError("--platform-serial is required");
  return std::unique_ptr<SandboxModule>(
      new WechatModule(context, std::move(merchant_keys), std::move(platform_key), serial));
}

}  // namespace orderquery::sandbox
