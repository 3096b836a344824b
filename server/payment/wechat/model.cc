#include "server/payment/wechat/model.h"

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace orderquery::payment::wechat {
namespace {

using nlohmann::json;

// Query replies are a few kilobytes; a megabyte is already absurd.
constexpr size_t kMaxBody = 1 << 20;

enum class Need { kRequired, kOptional };

// Reads typed fields of one JSON object. The first problem is kept in *error (with the field's
// path) and later reads return defaults, so a decoder reads straight through and checks once.
class Reader {
 public:
  Reader(const json* object, std::string path, absl::Status* error)
      : object_(object), path_(std::move(path)), error_(error) {}

  std::string Str(const char* name, Need need) {
    const json* v = Find(name, need);
    if (v == nullptr) return std::string();
    if (!v->is_string()) return Fail(name, absl::StrCat("must be a string, got ", v->type_name()));
    return v->get<std::string>();
  }

  // Integers only (money in fen, durations in seconds), and never negative.
  std::optional<int64_t> Int(const char* name, Need need) {
    const json* v = Find(name, need);
    if (v == nullptr) return std::nullopt;
    if (v->is_number_float()) {
      Fail(name, "must be an integer, got a number with a fraction or exponent");
      return std::nullopt;
    }
    if (v->is_number_unsigned()) {
      const uint64_t u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        Fail(name, "is out of range");
        return std::nullopt;
      }
      return static_cast<int64_t>(u);
    }
    if (v->is_number_integer()) {
      Fail(name, "must not be negative");
      return std::nullopt;
    }
    Fail(name, absl::StrCat("must be an integer, got ", v->type_name()));
    return std::nullopt;
  }

  // An RFC 3339 time, kept as sent (with its offset); *at gets the instant.
  std::string Time(const char* name, Need need, std::optional<absl::Time>* at = nullptr) {
    std::string s = Str(name, need);
    if (s.empty()) return s;
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, s, &t, &err)) {
      return Fail(name, "is not an RFC 3339 time");
    }
    if (at != nullptr) *at = t;
    return s;
  }

  // nullptr when absent (or after an error).
  const json* Obj(const char* name, Need need) {
    const json* v = Find(name, need);
    if (v == nullptr) return nullptr;
    if (!v->is_object()) {
      Fail(name, absl::StrCat("must be an object, got ", v->type_name()));
      return nullptr;
    }
    return v;
  }

  const json* Arr(const char* name, Need need) {
    const json* v = Find(name, need);
    if (v == nullptr) return nullptr;
    if (!v->is_array()) {
      Fail(name, absl::StrCat("must be an array, got ", v->type_name()));
      return nullptr;
    }
    return v;
  }

  std::string Path(const char* name) const {
    return path_.empty() ? std::string(name) : absl::StrCat(path_, ".", name);
  }

 private:
  const json* Find(const char* name, Need need) {
    if (!error_->ok() || object_ == nullptr) return nullptr;
    auto it = object_->find(name);
    if (it == object_->end() || it->is_null()) {
      if (need == Need::kRequired) Fail(name, "is missing");
      return nullptr;
    }
    return &*it;
  }

  std::string Fail(const char* name, absl::string_view what) {
    if (error_->ok()) {
      *error_ = absl::InvalidArgumentError(absl::StrCat("field ", Path(name), " ", what));
    }
    return std::string();
  }

  const json* object_;
  std::string path_;
  absl::Status* error_;
};

absl::StatusOr<json> ParseObject(absl::string_view body) {
  if (body.empty()) return absl::InvalidArgumentError("body is empty");
  if (body.size() > kMaxBody) {
    return absl::InvalidArgumentError(absl::StrCat("body is ", body.size(), " bytes"));
  }
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("body is not JSON (or is truncated)");
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("body is a JSON ", j.type_name(), ", not an object"));
  }
  return j;
}

// Seed 002's trade_state; anything else (a state WeChat adds later) is kUnspecified.
domain::VehicleTradeState VehicleTradeStateOf(absl::string_view name) {
  using domain::VehicleTradeState;
  for (VehicleTradeState s : {VehicleTradeState::kSuccess, VehicleTradeState::kAccepted,
                              VehicleTradeState::kPayFail, VehicleTradeState::kRefund}) {
    if (domain::VehicleTradeStateName(s) == name) return s;
  }
  return VehicleTradeState::kUnspecified;
}

// Seed 002's parking_info.plate_color (exact, upper case); anything else is kUnspecified.
domain::PlateColor PlateColorOf(absl::string_view name) {
  using domain::PlateColor;
  static constexpr std::pair<absl::string_view, PlateColor> kColors[] = {
      {"BLUE", PlateColor::kBlue},     {"GREEN", PlateColor::kGreen},
      {"YELLOW", PlateColor::kYellow}, {"BLACK", PlateColor::kBlack},
      {"WHITE", PlateColor::kWhite},   {"LIMEGREEN", PlateColor::kLimeGreen},
  };
  for (const auto& [text, color] : kColors) {
    if (text == name) return color;
  }
  return PlateColor::kUnspecified;
}

}  // namespace

TradeState ParseTradeState(absl::string_view name) {
  static constexpr std::pair<absl::string_view, TradeState> kStates[] = {
      {"SUCCESS", TradeState::kSuccess},   {"REFUND", TradeState::kRefund},
      {"NOTPAY", TradeState::kNotPay},     {"CLOSED", TradeState::kClosed},
      {"REVOKED", TradeState::kRevoked},   {"USERPAYING", TradeState::kUserPaying},
      {"PAYERROR", TradeState::kPayError},
  };
  for (const auto& [text, state] : kStates) {
    if (text == name) return state;
  }
  return TradeState::kUnknown;
}

absl::string_view TradeStateName(TradeState state) {
  switch (state) {
    case TradeState::kSuccess:
      return "SUCCESS";
    case TradeState::kRefund:
      return "REFUND";
    case TradeState::kNotPay:
      return "NOTPAY";
    case TradeState::kClosed:
      return "CLOSED";
    case TradeState::kRevoked:
      return "REVOKED";
    case TradeState::kUserPaying:
      return "USERPAYING";
    case TradeState::kPayError:
      return "PAYERROR";
    case TradeState::kUnknown:
      break;
  }
  return "UNKNOWN";
}

absl::StatusOr<Transaction> DecodeTransaction(absl::string_view body, ApiMode mode) {
  absl::StatusOr<json> parsed = ParseObject(body);
  if (!parsed.ok()) return parsed.status();
  absl::Status error;
  Reader r(&*parsed, "", &error);

  Transaction t;
  t.mode = mode;
  if (mode == ApiMode::kDirect) {
    t.appid = r.Str("appid", Need::kRequired);
    t.mchid = r.Str("mchid", Need::kRequired);
  } else {
    t.sp_appid = r.Str("sp_appid", Need::kRequired);
    t.sp_mchid = r.Str("sp_mchid", Need::kRequired);
    t.sub_appid = r.Str("sub_appid", Need::kOptional);
    t.sub_mchid = r.Str("sub_mchid", Need::kRequired);
  }
  t.out_trade_no = r.Str("out_trade_no", Need::kRequired);
  t.transaction_id = r.Str("transaction_id", Need::kOptional);
  t.trade_state_name = r.Str("trade_state", Need::kRequired);
  t.trade_state = ParseTradeState(t.trade_state_name);
  t.trade_state_desc = r.Str("trade_state_desc", Need::kOptional);
  t.trade_type = r.Str("trade_type", Need::kOptional);
  t.bank_type = r.Str("bank_type", Need::kOptional);
  t.attach = r.Str("attach", Need::kOptional);
  t.success_time = r.Time("success_time", Need::kOptional, &t.success_at);

  if (const json* payer = r.Obj("payer", Need::kOptional)) {
    Reader p(payer, "payer", &error);
    t.payer_openid = p.Str(mode == ApiMode::kDirect ? "openid" : "sp_openid", Need::kOptional);
    t.payer_sub_openid = p.Str("sub_openid", Need::kOptional);
  }

  // A paid (or refunded) order is what crediting acts on: its money and WeChat's order number
  // must be there; for other states WeChat may leave them out.
  const bool paid = t.trade_state == TradeState::kSuccess || t.trade_state == TradeState::kRefund;
  if (paid && error.ok() && t.transaction_id.empty()) {
    error = absl::InvalidArgumentError(
        absl::StrCat("field transaction_id is missing for trade_state ", t.trade_state_name));
  }
  if (const json* amount = r.Obj("amount", paid ? Need::kRequired : Need::kOptional)) {
    Reader a(amount, "amount", &error);
    TransactionAmount m;
    m.total = a.Int("total", Need::kRequired).value_or(0);
    m.payer_total = a.Int("payer_total", Need::kOptional);
    m.currency = a.Str("currency", Need::kOptional);
    m.payer_currency = a.Str("payer_currency", Need::kOptional);
    t.amount = std::move(m);
  }
  if (!error.ok()) return error;
  return t;
}

absl::StatusOr<domain::VehicleTransaction> DecodeVehicleTransaction(absl::string_view body) {
  absl::StatusOr<json> parsed = ParseObject(body);
  if (!parsed.ok()) return parsed.status();
  absl::Status error;
  Reader r(&*parsed, "", &error);

  domain::VehicleTransaction out;
  out.appid = r.Str("appid", Need::kRequired);
  out.sub_appid = r.Str("sub_appid", Need::kOptional);
  out.sp_mchid = r.Str("sp_mchid", Need::kRequired);
  out.sub_mchid = r.Str("sub_mchid", Need::kRequired);
  out.description = r.Str("description", Need::kOptional);
  out.create_time = r.Time("create_time", Need::kOptional);
  out.out_trade_no = r.Str("out_trade_no", Need::kRequired);
  out.transaction_id = r.Str("transaction_id", Need::kOptional);
  // A state WeChat adds later stays kUnspecified rather than failing the whole reply.
  out.trade_state = VehicleTradeStateOf(r.Str("trade_state", Need::kRequired));
  out.trade_state_description = r.Str("trade_state_description", Need::kOptional);
  out.success_time = r.Time("success_time", Need::kOptional);
  out.bank_type = r.Str("bank_type", Need::kOptional);
  out.user_repaid = r.Str("user_repaid", Need::kOptional);
  out.attach = r.Str("attach", Need::kOptional);
  out.trade_scene = r.Str("trade_scene", Need::kOptional);

  if (const json* info = r.Obj("parking_info", Need::kOptional)) {
    Reader p(info, "parking_info", &error);
    domain::ParkingInfo& pi = out.parking_info.emplace();
    pi.parking_id = p.Str("parking_id", Need::kOptional);
    pi.plate_number = p.Str("plate_number", Need::kOptional);
    pi.plate_color = PlateColorOf(p.Str("plate_color", Need::kOptional));
    pi.start_time = p.Time("start_time", Need::kOptional);
    pi.end_time = p.Time("end_time", Need::kOptional);
    pi.parking_name = p.Str("parking_name", Need::kOptional);
    pi.charging_duration_seconds = p.Int("charging_duration", Need::kOptional).value_or(0);
    pi.device_id = p.Str("device_id", Need::kOptional);
  }

  if (const json* payer = r.Obj("payer", Need::kOptional)) {
    Reader p(payer, "payer", &error);
    domain::VehiclePayer& who = out.payer.emplace();
    who.openid = p.Str("openid", Need::kOptional);
    who.sub_openid = p.Str("sub_openid", Need::kOptional);
  }

  if (const json* amount = r.Obj("amount", Need::kRequired)) {
    Reader a(amount, "amount", &error);
    domain::VehicleAmount& m = out.amount.emplace();
    m.total_fen = a.Int("total", Need::kRequired).value_or(0);
    m.currency = a.Str("currency", Need::kOptional);
    m.payer_total_fen = a.Int("payer_total", Need::kOptional).value_or(0);
    m.discount_total_fen = a.Int("discount_total", Need::kOptional).value_or(0);
  }

  if (const json* promotions = r.Arr("promotion_detail", Need::kOptional)) {
    for (size_t i = 0; i < promotions->size() && error.ok(); ++i) {
      const json& item = (*promotions)[i];
      const std::string path = absl::StrCat("promotion_detail[", i, "]");
      if (!item.is_object()) {
        error = absl::InvalidArgumentError(
            absl::StrCat("field ", path, " must be an object, got ", item.type_name()));
        break;
      }
      Reader p(&item, path, &error);
      domain::VehiclePromotion& d = out.promotion_detail.emplace_back();
      d.coupon_id = p.Str("coupon_id", Need::kOptional);
      d.name = p.Str("name", Need::kOptional);
      d.scope = p.Str("scope", Need::kOptional);
      d.type = p.Str("type", Need::kOptional);
      d.stock_id = p.Str("stock_id", Need::kOptional);
      d.amount_fen = p.Int("amount", Need::kRequired).value_or(0);
      d.wechatpay_contribute_fen = p.Int("wechatpay_contribute", Need::kOptional).value_or(0);
      d.merchant_contribute_fen = p.Int("merchant_contribute", Need::kOptional).value_or(0);
      d.other_contribute_fen = p.Int("other_contribute", Need::kOptional).value_or(0);
      d.currency = p.Str("currency", Need::kOptional);
    }
  }
  if (!error.ok()) return error;
  return out;
}

}  // namespace orderquery::payment::wechat
