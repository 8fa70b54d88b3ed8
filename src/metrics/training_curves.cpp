// Training curves from metrics JSON lines, drawn by gnuplot (see
// include/shadowsync/metrics/training_curves.hpp).
#include "shadowsync/metrics/training_curves.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

extern char** environ;

namespace shadowsync {
namespace {

namespace fs = std::filesystem;

// A number or null at `key` (absent = null); anything else is refused naming path:line.
std::optional<double> number_or_null(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) {
    throw CurvesInputError(fmt::format("{}: \"{}\" must be a number or null, got {}", where, key, it->dump()));
  }
  return it->get<double>();
}

std::string file_name(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  return name.empty() ? path : name;
}

// The legend of a run: its sync mode and group count from the lines, with the file name.
std::string run_label(const std::string& path, const nlohmann::json& last_config, size_t groups) {
  std::string mode;
  if (last_config.is_object()) {
    const auto sync = last_config.find("sync");
    if (sync != last_config.end() && sync->is_string()) mode = sync->get<std::string>();
    if (groups == 0) {
      const auto g = last_config.find("groups");
      if (g != last_config.end() && g->is_number_unsigned()) groups = g->get<size_t>();
    }
  }
  if (mode.empty() && groups == 0) return file_name(path);
  std::string label = mode.empty() ? std::string("?") : mode;
  if (groups > 0) label += fmt::format(", {} group{}", groups, groups == 1 ? "" : "s");
  return label + " (" + file_name(path) + ")";
}

// gnuplot single-quoted string: '' for ', control characters as '?'.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') out += "''";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) out += '?';
    else out += c;
  }
  return out + "'";
}

std::string value_text(const std::optional<double>& v) { return v ? fmt::format("{:.9g}", *v) : std::string("?"); }

bool any_defined(const std::vector<CurvePoint>& points) {
  for (const CurvePoint& p : points) {
    if (p.value) return true;
  }
  return false;
}

// A private folder, removed with everything in it when this goes.
class TempFolder {
 public:
  TempFolder() {
    std::string pattern = (fs::temp_directory_path() / "shadowsync-plot-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) {
      throw Error(fmt::format("cannot make a temporary folder in {}: {}", fs::temp_directory_path().string(),
                              std::strerror(errno)));
    }
    path_ = pattern;
  }
  ~TempFolder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string read_text(const std::string& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > limit) text = text.substr(0, limit) + "...";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Runs `gnuplot script` with stdin from /dev/null and its output in `log`; throws
// CurvesToolError when it cannot start or fails.
void run_gnuplot(const std::string& gnuplot, const std::string& script, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> argv = {const_cast<char*>(gnuplot.c_str()), const_cast<char*>(script.c_str()), nullptr};
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, gnuplot.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    throw CurvesToolError(fmt::format("cannot run {}: {} (training curves are drawn by gnuplot; Debian: apt-get "
                                      "install gnuplot-nox)",
                                      gnuplot, std::strerror(spawned)));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw CurvesToolError(fmt::format("waiting for {}: {}", gnuplot, std::strerror(errno)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    throw CurvesToolError(fmt::format("cannot run {} (training curves are drawn by gnuplot; Debian: apt-get "
                                      "install gnuplot-nox): {}",
                                      gnuplot, read_text(log, 2000)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw CurvesToolError(fmt::format("{} failed ({}): {}", gnuplot,
                                      WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                                                        : fmt::format("signal {}", WTERMSIG(status)),
                                      read_text(log, 2000)));
  }
}

}  // namespace

RunCurves read_metrics_curves(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(fmt::format("{}: is a directory, not a metrics file", path));
  if (!in) throw Error(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  RunCurves run;
  run.path = path;
  nlohmann::json last_config;
  size_t groups = 0;
  size_t lines = 0;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", path, number);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    } catch (const nlohmann::json::exception&) {  // e.g. a number beyond double's range
      j = nlohmann::json(nlohmann::json::value_t::discarded);
    }
    if (j.is_discarded() || !j.is_object()) {
      throw CurvesInputError(fmt::format("{}: not a metrics line (a JSON object per line, as written by training's "
                                         "metrics output)",
                                         where));
    }
    ++lines;
    const std::optional<double> examples = number_or_null(j, "examples", where);
    if (!examples) throw CurvesInputError(fmt::format("{}: no \"examples\" number", where));
    const auto event = j.find("event");
    const std::string kind = event != j.end() && event->is_string() ? event->get<std::string>() : "";
    const auto config = j.find("config");
    if (config != j.end() && config->is_object()) last_config = *config;
    const auto per_group = j.find("groups");
    if (per_group != j.end() && per_group->is_array() && !per_group->empty()) groups = per_group->size();
    const std::optional<double> ne = number_or_null(j, "ne", where);
    const std::optional<double> auc = number_or_null(j, "auc", where);
    const std::optional<double> logloss = number_or_null(j, "running_logloss", where);
    const std::optional<double> running_ne = number_or_null(j, "running_ne", where);
    const std::optional<double> speed = number_or_null(j, "examples_per_second", where);
    if (kind == "eval" || kind == "final") {
      const auto eval = j.find("eval");
      if (eval != j.end() && eval->is_object()) {
        run.eval_ne.push_back({*examples, ne});
        run.eval_auc.push_back({*examples, auc});
      }
    }
    // Every kind of line carries the running log loss and the throughput since the start (null
    // when not known yet; the rate at 0 examples is no measurement).
    const std::optional<double> rate = *examples > 0 ? speed : std::nullopt;
    if (logloss || running_ne || rate) {
      run.train_logloss.push_back({*examples, logloss});
      run.train_ne.push_back({*examples, running_ne});
      run.throughput.push_back({*examples, rate});
    }
  }
  if (in.bad()) throw Error(fmt::format("{}: read failed", path));
  if (lines == 0) throw CurvesInputError(fmt::format("{}: no metrics lines (empty file)", path));
  run.label = run_label(path, last_config, groups);
  return run;
}

void write_curve_data(const std::vector<RunCurves>& runs, const std::string& data_dir) {
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunCurves& r = runs[i];
    std::ofstream eval(fs::path(data_dir) / fmt::format("run{}_eval.dat", i));
    for (size_t k = 0; k < r.eval_ne.size(); ++k) {
      eval << fmt::format("{:.0f} {} {}\n", r.eval_ne[k].examples, value_text(r.eval_ne[k].value),
                          value_text(r.eval_auc[k].value));
    }
    std::ofstream progress(fs::path(data_dir) / fmt::format("run{}_progress.dat", i));
    for (size_t k = 0; k < r.train_logloss.size(); ++k) {
      progress << fmt::format("{:.0f} {} {} {}\n", r.train_logloss[k].examples, value_text(r.train_logloss[k].value),
                              value_text(r.throughput[k].value), value_text(r.train_ne[k].value));
    }
    if (!eval || !progress) throw Error(fmt::format("cannot write the plot data in {}", data_dir));
  }
}

std::string curves_gnuplot_script(const std::vector<RunCurves>& runs, const std::string& data_dir,
                                  const std::string& png_path) {
  std::ostringstream s;
  s << "# Training curves: " << runs.size() << " run(s)\n"
    << "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
    << "  set terminal pngcairo size 1400,1000 noenhanced font 'sans,10'\n"
    << "} else {\n"
    << "  set terminal png size 1400,1000 noenhanced\n"
    << "}\n"
    << "set output " << quoted(png_path) << "\n"
    << "set datafile missing '?'\n"
    << "set grid\n"
    << "set format x '%.1s%c'\n"
    << "set xlabel 'examples trained'\n"
    << "set multiplot layout 2,2 title 'Training curves'\n";
  struct Panel {
    const char* title;
    const char* ylabel;
    const char* file;  // run<i>_<file>.dat
    int column;
    const char* style;
    const char* key;
    std::vector<CurvePoint> RunCurves::*points;
  };
  // Training NE when any run's lines carry it; log loss for files written before they did.
  bool any_train_ne = false;
  for (const RunCurves& r : runs) any_train_ne = any_train_ne || any_defined(r.train_ne);
  const Panel training = any_train_ne ? Panel{"training NE (running, lower is better)", "NE", "progress", 4,
                                              "linespoints pt 7 ps 0.5", "top right", &RunCurves::train_ne}
                                      : Panel{"training log loss (running mean)", "log loss", "progress", 2,
                                              "linespoints pt 7 ps 0.5", "top right", &RunCurves::train_logloss};
  const Panel panels[] = {
      {"eval NE (lower is better)", "NE", "eval", 2, "linespoints pt 7 ps 0.8", "top right", &RunCurves::eval_ne},
      training,
      {"eval AUC (higher is better)", "AUC", "eval", 3, "linespoints pt 7 ps 0.8", "bottom right", &RunCurves::eval_auc},
      {"throughput (since the start)", "examples / s", "progress", 3, "linespoints pt 7 ps 0.5", "bottom right",
       &RunCurves::throughput},
  };
  for (const Panel& panel : panels) {
    s << "set title " << quoted(panel.title) << "\nset ylabel " << quoted(panel.ylabel) << "\nset key " << panel.key
      << " box opaque\n";
    std::vector<std::string> clauses;
    for (size_t i = 0; i < runs.size(); ++i) {
      if (!any_defined(runs[i].*panel.points)) continue;
      const std::string data = (fs::path(data_dir) / fmt::format("run{}_{}.dat", i, panel.file)).string();
      clauses.push_back(fmt::format("{} using 1:{} with {} lw 2 lc {} title {}", quoted(data), panel.column,
                                    panel.style, i + 1, quoted(runs[i].label)));
    }
    if (clauses.empty()) {
      s << "set label 1 'no values in these runs' at graph 0.5, 0.5 center\n"
        << "set xrange [0:1]\nset yrange [0:1]\nplot 2 notitle\n"
        << "unset label 1\nset autoscale x\nset autoscale y\n";
      continue;
    }
    s << "plot ";
    for (size_t c = 0; c < clauses.size(); ++c) s << (c ? ", \\\n     " : "") << clauses[c];
    s << "\n";
  }
  s << "unset multiplot\nset output\n";
  return s.str();
}

void plot_training_curves(const std::vector<std::string>& paths, const std::string& out, const std::string& gnuplot) {
  if (paths.empty()) throw Error("training curves: no metrics files given");
  if (out.empty()) throw Error("training curves: no output file given");
  std::error_code ec;
  const fs::path out_canonical = fs::weakly_canonical(out, ec);
  for (const std::string& path : paths) {
    std::error_code path_ec;
    const fs::path path_canonical = fs::weakly_canonical(path, path_ec);
    const bool same_name = !out_canonical.empty() && !path_canonical.empty() && out_canonical == path_canonical;
    if (same_name || fs::equivalent(path, out, path_ec)) {
      throw Error(fmt::format("{}: the output picture is one of the metrics files; choose another output path", out));
    }
  }
  std::vector<RunCurves> runs;
  for (const std::string& path : paths) runs.push_back(read_metrics_curves(path));

  const TempFolder folder;
  write_curve_data(runs, folder.path());
  const std::string png = (fs::path(folder.path()) / "curves.png").string();
  const std::string script = (fs::path(folder.path()) / "curves.gp").string();
  {
    std::ofstream f(script);
    f << curves_gnuplot_script(runs, folder.path(), png);
    if (!f) throw Error(fmt::format("cannot write {}", script));
  }
  run_gnuplot(gnuplot, script, (fs::path(folder.path()) / "gnuplot.log").string());
  if (!fs::exists(png, ec)) {
    throw CurvesToolError(fmt::format("{} wrote no picture: {}", gnuplot,
                                      read_text((fs::path(folder.path()) / "gnuplot.log").string(), 2000)));
  }
  // Next to `out`, then renamed: a reader never sees half a picture.
  const fs::path target(out);
  const fs::path staging = target.parent_path() / ("." + target.filename().string() + ".tmp");
  fs::copy_file(png, staging, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(staging, target, ec);
  if (ec) {
    const std::string problem = ec.message();
    fs::remove(staging, ec);
    throw Error(fmt::format("{}: cannot write the picture: {}", out, problem));
  }
}

}  // namespace shadowsync
