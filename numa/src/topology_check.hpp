// Checks of described machines before hwloc builds them (private to the numa library): the
// structure of hwloc 2 XML text (libhwloc 2.9 crashes on some malformed objects) and the size of
// synthetic descriptions (hwloc would spend minutes or gigabytes on huge ones). The limits are
// Topology::kMax*.
#pragma once

#include <string>
#include <string_view>

#include "shadowsync/core/error.hpp"

namespace shadowsync::numa::detail {

// An Error about the `topology` configuration field: what() reads "topology" + rest (the CLI
// shows "--topology" + rest).
Error topology_error(const std::string& rest);

// Throws topology_error ": file 'NAME' is not a valid hwloc XML topology: line N: WHAT" unless
// `text` (already cut at its first NUL byte, as hwloc reads it) is hwloc 2 XML whose objects
// have the attributes hwloc dereferences without checking, within the Topology limits.
void check_xml_text(std::string_view text, std::string_view name);

// Throws topology_error " 'SPEC': ..." when the synthetic description's levels cannot be read
// (the usual "not a valid hwloc synthetic description" message) or describe more than the
// Topology limits (PUs, objects per level, objects, explicit indexes).
void check_synthetic(const std::string& description);

// The Error for a synthetic description hwloc (or check_synthetic) cannot read; `why` says
// where or what.
Error invalid_synthetic(const std::string& description, const std::string& why);

}  // namespace shadowsync::numa::detail
