// How the command line shows a library Error (fields spelled as flags), so tests of library
// code can assert the exact text users see (see shadowsync/core/error.hpp).
#pragma once

#include <functional>
#include <string>

#include "cli/flag_names.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::test {

inline std::string cli_text(const Error& e) { return e.message(cli::flag_for_field); }

// The command line's text of the Error `f` throws, or "(no error)".
inline std::string cli_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return cli_text(e);
  }
  return "(no error)";
}

}  // namespace shadowsync::test
