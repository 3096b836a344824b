// The WeChat Pay API v3 part of the payment sandbox: the direct, partner and vehicle (seed 002)
// order queries and the close API, with request signature checks, signed replies, scripted order
// states and injected faults, and payment notifications (wechat_notify.h). The scenario format and
// control API are documented in tests/fakes/README.md.
#ifndef ORDERQUERY_TESTS_FAKES_SANDBOX_WECHAT_MODULE_H_
#define ORDERQUERY_TESTS_FAKES_SANDBOX_WECHAT_MODULE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/fakes/sandbox/module.h"

namespace orderquery::sandbox {

// Flags read: --merchant-public-key [MCHID=]FILE (repeatable; without MCHID= the key is the
// default for every merchant), --platform-private-key FILE, --platform-serial PUB_KEY_ID_…,
// --apiv3-key KEY (32 bytes; encrypts notifications, none are sent without it).
absl::StatusOr<std::unique_ptr<SandboxModule>> MakeWechatModule(
    const SandboxContext& context, const std::multimap<std::string, std::string>& flags);

}  // namespace orderquery::sandbox

#endif  // ORDERQUERY_TESTS_FAKES_SANDBOX_WECHAT_MODULE_H_
