// Error and field(): a field is written into a message between two control characters that
// never occur in user-facing text, and spelled out when the message is rendered.
#include "shadowsync/core/error.hpp"

namespace shadowsync {
namespace {

constexpr char kFieldStart = '\x1e';
constexpr char kFieldEnd = '\x1f';

std::string render(const std::string& marked, const std::function<std::string(std::string_view)>& spell) {
  std::string out;
  out.reserve(marked.size());
  size_t i = 0;
  while (i < marked.size()) {
    const size_t start = marked.find(kFieldStart, i);
    if (start == std::string::npos) {
      out.append(marked, i, std::string::npos);
      break;
    }
    const size_t end = marked.find(kFieldEnd, start + 1);
    if (end == std::string::npos) {  // not a mark of ours: keep the text as it is
      out.append(marked, i, std::string::npos);
      break;
    }
    out.append(marked, i, start - i);
    out += spell(std::string_view(marked).substr(start + 1, end - start - 1));
    i = end + 1;
  }
  return out;
}

std::string plain(std::string_view name) { return std::string(name); }

}  // namespace

std::string field(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out += kFieldStart;
  out += name;
  out += kFieldEnd;
  return out;
}

std::string spell_fields(const std::string& marked, const std::function<std::string(std::string_view)>& spell) {
  return render(marked, spell);
}

Error::Error(const std::string& message) : std::runtime_error(render(message, plain)), marked_(message) {}

std::string Error::message(const std::function<std::string(std::string_view)>& spell) const {
  return render(marked_, spell);
}

}  // namespace shadowsync
