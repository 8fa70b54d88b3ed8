// Checks of hwloc 2 XML text and of synthetic descriptions before hwloc builds them (see
// topology_check.hpp). The XML reader follows hwloc's own minimal XML parser (the one libhwloc
// uses when built without libxml2, as Debian's is): tags end at the first '>', attributes are
// name="value" with the five escapes hwloc knows. Anything it cannot read the same way is refused
// rather than guessed at.
#include "topology_check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "hwloc_util.hpp"
#include "shadowsync/numa/topology.hpp"

namespace shadowsync::numa::detail {
namespace {

constexpr uint64_t kSaturated = uint64_t{1} << 62;  // counts stop growing here (no overflow)
constexpr size_t kMaxSyntheticLevels = 128;         // hwloc's HWLOC_SYNTHETIC_MAX_DEPTH
constexpr hwloc_obj_type_t kNoType = HWLOC_OBJ_TYPE_MAX;  // a synthetic level given as a number

uint64_t saturating_mul(uint64_t a, uint64_t b) {
  if (a != 0 && b > kSaturated / a) return kSaturated;
  return std::min(a * b, kSaturated);
}

uint64_t saturating_add(uint64_t a, uint64_t b) { return std::min(a + b, kSaturated); }

// Decimal digits only (no sign, no spaces); saturates at kSaturated. nullopt if not a number.
std::optional<uint64_t> parse_decimal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = saturating_add(saturating_mul(value, 10), static_cast<uint64_t>(c - '0'));
  }
  return value;
}

std::string count_string(uint64_t count) {
  return count >= kSaturated ? fmt::format("over {}", kSaturated) : std::to_string(count);
}

// A value quoted in a message, cut to a readable length.
std::string shown(std::string_view value) {
  constexpr size_t kShown = 40;
  if (value.size() <= kShown) return std::string(value);
  return std::string(value.substr(0, kShown)) + "...";
}

std::string lowercase(std::string_view text) {
  std::string result(text);
  for (char& c : result) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return result;
}

// Object types that hwloc gives cpusets and nodesets (normal and memory objects), as hwloc 2
// writes them in XML (compared lowercase).
bool needs_sets(const std::string& type) {
  static const char* const kTypes[] = {"machine", "package", "socket", "die", "group", "core",
                                       "pu", "numanode", "memcache"};
  for (const char* known : kTypes) {
    if (type == known) return true;
  }
  // L1Cache .. L5Cache, L1iCache .. L3iCache (and L1dCache).
  return type.size() >= 7 && type[0] == 'l' && type[1] >= '1' && type[1] <= '5' &&
         (type.substr(2) == "cache" || type.substr(2) == "icache" || type.substr(2) == "dcache");
}

constexpr const char* kBitmapAttributes[] = {"cpuset",          "complete_cpuset",  "allowed_cpuset",
                                             "nodeset",         "complete_nodeset", "allowed_nodeset",
                                             "initiator_cpuset"};

// hwloc's bitmap format as hwloc writes it: "0xf...f" (all), or an optional "0xf...f," then
// 32-bit words "0x" + 1..8 hex digits separated by commas. libhwloc 2.9's parser asserts (aborts)
// on some other strings, e.g. one starting with ',' (found by fuzzing).
bool well_formed_bitmap(std::string_view value) {
  static constexpr std::string_view kAll = "0xf...f";
  if (value == kAll) return true;
  if (value.starts_with(kAll)) {
    if (value[kAll.size()] != ',') return false;
    value.remove_prefix(kAll.size() + 1);
  }
  while (true) {
    if (!value.starts_with("0x")) return false;
    size_t digits = 2;
    while (digits < value.size() && std::isxdigit(static_cast<unsigned char>(value[digits]))) ++digits;
    if (digits == 2 || digits > 10) return false;
    if (digits == value.size()) return true;
    if (value[digits] != ',') return false;
    value.remove_prefix(digits + 1);
  }
}

class XmlChecker {
 public:
  XmlChecker(std::string_view text, std::string_view name) : text_(text), name_(name) {}

  void check() {
    size_t pos = 0;
    while (starts_with(pos, "<?xml ") || starts_with(pos, "<!DOCTYPE ")) {
      const size_t newline = text_.find('\n', pos);
      if (newline == std::string_view::npos) fail(pos, "the file ends inside its header");
      pos = newline + 1;
    }
    pos = topology_tag(pos);
    Tag topology;
    topology.name = "topology";
    children(topology, pos, 1, nullptr);
    if (pus_ == 0) fail("the machine has no PU object");
    if (numa_nodes_ == 0) fail("the machine has no NUMANode object");
  }

 private:
  struct Tag {
    std::string_view name;
    std::vector<std::pair<std::string_view, std::string>> attributes;
    bool self_closed = false;
    size_t offset = 0;

    const std::string* find(std::string_view key) const {
      for (const auto& [name, value] : attributes) {
        if (name == key) return &value;
      }
      return nullptr;
    }
  };

  [[noreturn]] void fail(const std::string& what) const {
    throw topology_error(fmt::format(": file '{}' is not a valid hwloc XML topology: {}", name_, what));
  }
  [[noreturn]] void fail(size_t offset, const std::string& what) const {
    fail(fmt::format("line {}: {}", line_of(offset), what));
  }

  size_t line_of(size_t offset) const {
    offset = std::min(offset, text_.size());
    return 1 + static_cast<size_t>(std::count(text_.begin(), text_.begin() + static_cast<long>(offset), '\n'));
  }

  bool starts_with(size_t pos, std::string_view prefix) const {
    return text_.substr(std::min(pos, text_.size())).starts_with(prefix);
  }

  size_t skip_spaces(size_t pos) const {
    while (pos < text_.size() && (text_[pos] == ' ' || text_[pos] == '\t' || text_[pos] == '\n')) ++pos;
    return pos;
  }

  // <topology version="2.x">; returns the position after it.
  size_t topology_tag(size_t pos) const {
    static constexpr std::string_view kOpen = "<topology version=\"";
    const std::string expected = "expected <topology version=\"2.x\">";
    if (!starts_with(pos, kOpen)) fail(pos, expected);
    size_t p = pos + kOpen.size();
    const size_t major_begin = p;
    while (p < text_.size() && text_[p] >= '0' && text_[p] <= '9') ++p;
    const std::string_view major = text_.substr(major_begin, p - major_begin);
    if (major.empty() || p >= text_.size() || text_[p] != '.') fail(pos, expected);
    const size_t minor_begin = ++p;
    while (p < text_.size() && text_[p] >= '0' && text_[p] <= '9') ++p;
    const std::string_view minor = text_.substr(minor_begin, p - minor_begin);
    if (minor.empty() || !starts_with(p, "\">")) fail(pos, expected);
    if (major != "2") {
      fail(pos, fmt::format("topology version {}.{}; shadowsync reads hwloc 2 XML (version 2.x)",
                            shown(major), shown(minor)));
    }
    return p + 2;
  }

  // The tag starting at text_[pos] == '<' (not a closing tag); *after is set past its '>'.
  Tag read_tag(size_t pos, size_t* after) const {
    const size_t end = text_.find('>', pos + 1);
    if (end == std::string_view::npos) fail(pos, "a tag is not closed ('>' missing)");
    *after = end + 1;
    std::string_view inner = text_.substr(pos + 1, end - pos - 1);
    Tag tag;
    tag.offset = pos;
    if (!inner.empty() && inner.back() == '/') {
      tag.self_closed = true;
      inner.remove_suffix(1);
    }
    size_t name_length = 0;
    while (name_length < inner.size() &&
           ((inner[name_length] >= 'a' && inner[name_length] <= 'z') ||
            (inner[name_length] >= '0' && inner[name_length] <= '9') || inner[name_length] == '_')) {
      ++name_length;
    }
    tag.name = inner.substr(0, name_length);
    if (tag.name.empty() || (name_length < inner.size() && inner[name_length] != ' ')) {
      fail(pos, fmt::format("malformed tag <{}>", shown(inner)));
    }
    size_t p = name_length;
    while (true) {
      while (p < inner.size() && (inner[p] == ' ' || inner[p] == '\t' || inner[p] == '\n')) ++p;
      if (p >= inner.size()) break;
      const size_t attribute_begin = p;
      while (p < inner.size() && ((inner[p] >= 'a' && inner[p] <= 'z') || inner[p] == '_')) ++p;
      const std::string_view attribute = inner.substr(attribute_begin, p - attribute_begin);
      if (attribute.empty() || !inner.substr(p).starts_with("=\"")) {
        fail(pos, fmt::format("malformed attribute in <{}> at '{}'", tag.name,
                              shown(inner.substr(attribute_begin))));
      }
      p += 2;
      std::string value;
      bool closed = false;
      while (p < inner.size()) {
        const char c = inner[p];
        if (c == '"') {
          closed = true;
          ++p;
          break;
        }
        if (c != '&') {
          value += c;
          ++p;
          continue;
        }
        static const std::pair<std::string_view, char> kEscapes[] = {
            {"&#10;", '\n'}, {"&#13;", '\r'}, {"&#9;", '\t'}, {"&quot;", '"'},
            {"&lt;", '<'},   {"&gt;", '>'},   {"&amp;", '&'}};
        bool known = false;
        for (const auto& [escape, character] : kEscapes) {
          if (inner.substr(p).starts_with(escape)) {
            value += character;
            p += escape.size();
            known = true;
            break;
          }
        }
        if (!known) {
          fail(pos, fmt::format("attribute {} of <{}> has an unknown escape at '{}'", attribute,
                                tag.name, shown(inner.substr(p))));
        }
      }
      if (!closed) {
        fail(pos, fmt::format("attribute {} of <{}> has no closing '\"'", attribute, tag.name));
      }
      tag.attributes.emplace_back(attribute, std::move(value));
    }
    return tag;
  }

  // The contents of `parent` from `pos` to its closing tag; *pos is left after it.
  // The four sets of an object that has them all (the last value of each attribute, as hwloc).
  struct Sets {
    Bitmap cpuset, complete_cpuset, nodeset, complete_nodeset;
    bool normal = false;  // a CPU-side object (not NUMANode/MemCache): ordered among siblings
  };

  void children(const Tag& parent, size_t& pos, int depth, const Sets* parent_sets) {
    if (parent.self_closed) return;
    uint64_t child_objects = 0;
    const Bitmap siblings = make_bitmap();  // PUs of the normal children so far
    int last_first = -1;                    // first PU of the last normal child
    while (true) {
      const size_t p = skip_spaces(pos);
      if (p >= text_.size()) {
        fail(parent.offset, fmt::format("<{}> is not closed before the end of the file", parent.name));
      }
      if (text_[p] != '<') {  // text: only distance values and user data have any
        if (parent.name != "indexes" && parent.name != "u64values" && parent.name != "userdata") {
          fail(p, fmt::format("unexpected text '{}' in <{}>", shown(text_.substr(p, text_.find('\n', p) - p)),
                              parent.name));
        }
        const size_t next = text_.find('<', p);
        if (next == std::string_view::npos) {
          fail(parent.offset, fmt::format("<{}> is not closed before the end of the file", parent.name));
        }
        pos = next;
        continue;
      }
      if (p + 1 < text_.size() && text_[p + 1] == '/') {
        const size_t end = text_.find('>', p);
        if (end == std::string_view::npos) fail(p, "a closing tag is not closed ('>' missing)");
        const std::string_view closing = text_.substr(p + 2, end - p - 2);
        if (closing != parent.name) {
          fail(p, fmt::format("</{}> where </{}> was expected", shown(closing), parent.name));
        }
        pos = end + 1;
        return;
      }
      if (depth >= Topology::kMaxXmlDepth) {
        fail(p, fmt::format("elements nested more than {} deep", Topology::kMaxXmlDepth));
      }
      const Tag child = read_tag(p, &pos);
      if (child.name == "object" && ++child_objects > Topology::kMaxLevelCount) {
        fail(parent.offset, fmt::format("{} has {} child objects, more than the {} shadowsync plans for",
                                        description(parent), child_objects, Topology::kMaxLevelCount));
      }
      const std::optional<Sets> sets = check_element(child);
      if (sets) check_sets(child, *sets, parent, parent_sets, siblings.get(), &last_first);
      children(child, pos, depth + 1, sets ? &*sets : nullptr);
    }
  }

  // "object PU" or "<distances2>", for messages.
  static std::string description(const Tag& tag) {
    return tag.name == "object" && tag.find("type") != nullptr
               ? fmt::format("object {}", shown(*tag.find("type")))
               : fmt::format("<{}>", tag.name);
  }

  // hwloc 2.9 prints an "out-of-order XML topology" report and leaks objects (found by
  // fuzzing) when sets do not nest: a set inside its complete set, an object's PUs and nodes
  // inside its parent's, CPU-side siblings disjoint and in PU order.
  void check_sets(const Tag& tag, const Sets& sets, const Tag& parent, const Sets* parent_sets,
                  hwloc_bitmap_t siblings, int* last_first) const {
    const std::string what = description(tag);
    if (!hwloc_bitmap_isincluded(sets.cpuset.get(), sets.complete_cpuset.get())) {
      fail(tag.offset, fmt::format("{} has a cpuset that is not inside its complete_cpuset", what));
    }
    if (!hwloc_bitmap_isincluded(sets.nodeset.get(), sets.complete_nodeset.get())) {
      fail(tag.offset, fmt::format("{} has a nodeset that is not inside its complete_nodeset", what));
    }
    if (parent_sets != nullptr) {
      if (!hwloc_bitmap_isincluded(sets.complete_cpuset.get(), parent_sets->complete_cpuset.get())) {
        fail(tag.offset, fmt::format("{} has PUs outside its parent {} (line {})", what,
                                     description(parent), line_of(parent.offset)));
      }
      if (!hwloc_bitmap_isincluded(sets.complete_nodeset.get(), parent_sets->complete_nodeset.get())) {
        fail(tag.offset, fmt::format("{} has NUMA nodes outside its parent {} (line {})", what,
                                     description(parent), line_of(parent.offset)));
      }
    }
    if (!sets.normal) return;
    if (hwloc_bitmap_intersects(sets.complete_cpuset.get(), siblings)) {
      fail(tag.offset, fmt::format("{} shares PUs with an earlier sibling", what));
    }
    const int first = hwloc_bitmap_first(sets.complete_cpuset.get());
    if (first >= 0 && first < *last_first) {
      fail(tag.offset, fmt::format("{} comes after a sibling with higher PUs (hwloc writes siblings "
                                   "in PU order)", what));
    }
    if (first >= 0) *last_first = first;
    hwloc_bitmap_or(siblings, siblings, sets.complete_cpuset.get());
  }

  std::optional<Sets> check_element(const Tag& tag) {
    const std::string what = description(tag);
    Sets sets;
    for (const auto& [attribute, value] : tag.attributes) {
      for (const char* bitmap_attribute : kBitmapAttributes) {
        if (attribute != bitmap_attribute) continue;
        Bitmap bitmap = check_bitmap(tag, what, attribute, value);
        if (attribute == "cpuset") sets.cpuset = std::move(bitmap);
        if (attribute == "complete_cpuset") sets.complete_cpuset = std::move(bitmap);
        if (attribute == "nodeset") sets.nodeset = std::move(bitmap);
        if (attribute == "complete_nodeset") sets.complete_nodeset = std::move(bitmap);
      }
      if (attribute == "nbobjs") {
        const std::optional<uint64_t> count = parse_decimal(value);
        if (!count) fail(tag.offset, fmt::format("{} has nbobjs '{}', not a number", what, shown(value)));
        if (*count > Topology::kMaxDistanceObjects) {
          fail(tag.offset, fmt::format("{} has nbobjs {}, more than the {} shadowsync plans for",
                                       what, count_string(*count), Topology::kMaxDistanceObjects));
        }
      }
    }
    if (tag.name != "object") return std::nullopt;
    if (++objects_ > Topology::kMaxObjects) {
      fail(tag.offset, fmt::format("more than the {} objects shadowsync plans for", Topology::kMaxObjects));
    }
    const std::string* type = tag.find("type");
    if (type == nullptr) fail(tag.offset, "object without a type attribute");
    for (const auto& [set, complete] : {std::pair{"cpuset", "complete_cpuset"}, {"nodeset", "complete_nodeset"}}) {
      const bool has_set = tag.find(set) != nullptr;
      const bool has_complete = tag.find(complete) != nullptr;
      if (has_set && !has_complete) {
        fail(tag.offset, fmt::format("{} has a {} but no {} attribute", what, set, complete));
      }
      if (has_complete && !has_set) {
        fail(tag.offset, fmt::format("{} has a {} but no {} attribute", what, complete, set));
      }
    }
    const std::string kind = lowercase(*type);
    if (needs_sets(kind)) {
      for (const char* set : {"cpuset", "complete_cpuset", "nodeset", "complete_nodeset"}) {
        if (tag.find(set) == nullptr) fail(tag.offset, fmt::format("{} has no {} attribute", what, set));
      }
    }
    if (kind == "pu" || kind == "numanode") {
      const std::string* os_index = tag.find("os_index");
      if (os_index == nullptr) fail(tag.offset, fmt::format("{} has no os_index attribute", what));
      for (const auto& [attribute, value] : tag.attributes) {
        if (attribute != "os_index") continue;
        const std::optional<uint64_t> index = parse_decimal(value);
        if (!index) fail(tag.offset, fmt::format("{} has os_index '{}', not a number", what, shown(value)));
        if (*index > Topology::kMaxOsIndex) {
          fail(tag.offset, fmt::format("{} has os_index {}, more than the {} shadowsync plans for",
                                       what, count_string(*index), Topology::kMaxOsIndex));
        }
      }
      if (kind == "pu" && ++pus_ > Topology::kMaxPus) {
        fail(tag.offset, fmt::format("more than the {} PUs shadowsync plans for", Topology::kMaxPus));
      }
      if (kind == "numanode") ++numa_nodes_;
    }
    if (!sets.cpuset || !sets.complete_cpuset || !sets.nodeset || !sets.complete_nodeset) return std::nullopt;
    sets.normal = needs_sets(kind) && kind != "numanode" && kind != "memcache";
    return sets;
  }

  Bitmap check_bitmap(const Tag& tag, const std::string& what, std::string_view attribute,
                      const std::string& value) const {
    Bitmap bitmap = make_bitmap();
    if (!well_formed_bitmap(value) || hwloc_bitmap_sscanf(bitmap.get(), value.c_str()) != 0) {
      fail(tag.offset, fmt::format("{} has {} '{}', not an hwloc bitmap", what, attribute, shown(value)));
    }
    if (hwloc_bitmap_weight(bitmap.get()) < 0) {
      fail(tag.offset, fmt::format("{} has {} '{}', an infinite set", what, attribute, shown(value)));
    }
    const int last = hwloc_bitmap_last(bitmap.get());
    if (last > static_cast<int>(Topology::kMaxOsIndex)) {
      fail(tag.offset, fmt::format("{} has {} '{}' with index {}, more than the {} shadowsync plans for",
                                   what, attribute, shown(value), last, Topology::kMaxOsIndex));
    }
    return bitmap;
  }

  std::string_view text_;
  std::string_view name_;
  uint64_t objects_ = 0;
  uint64_t pus_ = 0;
  uint64_t numa_nodes_ = 0;
};

// Explicit index lists ("indexes=0,4,1,5") in a parenthesised attribute list or a bracketed
// memory object: every index must be at most kMaxOsIndex (hwloc sizes bitmaps by them).
void check_indexes(const std::string& description, std::string_view attributes) {
  static constexpr std::string_view kKey = "indexes=";
  for (size_t at = attributes.find(kKey); at != std::string_view::npos;
       at = attributes.find(kKey, at + kKey.size())) {
    const size_t begin = at + kKey.size();
    const size_t end = std::min(attributes.find_first_of(" )", begin), attributes.size());
    const std::string_view list = attributes.substr(begin, end - begin);
    if (list.empty() || list.find_first_not_of("0123456789,") != std::string_view::npos) continue;
    size_t p = 0;
    while (p < list.size()) {
      const size_t comma = std::min(list.find(',', p), list.size());
      const std::optional<uint64_t> index = parse_decimal(list.substr(p, comma - p));
      if (index && *index > Topology::kMaxOsIndex) {
        throw topology_error(fmt::format(" '{}': 'indexes={}' lists index {}, more than the {} "
                                "shadowsync plans for",
                                description, shown(list), count_string(*index), Topology::kMaxOsIndex));
      }
      p = comma + 1;
    }
  }
}

}  // namespace

void check_xml_text(std::string_view text, std::string_view name) {
  if (text.size() > Topology::kMaxXmlBytes) {
    throw topology_error(fmt::format(": file '{}' is not a valid hwloc XML topology: {} bytes, "
                            "more than the {} MiB shadowsync plans for",
                            name, text.size(), Topology::kMaxXmlBytes >> 20));
  }
  XmlChecker(text, name).check();
}

Error topology_error(const std::string& rest) { return Error(field("topology") + rest); }

Error invalid_synthetic(const std::string& description, const std::string& why) {
  return topology_error(fmt::format(
      " '{}': not a valid hwloc synthetic description ({}); expected levels TYPE:COUNT "
      "ending with pu, e.g. 'package:2 numa:1 core:8 pu:2', or an existing hwloc XML file",
      description, why));
}

// Reads the levels as hwloc's synthetic parser does: an optional "(attributes)" for the machine,
// then levels "[TYPE:]COUNT[(attributes)]" (COUNT as strtoul with base 0 reads it) separated by
// spaces, and "[numa(attributes)]" NUMA nodes attached to every object of the level before.
void check_synthetic(const std::string& description) {
  const std::string& s = description;
  const size_t n = s.size();
  uint64_t width = 1;    // objects at the current level (PUs after the last one)
  uint64_t objects = 1;  // the machine
  std::optional<std::pair<std::string, uint64_t>> too_wide;  // first level beyond kMaxLevelCount

  auto closing = [&](size_t open, char close_char) {
    const size_t close = s.find(close_char, open);
    if (close == std::string::npos) {
      throw invalid_synthetic(description, fmt::format("'{}' without '{}' at '{}'", s[open],
                                                       close_char, shown(s.substr(open))));
    }
    check_indexes(description, std::string_view(s).substr(open + 1, close - open - 1));
    return close + 1;
  };

  // The object type a level or attached object starts with (as hwloc reads it).
  auto type_at = [&](size_t at) {
    hwloc_obj_type_t type = kNoType;
    hwloc_obj_attr_u attributes{};
    if (hwloc_type_sscanf(s.c_str() + at, &type, &attributes, sizeof(attributes)) < 0) {
      throw invalid_synthetic(description, fmt::format("unknown object type at '{}'", shown(s.substr(at))));
    }
    return type;
  };
  std::vector<hwloc_obj_type_t> level_types;  // kNoType for a level without a type
  bool attached_numa = false;

  size_t pos = 0;
  if (n > 0 && s[0] == '(') pos = closing(0, ')');
  while (true) {
    while (pos < n && s[pos] == ' ') ++pos;
    if (pos >= n) break;
    if (s[pos] == '[') {  // a memory object attached to each object of the level above
      if (type_at(pos + 1) != HWLOC_OBJ_NUMANODE) {
        throw invalid_synthetic(description, fmt::format("only NUMA nodes can be attached, at '{}'",
                                                         shown(s.substr(pos))));
      }
      attached_numa = true;
      pos = closing(pos, ']');
      objects = saturating_add(objects, width);
      continue;
    }
    const size_t level_begin = pos;
    hwloc_obj_type_t type = kNoType;
    if (s[pos] < '0' || s[pos] > '9') {
      type = type_at(pos);
      if (!hwloc_obj_type_is_normal(type) && type != HWLOC_OBJ_NUMANODE) {
        throw invalid_synthetic(description, fmt::format("object type not allowed at '{}'",
                                                         shown(s.substr(pos))));
      }
      const size_t colon = s.find(':', pos);
      if (colon == std::string::npos) {
        throw invalid_synthetic(description, fmt::format("no ':' after the object type at '{}'",
                                                         shown(s.substr(pos))));
      }
      pos = colon + 1;
    }
    const char* begin = s.c_str() + pos;
    char* end = nullptr;
    errno = 0;
    unsigned long long count = std::strtoull(begin, &end, 0);
    if (end == begin) {
      throw invalid_synthetic(description, fmt::format("no number of objects at '{}'",
                                                       shown(s.substr(level_begin))));
    }
    if (errno == ERANGE) count = kSaturated;
    if (count == 0) {
      throw invalid_synthetic(description, fmt::format("0 objects at '{}'", shown(s.substr(level_begin))));
    }
    pos = static_cast<size_t>(end - s.c_str());
    if (count > Topology::kMaxLevelCount && !too_wide) {
      too_wide.emplace(s.substr(level_begin, pos - level_begin), count);
    }
    level_types.push_back(type);
    if (level_types.size() >= kMaxSyntheticLevels) {
      throw invalid_synthetic(description, fmt::format("more than {} levels", kMaxSyntheticLevels - 1));
    }
    width = saturating_mul(width, count);
    objects = saturating_add(objects, width);
    if (pos < n && s[pos] == '(') pos = closing(pos, ')');
  }
  // hwloc's own checks after reading the levels, made here because hwloc 2.9 leaks the attached
  // objects it has read when one of them fails.
  if (level_types.empty()) throw invalid_synthetic(description, "no levels");
  if (level_types.back() != kNoType && level_types.back() != HWLOC_OBJ_PU) {
    throw invalid_synthetic(description, "the last level must be pu");
  }
  level_types.back() = HWLOC_OBJ_PU;  // a last level without a type is the PU level
  const auto untyped = std::count(level_types.begin(), level_types.end(), kNoType);
  if (untyped > 0 && untyped < static_cast<long>(level_types.size()) - 1) {
    throw invalid_synthetic(description, "levels with and without a type are mixed");
  }
  for (hwloc_obj_type_t unique : {HWLOC_OBJ_PU, HWLOC_OBJ_PACKAGE, HWLOC_OBJ_NUMANODE, HWLOC_OBJ_CORE,
                                  HWLOC_OBJ_MACHINE}) {
    if (std::count(level_types.begin(), level_types.end(), unique) > 1) {
      throw invalid_synthetic(description, fmt::format("more than one {} level", hwloc_obj_type_string(unique)));
    }
  }
  if (attached_numa && std::count(level_types.begin(), level_types.end(), HWLOC_OBJ_NUMANODE) > 0) {
    throw invalid_synthetic(description, "NUMA nodes both as a level and attached");
  }
  if (width > Topology::kMaxPus) {
    throw topology_error(fmt::format(" '{}': {} PUs, more than the {} shadowsync plans for",
                            description, count_string(width), Topology::kMaxPus));
  }
  if (too_wide) {
    throw topology_error(fmt::format(" '{}': level '{}' has {} objects per parent, more than the "
                            "{} shadowsync plans for",
                            description, shown(too_wide->first), count_string(too_wide->second),
                            Topology::kMaxLevelCount));
  }
  if (objects > Topology::kMaxObjects) {
    throw topology_error(fmt::format(" '{}': {} objects, more than the {} shadowsync plans for",
                            description, count_string(objects), Topology::kMaxObjects));
  }
}

}  // namespace shadowsync::numa::detail
