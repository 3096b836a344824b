#include "tests/fakes/sandbox/wechat_module.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
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
#include "tests/fakes/sandbox/order_book.h"
#include "tests/fakes/sandbox/wechat_certificates.h"
#include "tests/fakes/sandbox/wechat_notify.h"
#include "tests/fakes/seed_examples.h"
#include "tests/fakes/wechat_signing.h"

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

constexpr char kDefaultMchid[] = "1230000109";
constexpr char kDefaultSubMchid[] = "1900000109";
constexpr char kDefaultAppid[] = "wxd678efh567hg6787";
constexpr char kDefaultOpenid[] = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

// How this module's orders, stats and control routes are spelled (see order_book.h).
const OrderFormat& Format() {
  static const OrderFormat format = {
      /*prefix=*/"",
      /*noun=*/"",
      /*id_key=*/"out_trade_no",
      /*stats_id_key=*/"out_trade_no",
      /*stats_merchant_key=*/"mchid",
      /*state_key=*/"trade_state",
      /*state_name=*/"STATE",
      /*integer_states=*/false,
      /*integer_hint=*/" (fen)",
      /*name_listed_orders=*/true,
      /*count_codes=*/false,
      /*fault_types=*/
      {"http_429",
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
       "amount_mismatch"},
      /*event_counters=*/
      {"close_requests", "closes", "notifications_sent", "notifications_acked"}};
  return format;
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

struct OrderSpec {
  std::string out_trade_no;
  Kind kind = Kind::kDirect;
  std::optional<std::string> mchid, sub_mchid, appid, sub_appid, openid, sub_openid, transaction_id,
      success_time, trade_state_desc, currency, bank_type, attach, trade_type;
  std::optional<int64_t> amount, payer_total;
  std::string trade_state;
  // Automatic notifications when the order enters SUCCESS.
  std::optional<std::string> notify_url;
  int64_t notify_retry_ms = 500;
  int64_t notify_max_attempts = 5;
  Script script;
  json reply_patch;
  json source;

  std::string Id() const { return out_trade_no; }
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

absl::StatusOr<OrderSpec> ParseOrder(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("an order is a JSON object");
  static const std::set<std::string> kKeys = {"out_trade_no",
                                              "kind",
                                              "mchid",
                                              "sp_mchid",
                                              "sub_mchid",
                                              "appid",
                                              "sp_appid",
                                              "sub_appid",
                                              "openid",
                                              "sub_openid",
                                              "amount",
                                              "payer_total",
                                              "currency",
                                              "trade_state",
                                              "trade_state_desc",
                                              "transaction_id",
                                              "success_time",
                                              "bank_type",
                                              "attach",
                                              "trade_type",
                                              "transitions",
                                              "latency_ms",
                                              "faults",
                                              "reply_patch",
                                              "notify_url",
                                              "notify_retry_ms",
                                              "notify_max_attempts"};
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
  if (!(st = ReadInt(j, "amount", &o.amount, Format().integer_hint)).ok()) return st;
  if (!(st = ReadInt(j, "payer_total", &o.payer_total, Format().integer_hint)).ok()) return st;
  s.reset();
  if (!(st = ReadStr(j, "trade_state", &s)).ok()) return st;
  o.trade_state = s.value_or("SUCCESS");
  if (!KnownState(o.kind, o.trade_state)) {
    // Allowed on purpose (tests of "unknown state" answers), but worth a line in the log.
    std::fprintf(stderr, "sandbox: order %s has trade_state %s, unknown for kind %s\n",
                 o.out_trade_no.c_str(), o.trade_state.c_str(), KindName(o.kind));
  }
  if (!(st = ReadStr(j, "notify_url", &o.notify_url)).ok()) return st;
  if (o.notify_url.has_value() && !absl::StartsWith(*o.notify_url, "http://") &&
      !absl::StartsWith(*o.notify_url, "https://")) {
    return absl::InvalidArgumentError("'notify_url' must start with http:// or https://");
  }
  std::optional<int64_t> n;
  if (!(st = ReadInt(j, "notify_retry_ms", &n)).ok()) return st;
  o.notify_retry_ms = n.value_or(500);
  n.reset();
  if (!(st = ReadInt(j, "notify_max_attempts", &n)).ok()) return st;
  o.notify_max_attempts = n.value_or(5);
  if (o.notify_retry_ms < 0 || o.notify_max_attempts < 1) {
    return absl::InvalidArgumentError(
        "'notify_retry_ms' must be >= 0 and 'notify_max_attempts' >= 1");
  }
  if (!(st = ParseScript(j, Format(), &o.script)).ok()) return st;
  if (auto it = j.find("reply_patch"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return absl::InvalidArgumentError("'reply_patch' must be an object");
    o.reply_patch = *it;
  }
  return o;
}

struct OrderState {
  explicit OrderState(OrderSpec s) : spec(std::move(s)), state(spec.trade_state) {}

  OrderSpec spec;
  std::string state;
  size_t next_transition = 0;
  absl::Time state_since;
  int64_t answered_in_state = 0;
  std::string entered_success_at;  // when a transition (not the spec) made it SUCCESS

  void Enter(const json& to, absl::Time at) {
    state = to.get<std::string>();
    if (state == "SUCCESS") entered_success_at = Rfc3339Beijing(at);
  }
  json StateJson() const { return state; }
};

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
      r = json::parse(fakes::kSeed002VehicleReply);
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

// A notification id like WeChat's (EV-…), fresh for every event.
std::string NewNotificationId() { return absl::StrCat("EV-", wx::RandomNonce(24)); }

class WechatModule final : public OrderBookModule<OrderState> {
 public:
  WechatModule(const SandboxContext& ctx, std::map<std::string, wx::RsaKey> merchant_keys,
               wx::RsaKey platform_key, std::string platform_serial, std::string apiv3_key,
               std::unique_ptr<PlatformCertificates> certificates)
      : OrderBookModule(
            Format(), {{"out_trade_no", "20150806125346"}, {"kind", "vehicle"}},
            {ParseOrder, BuildReply, ControlError, [this](const OrderState& o) { Entered(o); },
             [](const OrderState& o) { return o.spec.notify_url.has_value(); }},
            ctx.seed != 0 ? ctx.seed : std::random_device{}()),
        ctx_(ctx),
        merchant_keys_(std::move(merchant_keys)),
        platform_key_(platform_key),
        platform_serial_(platform_serial),
        certificates_(std::move(certificates)),
        sender_(std::move(platform_key), std::move(platform_serial), std::move(apiv3_key)),
        queue_(&sender_,
               [this](const std::string& no, const Delivery& d) { CountDelivery(no, d); }),
        // Timed transitions of orders with a notify_url happen without a query.
        ticker_(absl::Milliseconds(20), [this] { book_.AdvanceWatched(); }) {}

  std::string name() const override { return "wechat"; }

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
    server.Post(R"(/v3/pay/transactions/out-trade-no/([^/]+)/close)",
                [this](const httplib::Request& req, httplib::Response& res) {
                  Close(Kind::kDirect, req, res);
                });
    server.Post(R"(/v3/pay/partner/transactions/out-trade-no/([^/]+)/close)",
                [this](const httplib::Request& req, httplib::Response& res) {
                  Close(Kind::kPartner, req, res);
                });
    server.Post("/__sandbox/notify", [this](const httplib::Request& req, httplib::Response& res) {
      NotifyControl(req, res);
    });
    server.Get("/v3/certificates", [this](const httplib::Request& req, httplib::Response& res) {
      Certificates(req, res);
    });
    server.Get("/__sandbox/certificates", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(certificates_->State().dump(), "application/json");
    });
    server.Post("/__sandbox/certificates",
                [this](const httplib::Request& req, httplib::Response& res) {
                  const json body = json::parse(req.body, nullptr, false);
                  if (absl::Status s = certificates_->Update(body); !s.ok()) {
                    return ReplyError(res, 400, "PARAM_ERROR", std::string(s.message()));
                  }
                  res.set_content(certificates_->State().dump(), "application/json");
                });
    book_.RegisterControlRoutes(server);
  }

 private:
  // An error reply: HTTP status, then WeChat's code and message.
  using Error = std::pair<int, std::pair<std::string, std::string>>;

  static void ControlError(httplib::Response& res, int status, const std::string& message) {
    ReplyError(res, status, status == 404 ? "NOT_FOUND" : "PARAM_ERROR", message);
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

  // GET /v3/certificates: the listed platform certificates, encrypted with the APIv3 key, the
  // reply signed by the list signer (sign_list_with).
  void Certificates(const httplib::Request& req, httplib::Response& res) {
    Traffic::Scope scope = ctx_.traffic->Track(req);
    if (ctx_.verify_requests) {
      std::string signer;
      if (absl::Status auth = VerifyAuthorization(req, &signer); !auth.ok()) {
        return SendError(res, 401, "SIGN_ERROR", std::string(auth.message()), false);
      }
    }
    absl::StatusOr<std::string> body = certificates_->ListBody();
    if (!body.ok()) {
      return SendError(res, 500, "SYSTEM_ERROR", std::string(body.status().message()), false);
    }
    const PlatformCertificates::Signer signer = certificates_->ListSigner();
    SignWith(signer.key, signer.serial, *body, res);
    res.status = 200;
    res.set_content(*body, "application/json");
  }

  void SignWith(const wx::RsaKey& key, const std::string& serial, const std::string& body,
                httplib::Response& res) {
    res.set_header("Request-ID", wx::RandomNonce(32));
    absl::StatusOr<payment::http::Headers> headers = wx::SignedResponseHeaders(
        key, serial, absl::ToUnixSeconds(absl::Now()), wx::RandomNonce(32), body);
    if (!headers.ok()) {
      std::fprintf(stderr, "sandbox: signing failed: %s\n", headers.status().ToString().c_str());
      return;
    }
    for (const auto& [name, value] : *headers) res.set_header(name, value);
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
    book_.CountRequest(no);
    std::string signer;
    if (ctx_.verify_requests) {
      absl::Status auth = VerifyAuthorization(req, &signer);
      if (!auth.ok()) {
        book_.CountSignError(no);
        book_.CountReply(no, 401);
        return SendError(res, 401, "SIGN_ERROR", std::string(auth.message()), false);
      }
    }
    const std::string merchant = MerchantOf(kind, req, signer);
    if (std::string missing = MissingParam(kind, req); !missing.empty()) {
      book_.CountReply(no, 400);
      return SendError(res, 400, "PARAM_ERROR", absl::StrCat("参数错误: 缺少 ", missing), false);
    }
    if (!ValidOutTradeNo(no)) {
      book_.CountReply(no, 400);
      return SendError(res, 400, "PARAM_ERROR", "参数错误,请检查out_trade_no", false);
    }

    bool unknown = false;
    std::optional<Error> refused;
    std::optional<OrderBook<OrderState>::Ticket> ticket =
        book_.Admit(no, merchant, [&](const OrderState* order) {
          unknown = order == nullptr;
          refused = unknown ? NotFound(kind) : OwnershipError(kind, *order, req);
          return !refused.has_value();
        });
    if (!ticket) {
      if (unknown) {
        book_.CountUnknownOrder(no, refused->first);
      } else {
        book_.CountReply(no, refused->first);
      }
      return SendError(res, refused->first, refused->second.first, refused->second.second, false);
    }

    const FaultSpec* fault = ticket->fault_or_null();
    if (!SleepLatency(ctx_, ticket->latency_ms)) {
      return SendError(res, 503, "SYSTEM_ERROR", "sandbox shutting down", true);
    }
    if (fault != nullptr) {
      if (std::optional<Error> e = ErrorFault(kind, *fault)) {
        book_.CountReply(no, e->first, "", fault);
        return SendError(res, e->first, e->second.first, e->second.second, fault->unsigned_reply);
      }
    }
    if (!SleepForTimeoutFault(ctx_, fault)) {
      return SendError(res, 503, "SYSTEM_ERROR", "sandbox shutting down", true);
    }

    json reply;
    if (!book_.Answer(no, [&reply](const OrderState& o) { reply = BuildReply(o); })) {
      // Replaced or reset while we slept.
      book_.CountReply(no, 404, "", fault);
      return SendError(res, 404, "ORDER_NOT_EXIST", "订单不存在", false);
    }
    const bool html = fault != nullptr && fault->type == "non_json_body" && fault->status > 0;
    book_.CountReply(no, html ? fault->status : 200, "", fault);
    SendReply(kind, reply, fault, res);
  }

  // POST …/out-trade-no/{no}/close: direct {"mchid"}, partner {"sp_mchid","sub_mchid"}. Checked
  // like a query (signature, parameters, order number, the order and its owner, then latency and
  // faults); a paid order (SUCCESS, REFUND) is refused with ORDERPAID, any other becomes CLOSED
  // for good (204, signed, no body).
  void Close(Kind kind, const httplib::Request& req, httplib::Response& res) {
    Traffic::Scope scope = ctx_.traffic->Track(req);
    const std::string no = req.matches[1];
    book_.CountRequest(no);
    book_.CountEvent(no, "close_requests");
    std::string signer;
    if (ctx_.verify_requests) {
      absl::Status auth = VerifyAuthorization(req, &signer);
      if (!auth.ok()) {
        book_.CountSignError(no);
        book_.CountReply(no, 401);
        return SendError(res, 401, "SIGN_ERROR", std::string(auth.message()), false);
      }
    }
    const json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) {
      book_.CountReply(no, 400);
      return SendError(res, 400, "PARAM_ERROR", "参数错误: 请求体不是JSON对象", false);
    }
    const std::vector<const char*> needed = kind == Kind::kDirect
                                                ? std::vector<const char*>{"mchid"}
                                                : std::vector<const char*>{"sp_mchid", "sub_mchid"};
    std::map<std::string, std::string> ids;
    for (const char* key : needed) {
      auto it = body.find(key);
      if (it == body.end() || !it->is_string() || it->get<std::string>().empty()) {
        book_.CountReply(no, 400);
        return SendError(res, 400, "PARAM_ERROR", absl::StrCat("参数错误: 缺少 ", key), false);
      }
      ids[key] = it->get<std::string>();
    }
    if (!ValidOutTradeNo(no)) {
      book_.CountReply(no, 400);
      return SendError(res, 400, "PARAM_ERROR", "参数错误,请检查out_trade_no", false);
    }
    const std::string merchant =
        !signer.empty() ? signer : ids[kind == Kind::kDirect ? "mchid" : "sp_mchid"];

    bool unknown = false;
    std::optional<OrderBook<OrderState>::Ticket> ticket =
        book_.Admit(no, merchant, [&](const OrderState* order) {
          unknown = order == nullptr;
          if (unknown) return false;
          const OrderSpec& s = order->spec;
          if (s.kind != kind) return false;
          if (kind == Kind::kDirect) return ids["mchid"] == s.Mchid();
          return ids["sp_mchid"] == s.Mchid() && ids["sub_mchid"] == s.SubMchid();
        });
    if (!ticket) {
      if (unknown) {
        book_.CountUnknownOrder(no, 404);
      } else {
        book_.CountReply(no, 404);
      }
      return SendError(res, 404, "ORDER_NOT_EXIST", "订单不存在", false);
    }

    const FaultSpec* fault = ticket->fault_or_null();
    if (!SleepLatency(ctx_, ticket->latency_ms)) {
      return SendError(res, 503, "SYSTEM_ERROR", "sandbox shutting down", true);
    }
    if (fault != nullptr) {
      if (std::optional<Error> e = ErrorFault(kind, *fault)) {
        book_.CountReply(no, e->first, "", fault);
        return SendError(res, e->first, e->second.first, e->second.second, fault->unsigned_reply);
      }
    }
    if (!SleepForTimeoutFault(ctx_, fault)) {
      return SendError(res, 503, "SYSTEM_ERROR", "sandbox shutting down", true);
    }

    bool paid = false;
    const bool found = book_.Change(no, [&paid](const OrderState& o) -> std::optional<json> {
      paid = IsPaid(o.state);
      if (paid) return std::nullopt;
      return json("CLOSED");
    });
    if (!found) {
      // Replaced or reset while we slept.
      book_.CountReply(no, 404, "", fault);
      return SendError(res, 404, "ORDER_NOT_EXIST", "订单不存在", false);
    }
    if (paid) {
      book_.CountReply(no, 400, "", fault);
      return SendError(res, 400, "ORDERPAID", "订单已支付", false);
    }
    book_.CountEvent(no, "closes");
    book_.CountReply(no, 204, "", fault);
    // WeChat signs its 204 too (over an empty body); signature faults bend it as for queries.
    if (!(fault != nullptr && fault->unsigned_reply)) Sign("", fault, res);
    res.status = 204;
  }

  // Under the book's lock: an order with a notify_url that just became SUCCESS is announced.
  void Entered(const OrderState& o) {
    if (o.state != "SUCCESS" || !o.spec.notify_url.has_value()) return;
    if (!sender_.has_apiv3_key()) {
      std::fprintf(stderr, "sandbox: order %s has a notify_url but there is no --apiv3-key\n",
                   o.spec.out_trade_no.c_str());
      return;
    }
    NotificationContent content;
    content.id = NewNotificationId();
    content.transaction = BuildReply(o);
    queue_.Enqueue(o.spec.out_trade_no, *o.spec.notify_url, std::move(content),
                   absl::Milliseconds(o.spec.notify_retry_ms), o.spec.notify_max_attempts);
  }

  void CountDelivery(const std::string& no, const Delivery& d) {
    book_.CountEvent(no, "notifications_sent");
    if (d.acked()) book_.CountEvent(no, "notifications_acked");
  }

  // POST /__sandbox/notify (README): sends notifications of an order now and reports what the
  // receiver answered to each.
  void NotifyControl(const httplib::Request& req, httplib::Response& res) {
    static const std::set<std::string> kKeys = {
        "out_trade_no", "url",        "variant",           "copies",
        "id",           "event_type", "transaction_patch", "concurrent"};
    const json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) return ControlError(res, 400, "body is not a JSON object");
    for (const auto& item : body.items()) {
      if (kKeys.count(item.key()) == 0) {
        return ControlError(res, 400, absl::StrCat("unknown key '", item.key(), "'"));
      }
    }
    auto str = [&body](const char* key, std::string fallback) -> std::optional<std::string> {
      auto it = body.find(key);
      if (it == body.end() || it->is_null()) return fallback;
      if (!it->is_string()) return std::nullopt;
      return it->get<std::string>();
    };
    const std::optional<std::string> no = str("out_trade_no", "");
    const std::optional<std::string> url = str("url", "");
    const std::optional<std::string> variant_name = str("variant", "valid");
    const std::optional<std::string> id = str("id", "");
    const std::optional<std::string> event_type = str("event_type", "TRANSACTION.SUCCESS");
    if (!no || !url || !variant_name || !id || !event_type) {
      return ControlError(res, 400, "out_trade_no, url, variant, id and event_type are strings");
    }
    if (no->empty()) return ControlError(res, 400, "out_trade_no is required");
    if (!absl::StartsWith(*url, "http://") && !absl::StartsWith(*url, "https://")) {
      return ControlError(res, 400, "url must start with http:// or https://");
    }
    absl::StatusOr<NotifyVariant> variant = ParseNotifyVariant(*variant_name);
    if (!variant.ok()) return ControlError(res, 400, std::string(variant.status().message()));
    std::optional<int64_t> copies;
    if (absl::Status st = ReadInt(body, "copies", &copies); !st.ok()) {
      return ControlError(res, 400, std::string(st.message()));
    }
    if (copies.value_or(1) < 1 || copies.value_or(1) > 100) {
      return ControlError(res, 400, "copies is 1 to 100");
    }
    bool concurrent = false;
    if (auto it = body.find("concurrent"); it != body.end() && !it->is_null()) {
      if (!it->is_boolean()) return ControlError(res, 400, "concurrent is a boolean");
      concurrent = it->get<bool>();
    }
    json patch;
    if (auto it = body.find("transaction_patch"); it != body.end() && !it->is_null()) {
      if (!it->is_object()) return ControlError(res, 400, "transaction_patch is an object");
      patch = *it;
    }
    if (!sender_.has_apiv3_key()) {
      return ControlError(res, 400, "the sandbox was started without --apiv3-key");
    }
    std::optional<json> transaction =
        book_.Peek(*no, [](const OrderState& o) { return BuildReply(o); });
    if (!transaction.has_value()) return ControlError(res, 404, "no such order");
    if (patch.is_object()) transaction->merge_patch(patch);

    NotificationContent content;
    content.id = id->empty() ? NewNotificationId() : *id;
    content.event_type = *event_type;
    content.transaction = *std::move(transaction);
    std::vector<Delivery> deliveries(static_cast<size_t>(copies.value_or(1)));
    if (concurrent) {
      // All copies wait at one gate so they reach the receiver together.
      std::mutex gate_mu;
      std::condition_variable gate_cv;
      bool open = false;
      std::vector<std::thread> threads;
      for (Delivery& d : deliveries) {
        threads.emplace_back([&, out = &d] {
          {
            std::unique_lock<std::mutex> lock(gate_mu);
            gate_cv.wait(lock, [&open] { return open; });
          }
          *out = sender_.Send(*url, content, *variant);
        });
      }
      {
        std::lock_guard<std::mutex> lock(gate_mu);
        open = true;
      }
      gate_cv.notify_all();
      for (std::thread& t : threads) t.join();
    } else {
      for (Delivery& d : deliveries) d = sender_.Send(*url, content, *variant);
    }
    json answer = {{"id", content.id}, {"deliveries", json::array()}};
    for (const Delivery& d : deliveries) {
      CountDelivery(*no, d);
      answer["deliveries"].push_back(d.ToJson());
    }
    ReplyJson(res, 200, answer);
  }

  static Error NotFound(Kind kind) {
    return kind == Kind::kVehicle ? Error{404, {"NOT_FOUND", "订单不存在"}}
                                  : Error{404, {"ORDER_NOT_EXIST", "订单不存在"}};
  }

  // WeChat's answers when the order exists but not for the asking merchant or endpoint.
  static std::optional<Error> OwnershipError(Kind kind, const OrderState& o,
                                             const httplib::Request& req) {
    using E = Error;
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

  static std::optional<Error> ErrorFault(Kind kind, const FaultSpec& f) {
    using E = Error;
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
    if (t == "not_found") return NotFound(kind);
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
    // The reply signer may be rotated (POST /__sandbox/certificates "sign_with").
    const PlatformCertificates::Signer signer = certificates_->ReplySigner();
    std::string serial = signer.serial;
    if (type == "unknown_serial") {
      serial =
          fault->value.empty() ? "PUB_KEY_ID_0000000000000000000000000000000000" : fault->value;
    }
    const std::string nonce = wx::RandomNonce(32);
    // A wrong signature is a real signature of other bytes: only checking catches it.
    const std::string signed_body = type == "wrong_signature" ? body + " " : body;
    absl::StatusOr<payment::http::Headers> headers =
        wx::SignedResponseHeaders(signer.key, serial, ts, nonce, signed_body);
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
      body = kBadGatewayPage;
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
  const std::unique_ptr<PlatformCertificates> certificates_;
  // Destroyed in reverse: the ticker and the queue stop before the sender goes.
  const NotificationSender sender_;
  NotificationQueue queue_;
  Ticker ticker_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SandboxModule>> MakeWechatModule(
    const SandboxContext& context, const std::multimap<std::string, std::string>& flags) {
  std::map<std::string, wx::RsaKey> merchant_keys;
  // "MCHID=FILE" binds a key to one merchant; a path never starts with digits and '='.
  for (const auto& [mchid, path] : PerMerchantFlag(flags, "merchant-public-key")) {
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
  std::string apiv3_key;
  if (auto it = flags.find("apiv3-key"); it != flags.end()) apiv3_key = it->second;
  if (!apiv3_key.empty() && apiv3_key.size() != 32) {
    return absl::InvalidArgumentError("--apiv3-key must be 32 bytes");
  }
  auto certificates = std::make_unique<PlatformCertificates>(*platform_key, serial, apiv3_key);
  for (auto [it, end] = flags.equal_range("platform-cert"); it != end; ++it) {
    const std::string& value = it->second;
    const size_t comma = value.find(',');
    const std::string cert_path = value.substr(0, comma);
    wx::RsaKey key = *platform_key;
    if (comma != std::string::npos) {
      absl::StatusOr<std::string> key_pem = ReadFile(value.substr(comma + 1));
      if (!key_pem.ok()) return key_pem.status();
      absl::StatusOr<wx::RsaKey> k = wx::RsaKey::PrivateFromPem(*key_pem);
      if (!k.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--platform-cert ", value, ": ", k.status().message()));
      }
      key = *k;
    }
    absl::StatusOr<std::string> pem = ReadFile(cert_path);
    if (!pem.ok()) return pem.status();
    if (absl::Status s = certificates->Add(*pem, key); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--platform-cert ", value, ": ", s.message()));
    }
  }
  return std::unique_ptr<SandboxModule>(
      new WechatModule(context, std::move(merchant_keys), *platform_key, serial,
                       std::move(apiv3_key), std::move(certificates)));
}

}  // namespace orderquery::sandbox
