// The one exception type shadowsync throws for bad input, bad options and I/O failures.
// Contract: what() names where the problem is (file, file:line, option or section) and what is
// wrong, so the command-line tool can print it as is and exit non-zero.
#pragma once

#include <stdexcept>
#include <string>

namespace shadowsync {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace shadowsync
