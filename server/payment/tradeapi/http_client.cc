#include "server/payment/tradeapi/http_client.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/common/files.h"
#include "server/common/text.h"
#include "server/payment/tradeapi/decoder.h"
#include "server/payment/tradeapi/errors.h"

namespace orderquery::payment::tradeapi {
namespace {

absl::StatusOr<std::string> ReadKeyFile(const std::string& config_key, const std::string& path) {
  absl::StatusOr<std::string> content = files::ReadFile(config_key, path);
  if (!content.ok()) return content.status();
  // Key files are usually written with a trailing newline that is not part of the key.
  std::string key(absl::StripAsciiWhitespace(*content));
  if (key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_key, ": key file \"", path, "\" is empty"));
  }
  return key;
}

}  // namespace

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> UrlDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] != '%') {
      out.push_back(s[i]);
    } else {
      const int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
      const int lo = hi >= 0 ? HexValue(s[i + 2]) : -1;
      if (lo < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad percent escape in \"", CleanText(s, 64), "\""));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<Params> ParseQuery(absl::string_view query) {
  Params params;
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    auto name = UrlDecode(pair.substr(0, eq));
    if (!name.ok()) return name.status();
    auto value = UrlDecode(eq == absl::string_view::npos ? "" : pair.substr(eq + 1));
    if (!value.ok()) return value.status();
    if (!params.emplace(std::move(*name), std::move(*value)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameter \"", CleanText(pair.substr(0, eq), 64), "\" repeated"));
    }
  }
  return params;
}

absl::StatusOr<MerchantEndpoint> LoadMerchant(const std::string& name, const MerchantSettings& c) {
  const std::string prefix = absl::StrCat("trade.merchants.", name, ".");
  MerchantEndpoint m;
  m.name = name;
  m.base_url = std::string(absl::StripSuffix(c.base_url, "/"));
  if (m.base_url.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(prefix, "base_url is required"));
  }
  if (c.mch_id.empty())
    return absl::InvalidArgumentError(absl::StrCat(prefix, "mch_id is required"));
  m.mch_id = c.mch_id;
  m.app_id = c.app_id;
  auto type = ParseSignType(c.sign_type);
  if (!type.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(prefix, type.status().message()));
  }
  m.sign_type = *type;
  // An inline key (typically from the environment) wins over the file.
  if (!c.key.empty()) {
    m.key = c.key;
  } else if (!c.key_file.empty()) {
    auto key = ReadKeyFile(prefix + "key_file", c.key_file);
    if (!key.ok()) return key.status();
    m.key = std::move(*key);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(prefix, "key: key or key_file is required"));
  }
  return m;
}

absl::StatusOr<std::unique_ptr<HttpMerchantTradeClient>> HttpMerchantTradeClient::Create(
    const std::map<std::string, MerchantSettings>& merchants, http::Transport* transport,
    Clock clock) {
  std::map<std::string, MerchantEndpoint> loaded;
  for (const auto& [name, c] : merchants) {
    auto m = LoadMerchant(name, c);
    if (!m.ok()) return m.status();
    loaded.emplace(name, std::move(*m));
  }
  if (!clock) clock = [] { return absl::Now(); };
  return std::unique_ptr<HttpMerchantTradeClient>(
      new HttpMerchantTradeClient(std::move(loaded), transport, std::move(clock)));
}

HttpMerchantTradeClient::HttpMerchantTradeClient(std::map<std::string, MerchantEndpoint> merchants,
                                                 http::Transport* transport, Clock clock)
    : merchants_(std::move(merchants)), transport_(transport), clock_(std::move(clock)) {}

bool HttpMerchantTradeClient::HasMerchant(absl::string_view merchant) const {
  return merchants_.count(std::string(merchant)) > 0;
}

absl::StatusOr<http::Request> HttpMerchantTradeClient::BuildRequest(
    absl::string_view merchant, absl::string_view trade_order_id, absl::Time deadline) const {
  auto it = merchants_.find(std::string(merchant));
  if (it == merchants_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown trade merchant \"", merchant, "\""));
  }
  const MerchantEndpoint& m = it->second;
  Params params;
  params["tradeOrderId"] = std::string(trade_order_id);
  params[kMchIdParam] = m.mch_id;
  if (!m.app_id.empty()) params[kAppIdParam] = m.app_id;
  params[kSignTypeParam] = std::string(SignTypeName(m.sign_type));
  params[kReqTimeParam] = FormatReqTime(clock_());
  const std::string sign = Sign(params, m.key, m.sign_type);

  http::Request request;
  request.method = "GET";
  request.url = absl::StrCat(m.base_url, kTradeOrderPath,
                             "?tradeOrderId=", text::PercentEncode(trade_order_id),
                             "&mchId=", text::PercentEncode(m.mch_id));
  if (!m.app_id.empty()) absl::StrAppend(&request.url, "&appId=", text::PercentEncode(m.app_id));
  absl::StrAppend(&request.url, "&signType=", text::PercentEncode(params[kSignTypeParam]),
                  "&reqTime=", params[kReqTimeParam], "&sign=", sign);
  request.headers.emplace_back("Accept", "application/json");
  request.deadline = deadline;
  request.limiter_key = m.name;
  request.idempotent = true;  // a query: asking twice changes nothing upstream
  request.metric_provider = "trade";
  request.metric_merchant = m.name;
  request.metric_endpoint = "trade_order_get";
  return request;
}

void HttpMerchantTradeClient::GetTradeOrder(absl::string_view merchant,
                                            absl::string_view trade_order_id, absl::Time deadline,
                                            Callback done) {
  auto request = BuildRequest(merchant, trade_order_id, deadline);
  if (!request.ok()) return done(request.status());
  const MerchantEndpoint& m = merchants_.find(std::string(merchant))->second;
  transport_->Send(
      std::move(*request), [&m, id = std::string(trade_order_id),
                            done = std::move(done)](absl::StatusOr<http::Response> response) {
        absl::StatusOr<domain::TradeOrderRecord> result;
        if (!response.ok()) {
          result = FromTransportFailure(response.status());
        } else if (!http::IsSuccessStatus(response->status)) {
          result = FromHttpError(response->status, response->body);
        } else {
          result = DecodeTradeOrderReply(response->body);
        }
        if (result.ok() && result->trade_order_id != id) {
          result = absl::UnavailableError(absl::StrCat("merchant API answered for trade order \"",
                                                       CleanText(result->trade_order_id, 64),
                                                       "\", not \"", id, "\"; ask again"));
        } else if (result.ok() &&
                   ((!result->mch_id.empty() && result->mch_id != m.mch_id) ||
                    (!result->app_id.empty() && !m.app_id.empty() && result->app_id != m.app_id))) {
          result = absl::InternalError(absl::StrCat(
              "merchant API answered with mchId \"", CleanText(result->mch_id, 64), "\" appId \"",
              CleanText(result->app_id, 64), "\" but merchant ", m.name, " is mchId \"", m.mch_id,
              "\" appId \"", m.app_id, "\": check base_url, mch_id and app_id"));
        }
        // A failure is logged once, by the port's logging decorator (usecase/port_logging.h).
        if (result.ok()) result->merchant = m.name;
        done(std::move(result));
      });
}

}  // namespace orderquery::payment::tradeapi
