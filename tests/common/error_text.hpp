// How the command line shows a library Error (fields spelled as flags), so tests of library
// code can assert the exact text users see (see shadowsync/core/error.hpp).
#pragma once

#include <string>

#include "cli/flag_names.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::test {

inline std::string cli_text(const Error& e) { return e.message(cli::flag_for_field); }

}  // namespace shadowsync::test
