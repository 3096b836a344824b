// Service identity at the gRPC edge (issue 15, findings 2 and 7). The internal RPCs
// (GetVehicleTransaction, GetTradeOrder) return payer openids, plates and phone numbers: a
// caller presents its API key as metadata `x-api-key`, and the key's configured methods say what
// it may call. force_refresh (any method) needs a key marked operator. QueryRechargeOrder itself
// keeps the user's token and needs no key.
//
// Keys are kept only as SHA-256 digests and compared in constant time.
#ifndef ORDERQUERY_SERVER_SERVICE_AUTH_H_
#define ORDERQUERY_SERVER_SERVICE_AUTH_H_

#include <array>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "server/config/config.h"

namespace orderquery::service {

inline constexpr char kApiKeyMetadata[] = "x-api-key";

inline constexpr char kQueryRechargeOrderMethod[] =
    "/orderquery.v1.OrderQueryService/QueryRechargeOrder";
inline constexpr char kGetVehicleTransactionMethod[] =
    "/orderquery.v1.OrderQueryService/GetVehicleTransaction";
inline constexpr char kGetTradeOrderMethod[] = "/orderquery.v1.TradeOrderService/GetTradeOrder";

// A call's metadata value under `key` ("" when absent; the first when repeated).
std::string MetadataValue(const grpc::CallbackServerContext* ctx, const char* key);

class CallerAuth {
 public:
  using Digest = std::array<unsigned char, 32>;
  struct Caller {
    std::string name;
    Digest digest{};
    bool all_methods = false;
    std::set<std::string> methods;  // full names with the leading '/'
    bool operator_ = false;
  };

  // `open_without_callers`: with no callers at all, the internal RPCs need no key (the demo's
  // development default). force_refresh always needs an operator's key.
  CallerAuth(std::vector<Caller> callers, bool open_without_callers);

  // From auth.callers (key files are read here). INVALID_ARGUMENT naming the key for an
  // unreadable file or an unknown method; env production never runs open.
  static absl::StatusOr<std::unique_ptr<CallerAuth>> FromConfig(const config::Config& cfg);

  static Digest Sha256(absl::string_view key);

  // OK when the call may go on: `method` is the full name; `internal` says the method needs a
  // service identity; `force_refresh` that it needs an operator. UNAUTHENTICATED for a missing
  // (where one is needed) or unknown key, PERMISSION_DENIED for no key or a key without the
  // right where an operator is needed, and for a key without that method.
  absl::Status Authorize(const grpc::CallbackServerContext* ctx, absl::string_view method,
                         bool internal, bool force_refresh) const;

  bool open() const { return callers_.empty() && open_without_callers_; }

 private:
  // The caller whose key this is, null when none (every caller is compared: constant time in
  // the key, whichever matches).
  const Caller* Find(absl::string_view key) const;

  std::vector<Caller> callers_;
  bool open_without_callers_;
};

}  // namespace orderquery::service

#endif  // ORDERQUERY_SERVER_SERVICE_AUTH_H_
