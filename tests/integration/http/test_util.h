// Helpers shared by the HTTP transport and sandbox integration tests.
#ifndef ORDERQUERY_TESTS_INTEGRATION_HTTP_TEST_UTIL_H_
#define ORDERQUERY_TESTS_INTEGRATION_HTTP_TEST_UTIL_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "server/payment/http/transport.h"

namespace orderquery::payment::http::testutil {

// Sends and waits for the callback.
inline absl::StatusOr<Response> SendAndWait(Transport& transport, Request request) {
  // Shared so the callback never touches a promise the waiting thread already destroyed.
  auto promise = std::make_shared<std::promise<absl::StatusOr<Response>>>();
  std::future<absl::StatusOr<Response>> future = promise->get_future();
  transport.Send(std::move(request),
                 [promise](absl::StatusOr<Response> r) { promise->set_value(std::move(r)); });
  return future.get();
}

// A loopback port nobody listens on (bound, then released).
inline int UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A fresh directory under TMPDIR (or /tmp).
inline std::string TempDir(const std::string& tag) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = absl::StrCat(base != nullptr ? base : "/tmp", "/oq-", tag, "-XXXXXX");
  char* made = ::mkdtemp(templ.data());
  return made != nullptr ? std::string(made) : std::string();
}

// Removes a directory made by TempDir (best effort: a leftover temp dir fails no test).
inline void RemoveTree(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace orderquery::payment::http::testutil

#endif  // ORDERQUERY_TESTS_INTEGRATION_HTTP_TEST_UTIL_H_
