// The coordination loop of a training run (see coordinator.hpp).
#include "train/coordinator.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"
#include "shadowsync/metrics/binary_metrics.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/train/evaluate.hpp"
#include "train/replica_math.hpp"

namespace shadowsync::train {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

QualityReport quality_of(const BinaryMetrics& m) {
  return QualityReport{m.count(), m.ne(), m.logloss(), m.auc(), m.calibration()};
}

}  // namespace

namespace {

// The shortest window of the loss rule: 8 batches of every worker, at least 4096 examples.
uint64_t divergence_window(const TrainConfig& config, const GroupRuntime& runtime) {
  const uint64_t workers = static_cast<uint64_t>(runtime.groups()) * static_cast<uint64_t>(runtime.threads_per_group());
  return std::max<uint64_t>(8 * static_cast<uint64_t>(config.batch) * workers, 4096);
}

}  // namespace

Coordinator::Coordinator(CoordinatorParts parts)
    : p_(std::move(parts)), watch_(p_.train_positive_rate, divergence_window(p_.config, p_.runtime)) {}

double Coordinator::training_seconds() const { return seconds_since(start_) - paused_seconds_; }

// Training log loss since the previous call.
double Coordinator::running_logloss() {
  const double loss = p_.runtime.loss_sum();
  const uint64_t examples = p_.runtime.examples_done();
  const double value = examples > examples_mark_ ? (loss - loss_mark_) / static_cast<double>(examples - examples_mark_)
                                                 : std::nan("");
  loss_mark_ = loss;
  examples_mark_ = examples;
  return value;
}

// Runs `work` with every worker parked and the background sync stopped; its time is not training
// time.
// If `work` throws, run()'s guard resumes and joins.
void Coordinator::with_workers_parked(const std::function<void()>& work) {
  const Clock::time_point pause_start = Clock::now();
  p_.runtime.pause();
  p_.sync.stop();  // rethrows a background thread's error (after joining)
  if (warming_) publish_shared_replica();
  work();
  if (!warming_) p_.sync.start();
  p_.runtime.resume();
  paused_seconds_ += seconds_since(pause_start);
}

TrainReport Coordinator::make_report(ReportKind kind, double elapsed, double divergence) {
  TrainReport r;
  r.kind = kind;
  r.examples = p_.runtime.examples_done();
  r.total_examples = p_.runtime.target_examples();
  r.elapsed_s = elapsed;
  r.wall_s = seconds_since(start_);
  r.groups = p_.runtime.group_reports(elapsed);
  uint64_t iterations = 0, syncs = 0;
  for (const GroupReport& g : r.groups) {
    iterations += g.iterations;
    syncs += g.syncs;
  }
  r.examples_per_second = elapsed > 0 ? static_cast<double>(r.examples - examples_at_start_) / elapsed : 0;
  r.sync_rounds = p_.sync.rounds();
  r.sync_rounds_per_second = elapsed > 0 ? static_cast<double>(r.sync_rounds) / elapsed : 0;
  if (syncs > 0) r.sync_gap = static_cast<double>(iterations) / static_cast<double>(syncs);
  r.divergence = divergence;
  const double workers = static_cast<double>(p_.runtime.groups() * p_.runtime.threads_per_group());
  r.wait_share = elapsed > 0 ? p_.runtime.wait_seconds() / (elapsed * workers) : 0;
  r.running_logloss = running_logloss();
  const double base_rate = p_.train_positive_rate;
  r.running_ne = base_rate > 0 && base_rate < 1 ? r.running_logloss / binary_entropy(base_rate) : std::nan("");
  return r;
}

// A NaN or infinite logit means the model diverged (its weights overflow even when each is
// finite): reported as divergence.
QualityReport Coordinator::quality_on_eval(const float* dense) const {
  const std::vector<float> logits = predict_all_logits(p_.model, dense, p_.state.embeddings(), p_.eval);
  for (const float logit : logits) {
    if (!std::isfinite(logit)) throw divergence_error(p_.runtime.examples_done());
  }
  BinaryMetrics metrics;
  metrics.add_logits(logits.data(), p_.eval.labels, p_.eval.rows);
  if (metrics.logloss() > watch_.limit()) {
    throw loss_divergence_error(p_.runtime.examples_done(), metrics.logloss(), metrics.count());
  }
  return quality_of(metrics);
}

// The mean model (and the EASGD center) on the evaluation rows.
void Coordinator::evaluate_into(TrainReport& report, AlignedFloatBuffer& final_dense) {
  if (p_.eval.rows == 0) return;
  mean_of_replicas(p_.state.const_replica_pointers(), p_.state.dense_floats(), final_dense.data());
  report.eval = quality_on_eval(final_dense.data());
  evaluation_ne_.emplace_back(report.examples, report.eval->ne);
  if (p_.config.sync.has_center() && p_.rule != nullptr && p_.rule->center() != nullptr) {
    report.center = quality_on_eval(p_.rule->center());
  }
}

namespace {

std::string kept_checkpoint(const std::string& last) {
  return last.empty() ? "no checkpoint was written" : "the last good checkpoint '" + last + "' is kept";
}

std::string lower_learning_rates(const OptimizerConfig& o) {
  return fmt::format("lower {} (now {:g}) / {} (now {:g})", field("lr"), o.lr, field("emb_lr"), o.emb_lr);
}

}  // namespace

Error Coordinator::divergence_error(uint64_t examples) const {
  return Error(fmt::format("training diverged: the loss or a weight became NaN or infinite at about {} examples ({}); {}",
                           examples, kept_checkpoint(last_checkpoint_), lower_learning_rates(p_.config.optimizer)));
}

Error Coordinator::loss_divergence_error(uint64_t examples, double loss, uint64_t over) const {
  return Error(fmt::format(
      "training diverged at about {} examples: the log loss was {:.4g} per example over {} examples, above the "
      "limit {:.3g} (20 x the entropy of the training rows' positive rate {:.4f}, at least 10 x ln 2) ({}); {}",
      examples, loss, over, watch_.limit(), p_.train_positive_rate, kept_checkpoint(last_checkpoint_),
      lower_learning_rates(p_.config.optimizer)));
}

// With every worker parked: the training loss since the last closed window and of that window,
// and every weight (replicas and embedding tables), must not show divergence before they are
// saved.
void Coordinator::check_not_diverged_before_saving() {
  const uint64_t examples = p_.runtime.examples_done();
  const double loss = p_.runtime.loss_sum();
  if (watch_.open_window_above(loss, examples, static_cast<uint64_t>(p_.config.batch))) {
    throw loss_divergence_error(examples, watch_.open_window_loss(loss, examples), watch_.open_window_examples(examples));
  }
  // A window above the limit among the last few: not a model to keep either.
  if (watch_.recent_window_above()) {
    throw loss_divergence_error(examples, watch_.last_window_loss(), watch_.last_window_examples());
  }
  for (const float* replica : p_.state.const_replica_pointers()) {
    if (!all_finite(replica, p_.state.dense_floats())) throw divergence_error(examples);
  }
  const EmbeddingStore& tables = p_.state.embeddings();
  for (int t = 0; t < tables.hashing().tables(); ++t) {
    if (tables.format() == RowFormat::Fp32) {
      if (!all_finite(tables.table_data(t), tables.table_floats(t))) throw divergence_error(examples);
      continue;
    }
    // bf16 rows: a half with every exponent bit set is an infinity or a NaN.
    const uint16_t* halves = tables.row_bf16(t, 0);
    const size_t count = tables.rows(t) * size_t(tables.row_stride());
    uint16_t bad = 0;
    for (size_t i = 0; i < count; ++i) bad |= uint16_t((halves[i] & 0x7F80u) == 0x7F80u);
    if (bad) throw divergence_error(examples);
  }
}

void Coordinator::publish_shared_replica() {
  const size_t n = p_.state.dense_floats();
  for (int r = 1; r < p_.state.replica_count(); ++r) {
    std::copy_n(p_.state.replica(0), n, p_.state.replica(r));
    std::copy_n(p_.state.optimizer_state(0), n, p_.state.optimizer_state(r));
  }
}

void Coordinator::end_warmup() {
  publish_shared_replica();
  warming_ = false;
  p_.runtime.train_own_replicas();
  if (p_.rule != nullptr) p_.rule->restart();
}

void Coordinator::write_checkpoint(const std::string& path) {
  check_not_diverged_before_saving();
  p_.write_checkpoint(path);
  last_checkpoint_ = path;
}

TrainResult Coordinator::run(AlignedFloatBuffer& final_dense) {
  TrainResult result;
  GroupRuntime& runtime = p_.runtime;
  const TrainConfig& config = p_.config;
  const uint64_t examples_at_start = runtime.examples_done();
  examples_at_start_ = examples_at_start;
  examples_mark_ = examples_at_start;
  start_ = Clock::now();
  // Nothing left to train (a resumed run that had finished): say so, touch nothing.
  if (!runtime.batches_left() || (config.max_examples > 0 && examples_at_start >= config.max_examples)) {
    result.already_finished = true;
    result.final_report = make_report(ReportKind::Final, 0, 0);
    result.final_report.running_logloss = std::nan("");
    result.final_report.running_ne = std::nan("");
    return result;
  }

  // Whatever ends run(), no thread outlives it: stop the workers, release a pause, join them,
  // stop the background sync. An error found here is not allowed to hide the one being thrown.
  struct Guard {
    Coordinator& c;
    ~Guard() {
      c.p_.runtime.request_stop();
      c.p_.runtime.join();
      try {
        c.p_.sync.stop();
      } catch (...) {
      }
    }
  } guard{*this};

  p_.observer.on_start();
  const SyncPacing& pacing = p_.sync.pacing();
  if (pacing.round_iterations > 0) {
    p_.observer.on_pacing(PacingReport{pacing.round_iterations, pacing.examples_per_round});
  }
  uint64_t next_eval =
      config.eval_every > 0 && p_.eval.rows > 0 ? examples_at_start + config.eval_every : UINT64_MAX;
  uint64_t next_checkpoint = config.checkpoint_every > 0 && !config.checkpoint_path.empty()
                                 ? examples_at_start + config.checkpoint_every
                                 : UINT64_MAX;
  // Workers hold at the next point due (none at the run's end: the final report covers it), so
  // every point of the grid start + k x every is taken, within a batch per worker, however late
  // this thread is scheduled.
  const uint64_t target = runtime.target_examples();
  // A warm-up still ahead (a resumed run may start inside it): every group on replica 0, which
  // the last pause (or the initialization) made equal to the others.
  warming_ = p_.warmup_end > examples_at_start && p_.state.replica_count() > 1;
  auto next_hold = [&] {
    const uint64_t point = std::min({next_eval, next_checkpoint, warming_ ? p_.warmup_end : UINT64_MAX});
    return point < target ? point : UINT64_MAX;
  };
  if (warming_) {
    runtime.train_one_replica(p_.state.replica(0), p_.state.optimizer_state(0));
    p_.observer.on_warmup(WarmupReport{p_.warmup_end, p_.warmup_share});
  }
  runtime.hold_at(next_hold());
  if (!warming_) p_.sync.start();
  runtime.start(p_.sync);
  const double progress_interval = p_.observer.progress_interval_s();
  double last_progress_wall = 0;  // the first report comes one interval after the start
  // Divergence is sampled every 100 ms (relaxed loads of every 7th parameter; cheap).
  double divergence_sum = 0;
  int divergence_samples = 0;
  double last_divergence = 0;
  Clock::time_point next_sample = start_;
  auto sample_divergence = [&] {
    if (warming_) return 0.0;  // one model (the others are copies of an earlier replica 0)
    return replica_divergence(p_.state.const_replica_pointers(), p_.state.dense_floats(), 7);
  };
  std::optional<Error> diverged;  // by the loss rule; thrown once every thread is joined
  watch_.observe(runtime.loss_sum(), examples_at_start);
  while (!runtime.wait_finished(std::chrono::milliseconds(20))) {
    if (!diverged && watch_.observe(runtime.loss_sum(), runtime.examples_done())) {
      diverged = loss_divergence_error(runtime.examples_done(), watch_.last_window_loss(), watch_.last_window_examples());
      runtime.request_stop();
    }
    if (Clock::now() >= next_sample) {
      next_sample = Clock::now() + std::chrono::milliseconds(100);
      last_divergence = sample_divergence();
      divergence_sum += last_divergence;
      ++divergence_samples;
    }
    if (p_.stop.stop_requested() && !runtime.stop_requested()) {
      result.stop_requested = true;
      result.stopped_early = true;
      runtime.request_stop();
    }
    const uint64_t examples = runtime.examples_done();
    if (runtime.stop_requested()) {
      runtime.hold_at(UINT64_MAX);  // a held worker goes on to see the stop
      continue;
    }
    // A point at or past the run's target is the end: the final report and checkpoint cover it
    // (taking it here too, when the last batch lands on it before the workers say they are
    // finished, evaluated the same model twice).
    const bool eval_due = examples >= next_eval && next_eval < target;
    const bool checkpoint_due = examples >= next_checkpoint && next_checkpoint < target;
    if (warming_ && examples >= p_.warmup_end) {
      with_workers_parked([&] {
        end_warmup();
        if (!eval_due && !checkpoint_due) runtime.hold_at(next_hold());
      });
    }
    if (eval_due || checkpoint_due) {
      // The next points of the grids: one taken late (by more than `every`) does not push the
      // later ones back.
      while (next_eval <= examples) next_eval += config.eval_every;
      while (next_checkpoint <= examples) next_checkpoint += config.checkpoint_every;
      TrainReport report;
      uint64_t checkpoint_examples = 0;
      with_workers_parked([&] {
        if (eval_due) {
          report = make_report(ReportKind::Evaluation, training_seconds(), sample_divergence());
          evaluate_into(report, final_dense);
        }
        if (checkpoint_due) {
          write_checkpoint(config.checkpoint_path);
          checkpoint_examples = runtime.examples_done();
        }
        runtime.hold_at(next_hold());
      });
      if (eval_due) p_.observer.on_evaluation(report);
      if (checkpoint_due) p_.observer.on_checkpoint(CheckpointReport{config.checkpoint_path, checkpoint_examples});
    }
    const double wall = seconds_since(start_);
    if (progress_interval > 0 && wall - last_progress_wall >= progress_interval) {
      last_progress_wall = wall;
      p_.observer.on_progress(make_report(ReportKind::Progress, training_seconds(), last_divergence));
    }
  }
  const double elapsed = training_seconds();
  p_.sync.stop();  // already asked to stop by the last worker; this joins
  runtime.join();
  // Workers hold at the warm-up's end, so a run that trained past it has ended it there; one
  // that did not would have trained its groups on one replica with no round, silently.
  if (warming_ && p_.warmup_end < target && runtime.examples_done() > p_.warmup_end && !runtime.stop_requested() &&
      runtime.error() == nullptr) {
    throw Error(fmt::format("training passed the end of its shared-replica warm-up ({} examples) without splitting "
                            "the replicas (an internal error; {} 0 avoids the warm-up)",
                            p_.warmup_end, field("sync_warmup")));
  }
  if (warming_) publish_shared_replica();  // a run stopped inside its warm-up: one model
  p_.observer.on_training_done();
  if (const std::exception_ptr error = runtime.error()) std::rethrow_exception(error);
  if (runtime.max_examples_reached()) result.stopped_early = true;
  if (runtime.diverged()) throw divergence_error(runtime.diverged_at());
  if (diverged) throw *diverged;
  check_not_diverged_before_saving();  // a run too short for whole windows, or without a checkpoint
  // A stop request that came while the last batches were finishing still counts as a stop.
  if (p_.stop.stop_requested() && !result.stop_requested) {
    result.stop_requested = true;
    result.stopped_early = runtime.examples_done() < runtime.target_examples();
    result.stop_after_training = !result.stopped_early;
  }

  // The final divergence is the mean of the samples taken while training ran (after the last
  // round the replicas are equal, which says nothing about training).
  const double divergence = divergence_samples > 0 ? divergence_sum / divergence_samples : sample_divergence();
  TrainReport report = make_report(ReportKind::Final, elapsed, divergence);
  report.sync_interval_ms = pacing.interval_ms;
  report.sync_round_iterations = static_cast<uint64_t>(pacing.round_iterations);
  report.sync_warmup_examples = p_.warmup_end;
  if (config.evaluate_on_stop || !(result.stop_requested && result.stopped_early)) evaluate_into(report, final_dense);
  std::string checkpoint = config.checkpoint_path;
  if (checkpoint.empty() && result.stop_requested && result.stopped_early) checkpoint = config.stop_checkpoint_path;
  if (!checkpoint.empty()) write_checkpoint(checkpoint);
  result.checkpoint = last_checkpoint_;
  result.evaluation_ne = evaluation_ne_;
  p_.observer.on_final(report);
  result.final_report = report;
  // A stop request during the final evaluation or checkpoint is not dropped: the run finished
  // its work, and the caller hears about the request.
  if (p_.stop.stop_requested() && !result.stop_requested) {
    result.stop_requested = true;
    result.stop_after_training = true;
  }
  return result;
}

}  // namespace shadowsync::train
