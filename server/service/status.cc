#include "server/service/status.h"

#include <cstdint>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/common/log.h"
#include "server/payment/tradeapi/errors.h"
#include "server/payment/wechat/errors.h"
#include "server/service/rpc_metrics.h"
#include "server/usecase/port_logging.h"

namespace orderquery::service {
namespace {

namespace wechat = payment::wechat;
namespace tradeapi = payment::tradeapi;

// Codes whose messages we wrote for the caller: they say what to fix and nothing internal.
bool PassesThrough(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return true;
    default:
      return false;
  }
}

// " (SIGN_ERROR, HTTP 401)" from the provider's structured answer, "" when there is none.
std::string ProviderSaid(const absl::Status& s) {
  std::string parts;
  auto add = [&parts](const std::string& p) {
    absl::StrAppend(&parts, parts.empty() ? "" : ", ", p);
  };
  if (std::optional<std::string> code = wechat::WechatCode(s)) add(*code);
  if (std::optional<int64_t> code = tradeapi::MerchantCode(s)) add(absl::StrCat("code ", *code));
  std::optional<int> http = wechat::UpstreamHttpStatus(s);
  if (!http) http = tradeapi::UpstreamHttpStatus(s);
  if (http) add(absl::StrCat("HTTP ", *http));
  return parts.empty() ? "" : absl::StrCat(" (", parts, ")");
}

}  // namespace

namespace {

// How the caller's message names the provider behind `s`.
std::string NameOf(const absl::Status& s, Upstream upstream) {
  switch (upstream) {
    case Upstream::kWechat:
      return "WeChat";
    case Upstream::kMerchantApi:
      return "the merchant API";
    case Upstream::kAnswering:
      break;
  }
  return usecase::UpstreamProviderOf(s).value_or("the payment provider");
}

}  // namespace

std::string CallerMessage(const absl::Status& s, Upstream upstream) {
  const std::string name = NameOf(s, upstream);
  const absl::string_view msg = s.message();
  const std::string said = ProviderSaid(s);
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
      if (absl::StartsWith(msg, "unreadable reply")) {
        // The adapters' own words ("unreadable reply from merchant API"), which callers know.
        return absl::StrCat("unreadable reply from ", absl::StripPrefix(name, "the "), said,
                            "; the outcome is unknown and nothing was stored: ask again");
      }
      if (!said.empty()) return absl::StrCat(name, " is unavailable", said, "; ask again later");
      return absl::StrCat("orderqueryd cannot reach its database or ", name,
                          " right now; ask again later");
    case absl::StatusCode::kResourceExhausted:
      if (!said.empty())
        return absl::StrCat(name, " rate limit reached", said, "; ask again later");
      if (absl::StrContains(msg, "in flight")) {
        return absl::StrCat("too many requests to ", name, " at once; ask again later");
      }
      return "orderqueryd is overloaded; ask again later";
    case absl::StatusCode::kDeadlineExceeded:
      if (absl::StrContains(msg, "request timeout") || absl::StrContains(msg, "in time")) {
        return absl::StrCat(name,
                            " did not answer in time (request timeout); the outcome is unknown, "
                            "ask again");
      }
      return "the call's deadline passed before an answer; ask again, with a longer deadline";
    case absl::StatusCode::kInternal:
      if (std::optional<std::string> why = wechat::VerificationFailureOf(s)) {
        return absl::StrCat(name, "'s reply failed verification (", *why,
                            ") and was not used; the order's state is unknown");
      }
      if (absl::StartsWith(msg, "WeChat reply does not match")) {
        return "WeChat's reply does not match the request (another order or merchant) and was "
               "not used; the order's state is unknown";
      }
      if (!said.empty()) {
        return absl::StrCat(name, " refused our request signature or credentials", said,
                            "; operators: check the merchant's key");
      }
      return "internal error (orderqueryd's configuration or a fault of ours); operators: see "
             "the log";
    case absl::StatusCode::kFailedPrecondition: {
      if (std::optional<std::string> code = wechat::WechatCode(s)) {
        // Seed 002 passes WeChat's own words on (e.g. 服务商和子商户没有绑定关系).
        std::optional<std::string> text = wechat::WechatMessage(s);
        return absl::StrCat(name, " refused the request", said, text ? ": " : "",
                            text ? *text : "");
      }
      if (!said.empty()) return absl::StrCat(name, " refused the request", said);
      return "orderqueryd is not configured to serve this order; operators: see the log";
    }
    case absl::StatusCode::kAborted:
      return "the order kept changing while its answer was applied; ask again";
    case absl::StatusCode::kCancelled:
      return "the call was cancelled";
    default:
      return "internal error; operators: see the log";
  }
}

grpc::Status ToCallerStatus(const absl::Status& s, grpc::CallbackServerContext* ctx,
                            absl::string_view method, Upstream upstream) {
  if (s.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(s.code());
  if (PassesThrough(s.code())) return grpc::Status(code, std::string(s.message()));
  const std::string id = log::NewId();
  if (ctx != nullptr) ctx->AddTrailingMetadata(kCorrelationIdKey, id);
  // A failed upstream call has its details on its own line (event=upstream_failed), once: this
  // line names that line's id instead of repeating the message.
  const std::optional<std::string> upstream_id = usecase::UpstreamLogIdOf(s);
  log::Emit(log::FailureLevel(s), "rpc_failed",
            {{"correlation_id", id},
             {"method", method},
             {"code", GrpcCodeName(code)},
             upstream_id ? log::Field{"upstream_log_id", *upstream_id}
                         : log::Field{"error", s.message()}});
  return grpc::Status(code, absl::StrCat(CallerMessage(s, upstream), " (correlation id ", id, ")"));
}

}  // namespace orderquery::service
