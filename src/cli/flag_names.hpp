// How the command line spells a configuration field named in a library error (see
// shadowsync/core/error.hpp): threads_per_group -> --threads-per-group, with the few flags
// whose name differs from their field listed in flag_names.cpp.
#pragma once

#include <string>
#include <string_view>

namespace shadowsync::cli {

std::string flag_for_field(std::string_view field);

}  // namespace shadowsync::cli
