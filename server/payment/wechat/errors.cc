#include "server/payment/wechat/errors.h"

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/common/text.h"
#include "server/payment/wechat/text.h"
#include "server/payment/wechat/verifier.h"

namespace orderquery::payment::wechat {
namespace {

// Error bodies are a few hundred bytes; parsing more would only feed a hostile reply.
constexpr size_t kMaxErrorBody = 64 * 1024;

struct WechatError {
  std::string code;
  std::string message;
  std::string detail;  // "field=…, issue=…" when WeChat says which parameter
};

// WeChat's error body: {"code":"…","message":"…","detail":{"field":…,"issue":…,…}}. Returns
// false when the body is not that (an HTML page from a proxy, truncated, empty).
bool ParseWechatError(absl::string_view body, WechatError* out) {
  if (body.empty() || body.size() > kMaxErrorBody) return false;
  const nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr,
                                                 /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  auto code = j.find("code");
  if (code == j.end() || !code->is_string() || code->get_ref<const std::string&>().empty()) {
    return false;
  }
  out->code = internal::Printable(code->get_ref<const std::string&>(), 64);
  auto message = j.find("message");
  if (message != j.end() && message->is_string()) {
    out->message = text::CleanUtf8(message->get_ref<const std::string&>(), 512);
  }
  auto detail = j.find("detail");
  if (detail != j.end() && detail->is_object()) {
    for (const char* key : {"field", "location", "issue"}) {
      auto v = detail->find(key);
      if (v == detail->end() || !v->is_string()) continue;
      absl::StrAppend(&out->detail, out->detail.empty() ? "" : ", ", key, "=",
                      text::CleanUtf8(v->get_ref<const std::string&>(), 128));
    }
  }
  return true;
}

absl::Status WithHttpStatus(absl::Status status, int http_status) {
  status.SetPayload(kHttpStatusTypeUrl, absl::Cord(absl::StrCat(http_status)));
  return status;
}

bool IsNotFoundCode(absl::string_view code) {
  return code == "NOT_FOUND" || code == "ORDER_NOT_EXIST" || code == "ORDERNOTEXIST";
}

// The code for a WeChat JSON error; the HTTP status decides where WeChat's code is one we do
// not know, so a new code still lands in the right class.
absl::StatusCode Classify(int http_status, absl::string_view code) {
  if (http_status == 429 || code == "RATELIMIT_EXCEEDED" || code == "FREQUENCY_LIMITED") {
    return absl::StatusCode::kResourceExhausted;
  }
  if (http_status >= 500 || code == "SYSTEM_ERROR") return absl::StatusCode::kUnavailable;
  // The close API's "cannot close": a statement about the order (paid, already closed), never a
  // fault of ours, whatever status WeChat puts it under.
  if (http_status >= 400 && http_status < 500 && (code == "ORDERPAID" || code == "ORDER_CLOSED")) {
    return absl::StatusCode::kFailedPrecondition;
  }
  if (http_status == 401 || code == "SIGN_ERROR") return absl::StatusCode::kInternal;
  if (http_status == 404 || IsNotFoundCode(code)) return absl::StatusCode::kNotFound;
  if (code == "PARAM_ERROR") return absl::StatusCode::kInvalidArgument;
  if (http_status >= 400 && http_status < 500) return absl::StatusCode::kFailedPrecondition;
  // 1xx/3xx: not something WeChat sends for these APIs; we cannot know what happened.
  return absl::StatusCode::kUnavailable;
}

absl::string_view Summary(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kResourceExhausted:
      return "WeChat rate limit reached";
    case absl::StatusCode::kUnavailable:
      return "WeChat system error, try again later";
    case absl::StatusCode::kInternal:
      return "WeChat rejected our request signature";
    case absl::StatusCode::kNotFound:
      return "WeChat has no such order";
    case absl::StatusCode::kInvalidArgument:
      return "WeChat rejected a request parameter";
    default:
      return "WeChat refused the request";
  }
}

}  // namespace

absl::Status FromErrorReply(int http_status, absl::string_view body) {
  if (http::IsSuccessStatus(http_status)) {
    return WithHttpStatus(
        absl::InternalError(absl::StrCat("HTTP ", http_status, " is not an error reply")),
        http_status);
  }
  WechatError error;
  if (!ParseWechatError(body, &error)) {
    // Not WeChat's JSON error: a gateway page, a cut-off body. It does not say anything about
    // the order (a proxy's 404 is not "no such order"), so it is "unknown, ask again" — except
    // a 429, which is a rate limit whoever sent it.
    const std::string shown =
        body.empty() ? std::string("empty body")
                     : absl::StrCat("body starts \"", internal::Printable(body, 48), "\"");
    if (http_status == 429) {
      return WithHttpStatus(absl::ResourceExhaustedError(
                                absl::StrCat("WeChat rate limit reached (HTTP 429, ", shown, ")")),
                            http_status);
    }
    return WithHttpStatus(
        absl::UnavailableError(absl::StrCat("unreadable reply from WeChat (HTTP ", http_status,
                                            ", not a WeChat error body, ", shown,
                                            "); the outcome is unknown, ask again")),
        http_status);
  }

  const absl::StatusCode code = Classify(http_status, error.code);
  std::string text;
  if (code == absl::StatusCode::kInternal) {
    // The one case where the fault is ours: make the message say so first.
    text = absl::StrCat(Summary(code), ": ", error.message.empty() ? "(no message)" : error.message,
                        " (", error.code, ", HTTP ", http_status, ")");
  } else {
    text = absl::StrCat(Summary(code), " (", error.code, ", HTTP ", http_status,
                        "): ", error.message.empty() ? "(no message)" : error.message);
  }
  if (!error.detail.empty()) absl::StrAppend(&text, " [", error.detail, "]");

  absl::Status status(code, text);
  status.SetPayload(kWechatCodeTypeUrl, absl::Cord(error.code));
  if (!error.message.empty()) status.SetPayload(kWechatMessageTypeUrl, absl::Cord(error.message));
  return WithHttpStatus(std::move(status), http_status);
}

absl::Status FromTransportFailure(const absl::Status& transport_status) {
  const absl::string_view msg = transport_status.message();
  switch (transport_status.code()) {
    case absl::StatusCode::kOk:
      return absl::InternalError("transport reported success without a reply");
    case absl::StatusCode::kDeadlineExceeded:
      return absl::DeadlineExceededError(absl::StrCat("WeChat did not answer in time: ", msg));
    case absl::StatusCode::kUnavailable:
      return absl::UnavailableError(absl::StrCat("WeChat unreachable: ", msg));
    case absl::StatusCode::kResourceExhausted:
      return absl::ResourceExhaustedError(
          absl::StrCat("too many requests to WeChat in flight for this merchant: ", msg));
    case absl::StatusCode::kCancelled:
      return absl::CancelledError(absl::StrCat("request to WeChat cancelled: ", msg));
    default:
      // Anything else is a bug or misconfiguration on our side (a malformed URL, say).
      return absl::InternalError(absl::StrCat("HTTP transport failed: ", msg));
  }
}

absl::Status FromVerificationFailure(const absl::Status& reason, int http_status) {
  absl::Status s = WithHttpStatus(
      absl::InternalError(absl::StrCat(
          "WeChat reply failed verification and was not used (the order's state is unknown): ",
          reason.message())),
      http_status);
  s.SetPayload(kVerificationTypeUrl, absl::Cord(VerificationFailureReason(reason)));
  return s;
}

std::optional<std::string> VerificationFailureOf(const absl::Status& status) {
  auto payload = status.GetPayload(kVerificationTypeUrl);
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}

absl::Status FromUnreadableReply(const absl::Status& reason, int http_status) {
  return WithHttpStatus(absl::UnavailableError(absl::StrCat("unreadable reply from WeChat (HTTP ",
                                                            http_status, "): ", reason.message(),
                                                            "; the outcome is unknown, ask again")),
                        http_status);
}

absl::Status FromInconsistentReply(const absl::Status& reason, int http_status) {
  return WithHttpStatus(
      absl::InternalError(absl::StrCat("WeChat reply does not match the request and was not used: ",
                                       reason.message())),
      http_status);
}

std::optional<std::string> WechatCode(const absl::Status& status) {
  auto payload = status.GetPayload(kWechatCodeTypeUrl);
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}

std::optional<std::string> WechatMessage(const absl::Status& status) {
  auto payload = status.GetPayload(kWechatMessageTypeUrl);
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}

std::optional<int> UpstreamHttpStatus(const absl::Status& status) {
  auto payload = status.GetPayload(kHttpStatusTypeUrl);
  int value = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &value)) {
    return std::nullopt;
  }
  return value;
}

}  // namespace orderquery::payment::wechat
