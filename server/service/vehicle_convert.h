// domain::VehicleTransaction (what the vehicle port answers) -> orderquery.v1.VehicleTransaction
// (what the API answers): the proto mapping is the service layer's, not the provider's. Every
// field is copied; an absent part (parking_info, payer, amount) stays unset.
#ifndef ORDERQUERY_SERVER_SERVICE_VEHICLE_CONVERT_H_
#define ORDERQUERY_SERVER_SERVICE_VEHICLE_CONVERT_H_

#include "orderquery/v1/vehicle.pb.h"
#include "server/domain/vehicle.h"

namespace orderquery::service {

orderquery::v1::VehicleTransaction ToProto(const domain::VehicleTransaction& tx);

}  // namespace orderquery::service

#endif  // ORDERQUERY_SERVER_SERVICE_VEHICLE_CONVERT_H_
