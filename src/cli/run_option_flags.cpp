// add_run_option_flags: a CLI11 option per entry of the run option table.
#include "run_option_flags.hpp"

#include "flag_names.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::cli {

std::string flag_type_name(const RunOption& option) {
  std::string range = option.expected();
  if (const size_t in = range.find(" in "); in != std::string::npos) range = range.substr(in);
  switch (option.type) {
    case OptionType::Flag: return "";
    case OptionType::Integer: return "INT" + range;
    case OptionType::Real: return option.expected().starts_with("a number ") ? "NUMBER " + option.expected().substr(9)
                                                                             : "NUMBER";
    case OptionType::AutoOrInteger: return "auto|INT" + range;
    case OptionType::Choice: {
      std::string words = option.choices;
      for (size_t at = words.find(", "); at != std::string::npos; at = words.find(", ")) words.replace(at, 2, "|");
      return words;
    }
    case OptionType::Text: return "TEXT";
    case OptionType::Byte: return "BYTE";
    case OptionType::Callback: return "";
  }
  return "";
}

void add_run_option_flags(CLI::App& cmd, RunSettings& settings, std::vector<std::string>& data_files) {
  for (const RunOption& option : run_options()) {
    if (!option.offered_by(kCli) && !option.offered_by(kMpi)) continue;
    const std::string flag = flag_for_field(option.name);
    const std::string name = option.name;
    const std::string help = spell_fields(option.help, flag_for_field);
    CLI::Option* added = nullptr;
    if (name == "data") {
      added = cmd.add_option(flag, data_files, help)->required()->type_name("FILE");
    } else if (option.type == OptionType::Flag) {
      added = cmd.add_flag_function(flag, [&settings, name](int64_t) { settings.set(name, true, "true"); }, help);
    } else {
      added = cmd.add_option_function<std::string>(
                     flag, [&settings, name](const std::string& value) { settings.set_text(name, value); }, help)
                  ->type_name(flag_type_name(option));
    }
    if (!option.default_text.empty() && option.type != OptionType::Flag) added->default_str(option.default_text);
  }
}

}  // namespace shadowsync::cli
