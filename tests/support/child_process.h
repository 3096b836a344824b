// Runs a program as a child process for tests (orderqueryd, the payment sandbox): reads its
// stdout line by line, keeps its stderr in a file, signals and reaps it. A child still running
// at destruction is killed, and the child is killed too if the thread that started it dies
// (PR_SET_PDEATHSIG), so a failing or crashing test leaves nothing behind.
#ifndef ORDERQUERY_TESTS_SUPPORT_CHILD_PROCESS_H_
#define ORDERQUERY_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace orderquery::testing {

class ChildProcess {
 public:
  // argv[0] is the program path. `env` is added to (and overrides) the parent's environment.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {});
  ~ChildProcess();

  // Reads stdout until a line starting with `prefix` arrives; DEADLINE_EXCEEDED on timeout,
  // FAILED_PRECONDITION if the child closed stdout first (the message carries its stderr).
  absl::StatusOr<std::string> WaitForLine(absl::string_view prefix, absl::Duration timeout);
  void Signal(int sig);
  // Exit code (128+N when killed by signal N), or nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);
  // SIGTERM, then SIGKILL if it has not exited within `grace`; returns the exit code.
  int Stop(absl::Duration grace);
  // Everything the child wrote to stderr so far.
  std::string Stderr() const;
  pid_t pid() const { return pid_; }

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string stderr_path_;
  std::string buffer_;
  std::optional<int> exit_code_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

}  // namespace orderquery::testing

#endif  // ORDERQUERY_TESTS_SUPPORT_CHILD_PROCESS_H_
