#include "server/common/files.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace orderquery::files {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/oq_files_test_" + name;
}

std::string Write(const std::string& name, const std::string& content) {
  const std::string path = TempPath(name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(ReadFileTest, ReadsEveryByte) {
  const std::string content("line 1\r\nline 2\n\0tail", 20);
  const std::string path = Write("bytes", content);
  absl::StatusOr<std::string> got = ReadFile("tls.ca_file", path);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, content);
  std::remove(path.c_str());
}

TEST(ReadFileTest, MissingFileNamesTheSettingAndThePath) {
  const std::string path = TempPath("does-not-exist");
  absl::StatusOr<std::string> got = ReadFile("tls.key_file", path);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(got.status().message(), HasSubstr("tls.key_file: cannot read " + path));
}

TEST(ReadFileTest, RefusesMoreThanTheLimit) {
  const std::string path = Write("big", std::string(5000, 'x'));
  EXPECT_TRUE(ReadFile("k", path, 5000).ok());
  absl::StatusOr<std::string> got = ReadFile("k", path, 4999);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr("larger than 4999 bytes"));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace orderquery::files
