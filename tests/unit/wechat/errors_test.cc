#include "server/payment/wechat/errors.h"

#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace orderquery::payment::wechat {
namespace {

using ::testing::HasSubstr;

std::string ErrorBody(const std::string& code, const std::string& message) {
  return "{\"code\":\"" + code + "\",\"message\":\"" + message + "\"}";
}

struct ReplyCase {
  const char* name;
  int http_status;
  std::string body;
  absl::StatusCode want;
  std::optional<std::string> want_code;  // WechatCode() payload
  std::string want_in_message;
};

class ErrorReplyTest : public ::testing::TestWithParam<ReplyCase> {};

TEST_P(ErrorReplyTest, MapsToThePreciseCode) {
  const ReplyCase& c = GetParam();
  const absl::Status s = FromErrorReply(c.http_status, c.body);
  EXPECT_EQ(s.code(), c.want) << s;
  EXPECT_EQ(WechatCode(s), c.want_code);
  EXPECT_EQ(UpstreamHttpStatus(s), c.http_status);
  EXPECT_THAT(std::string(s.message()), HasSubstr(c.want_in_message));
}

// Every row of seed 002's two error tables (公共错误码, 业务错误码), then the variants around them.
INSTANTIATE_TEST_SUITE_P(
    Seed002, ErrorReplyTest,
    ::testing::Values(
        // 公共错误码
        ReplyCase{"common_400_param_error", 400, ErrorBody("PARAM_ERROR", "参数错误"),
                  absl::StatusCode::kInvalidArgument, "PARAM_ERROR", "参数错误"},
        ReplyCase{"common_400_invalid_request", 400,
                  ErrorBody("INVALID_REQUEST", "HTTP 请求不符合微信支付 APIv3 接口规则"),
                  absl::StatusCode::kFailedPrecondition, "INVALID_REQUEST",
                  "HTTP 请求不符合微信支付 APIv3 接口规则"},
        ReplyCase{"common_401_sign_error", 401, ErrorBody("SIGN_ERROR", "验证不通过"),
                  absl::StatusCode::kInternal, "SIGN_ERROR",
                  "WeChat rejected our request signature: 验证不通过"},
        ReplyCase{"common_500_system_error", 500, ErrorBody("SYSTEM_ERROR", "系统异常,请稍后重试"),
                  absl::StatusCode::kUnavailable, "SYSTEM_ERROR", "系统异常,请稍后重试"},
        // 业务错误码
        ReplyCase{"business_400_not_parking_order", 400,
                  ErrorBody("INVALID_REQUEST", "不支持查询非支付分停车订单,请更换单号后再试"),
                  absl::StatusCode::kFailedPrecondition, "INVALID_REQUEST",
                  "不支持查询非支付分停车订单,请更换单号后再试"},
        ReplyCase{"business_400_not_bound", 400,
                  ErrorBody("INVALID_REQUEST", "服务商和子商户没有绑定关系"),
                  absl::StatusCode::kFailedPrecondition, "INVALID_REQUEST",
                  "服务商和子商户没有绑定关系"},
        ReplyCase{"business_400_param_out_trade_no", 400,
                  ErrorBody("PARAM_ERROR", "参数错误,请检查out_trade_no"),
                  absl::StatusCode::kInvalidArgument, "PARAM_ERROR", "参数错误,请检查out_trade_no"},
        ReplyCase{"business_404_not_found", 404, ErrorBody("NOT_FOUND", "订单不存在"),
                  absl::StatusCode::kNotFound, "NOT_FOUND", "订单不存在"},
        ReplyCase{"business_429_rate_limit", 429,
                  ErrorBody("RATELIMIT_EXCEEDED", "达到调用速率限制"),
                  absl::StatusCode::kResourceExhausted, "RATELIMIT_EXCEEDED", "达到调用速率限制"},
        ReplyCase{"business_500_system_error", 500, ErrorBody("SYSTEM_ERROR", "出现内部服务器错误"),
                  absl::StatusCode::kUnavailable, "SYSTEM_ERROR", "出现内部服务器错误"},
        // The ordinary order query's not-found codes.
        ReplyCase{"order_not_exist", 404, ErrorBody("ORDER_NOT_EXIST", "订单不存在"),
                  absl::StatusCode::kNotFound, "ORDER_NOT_EXIST", "订单不存在"},
        ReplyCase{"ordernotexist", 404, ErrorBody("ORDERNOTEXIST", "订单不存在"),
                  absl::StatusCode::kNotFound, "ORDERNOTEXIST", "订单不存在"},
        // The close-order API's answers for orders that cannot be closed: the order's state,
        // not a fault, whatever HTTP status carries them.
        ReplyCase{"close_orderpaid", 400, ErrorBody("ORDERPAID", "订单已支付"),
                  absl::StatusCode::kFailedPrecondition, "ORDERPAID", "订单已支付"},
        ReplyCase{"close_orderpaid_403", 403, ErrorBody("ORDERPAID", "订单已支付"),
                  absl::StatusCode::kFailedPrecondition, "ORDERPAID", "订单已支付"},
        ReplyCase{"close_order_closed", 400, ErrorBody("ORDER_CLOSED", "订单已关闭"),
                  absl::StatusCode::kFailedPrecondition, "ORDER_CLOSED", "订单已关闭"},
        ReplyCase{"close_order_closed_404", 404, ErrorBody("ORDER_CLOSED", "订单已关闭"),
                  absl::StatusCode::kFailedPrecondition, "ORDER_CLOSED", "订单已关闭"},
        // Other statuses and codes.
        ReplyCase{"503_system_error", 503, ErrorBody("SYSTEM_ERROR", "busy"),
                  absl::StatusCode::kUnavailable, "SYSTEM_ERROR", "busy"},
        ReplyCase{"429_frequency_limited", 429, ErrorBody("FREQUENCY_LIMITED", "频率超限"),
                  absl::StatusCode::kResourceExhausted, "FREQUENCY_LIMITED", "频率超限"},
        ReplyCase{"403_unknown_code", 403, ErrorBody("NO_AUTH", "商户无权限"),
                  absl::StatusCode::kFailedPrecondition, "NO_AUTH", "商户无权限"},
        ReplyCase{"418_unknown_code", 418, ErrorBody("SOMETHING_NEW", "新错误"),
                  absl::StatusCode::kFailedPrecondition, "SOMETHING_NEW", "新错误"},
        ReplyCase{"404_unknown_code", 404, ErrorBody("RESOURCE_NOT_EXISTS", "不存在"),
                  absl::StatusCode::kNotFound, "RESOURCE_NOT_EXISTS", "不存在"},
        ReplyCase{"param_error_with_detail", 400,
                  R"({"code":"PARAM_ERROR","message":"参数错误","detail":{"field":"/sub_mchid",)"
                  R"("value":"x","issue":"sub_mchid is invalid","location":"query"}})",
                  absl::StatusCode::kInvalidArgument, "PARAM_ERROR",
                  "[field=/sub_mchid, location=query, issue=sub_mchid is invalid]"},
        ReplyCase{"no_message", 400, R"({"code":"PARAM_ERROR"})",
                  absl::StatusCode::kInvalidArgument, "PARAM_ERROR", "(no message)"},
        // Not WeChat's JSON: a gateway page, cut-off or empty body -> unknown, ask again.
        ReplyCase{"502_html", 502, "<html><head><title>502 Bad Gateway</title></head></html>",
                  absl::StatusCode::kUnavailable, std::nullopt, "unreadable reply"},
        ReplyCase{"404_html_is_not_order_not_found", 404, "<html>404 Not Found</html>",
                  absl::StatusCode::kUnavailable, std::nullopt, "unreadable reply"},
        ReplyCase{"400_truncated_json", 400, R"({"code":"PARAM_ERR)",
                  absl::StatusCode::kUnavailable, std::nullopt, "unreadable reply"},
        ReplyCase{"500_empty", 500, "", absl::StatusCode::kUnavailable, std::nullopt, "empty body"},
        ReplyCase{"400_json_without_code", 400, R"({"message":"x"})",
                  absl::StatusCode::kUnavailable, std::nullopt, "unreadable reply"},
        ReplyCase{"400_code_not_a_string", 400, R"({"code":7,"message":"x"})",
                  absl::StatusCode::kUnavailable, std::nullopt, "unreadable reply"},
        ReplyCase{"429_html_is_still_a_rate_limit", 429, "Too Many Requests",
                  absl::StatusCode::kResourceExhausted, std::nullopt, "rate limit"},
        ReplyCase{"302_redirect", 302, "", absl::StatusCode::kUnavailable, std::nullopt,
                  "HTTP 302"}),
    [](const ::testing::TestParamInfo<ReplyCase>& p) { return std::string(p.param.name); });

TEST(ErrorReplyTest, CarriesWechatMessagePayload) {
  const absl::Status s =
      FromErrorReply(400, ErrorBody("INVALID_REQUEST", "服务商和子商户没有绑定关系"));
  EXPECT_EQ(WechatMessage(s), "服务商和子商户没有绑定关系");
  EXPECT_EQ(WechatCode(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(WechatMessage(absl::InternalError("x")), std::nullopt);
  EXPECT_EQ(UpstreamHttpStatus(absl::InternalError("x")), std::nullopt);
}

TEST(ErrorReplyTest, HostileBodiesAreBoundedAndCleaned) {
  absl::Status s = FromErrorReply(400, ErrorBody("PARAM_ERROR", std::string(20000, 'x')));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(s.message().size(), 1000u);
  // Past 64 KiB a body is not parsed at all: no error reply is that large.
  s = FromErrorReply(400, ErrorBody("PARAM_ERROR", std::string(100000, 'x')));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(s.message().size(), 300u);

  s = FromErrorReply(400, ErrorBody("PARAM_ERROR", "line1\\nline2\\u0000"));
  EXPECT_EQ(std::string(s.message()).find('\n'), std::string::npos);
  EXPECT_EQ(std::string(s.message()).find('\0'), std::string::npos);

  s = FromErrorReply(502, std::string("\x01\x02<html>\n") + std::string(5000, 'y'));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(s.message().size(), 300u);
  EXPECT_EQ(std::string(s.message()).find('\x01'), std::string::npos);
}

TEST(ErrorReplyTest, SuccessIsNotAnErrorReply) {
  EXPECT_EQ(FromErrorReply(200, "{}").code(), absl::StatusCode::kInternal);
}

struct TransportCase {
  absl::Status in;
  absl::StatusCode want;
  std::string want_in_message;
};

TEST(TransportFailureTest, KeepsTheTransportsClassification) {
  const TransportCase cases[] = {
      {absl::DeadlineExceededError("timeout after 3000 ms"), absl::StatusCode::kDeadlineExceeded,
       "timeout after 3000 ms"},
      {absl::UnavailableError("connect: connection refused"), absl::StatusCode::kUnavailable,
       "connection refused"},
      {absl::UnavailableError("tls: certificate verify failed"), absl::StatusCode::kUnavailable,
       "tls: certificate verify failed"},
      {absl::UnavailableError("dns: could not resolve api.mch.weixin.qq.com"),
       absl::StatusCode::kUnavailable, "dns:"},
      {absl::ResourceExhaustedError("limiter queue full"), absl::StatusCode::kResourceExhausted,
       "limiter queue full"},
      {absl::CancelledError("shutting down"), absl::StatusCode::kCancelled, "shutting down"},
      {absl::InvalidArgumentError("bad url"), absl::StatusCode::kInternal, "bad url"},
      {absl::OkStatus(), absl::StatusCode::kInternal, "without a reply"},
  };
  for (const TransportCase& c : cases) {
    const absl::Status s = FromTransportFailure(c.in);
    EXPECT_EQ(s.code(), c.want) << c.in;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.want_in_message));
    EXPECT_EQ(UpstreamHttpStatus(s), std::nullopt);
    EXPECT_EQ(WechatCode(s), std::nullopt);
  }
}

TEST(ReplyProblemTest, VerificationFailureIsInternalUnreadableIsUnavailable) {
  const absl::Status v = FromVerificationFailure(
      absl::UnauthenticatedError("reply has no Wechatpay-Serial header"), 200);
  EXPECT_EQ(v.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(v.message()), HasSubstr("reply has no Wechatpay-Serial header"));
  EXPECT_THAT(std::string(v.message()), HasSubstr("not used"));
  EXPECT_EQ(UpstreamHttpStatus(v), 200);

  const absl::Status u =
      FromUnreadableReply(absl::InvalidArgumentError("field amount.total is missing"), 200);
  EXPECT_EQ(u.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(u.message()), HasSubstr("unreadable reply"));
  EXPECT_THAT(std::string(u.message()), HasSubstr("amount.total"));

  const absl::Status i = FromInconsistentReply(absl::InvalidArgumentError("other order"), 200);
  EXPECT_EQ(i.code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace orderquery::payment::wechat
