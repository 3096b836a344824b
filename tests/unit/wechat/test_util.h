// Helpers shared by the WeChat adapter's unit tests: test-only key files, temp dirs, and running
// the openssl command-line tool as an independent implementation to cross-check against.
// No dependency on the crypto library, so the BoringSSL test binary can use it too.
#ifndef ORDERQUERY_TESTS_UNIT_WECHAT_TEST_UTIL_H_
#define ORDERQUERY_TESTS_UNIT_WECHAT_TEST_UTIL_H_

#include <string>

namespace orderquery::payment::wechat::testing {

// Absolute path of a file under tests/unit/wechat/testdata (test-only keys and certificates).
std::string TestDataPath(const std::string& name);
// Whole file content; fails the current test (and returns "") when unreadable.
std::string ReadFileOrDie(const std::string& path);
void WriteFileOrDie(const std::string& path, const std::string& content);

// A fresh directory, removed with its content on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Runs `command` with /bin/sh; returns its exit status (-1 if it could not run). Output goes to
// `output` when given (stdout and stderr together).
int RunShell(const std::string& command, std::string* output = nullptr);

// Single-quotes `s` for /bin/sh.
std::string ShellQuote(const std::string& s);

}  // namespace orderquery::payment::wechat::testing

#endif  // ORDERQUERY_TESTS_UNIT_WECHAT_TEST_UTIL_H_
