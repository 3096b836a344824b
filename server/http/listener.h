// A small HTTP/1.1 listener for what orderqueryd serves besides gRPC: provider notifications
// (and, later, admin endpoints). Bounded: body size (413 above it), read timeout, and a fixed
// number of handler threads. Built on cpp-httplib (Debian's libcpp-httplib-dev), the library the
// payment sandbox already uses.
#ifndef ORDERQUERY_SERVER_HTTP_LISTENER_H_
#define ORDERQUERY_SERVER_HTTP_LISTENER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace orderquery::http {

struct Request {
  std::string method;
  std::string path;
  std::vector<std::string> captures;  // the route pattern's groups
  std::string body;
  // Header names lower-cased; a header sent twice keeps its last value here, and
  // `repeated_headers` names it (a notification must carry each signature header once).
  std::map<std::string, std::string> headers;
  std::vector<std::string> repeated_headers;
  std::string remote_addr;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using Handler = std::function<Response(const Request&)>;

struct ListenerOptions {
  size_t max_body_bytes = 64 * 1024;
  int threads = 8;
  int read_timeout_ms = 5000;
};

class Listener {
 public:
  explicit Listener(ListenerOptions options);
  ~Listener();  // Stop()

  // Routes are regular expressions over the path (e.g. "/notify/wechat/([A-Za-z0-9]+)").
  // Register before Start().
  void Post(const std::string& pattern, Handler handler);
  void Get(const std::string& pattern, Handler handler);

  // Binds `host:port` (port 0 = any free one) and serves on a thread of its own. Returns the
  // bound "host:port".
  absl::StatusOr<std::string> Start(const std::string& listen);
  // Stops accepting and waits for requests in progress.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderquery::http

#endif  // ORDERQUERY_SERVER_HTTP_LISTENER_H_
