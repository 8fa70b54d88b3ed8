// Helpers around hwloc bitmaps (see hwloc_util.hpp).
#include "hwloc_util.hpp"

#include <new>
#include <nlohmann/json.hpp>

namespace shadowsync::numa::detail {

Bitmap make_bitmap() {
  Bitmap bitmap(hwloc_bitmap_alloc());
  if (!bitmap) throw std::bad_alloc();
  return bitmap;
}

Bitmap bitmap_of(const std::vector<int>& indexes) {
  Bitmap bitmap = make_bitmap();
  for (int index : indexes) hwloc_bitmap_set(bitmap.get(), static_cast<unsigned>(index));
  return bitmap;
}

std::vector<int> indexes_of(hwloc_const_bitmap_t bitmap) {
  std::vector<int> indexes;
  for (int index = hwloc_bitmap_first(bitmap); index != -1;
       index = hwloc_bitmap_next(bitmap, index)) {
    indexes.push_back(index);
  }
  return indexes;
}

std::string list_string(hwloc_const_bitmap_t bitmap) {
  char* text = nullptr;
  if (hwloc_bitmap_list_asprintf(&text, bitmap) < 0 || text == nullptr) throw std::bad_alloc();
  std::string result(text);
  std::free(text);
  return result;
}

std::string list_string(const std::vector<int>& indexes) {
  return list_string(bitmap_of(indexes).get());
}

std::string utf8_safe(const std::string& text) {
  const std::string quoted =
      nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(quoted).get<std::string>();
}

}  // namespace shadowsync::numa::detail
