#include "server/http/listener.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace orderquery::http {

struct Listener::Impl {
  ListenerOptions options;
  httplib::Server server;
  std::thread thread;
  bool started = false;
};

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

httplib::Server::Handler Wrap(const std::string& method, Handler handler) {
  return [method, handler](const httplib::Request& in, httplib::Response& out) {
    Request r;
    r.method = method;
    r.path = in.path;
    for (size_t i = 1; i < in.matches.size(); ++i) r.captures.push_back(in.matches[i].str());
    r.body = in.body;
    r.remote_addr = in.remote_addr;
    std::set<std::string> seen;
    for (const auto& [name, value] : in.headers) {
      std::string key = Lower(name);
      if (!seen.insert(key).second) r.repeated_headers.push_back(key);
      r.headers[key] = value;
    }
    Response resp = handler(r);
    out.status = resp.status;
    out.set_content(resp.body, resp.content_type.c_str());
  };
}

}  // namespace

Listener::Listener(ListenerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  auto& s = impl_->server;
  s.set_payload_max_length(options.max_body_bytes);
  s.set_read_timeout(options.read_timeout_ms / 1000, (options.read_timeout_ms % 1000) * 1000);
  s.set_write_timeout(options.read_timeout_ms / 1000, (options.read_timeout_ms % 1000) * 1000);
  s.set_keep_alive_max_count(100);
  const int threads = std::max(options.threads, 1);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  // Anything unrouted: a JSON 404 (httplib's default page is HTML).
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const char* message = res.status == 413   ? "body too large"
                          : res.status == 404 ? "no such route"
                                              : "request refused";
    res.set_content(absl::StrCat(R"({"code":"FAIL","message":")", message, R"("})"),
                    "application/json");
  });
}

Listener::~Listener() { Stop(); }

void Listener::Post(const std::string& pattern, Handler handler) {
  impl_->server.Post(pattern, Wrap("POST", std::move(handler)));
}

void Listener::Get(const std::string& pattern, Handler handler) {
  impl_->server.Get(pattern, Wrap("GET", std::move(handler)));
}

absl::StatusOr<std::string> Listener::Start(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("listen ", listen, ": must be host:port"));
  }
  const std::string host = listen.substr(0, colon);
  int port = 0;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("listen ", listen, ": bad port"));
  }
  if (port == 0) {
    port = impl_->server.bind_to_any_port(host.c_str());
    if (port <= 0) return absl::UnavailableError(absl::StrCat("listen ", listen, ": cannot bind"));
  } else if (!impl_->server.bind_to_port(host.c_str(), port)) {
    return absl::UnavailableError(absl::StrCat("listen ", listen, ": cannot bind"));
  }
  impl_->started = true;
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  return absl::StrCat(host, ":", port);
}

void Listener::Stop() {
  if (!impl_ || !impl_->started) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->started = false;
}

}  // namespace orderquery::http
