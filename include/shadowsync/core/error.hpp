// The one exception type shadowsync throws for bad input, bad configuration and I/O failures.
//
// Contract: what() names where the problem is (file, file:line, configuration field or section)
// and what is wrong. Library code never names a command-line flag: it names a configuration
// field with field("batch"), and each front end spells fields its own way with
// Error::message(spell): the CLI as --batch, the Python package as batch=. what() spells a field
// as its plain name ("batch must be in [1, 1048576], got 0").
//
// Field names are the snake_case option names every front end shares (batch, threads_per_group,
// checkpoint, resume, data, ...). An error built from another error's text keeps its fields
// when it is built from marked() rather than what().
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace shadowsync {

// Marks `name` as a configuration field inside an error message (see Error::message).
std::string field(std::string_view name);
// `marked` (text with field marks, e.g. a run option's help) with every field spelled by `spell`.
std::string spell_fields(const std::string& marked, const std::function<std::string(std::string_view field)>& spell);

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message);

  // The message with every field spelled by `spell` (given the field's name).
  std::string message(const std::function<std::string(std::string_view field)>& spell) const;
  // The message with its field marks, to build another Error from.
  const std::string& marked() const { return marked_; }

 private:
  std::string marked_;
};

}  // namespace shadowsync
