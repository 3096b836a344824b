#include "tests/fakes/sandbox/merchant_module.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "server/payment/merchant/decoder.h"
#include "server/payment/merchant/errors.h"
#include "server/payment/merchant/signer.h"
#include "tests/fakes/sandbox/faults.h"

namespace orderquery::sandbox {
namespace {

namespace mc = ::orderquery::payment::merchant;
using nlohmann::json;

// Seed 001's example `data`, with the comma after goodsDesc that the document lost.
constexpr char kSeedTradeOrder[] = R"json({
"tradeOrderId": "E01201908230414433510006",
"tradeType": 1,
"mchId": 20000000,
"appId": "",
"clientIp": "0:0:0:0:0:0:0:1",
"device": "",
"goodsId": "",
"subject": "被扫支付",
"body": "被扫支付",
"orderAmount": 1,
"discountAmount": 0,
"amount": 1,
"mchIncome": 1,
"userId": "134713461986047502",
"channelUserId": null,
"status": 1,
"payOrderId": "P01201908230414452700006",
"productId": "8020",
"productType": null,
"goodsDesc": [
{"cellPrice":12000,"currentPrice":10400,"discountAmount":400,"goodsId":100093,"goodsName":"奥尔良鸡腿堡","goodsNum":1,"goodsProps":""},
{"currentPrice":10000,"goodsId":-1,"goodsName":"茉莉花茶","goodsNum":1}
],
"couponId": null,
"storeNo": null,
"storeName": null,
"operatorId": "null",
"operatorName": "123",
"memberId": null,
"memberTel": null,
"givePoints": null,
"refundTotalAmount": 0,
"tradeSuccTime": "2019-08-23T11:12:21.000+0000",
"createTime": "2019-08-23T16:14:42.000+0000",
"updateTime": "2019-08-23T19:13:22.000+0000"
})json";

constexpr char kDefaultMchId[] = "20000000";
// The platform accepts requests stamped within this much of its clock.
constexpr absl::Duration kReqTimeWindow = absl::Seconds(300);

const std::set<std::string>& FaultTypes() {
  static const std::set<std::string> types = {
      "http_429",      "http_500",           "http_error",     "not_found",   "sign_error",
      "param_error",   "system_error",       "error_reply",    "timeout",     "invalid_json",
      "non_json_body", "non_integer_amount", "unknown_status", "wrong_mch_id"};
  return types;
}

const std::set<std::string>& DataKeys() {
  static const std::set<std::string> keys = {
      "tradeOrderId",  "tradeType",     "TradeType",      "depositMode", "mchId",
      "appId",         "clientIp",      "device",         "goodsId",     "subject",
      "body",          "orderAmount",   "discountAmount", "amount",      "mchIncome",
      "userId",        "channelUserId", "status",         "payOrderId",  "productId",
      "productType",   "couponId",      "storeNo",        "storeName",   "operatorId",
      "operatorName",  "memberId",      "memberTel",      "givePoints",  "refundTotalAmount",
      "tradeSuccTime", "goodsDesc",     "createTime",     "updateTime"};
  return keys;
}

const std::set<std::string>& ControlKeys() {
  static const std::set<std::string> keys = {"transitions", "variant",    "raw_data",
                                             "raw_body",    "latency_ms", "faults"};
  return keys;
}

struct Transition {
  int to = 0;
  int64_t after_queries = -1;
  int64_t after_ms = -1;
};

struct TradeSpec {
  std::string id;
  std::string mch_id;
  domain::TradeOrderRecord record;  // as given; status and times move in TradeState
  mc::EncodeOptions variant;
  std::optional<json> raw_data;
  std::optional<std::string> raw_body;
  std::vector<Transition> transitions;
  int64_t latency_ms = 0;
  std::vector<FaultSpec> faults;
  json source;
};

absl::Status ReadInt(const json& j, const char* key, std::optional<int64_t>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat("'", key, "' must be an integer"));
  }
  *out = it->get<int64_t>();
  return absl::OkStatus();
}

absl::StatusOr<TradeSpec> ParseTradeOrder(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("a trade order is a JSON object");
  json data = {{"mchId", kDefaultMchId}, {"status", 1},   {"tradeType", 1},
               {"orderAmount", 100},     {"amount", 100}, {"mchIncome", 100}};
  TradeSpec o;
  o.source = j;
  for (const auto& item : j.items()) {
    if (DataKeys().count(item.key()) > 0) {
      data[item.key()] = item.value();
    } else if (ControlKeys().count(item.key()) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("unknown trade order key '", item.key(), "'"));
    }
  }
  // A given TradeType replaces the default tradeType instead of contradicting it.
  if (j.contains("TradeType") && !j.contains("tradeType")) data.erase("tradeType");
  // The adapter's own decoder checks the scenario, so an order it could not read fails here.
  absl::StatusOr<domain::TradeOrderRecord> record = mc::DecodeTradeOrderData(data.dump());
  if (!record.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("trade order ", data.value("tradeOrderId", json("?")).dump(), ": ",
                     absl::StripPrefix(record.status().message(), mc::kUnreadablePrefix)));
  }
  o.record = *std::move(record);
  o.id = o.record.trade_order_id;
  o.mch_id = o.record.mch_id;

  if (auto it = j.find("variant"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return absl::InvalidArgumentError("'variant' must be an object");
    for (const auto& v : it->items()) {
      if (!v.value().is_boolean()) {
        return absl::InvalidArgumentError(absl::StrCat("variant '", v.key(), "' must be a bool"));
      }
      const bool on = v.value().get<bool>();
      if (v.key() == "numbers_as_strings") {
        o.variant.numbers_as_strings = on;
      } else if (v.key() == "capitalized_trade_type") {
        o.variant.capitalized_trade_type = on;
      } else if (v.key() == "goods_desc_as_string") {
        o.variant.goods_desc_as_string = on;
      } else if (v.key() == "rfc3339_times") {
        o.variant.rfc3339_times = on;
      } else {
        return absl::InvalidArgumentError(absl::StrCat("unknown variant '", v.key(), "'"));
      }
    }
  }
  if (auto it = j.find("raw_data"); it != j.end()) o.raw_data = *it;
  if (auto it = j.find("raw_body"); it != j.end()) {
    if (!it->is_string()) return absl::InvalidArgumentError("'raw_body' must be a string");
    o.raw_body = it->get<std::string>();
  }
  std::optional<int64_t> latency;
  if (absl::Status s = ReadInt(j, "latency_ms", &latency); !s.ok()) return s;
  o.latency_ms = latency.value_or(0);
  if (auto it = j.find("transitions"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return absl::InvalidArgumentError("'transitions' must be an array");
    for (const json& t : *it) {
      if (!t.is_object() || !t.contains("to") || !t["to"].is_number_integer()) {
        return absl::InvalidArgumentError(
            "a trade transition is {\"to\": STATUS, \"after_queries\": N and/or \"after_ms\": T}");
      }
      Transition tr;
      tr.to = t["to"].get<int>();
      std::optional<int64_t> q, ms;
      if (absl::Status s = ReadInt(t, "after_queries", &q); !s.ok()) return s;
      if (absl::Status s = ReadInt(t, "after_ms", &ms); !s.ok()) return s;
      if (!q && !ms) {
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
  return o;
}

struct TradeState {
  TradeSpec spec;
  domain::TradeOrderRecord record;  // what a query serves now
  size_t next_transition = 0;
  absl::Time state_since;
  int64_t answered_in_state = 0;

  void Enter(int to, absl::Time now) {
    record.status = to;
    state_since = now;
    answered_in_state = 0;
    // The platform stamps its own changes; a scenario's explicit success time stays.
    record.update_time = now;
    if (to == 2 && !spec.record.trade_succ_time) record.trade_succ_time = now;
  }

  void AdvanceByTime(absl::Time now) {
    while (next_transition < spec.transitions.size()) {
      const Transition& t = spec.transitions[next_transition];
      if (t.after_ms < 0 || now - state_since < absl::Milliseconds(t.after_ms)) return;
      ++next_transition;
      // The next status starts when this one was due, so chained timed transitions keep time.
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

TradeState NewState(TradeSpec spec, absl::Time now) {
  TradeState o;
  o.spec = std::move(spec);
  o.record = o.spec.record;
  o.state_since = now;
  o.AdvanceByQueries(now);  // a transition after 0 queries applies at once
  return o;
}

// Deletes the comma after the goodsDesc value: the very mistake of the seed's example.
std::string DropCommaAfterGoodsDesc(std::string body) {
  size_t pos = body.find("\"goodsDesc\":");
  if (pos == std::string::npos) return body.substr(0, body.size() / 2);
  pos += 12;
  int depth = 0;
  bool in_string = false;
  for (; pos < body.size(); ++pos) {
    const char c = body[pos];
    if (in_string) {
      if (c == '\\') {
        ++pos;
      } else if (c == '"') {
        in_string = false;
        if (depth == 0) break;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (--depth == 0) break;
    } else if (depth == 0 && (c == ',' || c == '}')) {
      --pos;  // a bare literal (null, number) just ended
      break;
    }
  }
  if (pos + 1 < body.size() && body[pos + 1] == ',') body.erase(pos + 1, 1);
  return body;
}

// `value` as JSON when it parses, else as a string ("1.5" -> 1.5, "abc" -> "abc").
json ValueOf(const std::string& value, const json& fallback) {
  if (value.empty()) return fallback;
  json parsed = json::parse(value, nullptr, false);
  return parsed.is_discarded() ? json(value) : parsed;
}

struct Counters {
  uint64_t requests = 0;
  uint64_t verified = 0;
  uint64_t answered = 0;
  uint64_t sign_errors = 0;
  int64_t inflight = 0;
  int64_t max_inflight = 0;
  std::map<std::string, uint64_t> statuses;
  std::map<std::string, uint64_t> codes;
  std::map<std::string, uint64_t> faults;

  json ToJson() const {
    return {{"requests", requests},       {"verified", verified}, {"answered", answered},
            {"sign_errors", sign_errors}, {"inflight", inflight}, {"max_inflight", max_inflight},
            {"statuses", statuses},       {"codes", codes},       {"faults", faults}};
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
  ~Defer() { f_(); }

 private:
  std::function<void()> f_;
};

// What one reply is: HTTP status, body, and the envelope code for the counters.
struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::string code;  // envelope code as text; "" when the body has none
};

Reply Envelope(int http_status, int64_t code, const std::string& msg) {
  return Reply{http_status, mc::EncodeErrorReply(code, msg), "application/json",
               absl::StrCat(code)};
}

class MerchantModule final : public SandboxModule {
 public:
  MerchantModule(const SandboxContext& ctx, std::map<std::string, std::string> keys)
      : ctx_(ctx),
        keys_(std::move(keys)),
        rng_(ctx.seed != 0 ? ctx.seed + 1 : std::random_device{}()) {}

  std::string name() const override { return "merchant"; }

  absl::Status LoadScenario(const json& scenario) override {
    std::vector<TradeSpec> specs;
    std::vector<Template> templates;
    int64_t latency = 0;
    std::vector<FaultSpec> faults;
    bool builtin = true;
    if (auto it = scenario.find("builtin_trade_orders"); it != scenario.end()) {
      if (!it->is_boolean()) {
        return absl::InvalidArgumentError("'builtin_trade_orders' must be a boolean");
      }
      builtin = it->get<bool>();
    }
    if (builtin) {
      absl::StatusOr<TradeSpec> seed = ParseTradeOrder(json::parse(kSeedTradeOrder));
      if (!seed.ok()) return seed.status();
      specs.push_back(*std::move(seed));
    }
    if (auto it = scenario.find("trade_orders"); it != scenario.end()) {
      absl::StatusOr<std::vector<TradeSpec>> parsed = ParseOrders(*it);
      if (!parsed.ok()) return parsed.status();
      for (auto& o : *parsed) specs.push_back(std::move(o));
    }
    if (auto it = scenario.find("trade_templates"); it != scenario.end()) {
      if (!it->is_array()) return absl::InvalidArgumentError("'trade_templates' must be an array");
      for (const json& t : *it) {
        if (!t.is_object() || !t.contains("prefix") || !t["prefix"].is_string() ||
            !t.contains("order") || !t["order"].is_object()) {
          return absl::InvalidArgumentError(
              "a trade template is {\"prefix\": \"...\", \"order\": {...without tradeOrderId}}");
        }
        json probe = t["order"];
        probe["tradeOrderId"] = "TEMPLATE_PROBE";
        if (absl::StatusOr<TradeSpec> ok = ParseTradeOrder(probe); !ok.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "trade template ", t["prefix"].get<std::string>(), ": ", ok.status().message()));
        }
        templates.push_back(Template{t["prefix"].get<std::string>(), t["order"]});
      }
    }
    if (auto it = scenario.find("trade_defaults"); it != scenario.end()) {
      if (absl::Status s = ParseDefaults(*it, &latency, &faults); !s.ok()) return s;
    }
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = absl::Now();
    for (auto& spec : specs) {
      std::string id = spec.id;
      orders_.insert_or_assign(id, NewState(std::move(spec), now));
    }
    templates_ = std::move(templates);
    default_latency_ms_ = latency;
    default_faults_ = std::move(faults);
    return absl::OkStatus();
  }

  void RegisterRoutes(httplib::Server& server) override {
    server.Get("/api/trade_order/get",
               [this](const httplib::Request& req, httplib::Response& res) { Query(req, res); });
    server.Post(
        "/__sandbox/trade_orders",
        [this](const httplib::Request& req, httplib::Response& res) { UpsertOrders(req, res); });
    server.Get(R"(/__sandbox/trade_orders/([^/]+))",
               [this](const httplib::Request& req, httplib::Response& res) {
                 GetOrder(req.matches[1], res);
               });
    server.Post(
        "/__sandbox/trade_defaults",
        [this](const httplib::Request& req, httplib::Response& res) { SetDefaults(req, res); });
  }

  void Reset(bool keep_orders) override {
    std::lock_guard<std::mutex> lock(mu_);
    // In-flight requests still decrement their counters, so keep the inflight numbers.
    for (auto it = counters_.begin(); it != counters_.end();) {
      if (it->second.inflight == 0) {
        it = counters_.erase(it);
      } else {
        Counters fresh;
        fresh.inflight = fresh.max_inflight = it->second.inflight;
        it->second = fresh;
        ++it;
      }
    }
    for (auto& [mch, m] : merchants_) m = MerchantCounters{0, m.inflight, m.inflight};
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
    for (const auto& [id, c] : counters_) orders[id] = OrderStatsLocked(id);
    json merchants = json::object();
    for (const auto& [mch, m] : merchants_) {
      merchants[mch] = {
          {"requests", m.requests}, {"inflight", m.inflight}, {"max_inflight", m.max_inflight}};
    }
    return {{"orders", orders},
            {"merchants", merchants},
            {"sign_errors", sign_errors_},
            {"unknown_order_requests", unknown_order_requests_},
            {"orders_defined", orders_.size()}};
  }

  std::optional<json> StatsFor(const httplib::Params& params) const override {
    if (auto it = params.find("trade_order_id"); it != params.end()) {
      std::lock_guard<std::mutex> lock(mu_);
      return OrderStatsLocked(it->second);
    }
    if (auto it = params.find("trade_mch_id"); it != params.end()) {
      std::lock_guard<std::mutex> lock(mu_);
      auto m = merchants_.find(it->second);
      const MerchantCounters c = m == merchants_.end() ? MerchantCounters{} : m->second;
      return json{{"trade_mch_id", it->second},
                  {"requests", c.requests},
                  {"inflight", c.inflight},
                  {"max_inflight", c.max_inflight}};
    }
    return std::nullopt;
  }

 private:
  struct Plan {
    int64_t latency_ms = 0;
    std::optional<FaultSpec> fault;
  };

  static absl::StatusOr<std::vector<TradeSpec>> ParseOrders(const json& j) {
    std::vector<TradeSpec> out;
    const json* list = &j;
    if (j.is_object() && j.contains("trade_orders")) list = &j["trade_orders"];
    if (list->is_object()) {
      absl::StatusOr<TradeSpec> o = ParseTradeOrder(*list);
      if (!o.ok()) return o.status();
      out.push_back(*std::move(o));
      return out;
    }
    if (!list->is_array()) return absl::InvalidArgumentError("trade_orders: an object or an array");
    for (const json& item : *list) {
      absl::StatusOr<TradeSpec> o = ParseTradeOrder(item);
      if (!o.ok()) return o.status();
      out.push_back(*std::move(o));
    }
    return out;
  }

  static absl::Status ParseDefaults(const json& j, int64_t* latency,
                                    std::vector<FaultSpec>* faults) {
    if (!j.is_object()) return absl::InvalidArgumentError("'trade_defaults' must be an object");
    for (const auto& item : j.items()) {
      if (item.key() != "latency_ms" && item.key() != "faults") {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown trade_defaults key '", item.key(), "'"));
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

  json OrderStatsLocked(const std::string& id) const {
    auto c = counters_.find(id);
    json j = c == counters_.end() ? Counters().ToJson() : c->second.ToJson();
    j["trade_order_id"] = id;
    auto o = orders_.find(id);
    j["known"] = o != orders_.end();
    j["status"] = o != orders_.end() ? json(o->second.record.status) : json();
    return j;
  }

  void UpsertOrders(const httplib::Request& req, httplib::Response& res) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded())
      return ReplyJson(res, 400, {{"code", 11}, {"msg", "body is not JSON"}});
    absl::StatusOr<std::vector<TradeSpec>> specs = ParseOrders(body);
    if (!specs.ok()) {
      return ReplyJson(res, 400, {{"code", 11}, {"msg", std::string(specs.status().message())}});
    }
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = absl::Now();
    json ids = json::array();
    for (auto& spec : *specs) {
      ids.push_back(spec.id);
      std::string id = spec.id;
      orders_.insert_or_assign(id, NewState(std::move(spec), now));
    }
    ReplyJson(res, 200, {{"upserted", ids}});
  }

  void GetOrder(const std::string& id, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = orders_.find(id);
    if (it == orders_.end()) return ReplyJson(res, 404, {{"code", 9999}, {"msg", "订单不存在"}});
    TradeState& o = it->second;
    o.AdvanceByTime(absl::Now());
    const Reply now = BuildReply(o, nullptr);
    json reply = json::parse(now.body, nullptr, false);
    ReplyJson(res, 200,
              {{"order", o.spec.source},
               {"status", o.record.status},
               {"answered_in_state", o.answered_in_state},
               {"next_transition", o.next_transition},
               {"reply", reply.is_discarded() ? json(now.body) : reply}});
  }

  void SetDefaults(const httplib::Request& req, httplib::Response& res) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded())
      return ReplyJson(res, 400, {{"code", 11}, {"msg", "body is not JSON"}});
    int64_t latency = 0;
    std::vector<FaultSpec> faults;
    if (absl::Status s = ParseDefaults(body, &latency, &faults); !s.ok()) {
      return ReplyJson(res, 400, {{"code", 11}, {"msg", std::string(s.message())}});
    }
    std::lock_guard<std::mutex> lock(mu_);
    default_latency_ms_ = latency;
    default_faults_ = std::move(faults);
    ReplyJson(res, 200, body);
  }

  // The platform's checks of a request, in its order; nullopt when it passes.
  std::optional<Reply> CheckRequest(const mc::Params& params) const {
    auto get = [&params](const char* name) {
      auto it = params.find(name);
      return it == params.end() ? std::string() : it->second;
    };
    const std::string mch = get(mc::kMchIdParam);
    if (mch.empty()) return Envelope(200, 11, "参数有误[mchId]");
    auto key = keys_.find(mch);
    if (key == keys_.end()) key = keys_.find("");
    if (key == keys_.end()) return Envelope(200, 9999, "商户不存在");
    const std::string type_name = get(mc::kSignTypeParam);
    absl::StatusOr<mc::SignType> type = mc::ParseSignType(type_name.empty() ? "MD5" : type_name);
    if (!type.ok()) return Envelope(200, 11, "参数有误[signType]");
    if (!mc::Verify(params, key->second, *type).ok()) return Envelope(200, 9999, "验签失败");
    if (absl::Status s = mc::CheckReqTime(params, absl::Now(), kReqTimeWindow); !s.ok()) {
      return Envelope(200, 11, absl::StrCat("参数有误[", s.message(), "]"));
    }
    return std::nullopt;
  }

  static std::optional<Reply> ErrorFault(const FaultSpec& f) {
    const std::string& t = f.type;
    if (t == "http_429") return Envelope(429, 9999, "请求过于频繁");
    if (t == "http_500") return Envelope(500, 10, "系统异常");
    if (t == "not_found") return Envelope(200, 9999, "订单不存在");
    if (t == "sign_error") return Envelope(200, 9999, "验签失败");
    if (t == "param_error") return Envelope(200, 11, "参数有误");
    if (t == "system_error") return Envelope(200, 10, "系统异常");
    int64_t code = 0;
    const bool has_code = !f.code.empty() && absl::SimpleAtoi(f.code, &code);
    if (t == "http_error") {
      return Envelope(f.status > 0 ? f.status : 500, has_code ? code : 10,
                      f.message.empty() ? "injected error" : f.message);
    }
    if (t == "error_reply") {
      return Envelope(200, has_code ? code : 9999,
                      f.message.empty() ? "injected error" : f.message);
    }
    return std::nullopt;
  }

  // The 200 reply for the order's current state, bent by a data fault.
  static Reply BuildReply(const TradeState& o, const FaultSpec* fault) {
    if (o.spec.raw_body) return Reply{200, *o.spec.raw_body, "application/json", ""};
    json data = o.spec.raw_data ? *o.spec.raw_data
                                : json::parse(mc::EncodeTradeOrderData(o.record, o.spec.variant));
    const std::string type = fault != nullptr ? fault->type : "";
    if (data.is_object()) {
      if (type == "non_integer_amount") data["amount"] = ValueOf(fault->value, json("1.5"));
      if (type == "unknown_status") data["status"] = ValueOf(fault->value, json(3));
      if (type == "wrong_mch_id") data["mchId"] = ValueOf(fault->value, json("19999999"));
    }
    json reply = {{"code", 0}, {"msg", "success"}, {"data", data}};
    Reply r{200, reply.dump(-1, ' ', false, json::error_handler_t::replace), "application/json",
            "0"};
    if (type == "invalid_json") {
      r.body = fault->cut_at >= 0 ? r.body.substr(0, std::min<size_t>(fault->cut_at, r.body.size()))
                                  : DropCommaAfterGoodsDesc(r.body);
      r.code.clear();
    } else if (type == "non_json_body") {
      r.body =
          "<html><head><title>502 Bad Gateway</title></head><body>"
          "<center><h1>502 Bad Gateway</h1></center></body></html>";
      r.content_type = "text/html";
      r.code.clear();
      if (fault->status > 0) r.status = fault->status;
    }
    return r;
  }

  void Send(httplib::Response& res, const std::string& id, const Reply& r, const FaultSpec* fault) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      Counters& c = counters_[id];
      ++c.statuses[std::to_string(r.status)];
      if (!r.code.empty()) ++c.codes[r.code];
      if (fault != nullptr) ++c.faults[fault->type];
    }
    res.status = r.status;
    res.set_content(r.body, r.content_type);
  }

  TradeState* FindOrCreateLocked(const std::string& id) {
    auto it = orders_.find(id);
    if (it != orders_.end()) return &it->second;
    for (const Template& t : templates_) {
      if (!absl::StartsWith(id, t.prefix)) continue;
      json j = t.order;
      j["tradeOrderId"] = id;
      absl::StatusOr<TradeSpec> spec = ParseTradeOrder(j);
      if (!spec.ok()) return nullptr;  // validated at load; only an odd id gets here
      return &orders_.insert_or_assign(id, NewState(*std::move(spec), absl::Now())).first->second;
    }
    return nullptr;
  }

  void Query(const httplib::Request& req, httplib::Response& res) {
    Traffic::Scope scope = ctx_.traffic->Track(req);
    mc::Params params;
    bool repeated = false;
    for (const auto& [name, value] : req.params) {
      repeated = repeated || !params.emplace(name, value).second;
    }
    const std::string id = params.count("tradeOrderId") ? params["tradeOrderId"] : "";
    const std::string mch = params.count("mchId") ? params["mchId"] : "";
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_[id].requests;
    }
    if (repeated) return Send(res, id, Envelope(200, 11, "参数有误[重复参数]"), nullptr);
    if (ctx_.verify_requests) {
      if (std::optional<Reply> refused = CheckRequest(params)) {
        if (refused->body.find("验签失败") != std::string::npos) {
          std::lock_guard<std::mutex> lock(mu_);
          ++sign_errors_;
          ++counters_[id].sign_errors;
        }
        return Send(res, id, *refused, nullptr);
      }
    }
    if (id.empty()) return Send(res, id, Envelope(200, 11, "参数有误[tradeOrderId]"), nullptr);

    Plan plan;
    {
      std::lock_guard<std::mutex> lock(mu_);
      TradeState* order = FindOrCreateLocked(id);
      // Orders belong to a merchant: another mchId's order looks exactly like a missing one.
      if (order == nullptr || (!mch.empty() && order->spec.mch_id != mch)) {
        ++unknown_order_requests_;
        Counters& c = counters_[id];
        ++c.statuses["200"];
        ++c.codes["9999"];
        return ReplyRaw(res, Envelope(200, 9999, "订单不存在"));
      }
      Counters& c = counters_[id];
      const uint64_t n = ++c.verified;
      auto roll = [this] { return std::uniform_real_distribution<double>(0, 100)(rng_); };
      const FaultSpec* f = PickFault(order->spec.faults, n, roll);
      if (f == nullptr) f = PickFault(default_faults_, n, roll);
      if (f != nullptr) plan.fault = *f;
      plan.latency_ms = order->spec.latency_ms + default_latency_ms_;
      c.max_inflight = std::max(c.max_inflight, ++c.inflight);
      MerchantCounters& m = merchants_[mch];
      ++m.requests;
      m.max_inflight = std::max(m.max_inflight, ++m.inflight);
    }
    Defer leave([this, id, mch] {
      std::lock_guard<std::mutex> lock(mu_);
      counters_[id].inflight--;
      merchants_[mch].inflight--;
    });

    if (plan.latency_ms > 0 && !ctx_.sleeper->SleepFor(absl::Milliseconds(plan.latency_ms))) {
      return ReplyRaw(res, Envelope(503, 10, "sandbox shutting down"));
    }
    const FaultSpec* fault = plan.fault ? &*plan.fault : nullptr;
    if (fault != nullptr) {
      if (std::optional<Reply> e = ErrorFault(*fault)) return Send(res, id, *e, fault);
      if (fault->type == "timeout") {
        const absl::Duration sleep =
            fault->sleep_ms >= 0 ? absl::Milliseconds(fault->sleep_ms) : ctx_.default_timeout_sleep;
        if (!ctx_.sleeper->SleepFor(sleep)) {
          return ReplyRaw(res, Envelope(503, 10, "sandbox shutting down"));
        }
      }
    }

    Reply reply;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = orders_.find(id);
      if (it == orders_.end()) {  // replaced or reset while we slept
        reply = Envelope(200, 9999, "订单不存在");
      } else {
        TradeState& o = it->second;
        const absl::Time now = absl::Now();
        o.AdvanceByTime(now);
        reply = BuildReply(o, fault);
        ++o.answered_in_state;
        o.AdvanceByQueries(now);
        ++counters_[id].answered;
      }
    }
    Send(res, id, reply, fault);
  }

  static void ReplyRaw(httplib::Response& res, const Reply& r) {
    res.status = r.status;
    res.set_content(r.body, r.content_type);
  }

  const SandboxContext ctx_;
  const std::map<std::string, std::string> keys_;  // mchId -> key; "" = any merchant

  mutable std::mutex mu_;
  std::map<std::string, TradeState> orders_;
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

absl::StatusOr<std::unique_ptr<SandboxModule>> MakeMerchantModule(
    const SandboxContext& context, const std::multimap<std::string, std::string>& flags) {
  std::map<std::string, std::string> keys;
  auto range = flags.equal_range("trade-merchant-key");
  for (auto it = range.first; it != range.second; ++it) {
    std::string mch;
    std::string key = it->second;
    // "MCHID=KEY" binds a key to one merchant; mchIds are digits.
    if (size_t eq = key.find('=');
        eq != std::string::npos && eq > 0 && std::all_of(key.begin(), key.begin() + eq, [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        })) {
      mch = key.substr(0, eq);
      key = key.substr(eq + 1);
    }
    if (key.empty()) {
      return absl::InvalidArgumentError("--trade-merchant-key needs a non-empty key");
    }
    keys[mch] = key;
  }
  if (keys.empty()) keys[""] = kDefaultTradeKey;
  return std::unique_ptr<SandboxModule>(new MerchantModule(context, std::move(keys)));
}

}  // namespace orderquery::sandbox
