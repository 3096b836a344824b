#include "tests/fakes/sandbox/merchant_module.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "server/payment/tradeapi/decoder.h"
#include "server/payment/tradeapi/errors.h"
#include "server/payment/tradeapi/signer.h"
#include "tests/fakes/sandbox/faults.h"
#include "tests/fakes/sandbox/order_book.h"
#include "tests/fakes/seed_examples.h"
#include "tests/fakes/tradeapi_encoder.h"

namespace orderquery::sandbox {
namespace {

namespace mc = ::orderquery::payment::tradeapi;
using nlohmann::json;

constexpr char kDefaultMchId[] = "20000000";
// The platform accepts requests stamped within this much of its clock.
constexpr absl::Duration kReqTimeWindow = absl::Seconds(300);

// How this module's orders, stats and control routes are spelled (see order_book.h).
const OrderFormat& Format() {
  static const OrderFormat format = {
      /*prefix=*/"trade_",
      /*noun=*/"trade ",
      /*id_key=*/"tradeOrderId",
      /*stats_id_key=*/"trade_order_id",
      /*stats_merchant_key=*/"trade_mch_id",
      /*state_key=*/"status",
      /*state_name=*/"STATUS",
      /*integer_states=*/true,
      /*integer_hint=*/"",
      /*name_listed_orders=*/false,
      /*count_codes=*/true,
      /*fault_types=*/
      {"http_429", "http_500", "http_error", "not_found", "sign_error", "param_error",
       "system_error", "error_reply", "timeout", "invalid_json", "non_json_body",
       "non_integer_amount", "unknown_status", "wrong_mch_id"}};
  return format;
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

struct TradeSpec {
  std::string mch_id;
  domain::TradeOrderRecord record;  // as given; status and times move in TradeState
  mc::EncodeOptions variant;
  std::optional<json> raw_data;
  std::optional<std::string> raw_body;
  Script script;
  json source;

  std::string Id() const { return record.trade_order_id; }
};

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
  if (absl::Status s = ParseScript(j, Format(), &o.script); !s.ok()) return s;
  return o;
}

struct TradeState {
  explicit TradeState(TradeSpec s) : spec(std::move(s)), record(spec.record) {}

  TradeSpec spec;
  domain::TradeOrderRecord record;  // what a query serves now
  size_t next_transition = 0;
  absl::Time state_since;
  int64_t answered_in_state = 0;

  void Enter(const json& to, absl::Time at) {
    record.status = to.get<int>();
    // The platform stamps its own changes; a scenario's explicit success time stays.
    record.update_time = at;
    if (record.status == 2 && !spec.record.trade_succ_time) record.trade_succ_time = at;
  }
  json StateJson() const { return record.status; }
};

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

class MerchantModule final : public OrderBookModule<TradeState> {
 public:
  MerchantModule(const SandboxContext& ctx, std::map<std::string, std::string> keys)
      : OrderBookModule(Format(), json::parse(fakes::kSeed001ExampleReply)["data"],
                        {ParseTradeOrder, Describe, ControlError},
                        ctx.seed != 0 ? ctx.seed + 1 : std::random_device{}()),
        ctx_(ctx),
        keys_(std::move(keys)) {}

  std::string name() const override { return "merchant"; }

  void RegisterRoutes(httplib::Server& server) override {
    server.Get("/api/trade_order/get",
               [this](const httplib::Request& req, httplib::Response& res) { Query(req, res); });
    book_.RegisterControlRoutes(server);
  }

 private:
  static void ControlError(httplib::Response& res, int status, const std::string& message) {
    ReplyJson(res, status,
              {{"code", status == 404 ? 9999 : 11},
               {"msg", status == 404 ? std::string("订单不存在") : message}});
  }

  // The "reply" of GET /__sandbox/trade_orders/{id}: the body as JSON, or as text if it is not.
  static json Describe(const TradeState& o) {
    const Reply now = BuildReply(o, nullptr);
    json reply = json::parse(now.body, nullptr, false);
    return reply.is_discarded() ? json(now.body) : reply;
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
      r.body = kBadGatewayPage;
      r.content_type = "text/html";
      r.code.clear();
      if (fault->status > 0) r.status = fault->status;
    }
    return r;
  }

  void Send(httplib::Response& res, const std::string& id, const Reply& r, const FaultSpec* fault) {
    book_.CountReply(id, r.status, r.code, fault);
    res.status = r.status;
    res.set_content(r.body, r.content_type);
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
    book_.CountRequest(id);
    if (repeated) return Send(res, id, Envelope(200, 11, "参数有误[重复参数]"), nullptr);
    if (ctx_.verify_requests) {
      if (std::optional<Reply> refused = CheckRequest(params)) {
        if (refused->body.find("验签失败") != std::string::npos) book_.CountSignError(id);
        return Send(res, id, *refused, nullptr);
      }
    }
    if (id.empty()) return Send(res, id, Envelope(200, 11, "参数有误[tradeOrderId]"), nullptr);

    // Orders belong to a merchant: another mchId's order looks exactly like a missing one.
    std::optional<OrderBook<TradeState>::Ticket> ticket =
        book_.Admit(id, mch, [&mch](const TradeState* order) {
          return order != nullptr && (mch.empty() || order->spec.mch_id == mch);
        });
    if (!ticket) {
      book_.CountUnknownOrder(id, 200, "9999");
      return ReplyRaw(res, Envelope(200, 9999, "订单不存在"));
    }

    const FaultSpec* fault = ticket->fault_or_null();
    if (!SleepLatency(ctx_, ticket->latency_ms)) {
      return ReplyRaw(res, Envelope(503, 10, "sandbox shutting down"));
    }
    if (fault != nullptr) {
      if (std::optional<Reply> e = ErrorFault(*fault)) return Send(res, id, *e, fault);
    }
    if (!SleepForTimeoutFault(ctx_, fault)) {
      return ReplyRaw(res, Envelope(503, 10, "sandbox shutting down"));
    }

    Reply reply = Envelope(200, 9999, "订单不存在");  // unless it went away while we slept
    book_.Answer(id, [&reply, fault](const TradeState& o) { reply = BuildReply(o, fault); });
    Send(res, id, reply, fault);
  }

  static void ReplyRaw(httplib::Response& res, const Reply& r) {
    res.status = r.status;
    res.set_content(r.body, r.content_type);
  }

  const SandboxContext ctx_;
  const std::map<std::string, std::string> keys_;  // mchId -> key; "" = any merchant
};

}  // namespace

absl::StatusOr<std::unique_ptr<SandboxModule>> MakeMerchantModule(
    const SandboxContext& context, const std::multimap<std::string, std::string>& flags) {
  std::map<std::string, std::string> keys;
  // "MCHID=KEY" binds a key to one merchant; mchIds are digits.
  for (const auto& [mch, key] : PerMerchantFlag(flags, "trade-merchant-key")) {
    if (key.empty()) {
      return absl::InvalidArgumentError("--trade-merchant-key needs a non-empty key");
    }
    keys[mch] = key;
  }
  if (keys.empty()) keys[""] = kDefaultTradeKey;
  return std::unique_ptr<SandboxModule>(new MerchantModule(context, std::move(keys)));
}

}  // namespace orderquery::sandbox
