// CPU time for the micro-benchmarks under tests/ (issue 13): this process's, and another
// process's from /proc.
#ifndef ORDERQUERY_TESTS_SUPPORT_CPU_TIME_H_
#define ORDERQUERY_TESTS_SUPPORT_CPU_TIME_H_

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace orderquery::test_support {

// utime + stime of this process, in seconds.
inline double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// utime + stime of another process, in seconds; 0 when unknown.
inline double OtherCpuSeconds(long pid) {  // NOLINT(runtime/int): pid as read from text
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace orderquery::test_support

#endif  // ORDERQUERY_TESTS_SUPPORT_CPU_TIME_H_
