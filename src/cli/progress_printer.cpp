// Progress lines (see progress_printer.hpp).
#include "progress_printer.hpp"

#include <unistd.h>

#include <cmath>

#include <fmt/format.h>


namespace shadowsync::cli {
namespace {

std::string count_text(double n) {
  if (n >= 1e9) return fmt::format("{:.2f}G", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1e3) return fmt::format("{:.1f}k", n / 1e3);
  return fmt::format("{:.0f}", n);
}

std::string duration_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

std::string format_progress(const TrainReport& r) {
  std::string line = fmt::format("{}/{} ex", count_text(static_cast<double>(r.examples)),
                                 count_text(static_cast<double>(r.total_examples)));
  if (r.total_examples > 0) {
    line += fmt::format(" ({:.1f}%)", 100.0 * static_cast<double>(r.examples) /
                                          static_cast<double>(r.total_examples));
  }
  line += fmt::format("  {} ex/s", count_text(r.examples_per_second));
  if (r.examples_per_second > 0 && r.total_examples >= r.examples) {
    line += "  ETA " + duration_text(static_cast<double>(r.total_examples - r.examples) /
                                     r.examples_per_second);
  }
  if (std::isfinite(r.running_logloss) && r.running_logloss > 0) {
    line += fmt::format("  logloss {:.4f}", r.running_logloss);
  }
  line += fmt::format("  sync {:.1f} rounds/s", r.sync_rounds_per_second);
  return line;
}

ProgressPrinter::ProgressPrinter(std::FILE* out, double interval_s, bool quiet)
    : out_(out), tty_(::isatty(::fileno(out)) != 0), quiet_(quiet) {
  interval_s_ = interval_s > 0 ? interval_s : (tty_ ? 0.5 : 5.0);
}

bool ProgressPrinter::due(double wall_s) const { return !quiet_ && wall_s - last_wall_s_ >= interval_s_; }

void ProgressPrinter::print(const TrainReport& report, double wall_s) {
  last_wall_s_ = wall_s;
  if (quiet_) return;
  const std::string line = format_progress(report);
  if (tty_) {
    std::fprintf(out_, "\r\033[K%s", line.c_str());
    line_open_ = true;
  } else {
    std::fprintf(out_, "progress: %s\n", line.c_str());
  }
  std::fflush(out_);
}

void ProgressPrinter::print_line(const std::string& line) {
  finish();
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

void ProgressPrinter::finish() {
  if (line_open_) {
    std::fputc('\n', out_);
    line_open_ = false;
  }
}

}  // namespace shadowsync::cli
