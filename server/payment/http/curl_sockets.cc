// The multi handle driven by curl_multi_socket_action: curl tells OnSocket which of its sockets
// to watch for what (they go into an epoll set) and OnCurlTimer when it wants to run on its own;
// the loop waits on the epoll set, which also holds an eventfd that Wake() writes. A turn of the
// loop then costs O(ready sockets), however many keep-alive connections sit in the cache.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "server/payment/http/curl_loop.h"

namespace orderquery::payment::http {
namespace {

constexpr int kMaxEvents = 64;

}  // namespace

absl::Status CurlTransport::Loop::Init() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return absl::InternalError(absl::StrCat("epoll_create1: ", strerror(errno)));
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    return absl::InternalError(absl::StrCat("epoll_ctl(eventfd): ", strerror(errno)));
  }
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Loop::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Loop::OnCurlTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  return absl::OkStatus();
}

void CurlTransport::Loop::CloseFds() {
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
  wake_fd_ = epoll_fd_ = -1;
}

void CurlTransport::Loop::Wake() {
  if (wake_fd_ < 0) return;
  const uint64_t one = 1;
  // A full counter (never in practice) still leaves the fd readable, which is all we need.
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void CurlTransport::Loop::DriveCurl(int wait_ms) {
  int running = 0;
  if (curl_due_ <= absl::Now()) {
    // Cleared first: the call may arm the next timeout through OnCurlTimer.
    curl_due_ = absl::InfiniteFuture();
    curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
    ReapCompleted();
    // What finished may have submitted or armed something: look again before sleeping.
    wait_ms = 0;
  }
  epoll_event events[kMaxEvents];
  const int n = epoll_wait(epoll_fd_, events, kMaxEvents, wait_ms);
  for (int i = 0; i < n; ++i) {
    const int fd = events[i].data.fd;
    if (fd == wake_fd_) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t r = read(wake_fd_, &count, sizeof(count));
      continue;
    }
    int mask = 0;
    if (events[i].events & EPOLLIN) mask |= CURL_CSELECT_IN;
    if (events[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
    if (events[i].events & (EPOLLERR | EPOLLHUP)) mask |= CURL_CSELECT_ERR;
    curl_multi_socket_action(multi_, fd, mask, &running);
  }
  if (n > 0) ReapCompleted();
}

int CurlTransport::Loop::OnSocket(CURL*, curl_socket_t fd, int what, void* loop, void*) {
  Loop* self = static_cast<Loop*>(loop);
  if (what == CURL_POLL_REMOVE) {
    // The fd may be closed already (then the kernel dropped it from the set): errors are fine.
    epoll_ctl(self->epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    self->watched_.erase(fd);
    return 0;
  }
  epoll_event ev{};
  ev.data.fd = fd;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) ev.events |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) ev.events |= EPOLLOUT;
  const bool known = self->watched_.count(fd) > 0;
  if (epoll_ctl(self->epoll_fd_, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0) {
    // A reused fd number the set forgot (closed without REMOVE), or one it still has.
    epoll_ctl(self->epoll_fd_, known ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
  }
  self->watched_.insert(fd);
  return 0;
}

int CurlTransport::Loop::OnCurlTimer(CURLM*, long timeout_ms, void* loop) {  // NOLINT
  Loop* self = static_cast<Loop*>(loop);
  self->curl_due_ =
      timeout_ms < 0 ? absl::InfiniteFuture() : absl::Now() + absl::Milliseconds(timeout_ms);
  return 0;
}

}  // namespace orderquery::payment::http
