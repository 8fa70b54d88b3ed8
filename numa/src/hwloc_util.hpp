// Small RAII and formatting helpers around hwloc bitmaps, and a JSON-safe string helper, shared
// by the numa sources (private).
#pragma once

#include <hwloc.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace shadowsync::numa::detail {

struct BitmapDeleter {
  void operator()(hwloc_bitmap_s* bitmap) const noexcept { hwloc_bitmap_free(bitmap); }
};
using Bitmap = std::unique_ptr<hwloc_bitmap_s, BitmapDeleter>;

// A new empty bitmap (throws std::bad_alloc when hwloc cannot allocate one).
Bitmap make_bitmap();
// A bitmap with exactly the given indexes set.
Bitmap bitmap_of(const std::vector<int>& indexes);
// Indexes set in `bitmap`, ascending.
std::vector<int> indexes_of(hwloc_const_bitmap_t bitmap);
// hwloc list format, e.g. "0-7,16-23" ("" for an empty set).
std::string list_string(hwloc_const_bitmap_t bitmap);
std::string list_string(const std::vector<int>& indexes);

// `text` with every byte sequence that is not valid UTF-8 replaced by U+FFFD, so that a JSON
// value holding it can be dumped (a file name or description is any bytes).
std::string utf8_safe(const std::string& text);

}  // namespace shadowsync::numa::detail
