// A vehicle (parking) payment transaction as the provider reports it (seed 002's 应答参数), in
// the use cases' own types: what the vehicle port returns (usecase/ports.h). Money is integer
// fen; times are the provider's RFC 3339 text, kept as given so that an answer reads back exactly
// as it came. service/ maps it to the API's message.
#ifndef ORDERQUERY_SERVER_DOMAIN_VEHICLE_H_
#define ORDERQUERY_SERVER_DOMAIN_VEHICLE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace orderquery::domain {

enum class VehicleTradeState {
  kUnspecified,  // not given, or a state this service does not know
  kSuccess,      // paid
  kAccepted,     // accepted, waiting for the debit
  kPayFail,      // the debit failed
  kRefund,       // moved to refund
};

// The state as stored (t_vehicle_snapshot.trade_state) and compared by CheckVehicleMove:
// "SUCCESS", "ACCEPTED", "PAY_FAIL", "REFUND"; "TRADE_STATE_UNSPECIFIED" for kUnspecified.
inline absl::string_view VehicleTradeStateName(VehicleTradeState s) {
  switch (s) {
    case VehicleTradeState::kSuccess:
      return "SUCCESS";
    case VehicleTradeState::kAccepted:
      return "ACCEPTED";
    case VehicleTradeState::kPayFail:
      return "PAY_FAIL";
    case VehicleTradeState::kRefund:
      return "REFUND";
    case VehicleTradeState::kUnspecified:
      break;
  }
  return "TRADE_STATE_UNSPECIFIED";
}

enum class PlateColor { kUnspecified, kBlue, kGreen, kYellow, kBlack, kWhite, kLimeGreen };

struct ParkingInfo {
  std::string parking_id;  // entry id assigned by the provider
  std::string plate_number;
  PlateColor plate_color = PlateColor::kUnspecified;
  std::string start_time;  // entry, RFC 3339
  std::string end_time;    // exit, RFC 3339
  std::string parking_name;
  int64_t charging_duration_seconds = 0;
  std::string device_id;
};

struct VehiclePayer {
  std::string openid;      // under appid
  std::string sub_openid;  // under sub_appid
};

struct VehicleAmount {
  int64_t total_fen = 0;
  std::string currency;  // ISO 4217, CNY
  int64_t payer_total_fen = 0;
  int64_t discount_total_fen = 0;
};

struct VehiclePromotion {
  std::string coupon_id;
  std::string name;
  std::string scope;  // GLOBAL or SINGLE
  std::string type;   // CASH or NOCASH
  std::string stock_id;
  int64_t amount_fen = 0;
  int64_t wechatpay_contribute_fen = 0;
  int64_t merchant_contribute_fen = 0;
  int64_t other_contribute_fen = 0;
  std::string currency;
};

struct VehicleTransaction {
  std::string appid;
  std::string sub_appid;
  std::string sp_mchid;
  std::string sub_mchid;
  std::string description;
  std::string create_time;  // RFC 3339 with offset
  std::string out_trade_no;
  std::string transaction_id;
  VehicleTradeState trade_state = VehicleTradeState::kUnspecified;
  std::string trade_state_description;
  std::string success_time;  // RFC 3339 with offset; "" until paid
  std::string bank_type;     // BPA: the provider advanced the money
  std::string user_repaid;   // Y/N: has the user repaid an advance
  std::string attach;
  std::string trade_scene;  // PARKING
  // Absent when the reply has none (kept apart from "present but empty").
  std::optional<ParkingInfo> parking_info;
  std::optional<VehiclePayer> payer;
  std::optional<VehicleAmount> amount;
  std::vector<VehiclePromotion> promotion_detail;
};

}  // namespace orderquery::domain

#endif  // ORDERQUERY_SERVER_DOMAIN_VEHICLE_H_
