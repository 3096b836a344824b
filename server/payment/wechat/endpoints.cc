#include "server/payment/wechat/endpoints.h"

#include "absl/strings/str_cat.h"
#include "server/common/validation.h"

namespace orderquery::payment::wechat {

std::string PercentEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0F]);
    }
  }
  return out;
}

absl::StatusOr<std::string> DirectQueryPath(absl::string_view out_trade_no,
                                            absl::string_view mchid) {
  if (absl::Status s = ValidateOutTradeNo(out_trade_no); !s.ok()) return s;
  if (absl::Status s = ValidateMchId(mchid, "mchid"); !s.ok()) return s;
  return absl::StrCat("/v3/pay/transactions/out-trade-no/", PercentEncode(out_trade_no),
                      "?mchid=", PercentEncode(mchid));
}

absl::StatusOr<std::string> PartnerQueryPath(absl::string_view out_trade_no,
                                             absl::string_view sp_mchid,
                                             absl::string_view sub_mchid) {
  if (absl::Status s = ValidateOutTradeNo(out_trade_no); !s.ok()) return s;
  if (absl::Status s = ValidateMchId(sp_mchid, "sp_mchid"); !s.ok()) return s;
  if (absl::Status s = ValidateMchId(sub_mchid, "sub_mchid"); !s.ok()) return s;
  return absl::StrCat("/v3/pay/partner/transactions/out-trade-no/", PercentEncode(out_trade_no),
                      "?sp_mchid=", PercentEncode(sp_mchid),
                      "&sub_mchid=", PercentEncode(sub_mchid));
}

absl::StatusOr<std::string> VehicleQueryPath(absl::string_view out_trade_no,
                                             absl::string_view sub_mchid) {
  if (absl::Status s = ValidateOutTradeNo(out_trade_no); !s.ok()) return s;
  if (absl::Status s = ValidateMchId(sub_mchid, "sub_mchid"); !s.ok()) return s;
  return absl::StrCat("/v3/vehicle/transactions/out-trade-no/", PercentEncode(out_trade_no),
                      "?sub_mchid=", PercentEncode(sub_mchid));
}

absl::StatusOr<std::string> DirectClosePath(absl::string_view out_trade_no) {
  if (absl::Status s = ValidateOutTradeNo(out_trade_no); !s.ok()) return s;
  return absl::StrCat("/v3/pay/transactions/out-trade-no/", PercentEncode(out_trade_no), "/close");
}

absl::StatusOr<std::string> PartnerClosePath(absl::string_view out_trade_no) {
  if (absl::Status s = ValidateOutTradeNo(out_trade_no); !s.ok()) return s;
  return absl::StrCat("/v3/pay/partner/transactions/out-trade-no/", PercentEncode(out_trade_no),
                      "/close");
}

}  // namespace orderquery::payment::wechat
