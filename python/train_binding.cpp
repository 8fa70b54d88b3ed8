// shadowsync._train and the trained model's C++ side: keyword options -> TrainConfig, the Trainer
// run with the GIL released, reports as dicts through a Python callable, Ctrl-C as the stop token,
// TrainedModel for evaluate/predict (see module.cpp for what is exported).
#include <atomic>
#include <cmath>
#include <limits>
#include <optional>
#include <stop_token>
#include <string>

#include <fmt/format.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>
#include <pybind11/pybind11.h>

#include "data_binding.hpp"
#include "errors.hpp"
#include "run_options_binding.hpp"
#include "shadowsync/core/file_io.hpp"
#include "shadowsync/synthetic/synthetic.hpp"
#include "shadowsync/train/eval_split.hpp"
#include "shadowsync/train/evaluate.hpp"
#include "shadowsync/train/init_chain.hpp"
#include "shadowsync/train/trained_model.hpp"
#include "shadowsync/train/trainer.hpp"

namespace py = pybind11;

namespace shadowsync::python {
namespace {

// nlohmann::json -> Python objects through the json module (reports are small).
py::object to_python(const nlohmann::json& j) {
  // Looked up per call: a static py::object would be released after the interpreter ends.
  return py::module_::import("json").attr("loads")(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// The keyword options of shadowsync.train, read through the run option table into RunSettings
// (one check and message per option), validated as a whole, the model resolved for the data's
// hashing and schema.
RunSettings settings_from_options(const py::dict& options, const HashingConfig& hashing, const FeatureSchema& schema) {
  RunSettings settings;
  for (const auto& [key, value] : options) set_from_python(settings, py::str(key), value);
  try {
    settings.config.validate();
  } catch (const Error& e) {
    raise_python(ErrorKind::Value, e);
  }
  if (!settings.config.init_from.empty() && !settings.has("model")) {
    // init_from= without model=: the checkpoint's model, for the data's columns and hashing (the
    // trainer names the first column, or the hashing, that differs from the checkpoint's).
    try {
      settings.config.model = init_from_model_config(settings.config.init_from);
    } catch (const Error& e) {
      raise_python(ErrorKind::OS, e);  // the file cannot be read as a checkpoint
    }
    settings.config.model.schema = schema;
    settings.config.model.hashing = hashing;
    return settings;
  }
  try {
    settings.config.model = ModelConfig::resolve(settings.model, hashing, schema);
  } catch (const Error& e) {
    raise_python(ErrorKind::Value, e);
  }
  return settings;
}

// Hears the engine on the run() thread: takes the GIL for each call, hands reports to `sink`
// (a Python callable taking a dict), polls for Ctrl-C and turns it into a stop request.
class PythonObserver final : public TrainObserver {
 public:
  PythonObserver(py::object sink, nlohmann::json config, std::stop_source stop, double poll_s)
      : sink_(std::move(sink)), config_(std::move(config)), stop_(std::move(stop)), poll_s_(poll_s) {}

  double progress_interval_s() const override { return poll_s_; }
  void on_start() override { poll(); }
  void on_warning(const std::string& message) override {
    py::gil_scoped_acquire gil;
    if (failed_) return;
    forward_locked(nlohmann::json{{"event", "warning"}, {"message", message}});
  }
  void on_pacing(const PacingReport& pacing) override {
    send(nlohmann::json{{"event", "pacing"},
                        {"message", python_message(Error(pacing_message(pacing)))},
                        {"round_iterations", pacing.round_iterations},
                        {"examples_per_round", pacing.examples_per_round}});
  }
  void on_warmup(const WarmupReport& warmup) override {
    send(nlohmann::json{{"event", "warmup"},
                        {"message", python_message(Error(warmup_message(warmup)))},
                        {"until_examples", warmup.until_examples},
                        {"share", warmup.share}});
  }
  void on_progress(const TrainReport& report) override { send(with_config(report)); }
  void on_evaluation(const TrainReport& report) override { send(with_config(report)); }
  void on_checkpoint(const CheckpointReport& c) override {
    send(nlohmann::json{{"event", "checkpoint"}, {"path", c.path}, {"examples", c.examples}});
  }
  void on_training_done() override { poll(); }
  void on_final(const TrainReport& report) override { send(with_config(report)); }

  // The Python exception to raise after run() (KeyboardInterrupt, or the callback's), if any.
  std::optional<py::error_already_set>& pending() { return pending_; }
  bool callback_failed() const { return failed_; }

 private:
  nlohmann::json with_config(const TrainReport& report) const {
    nlohmann::json j = report.to_json();
    j["config"] = config_;
    return j;
  }

  void poll() {
    py::gil_scoped_acquire gil;
    check_signals_locked();
  }

  void check_signals_locked() {
    if (PyErr_CheckSignals() != 0) {
      py::error_already_set interrupt;  // fetches and clears the error
      if (!pending_) pending_.emplace(std::move(interrupt));
      stop_.request_stop();
    }
  }

  void send(const nlohmann::json& event) {
    py::gil_scoped_acquire gil;
    check_signals_locked();
    forward_locked(event);
  }

  void forward_locked(const nlohmann::json& event) {
    if (failed_ || sink_.is_none()) return;
    try {
      sink_(to_python(event));
    } catch (py::error_already_set& e) {
      failed_ = true;
      if (!pending_) pending_.emplace(std::move(e));
      throw Error("the callback raised an exception");  // stops the run; run()'s caller raises it
    }
  }

  py::object sink_;
  nlohmann::json config_;
  std::stop_source stop_;
  double poll_s_;
  std::optional<py::error_already_set> pending_;
  bool failed_ = false;
};

bool mentions(const Error& e, const std::string& path) {
  return !path.empty() && std::string(e.what()).find(path) != std::string::npos;
}

// Trains on `train` (evaluating on `eval`, may be None) with the keyword `options`; reports go to
// `sink`. Returns a dict: final (the final metrics line), checkpoint (the path written, "" if
// none), stopped_early, already_finished, groups, threads_per_group.
py::dict train(const PyData& train, const py::object& eval_object, const py::dict& options, py::object sink,
               double poll_s) {
  const PyData* eval_data = eval_object.is_none() ? nullptr : &eval_object.cast<const PyData&>();
  const RunSettings settings = settings_from_options(options, train.hashing(), train.schema());
  TrainConfig config = settings.config;
  if (eval_data && !train.schema().first_difference(eval_data->schema()).empty()) {
    raise_python(ErrorKind::Value, "eval_data: other columns than the training data (" +
                                       train.schema().first_difference(eval_data->schema()) + ")");
  }
  if (eval_data && !(eval_data->hashing() == train.hashing())) {
    raise_python(ErrorKind::Value,
                 "eval_data: hashed with other table sizes or salt than the training data (rows_per_table=, hash_salt=)");
  }
  DataParts train_rows = train.parts();  // several files: read in order, not joined
  DataView eval_view;
  DataBlock eval_copy;  // the held-out tail when it spans two files
  try {
    check_eval_choice(settings, eval_data != nullptr);
    if (eval_data) {
      eval_view = eval_data->joined();
    } else {
      std::tie(train_rows, eval_view) = held_out_split(settings, train.parts(), eval_copy);
    }
  } catch (const Error& e) {
    raise_python(ErrorKind::Value, e);
  }
  // eval_fraction= without eval_every=: evaluations along the run (a curve), as the CLI does.
  config.eval_every = run_eval_every(settings, train_rows.rows(), eval_view.rows);
  if (!config.checkpoint_path.empty()) {
    std::vector<std::pair<std::string_view, std::string>> inputs;
    for (const std::string& path : train.paths()) inputs.emplace_back("data", path);
    if (eval_data) {
      for (const std::string& path : eval_data->paths()) inputs.emplace_back("eval_data", path);
    }
    if (!config.init_from.empty()) inputs.emplace_back("init_from", config.init_from);
    try {
      refuse_output_over_input("checkpoint", config.checkpoint_path, inputs);
    } catch (const Error& e) {
      raise_python(ErrorKind::Value, e);
    }
  }

  std::stop_source stop;
  PythonObserver observer(std::move(sink), config.to_json(), stop, poll_s);
  std::optional<Trainer> trainer;
  std::optional<TrainResult> result;
  std::optional<Error> failure;
  bool constructing = true;
  {
    py::gil_scoped_release release;
    try {
      TrainerSetup setup;
      setup.observer = &observer;
      setup.stop = stop.get_token();
      trainer.emplace(config, train_rows, eval_view, std::move(setup));
      constructing = false;
      result.emplace(trainer->run());
    } catch (const Error& e) {
      failure.emplace(e);
    }
  }
  if (observer.pending()) {
    // KeyboardInterrupt (the checkpoint, if any, is written) or the callback's own exception.
    py::error_already_set pending = std::move(*observer.pending());
    observer.pending().reset();
    pending.restore();
    throw py::error_already_set();
  }
  if (failure) {
    const Error& e = *failure;
    if (constructing) {
      // Files named (resume=, and checkpoint=, whose lock file is made before training): OSError;
      // init_from= when it cannot be read as a checkpoint ("init_from: checkpoint ..."), while a
      // checkpoint of another schema, hashing or model is a ValueError.
      const bool init_file = e.marked().starts_with(field("init_from") + ": checkpoint");
      const bool init_other = !init_file && e.marked().starts_with(field("init_from"));
      const bool file = !init_other && (init_file || mentions(e, config.resume_path) || mentions(e, config.checkpoint_path));
      raise_python(file ? ErrorKind::OS : ErrorKind::Value, e);
    }
    if (std::string(e.what()).find("diverged") != std::string::npos) raise_python(ErrorKind::Runtime, e);
    raise_python(mentions(e, config.checkpoint_path) ? ErrorKind::OS : ErrorKind::Runtime, e);
  }
  py::dict out;
  nlohmann::json final_line = result->final_report.to_json();
  final_line["config"] = config.to_json();
  out["final"] = to_python(final_line);
  out["checkpoint"] = result->checkpoint;
  out["stopped_early"] = result->stopped_early;
  out["already_finished"] = result->already_finished;
  // Held-out NE that rose again over the last epochs (train() warns), or None.
  if (const std::optional<NeRise> rise = held_out_ne_rise(*result, train_rows.rows())) {
    py::dict r;
    r["best_ne"] = rise->best_ne;
    r["best_examples"] = rise->best_examples;
    r["best_epoch"] = rise->best_epoch;
    r["final_ne"] = rise->final_ne;
    out["ne_rise"] = r;
  } else {
    out["ne_rise"] = py::none();
  }
  py::list evaluations;
  for (const auto& [examples, ne] : result->evaluation_ne) evaluations.append(py::make_tuple(examples, ne));
  out["evaluations"] = evaluations;
  out["groups"] = trainer->groups();
  out["threads_per_group"] = trainer->threads_per_group();
  return out;
}

py::dict metrics_dict(const BinaryMetrics& m) {
  py::dict d;
  d["examples"] = m.count();
  d["ne"] = m.ne();
  d["logloss"] = m.logloss();
  d["auc"] = m.auc();
  d["calibration"] = m.calibration();
  return d;
}

void check_same_hashing(const TrainedModel& model, const PyData& data) {
  const std::string difference = model.model().config().schema.first_difference(data.schema());
  if (!difference.empty()) {
    raise_python(ErrorKind::Value, "data: other columns than the model was trained on (model vs data: " + difference + ")");
  }
  if (!(model.hashing() == data.hashing())) {
    const auto first = [](const HashingConfig& h) { return h.rows.empty() ? 0u : h.rows[0]; };
    raise_python(ErrorKind::Value,
                 fmt::format("data: hashed with other table sizes or salt than the model (the model has {} rows in "
                             "table 0 and salt {}, the data {} and {}); make the Dataset with rows_per_table=, hash_salt=",
                             first(model.hashing()), model.hashing().salt, first(data.hashing()), data.hashing().salt));
  }
}

}  // namespace

void bind_train(py::module_& m) {
  m.def("_train", &train, py::arg("train"), py::arg("eval"), py::arg("options"), py::arg("sink"),
        py::arg("poll_s") = 0.1);

  py::class_<TrainedModel>(m, "_TrainedModel", "A model read from a checkpoint (use shadowsync.load).")
      .def_static("load", [](const std::string& path) {
        try {
          py::gil_scoped_release release;
          return TrainedModel::load(path);
        } catch (const Error& e) {
          raise_python(ErrorKind::OS, e);
        }
      })
      .def_property_readonly("examples_trained", &TrainedModel::examples_trained)
      .def_property_readonly("init_chain", [](const TrainedModel& t) { return to_python(init_chain_to_json(t.init_chain())); })
      .def_property_readonly("rows_per_table", [](const TrainedModel& t) {
        py::list rows;
        for (uint32_t r : t.hashing().rows) rows.append(r);
        return rows;
      })
      .def_property_readonly("hash_salt", [](const TrainedModel& t) { return t.hashing().salt; })
      .def_property_readonly("schema", [](const TrainedModel& t) { return t.model().config().schema.to_json().dump(); })
      .def("evaluate", [](const TrainedModel& t, const PyData& data) {
        check_same_hashing(t, data);
        BinaryMetrics metrics;
        {
          py::gil_scoped_release release;
          metrics = evaluate_model(t.model(), t.dense(), t.embeddings(), data.parts());
        }
        return metrics_dict(metrics);
      })
      .def("predict_logits", [](const TrainedModel& t, const PyData& data) {
        check_same_hashing(t, data);
        std::vector<float> logits;
        {
          py::gil_scoped_release release;
          logits = predict_all_logits(t.model(), t.dense(), t.embeddings(), data.parts());
        }
        py::array_t<float> out(static_cast<py::ssize_t>(logits.size()));
        std::copy(logits.begin(), logits.end(), out.mutable_data());
        return out;
      });

  m.def("_generate", [](const std::string& path, uint64_t rows, uint64_t seed) {
    SyntheticSummary s;
    try {
      py::gil_scoped_release release;
      s = generate_synthetic_criteo(SyntheticOptions{rows, seed}, path);
    } catch (const Error& e) {
      raise_python(std::string(e.what()).find(path) != std::string::npos ? ErrorKind::OS : ErrorKind::Value, e);
    }
    py::dict d;
    d["rows"] = s.rows;
    d["seed"] = s.seed;
    d["positive_rate"] = s.positive_rate;
    d["teacher_logloss"] = s.teacher_logloss;
    d["teacher_ne"] = s.teacher_ne;
    return d;
  }, py::arg("path"), py::arg("rows"), py::arg("seed"));
}

}  // namespace shadowsync::python
