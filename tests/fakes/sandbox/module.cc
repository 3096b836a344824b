#include "tests/fakes/sandbox/module.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace orderquery::sandbox {

bool Sleeper::SleepFor(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, absl::ToChronoNanoseconds(d), [this] { return shutdown_; });
}

void Sleeper::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
}

Traffic::Scope::~Scope() {
  if (t_ == nullptr) return;
  std::lock_guard<std::mutex> lock(t_->mu_);
  --t_->inflight_;
}

Traffic::Scope Traffic::Track(const httplib::Request& req) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_;
  ++inflight_;
  if (inflight_ > max_inflight_) max_inflight_ = inflight_;
  connections_.insert(absl::StrCat(req.remote_addr, ":", req.remote_port));
  return Scope(this);
}

void Traffic::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  requests_ = 0;
  // Requests being handled right now still leave through their Scope.
  max_inflight_ = inflight_;
  connections_.clear();
}

nlohmann::json Traffic::ToJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {{"requests", requests_},
          {"inflight", inflight_},
          {"max_inflight", max_inflight_},
          {"connections", connections_.size()}};
}

std::vector<std::pair<std::string, std::string>> PerMerchantFlag(
    const std::multimap<std::string, std::string>& flags, const std::string& name) {
  auto is_digit = [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); };
  std::vector<std::pair<std::string, std::string>> out;
  auto range = flags.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) {
    const std::string& flag = it->second;
    const size_t eq = flag.find('=');
    if (eq != std::string::npos && eq > 0 &&
        std::all_of(flag.begin(), flag.begin() + eq, is_digit)) {
      out.emplace_back(flag.substr(0, eq), flag.substr(eq + 1));
    } else {
      out.emplace_back("", flag);
    }
  }
  return out;
}

void ReplyJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void ReplyError(httplib::Response& res, int status, const std::string& code,
                const std::string& message) {
  ReplyJson(res, status, {{"code", code}, {"message", message}});
}

}  // namespace orderquery::sandbox
