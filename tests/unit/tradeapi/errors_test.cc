// The error table of errors.h, row by row.
#include "server/payment/tradeapi/errors.h"

#include <string>

#include "gtest/gtest.h"

namespace orderquery::payment::tradeapi {
namespace {

using absl::StatusCode;

struct EnvelopeRow {
  int64_t code;
  const char* msg;
  StatusCode want;
  const char* message_has;
};

TEST(MerchantErrorsTest, EnvelopeTable) {
  const EnvelopeRow rows[] = {
      {9999, "验签失败", StatusCode::kInternal, "merchant API rejected our signature"},
      {9999, "签名错误", StatusCode::kInternal, "merchant API rejected our signature"},
      {1, "Sign error", StatusCode::kInternal, "merchant API rejected our signature"},
      {1, "invalid signType", StatusCode::kInternal, "merchant API rejected our signature"},
      {5003, "记录不存在", StatusCode::kNotFound, "no such trade order"},
      {9999, "订单不存在", StatusCode::kNotFound, "(code 9999: 订单不存在)"},
      {9999, "商户订单不存在", StatusCode::kNotFound, "no such trade order"},
      {404, "trade order not exist", StatusCode::kNotFound, "no such trade order"},
      {1, "Order Not Found", StatusCode::kNotFound, "no such trade order"},
      {9999, "商户不存在", StatusCode::kFailedPrecondition, "mch_id and app_id"},
      {9999, "应用不存在", StatusCode::kFailedPrecondition, "mch_id and app_id"},
      {1, "mchId not exist", StatusCode::kFailedPrecondition, "mch_id and app_id"},
      {10, "系统异常[NullPointerException]", StatusCode::kUnavailable, "ask again later"},
      {12, "数据库服务异常", StatusCode::kUnavailable, "failed on its side"},
      {9999, "系统繁忙,请稍后再试", StatusCode::kUnavailable, "failed on its side"},
      {11, "参数有误[tradeOrderId]", StatusCode::kFailedPrecondition,
       "refused the request (code 11: 参数有误[tradeOrderId])"},
      {5004, "权限错误，当前用户不支持此操作", StatusCode::kFailedPrecondition, "code 5004"},
      {-1, "", StatusCode::kFailedPrecondition, "(code -1: )"},
      // "assign" is not "sign".
      {9999, "cannot assign coupon", StatusCode::kFailedPrecondition, "refused the request"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(std::string(row.msg));
    const absl::Status s = FromEnvelopeError(row.code, row.msg);
    EXPECT_EQ(s.code(), row.want) << s;
    EXPECT_NE(s.message().find(row.message_has), absl::string_view::npos) << s;
    EXPECT_EQ(MerchantCode(s), row.code);
  }
}

struct HttpRow {
  int status;
  const char* body;
  StatusCode want;
  const char* message_has;
};

TEST(MerchantErrorsTest, HttpTable) {
  const HttpRow rows[] = {
      {429, "", StatusCode::kResourceExhausted, "rate limit reached (HTTP 429)"},
      {429, R"({"code":9999,"msg":"请求过于频繁"})", StatusCode::kResourceExhausted,
       "请求过于频繁"},
      {500, "<html>Internal Server Error</html>", StatusCode::kUnavailable, "HTTP 500"},
      {502, "", StatusCode::kUnavailable, "HTTP 502"},
      {503, R"({"code":10,"msg":"系统异常"})", StatusCode::kUnavailable, "(code 10: 系统异常)"},
      {404, "<html>Not Found</html>", StatusCode::kNotFound, "HTTP 404"},
      {404, R"({"code":9999,"msg":"订单不存在"})", StatusCode::kNotFound, "no such trade order"},
      {400, R"({"code":9999,"msg":"验签失败"})", StatusCode::kInternal, "rejected our signature"},
      {401, "", StatusCode::kInternal, "credentials (HTTP 401)"},
      {403, "forbidden", StatusCode::kInternal, "HTTP 403"},
      {400, "bad request", StatusCode::kFailedPrecondition, "HTTP 400"},
      {302, "", StatusCode::kUnavailable, "HTTP 302"},
      // A body that looks like an envelope but says code 0 is no error description.
      {400, R"({"code":0,"msg":"success"})", StatusCode::kFailedPrecondition, "HTTP 400"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.status);
    const absl::Status s = FromHttpError(row.status, row.body);
    EXPECT_EQ(s.code(), row.want) << s;
    EXPECT_NE(s.message().find(row.message_has), absl::string_view::npos) << s;
    EXPECT_EQ(UpstreamHttpStatus(s), row.status);
  }
}

TEST(MerchantErrorsTest, TransportFailuresKeptAsTheyAre) {
  for (const absl::Status& s :
       {absl::DeadlineExceededError("deadline"), absl::UnavailableError("tls: bad certificate"),
        absl::ResourceExhaustedError("limiter queue full")}) {
    EXPECT_EQ(FromTransportFailure(s), s);
  }
}

TEST(MerchantErrorsTest, UnreadableReplyIsUnavailable) {
  const absl::Status s = UnreadableReply("orderAmount must be an integer number of fen");
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_EQ(s.message(),
            "unreadable reply from merchant API: orderAmount must be an integer number of fen");
}

TEST(MerchantErrorsTest, CleanTextBoundsAndKeepsUtf8Whole) {
  EXPECT_EQ(CleanText("a\nb\tc"), "a b c");
  // Each character is three bytes; a 4-byte limit must cut after the first one, not inside
  // the second.
  EXPECT_EQ(CleanText("订单不存在", 4), "订…");
  EXPECT_EQ(CleanText("abc", 3), "abc");
}

}  // namespace
}  // namespace orderquery::payment::tradeapi
