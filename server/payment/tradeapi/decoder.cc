#include "server/payment/tradeapi/decoder.h"

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/payment/tradeapi/errors.h"

namespace orderquery::payment::tradeapi {
namespace {

using Json = nlohmann::json;

// A trade order is a few KiB; anything far larger is not a reply we want to hold in memory.
constexpr size_t kMaxReplyBytes = 4 * 1024 * 1024;

// Serialises without throwing: a record built by hand (the sandbox's scenarios) may hold bytes
// that are not UTF-8, and those must not abort a reply.
std::string Dump(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }

// For error messages: a value as JSON, bounded.
std::string Shown(const Json& v) { return CleanText(Dump(v), 64); }

// Parses JSON text; the parser's own words (line, column, what was expected) on failure.
absl::StatusOr<Json> ParseJson(absl::string_view text, absl::string_view what) {
  if (text.size() > kMaxReplyBytes) {
    return UnreadableReply(
        absl::StrCat(what, " is ", text.size(), " bytes, more than ", kMaxReplyBytes));
  }
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 24, column 1: …": keep the part
    // after the library's tag.
    absl::string_view message = e.what();
    if (size_t pos = message.find("] "); pos != absl::string_view::npos) {
      message.remove_prefix(pos + 2);
    }
    return UnreadableReply(absl::StrCat(what, " is not JSON: ", CleanText(message)));
  }
}

// The value of `name`, or nullptr when absent or null.
const Json* Find(const Json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// A string field: strings as they are, integers in decimal, absent/null as "".
absl::Status ReadString(const Json& object, const char* name, absl::string_view path,
                        std::string* out) {
  out->clear();
  const Json* v = Find(object, name);
  if (v == nullptr) return absl::OkStatus();
  if (v->is_string()) {
    *out = v->get<std::string>();
  } else if (v->is_number_unsigned()) {
    *out = absl::StrCat(v->get<uint64_t>());
  } else if (v->is_number_integer()) {
    *out = absl::StrCat(v->get<int64_t>());
  } else {
    return UnreadableReply(absl::StrCat(path, " must be a string, got ", Shown(*v)));
  }
  return absl::OkStatus();
}

// Strictly "-?[0-9]+" within int64.
bool ParseDecimal(absl::string_view s, int64_t* out) {
  absl::string_view digits = s;
  if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
  if (digits.empty() || digits.find_first_not_of("0123456789") != absl::string_view::npos) {
    return false;
  }
  return absl::SimpleAtoi(s, out);
}

enum class Kind { kInteger, kMoney };

// An integer field: a JSON integer or a string of one; nullopt when absent, null, "" or "null".
absl::StatusOr<std::optional<int64_t>> ReadInteger(const Json& object, const char* name,
                                                   absl::string_view path, Kind kind) {
  const Json* v = Find(object, name);
  if (v == nullptr) return std::optional<int64_t>();
  const absl::string_view expected =
      kind == Kind::kMoney ? "an integer number of fen" : "an integer";
  auto wrong = [&] {
    return UnreadableReply(absl::StrCat(path, " must be ", expected, ", got ", Shown(*v)));
  };
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return wrong();
    return std::optional<int64_t>(static_cast<int64_t>(u));
  }
  if (v->is_number_integer()) return std::optional<int64_t>(v->get<int64_t>());
  if (v->is_string()) {
    const std::string& s = v->get_ref<const std::string&>();
    if (s.empty() || s == "null") return std::optional<int64_t>();
    int64_t parsed = 0;
    if (!ParseDecimal(s, &parsed)) return wrong();
    return std::optional<int64_t>(parsed);
  }
  return wrong();
}

absl::Status ReadInt64(const Json& object, const char* name, absl::string_view path, Kind kind,
                       int64_t* out) {
  auto v = ReadInteger(object, name, path, kind);
  if (!v.ok()) return v.status();
  *out = v->value_or(0);
  return absl::OkStatus();
}

// An enumerated field: nullopt when absent; otherwise it must be one of `allowed`.
absl::StatusOr<std::optional<int>> ReadEnum(const Json& object, const char* name,
                                            absl::string_view path,
                                            std::initializer_list<int> allowed,
                                            absl::string_view allowed_text) {
  auto v = ReadInteger(object, name, path, Kind::kInteger);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<int>();
  for (int a : allowed) {
    if (**v == a) return std::optional<int>(a);
  }
  return UnreadableReply(
      absl::StrCat(path, " ", **v, " is not one of the seed's values (", allowed_text, ")"));
}

absl::Status ReadTime(const Json& object, const char* name, std::optional<absl::Time>* out) {
  out->reset();
  const Json* v = Find(object, name);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_string()) {
    return UnreadableReply(absl::StrCat(name, " must be a time string, got ", Shown(*v)));
  }
  const std::string& s = v->get_ref<const std::string&>();
  if (s.empty()) return absl::OkStatus();
  auto t = ParseTradeTime(s);
  if (!t.ok()) return UnreadableReply(absl::StrCat(name, ": ", t.status().message()));
  *out = *t;
  return absl::OkStatus();
}

absl::StatusOr<domain::TradeGoods> DecodeGoods(const Json& item, const std::string& path) {
  if (!item.is_object()) {
    return UnreadableReply(absl::StrCat(path, " must be an object, got ", Shown(item)));
  }
  domain::TradeGoods g;
  struct IntField {
    const char* name;
    int64_t* out;
    Kind kind;
  };
  const IntField ints[] = {
      {"cellPrice", &g.cell_price, Kind::kMoney},
      {"currentPrice", &g.current_price, Kind::kMoney},
      {"discountAmount", &g.discount_amount, Kind::kMoney},
      {"goodsId", &g.goods_id, Kind::kInteger},
      {"goodsNum", &g.goods_num, Kind::kInteger},
  };
  for (const auto& f : ints) {
    absl::Status s = ReadInt64(item, f.name, absl::StrCat(path, ".", f.name), f.kind, f.out);
    if (!s.ok()) return s;
  }
  for (const auto& [name, out] : {std::pair<const char*, std::string*>{"goodsName", &g.goods_name},
                                  {"goodsProps", &g.goods_props}}) {
    absl::Status s = ReadString(item, name, absl::StrCat(path, ".", name), out);
    if (!s.ok()) return s;
  }
  return g;
}

absl::Status ReadGoods(const Json& data, std::vector<domain::TradeGoods>* out) {
  out->clear();
  const Json* v = Find(data, "goodsDesc");
  if (v == nullptr) return absl::OkStatus();
  Json from_string;
  if (v->is_string()) {
    // Platforms of this family often send the list as the JSON text of an array.
    const std::string& s = v->get_ref<const std::string&>();
    if (s.empty()) return absl::OkStatus();
    auto parsed = ParseJson(s, "goodsDesc (a string)");
    if (!parsed.ok()) return parsed.status();
    from_string = std::move(*parsed);
    if (from_string.is_null()) return absl::OkStatus();
    v = &from_string;
  }
  if (!v->is_array()) {
    return UnreadableReply(absl::StrCat("goodsDesc must be an array, got ", Shown(*v)));
  }
  for (size_t i = 0; i < v->size(); ++i) {
    auto g = DecodeGoods((*v)[i], absl::StrCat("goodsDesc[", i, "]"));
    if (!g.ok()) return g.status();
    out->push_back(std::move(*g));
  }
  return absl::OkStatus();
}

absl::StatusOr<domain::TradeOrderRecord> DecodeData(const Json& data) {
  if (!data.is_object()) {
    return UnreadableReply(absl::StrCat("data must be an object, got ", Shown(data)));
  }
  domain::TradeOrderRecord r;
  absl::Status s;
  struct StringField {
    const char* name;
    std::string* out;
  };
  const StringField strings[] = {
      {"tradeOrderId", &r.trade_order_id},
      {"mchId", &r.mch_id},
      {"appId", &r.app_id},
      {"clientIp", &r.client_ip},
      {"device", &r.device},
      {"goodsId", &r.goods_id},
      {"subject", &r.subject},
      {"body", &r.body},
      {"userId", &r.user_id},
      {"channelUserId", &r.channel_user_id},
      {"payOrderId", &r.pay_order_id},
      {"productId", &r.product_id},
      {"couponId", &r.coupon_id},
      {"storeNo", &r.store_no},
      {"storeName", &r.store_name},
      {"operatorId", &r.operator_id},
      {"operatorName", &r.operator_name},
      {"memberId", &r.member_id},
      {"memberTel", &r.member_tel},
  };
  for (const auto& f : strings) {
    if (!(s = ReadString(data, f.name, f.name, f.out)).ok()) return s;
  }
  if (r.trade_order_id.empty()) return UnreadableReply("data.tradeOrderId is missing");

  struct IntField {
    const char* name;
    int64_t* out;
    Kind kind;
  };
  const IntField ints[] = {
      {"orderAmount", &r.order_amount, Kind::kMoney},
      {"discountAmount", &r.discount_amount, Kind::kMoney},
      {"amount", &r.amount, Kind::kMoney},
      {"mchIncome", &r.mch_income, Kind::kMoney},
      {"refundTotalAmount", &r.refund_total_amount, Kind::kMoney},
      {"givePoints", &r.give_points, Kind::kInteger},
  };
  for (const auto& f : ints) {
    if (!(s = ReadInt64(data, f.name, f.name, f.kind, f.out)).ok()) return s;
  }

  auto status = ReadEnum(data, "status", "status", {0, 1, 2, -1, 4, 5, 6, 7}, "0,1,2,-1,4,5,6,7");
  if (!status.ok()) return status.status();
  if (!status->has_value()) return UnreadableReply("data.status is missing");
  r.status = **status;

  // The table writes TradeType, the example tradeType; a platform sending both must agree.
  auto lower = ReadEnum(data, "tradeType", "tradeType", {1, 2}, "1,2");
  if (!lower.ok()) return lower.status();
  auto upper = ReadEnum(data, "TradeType", "TradeType", {1, 2}, "1,2");
  if (!upper.ok()) return upper.status();
  if (lower->has_value() && upper->has_value() && **lower != **upper) {
    return UnreadableReply(
        absl::StrCat("tradeType ", **lower, " and TradeType ", **upper, " disagree"));
  }
  r.trade_type = lower->has_value() ? **lower : upper->value_or(0);

  auto deposit = ReadEnum(data, "depositMode", "depositMode", {0, 1}, "0,1");
  if (!deposit.ok()) return deposit.status();
  r.deposit_mode = deposit->value_or(0);

  auto product = ReadEnum(data, "productType", "productType", {1, 2, 3, 4, 5}, "1..5");
  if (!product.ok()) return product.status();
  r.product_type = product->value_or(0);

  if (!(s = ReadTime(data, "tradeSuccTime", &r.trade_succ_time)).ok()) return s;
  if (!(s = ReadTime(data, "createTime", &r.create_time)).ok()) return s;
  if (!(s = ReadTime(data, "updateTime", &r.update_time)).ok()) return s;
  if (!(s = ReadGoods(data, &r.goods)).ok()) return s;
  return r;
}

}  // namespace

std::string FormatRfc3339Utc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> ParseTradeTime(absl::string_view text) {
  absl::Time t;
  std::string err;
  // RFC 3339 first (Z or ±hh:mm), then the example's ±hhmm form, both with optional fraction.
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  if (absl::ParseTime("%Y-%m-%dT%H:%M:%E*S%z", text, &t, &err)) return t;
  return absl::InvalidArgumentError(
      absl::StrCat("\"", CleanText(text, 64),
                   "\" is neither 2019-08-23T11:12:21.000+0000 nor RFC 3339 with an offset"));
}

bool IsKnownTradeStatus(int status) {
  switch (status) {
    case 0:
    case 1:
    case 2:
    case -1:
    case 4:
    case 5:
    case 6:
    case 7:
      return true;
    default:
      return false;
  }
}

bool IsFinalTradeStatus(int status) {
  return status == 2 || status == -1 || status == 5 || status == 7;
}

absl::StatusOr<domain::TradeOrderRecord> DecodeTradeOrderData(absl::string_view data_json) {
  auto data = ParseJson(data_json, "data");
  if (!data.ok()) return data.status();
  return DecodeData(*data);
}

absl::StatusOr<domain::TradeOrderRecord> DecodeTradeOrderReply(absl::string_view body) {
  auto reply = ParseJson(body, "reply");
  if (!reply.ok()) return reply.status();
  if (!reply->is_object()) {
    return UnreadableReply(
        absl::StrCat("reply must be a {code, msg, data} object, got ", Shown(*reply)));
  }
  auto code = ReadInteger(*reply, "code", "code", Kind::kInteger);
  if (!code.ok()) return code.status();
  if (!code->has_value()) return UnreadableReply("code is missing");
  if (**code != 0) {
    std::string msg;
    // A msg that is not a string is still an error reply; its code alone classifies it.
    (void)ReadString(*reply, "msg", "msg", &msg);
    return FromEnvelopeError(**code, msg);
  }
  const Json* data = Find(*reply, "data");
  if (data == nullptr) return UnreadableReply("code 0 without data");
  return DecodeData(*data);
}

}  // namespace orderquery::payment::tradeapi
