// Topology: loading this machine, an hwloc XML file or a synthetic description, and the facts the
// planner and the `topo` command need (counts, nodes, distances, summary).
#include "shadowsync/numa/topology.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <utility>

#include "hwloc_util.hpp"
#include "topology_check.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::numa {
namespace {

using detail::topology_error;

struct TopologyDeleter {
  void operator()(hwloc_topology* topology) const noexcept { hwloc_topology_destroy(topology); }
};
using UniqueTopology = std::unique_ptr<hwloc_topology, TopologyDeleter>;

bool looks_like_file(const std::string& spec) {
  return spec.ends_with(".xml") || spec.find('/') != std::string::npos;
}

int count(hwloc_topology_t topology, hwloc_obj_type_t type) {
  return hwloc_get_nbobjs_by_type(topology, type);
}

std::string memory_string(uint64_t bytes) {
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  if (bytes == 0) return "memory unknown";
  if (bytes >= (uint64_t{1} << 30)) return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / kGiB);
  return fmt::format("{} MiB", bytes >> 20);
}

UniqueTopology new_topology(const std::string& spec) {
  hwloc_topology_t topology = nullptr;
  if (hwloc_topology_init(&topology) != 0) {
    throw topology_error(fmt::format(" '{}': hwloc_topology_init failed ({})", spec,
                            std::strerror(errno)));
  }
  return UniqueTopology(topology);
}

// What the planner relies on in a loaded topology: a PU, a NUMA node, and the sets of every CPU
// and memory object (hwloc guarantees them; checked so that a bad description never reaches a
// NULL dereference).
void check_loaded(hwloc_topology_t topology, const std::string& spec, const std::string& source) {
  if (count(topology, HWLOC_OBJ_PU) < 1) {
    throw topology_error(fmt::format(" '{}': the {} has no processing units", spec, source));
  }
  if (count(topology, HWLOC_OBJ_NUMANODE) < 1) {
    throw topology_error(fmt::format(" '{}': the {} has no NUMA node", spec, source));
  }
  std::vector<int> depths{HWLOC_TYPE_DEPTH_NUMANODE, HWLOC_TYPE_DEPTH_MEMCACHE};
  for (int d = 0; d < hwloc_topology_get_depth(topology); ++d) depths.push_back(d);
  for (int d : depths) {
    for (hwloc_obj_t obj = hwloc_get_next_obj_by_depth(topology, d, nullptr); obj != nullptr;
         obj = hwloc_get_next_obj_by_depth(topology, d, obj)) {
      if (obj->cpuset == nullptr || obj->complete_cpuset == nullptr || obj->nodeset == nullptr ||
          obj->complete_nodeset == nullptr) {
        throw topology_error(fmt::format(" '{}': the {} has a {} object without cpuset or nodeset",
                                         spec, source, hwloc_obj_type_string(obj->type)));
      }
    }
  }
}

}  // namespace

Topology Topology::load(const std::string& spec) {
  if (spec.empty()) {
    UniqueTopology topology = new_topology(spec);
    const std::string source = "this machine";
    if (hwloc_topology_load(topology.get()) != 0) {
      throw topology_error(fmt::format(" '{}': hwloc cannot load the {} ({})", spec, source,
                              std::strerror(errno)));
    }
    check_loaded(topology.get(), spec, source);
    return Topology(topology.release(), spec, source);
  }
  std::error_code error;
  const std::filesystem::path path(spec);
  if (std::filesystem::exists(path, error)) {
    if (!std::filesystem::is_regular_file(path, error)) {
      throw topology_error(fmt::format(": '{}' is not a regular file (expected an hwloc XML "
                              "file or a synthetic description)", spec));
    }
    const uintmax_t size = std::filesystem::file_size(path, error);
    if (!error && size > kMaxXmlBytes) {
      throw topology_error(fmt::format(": file '{}' is not a valid hwloc XML topology: {} bytes, "
                              "more than the {} MiB shadowsync plans for",
                              spec, size, kMaxXmlBytes >> 20));
    }
    std::ifstream in(path, std::ios::binary);
    std::string text;
    if (in) text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      throw topology_error(
          fmt::format(": file '{}' cannot be read ({})", spec, std::strerror(errno)));
    }
    return from_xml_text(text, spec);
  }
  if (looks_like_file(spec)) throw topology_error(fmt::format(": file '{}' does not exist", spec));
  return from_synthetic(spec);
}

Topology Topology::from_xml_text(std::string_view text, std::string_view name) {
  // hwloc reads the text as a C string: it ends at the first NUL byte.
  const std::string xml(text.substr(0, text.find('\0')));
  const std::string spec(name);
  detail::check_xml_text(xml, name);
  UniqueTopology topology = new_topology(spec);
  if (hwloc_topology_set_xmlbuffer(topology.get(), xml.c_str(), static_cast<int>(xml.size() + 1)) != 0 ||
      hwloc_topology_load(topology.get()) != 0) {
    throw topology_error(fmt::format(": file '{}' is not a valid hwloc XML topology (hwloc: {})",
                            spec, std::strerror(errno)));
  }
  const std::string source = fmt::format("XML file '{}'", spec);
  check_loaded(topology.get(), spec, source);
  return Topology(topology.release(), spec, source);
}

Topology Topology::from_synthetic(std::string_view description) {
  const std::string spec(description);
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] < ' ' || spec[i] > '~') {
      // Shown up to the byte: the rest may hold a NUL (which would cut the message) or bytes
      // a terminal cannot show.
      throw detail::invalid_synthetic(
          spec.substr(0, i) + "...",
          fmt::format("byte 0x{:02x} at offset {}; descriptions are printable ASCII",
                      static_cast<unsigned char>(spec[i]), i));
    }
  }
  detail::check_synthetic(spec);
  UniqueTopology topology = new_topology(spec);
  if (hwloc_topology_set_synthetic(topology.get(), spec.c_str()) != 0) {
    throw detail::invalid_synthetic(spec, fmt::format("hwloc: {}", std::strerror(errno)));
  }
  const std::string source = fmt::format("synthetic '{}'", spec);
  if (hwloc_topology_load(topology.get()) != 0) {
    throw topology_error(fmt::format(" '{}': hwloc cannot load the {} ({})", spec, source,
                            std::strerror(errno)));
  }
  check_loaded(topology.get(), spec, source);
  return Topology(topology.release(), spec, source);
}

Topology::Topology(Topology&& other) noexcept
    : topology_(std::exchange(other.topology_, nullptr)),
      spec_(std::move(other.spec_)),
      source_(std::move(other.source_)) {}

Topology& Topology::operator=(Topology&& other) noexcept {
  if (this != &other) {
    if (topology_ != nullptr) hwloc_topology_destroy(topology_);
    topology_ = std::exchange(other.topology_, nullptr);
    spec_ = std::move(other.spec_);
    source_ = std::move(other.source_);
  }
  return *this;
}

Topology::~Topology() {
  if (topology_ != nullptr) hwloc_topology_destroy(topology_);
}

bool Topology::is_this_system() const { return hwloc_topology_is_thissystem(topology_) != 0; }

int Topology::packages() const { return std::max(1, count(topology_, HWLOC_OBJ_PACKAGE)); }
int Topology::numa_nodes() const { return std::max(1, count(topology_, HWLOC_OBJ_NUMANODE)); }
int Topology::cores() const {
  const int cores = count(topology_, HWLOC_OBJ_CORE);
  return cores > 0 ? cores : pus();
}
int Topology::pus() const { return count(topology_, HWLOC_OBJ_PU); }

std::vector<Topology::Node> Topology::nodes() const {
  std::vector<Node> nodes;
  const int n = count(topology_, HWLOC_OBJ_NUMANODE);
  for (int i = 0; i < n; ++i) {
    hwloc_obj_t node = hwloc_get_obj_by_type(topology_, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i));
    hwloc_obj_t package = hwloc_get_ancestor_obj_by_type(topology_, HWLOC_OBJ_PACKAGE, node);
    if (package == nullptr && node->cpuset != nullptr && !hwloc_bitmap_iszero(node->cpuset)) {
      hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(
          topology_, static_cast<unsigned>(hwloc_bitmap_first(node->cpuset)));
      if (pu != nullptr) package = hwloc_get_ancestor_obj_by_type(topology_, HWLOC_OBJ_PACKAGE, pu);
    }
    Node result;
    result.os_index = static_cast<int>(node->os_index);
    result.package = package != nullptr ? static_cast<int>(package->logical_index) : 0;
    result.memory_bytes = node->attr != nullptr ? node->attr->numanode.local_memory : 0;
    if (node->cpuset != nullptr) result.pus = detail::indexes_of(node->cpuset);
    nodes.push_back(std::move(result));
  }
  return nodes;
}

std::vector<std::vector<uint64_t>> Topology::distances() const {
  const int n = count(topology_, HWLOC_OBJ_NUMANODE);
  if (n < 1) return {};
  // Prefer a latency matrix; fall back to any NUMA-node matrix.
  for (unsigned long kind : {static_cast<unsigned long>(HWLOC_DISTANCES_KIND_MEANS_LATENCY), 0ul}) {
    unsigned nr = 1;
    hwloc_distances_s* distances = nullptr;
    if (hwloc_distances_get_by_type(topology_, HWLOC_OBJ_NUMANODE, &nr, &distances, kind, 0) != 0 ||
        nr == 0 || distances == nullptr) {
      continue;
    }
    std::vector<std::vector<uint64_t>> matrix;
    if (distances->nbobjs == static_cast<unsigned>(n)) {
      matrix.assign(static_cast<size_t>(n), std::vector<uint64_t>(static_cast<size_t>(n), 0));
      for (unsigned i = 0; i < distances->nbobjs; ++i) {
        for (unsigned j = 0; j < distances->nbobjs; ++j) {
          matrix[distances->objs[i]->logical_index][distances->objs[j]->logical_index] =
              distances->values[i * distances->nbobjs + j];
        }
      }
    }
    hwloc_distances_release(topology_, distances);
    if (!matrix.empty()) return matrix;
  }
  return {};
}

std::string Topology::describe() const {
  const int threads_per_core = pus() / cores();
  std::string text = fmt::format("topology: {}{}\n", source_,
                                 is_this_system() ? "" : " (not this machine: no binding)");
  text += fmt::format("{} socket{}, {} NUMA node{}, {} cores, {} PUs ({} per core)\n", packages(),
                      packages() == 1 ? "" : "s", numa_nodes(), numa_nodes() == 1 ? "" : "s",
                      cores(), pus(), threads_per_core);
  const std::vector<Node> all = nodes();
  for (const Node& node : all) {
    text += fmt::format("  node {}: socket {}, {}, PUs {}\n", node.os_index, node.package,
                        memory_string(node.memory_bytes), detail::list_string(node.pus));
  }
  const auto matrix = distances();
  if (matrix.empty()) {
    text += "NUMA distances: not given\n";
  } else {
    text += "NUMA distances:\n      ";
    for (const Node& node : all) text += fmt::format("{:>6}", fmt::format("n{}", node.os_index));
    text += "\n";
    for (size_t i = 0; i < matrix.size(); ++i) {
      text += fmt::format("  {:>4}", fmt::format("n{}", all[i].os_index));
      for (uint64_t value : matrix[i]) text += fmt::format("{:>6}", value);
      text += "\n";
    }
  }
  return text;
}

nlohmann::json Topology::to_json() const {
  nlohmann::json nodes_json = nlohmann::json::array();
  for (const Node& node : nodes()) {
    nodes_json.push_back({{"os_index", node.os_index},
                          {"package", node.package},
                          {"memory_bytes", node.memory_bytes},
                          {"pus", node.pus}});
  }
  return {{"topology", detail::utf8_safe(spec_)},
          {"source", detail::utf8_safe(source_)},
          {"this_system", is_this_system()},
          {"packages", packages()},
          {"numa_nodes", numa_nodes()},
          {"cores", cores()},
          {"pus", pus()},
          {"nodes", nodes_json},
          {"distances", distances()}};
}

}  // namespace shadowsync::numa
