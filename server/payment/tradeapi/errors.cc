#include "server/payment/tradeapi/errors.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace orderquery::payment::tradeapi {
namespace {

// Error envelopes are tiny; parsing a large error page would only feed a hostile reply.
constexpr size_t kMaxErrorBody = 64 * 1024;

bool IsAsciiLetter(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)); }

// "sign" starting a word: "sign error", "invalid signature", "signType"; not "assign".
bool MentionsSignWord(absl::string_view lower) {
  for (size_t pos = lower.find("sign"); pos != absl::string_view::npos;
       pos = lower.find("sign", pos + 1)) {
    if (pos == 0 || !IsAsciiLetter(lower[pos - 1])) return true;
  }
  return false;
}

bool IsSignatureError(absl::string_view msg, absl::string_view lower) {
  return absl::StrContains(msg, "签名") || absl::StrContains(msg, "验签") ||
         MentionsSignWord(lower);
}

bool SaysMissing(absl::string_view msg, absl::string_view lower) {
  return absl::StrContains(msg, "不存在") || absl::StrContains(lower, "not exist") ||
         absl::StrContains(lower, "not found") || absl::StrContains(lower, "notexist") ||
         absl::StrContains(lower, "not_exist");
}

// A "does not exist" about the caller's identity is configuration, not a missing order. "商户订单
// 不存在" (the merchant's order) is about an order, so a mention of an order wins.
bool AboutMerchantOrApp(absl::string_view msg, absl::string_view lower) {
  const bool identity = absl::StrContains(msg, "商户") || absl::StrContains(msg, "应用") ||
                        absl::StrContains(lower, "merchant") || absl::StrContains(lower, "mchid") ||
                        absl::StrContains(lower, "mch_id") || absl::StrContains(lower, "appid") ||
                        absl::StrContains(lower, "app_id");
  const bool order = absl::StrContains(msg, "订单") || absl::StrContains(msg, "交易") ||
                     absl::StrContains(msg, "记录") || absl::StrContains(lower, "order") ||
                     absl::StrContains(lower, "record") || absl::StrContains(lower, "trade");
  return identity && !order;
}

bool IsUpstreamFailure(int64_t code, absl::string_view msg, absl::string_view lower) {
  return code == 10 || code == 12 || absl::StrContains(msg, "系统异常") ||
         absl::StrContains(msg, "系统繁忙") || absl::StrContains(lower, "busy");
}

std::string Detail(int64_t code, absl::string_view msg) {
  return absl::StrCat("(code ", code, ": ", CleanText(msg), ")");
}

absl::Status WithCode(absl::Status status, int64_t code) {
  status.SetPayload(kMerchantCodeTypeUrl, absl::Cord(absl::StrCat(code)));
  return status;
}

absl::Status WithHttpStatus(absl::Status status, int http_status) {
  status.SetPayload(kHttpStatusTypeUrl, absl::Cord(absl::StrCat(http_status)));
  return status;
}

struct Envelope {
  int64_t code = 0;
  std::string msg;
};

// {"code": N, "msg": "…"} with N a non-zero integer (or a string of one); false for anything
// else (an HTML page from a proxy, truncated, empty).
bool ParseErrorEnvelope(absl::string_view body, Envelope* out) {
  if (body.empty() || body.size() > kMaxErrorBody) return false;
  const nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr,
                                                 /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  auto code = j.find("code");
  if (code == j.end()) return false;
  if (code->is_number_integer()) {
    out->code = code->get<int64_t>();
  } else if (!code->is_string() ||
             !absl::SimpleAtoi(code->get_ref<const std::string&>(), &out->code)) {
    return false;
  }
  if (out->code == 0) return false;
  auto msg = j.find("msg");
  if (msg != j.end() && msg->is_string()) out->msg = msg->get<std::string>();
  return true;
}

}  // namespace

absl::Status FromEnvelopeError(int64_t code, absl::string_view msg) {
  const std::string lower = absl::AsciiStrToLower(msg);
  const std::string detail = Detail(code, msg);
  absl::Status status;
  if (IsSignatureError(msg, lower)) {
    status = absl::InternalError(absl::StrCat("merchant API rejected our signature ", detail,
                                              ": check the merchant's key and sign_type"));
  } else if (code == 5003 || SaysMissing(msg, lower)) {
    status =
        AboutMerchantOrApp(msg, lower)
            ? absl::FailedPreconditionError(
                  absl::StrCat("merchant API does not know our merchant or app ", detail,
                               ": check the merchant's mch_id and app_id"))
            : absl::NotFoundError(absl::StrCat("merchant API has no such trade order ", detail));
  } else if (IsUpstreamFailure(code, msg, lower)) {
    status = absl::UnavailableError(
        absl::StrCat("merchant API failed on its side ", detail, "; ask again later"));
  } else {
    status =
        absl::FailedPreconditionError(absl::StrCat("merchant API refused the request ", detail));
  }
  return WithCode(std::move(status), code);
}

absl::Status FromHttpError(int http_status, absl::string_view body) {
  Envelope envelope;
  const bool has_envelope = ParseErrorEnvelope(body, &envelope);
  const std::string said =
      has_envelope ? absl::StrCat(" ", Detail(envelope.code, envelope.msg)) : "";
  absl::Status status;
  if (http_status == 429) {
    status = absl::ResourceExhaustedError(
        absl::StrCat("merchant API rate limit reached (HTTP 429)", said));
  } else if (http_status >= 500) {
    status = absl::UnavailableError(
        absl::StrCat("merchant API unavailable (HTTP ", http_status, ")", said));
  } else if (has_envelope) {
    status = FromEnvelopeError(envelope.code, envelope.msg);
  } else if (http_status == 404) {
    status = absl::NotFoundError(
        "merchant API answered HTTP 404: no such trade order, or base_url does not point at the "
        "merchant API");
  } else if (http_status == 401 || http_status == 403) {
    status = absl::InternalError(absl::StrCat("merchant API refused our credentials (HTTP ",
                                              http_status, "): check the merchant's key"));
  } else if (http_status >= 400) {
    status = absl::FailedPreconditionError(
        absl::StrCat("merchant API refused the request (HTTP ", http_status, ")"));
  } else {
    status = absl::UnavailableError(
        absl::StrCat("merchant API answered HTTP ", http_status, "; state unknown, ask again"));
  }
  return WithHttpStatus(std::move(status), http_status);
}

absl::Status FromTransportFailure(const absl::Status& transport_status) { return transport_status; }

absl::Status UnreadableReply(absl::string_view why) {
  return absl::UnavailableError(absl::StrCat(kUnreadablePrefix, why));
}

std::optional<int64_t> MerchantCode(const absl::Status& status) {
  auto payload = status.GetPayload(kMerchantCodeTypeUrl);
  int64_t code = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &code)) return std::nullopt;
  return code;
}

std::optional<int> UpstreamHttpStatus(const absl::Status& status) {
  auto payload = status.GetPayload(kHttpStatusTypeUrl);
  int code = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &code)) return std::nullopt;
  return code;
}

}  // namespace orderquery::payment::tradeapi
