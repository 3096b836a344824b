#include "tests/fakes/sandbox/module.h"

#include <chrono>

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
