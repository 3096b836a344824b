#include "server/payment/wechat/endpoints.h"

#include "absl/strings/str_cat.h"
#include "server/common/validation.h"

namespace orderquery::payment::wechat {

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
