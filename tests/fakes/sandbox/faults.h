// Fault injection specs shared by the sandbox's modules. A fault is a JSON object:
//   {"type": "http_500", "first": 2}        the first 2 requests of the order get it
//   {"type": "http_429", "percent": 30}     each request gets it with probability 30 %
//   {"type": "timeout", "sleep_ms": 3000}   every request (no selector) gets it
// Which types exist and what their parameters mean is up to the module (wechat_module.h lists
// the WeChat ones); unknown types and unknown keys are rejected so a typo in a scenario fails
// loudly instead of silently testing nothing.
#ifndef ORDERQUERY_TESTS_FAKES_SANDBOX_FAULTS_H_
#define ORDERQUERY_TESTS_FAKES_SANDBOX_FAULTS_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace orderquery::sandbox {

struct FaultSpec {
  std::string type;
  // Selectors: at most one. first > 0: requests 1..first; percent >= 0: random share.
  int64_t first = 0;
  double percent = -1;
  // Parameters; -1 / empty = the module's default.
  int status = -1;              // http status of error replies / non-JSON body
  std::string code;             // error code of http_error
  std::string message;          // error message of http_error
  int64_t sleep_ms = -1;        // timeout
  int64_t skew_s = -600;        // stale_timestamp: seconds added to now
  std::string value;            // wrong_mchid / wrong_appid / unknown_serial replacement
  int64_t delta = 1;            // amount_mismatch: added to the paid amounts
  int64_t cut_at = -1;          // truncated_body / disconnect: bytes sent (default half)
  bool unsigned_reply = false;  // error replies without Wechatpay-* headers

  nlohmann::json ToJson() const;
};

absl::StatusOr<FaultSpec> ParseFault(const nlohmann::json& j, const std::set<std::string>& types);
absl::StatusOr<std::vector<FaultSpec>> ParseFaults(const nlohmann::json& j,
                                                   const std::set<std::string>& types);

// The body of a non_json_body fault: what an nginx in front of the provider sends.
inline constexpr char kBadGatewayPage[] =
    "<html><head><title>502 Bad Gateway</title></head><body>"
    "<center><h1>502 Bad Gateway</h1></center></body></html>";

// The first fault of `faults` that applies to the order's n-th request (1-based); `roll`
// returns a uniform number in [0, 100) and is called once per percentage fault considered.
const FaultSpec* PickFault(const std::vector<FaultSpec>& faults, uint64_t n,
                           const std::function<double()>& roll);

}  // namespace orderquery::sandbox

#endif  // ORDERQUERY_TESTS_FAKES_SANDBOX_FAULTS_H_
