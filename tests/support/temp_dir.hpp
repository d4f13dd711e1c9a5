// A fresh directory under /tmp for tests that touch the real disk.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

#include <stdlib.h>

#include <boost/test/unit_test.hpp>

namespace lg::test {

/// A fresh directory under /tmp, removed with everything in it at the end.
struct temp_dir {
  temp_dir() {
    char pattern[] = "/tmp/lg_test_XXXXXX";
    BOOST_REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
  }

  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  std::string path;
};

} // namespace lg::test
