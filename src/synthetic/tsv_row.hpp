// Formatting of one raw Criteo TSV line: label, 13 integers, 26 categoricals as 8 lowercase
// hex digits (empty when missing), tab separated, '\n' ended.
#pragma once

#include <string>

#include "schema.hpp"

namespace shadowsync::synthetic {

void append_tsv_row(std::string& out, int label, const RawRow& row);

}  // namespace shadowsync::synthetic
