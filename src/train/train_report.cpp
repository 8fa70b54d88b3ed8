// TrainReport's JSON form: the object of one metrics line (front ends add "config"); the pacing
// message front ends show.
#include <cmath>

#include "shadowsync/train/train_report.hpp"

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"
#include "shadowsync/train/train_observer.hpp"

namespace shadowsync {

std::string pacing_message(const PacingReport& pacing) {
  return "shadow sync: no spare processing unit for the sync thread, rounds paced by training progress: one per " +
         std::to_string(pacing.round_iterations) + " iterations of each group (" + field("sync_round_iterations") +
         "; " + field("sync_interval_ms") + " 0 runs them back to back)";
}

std::string warmup_message(const WarmupReport& warmup) {
  return fmt::format("shadow sync: the groups train one shared replica for the first {} examples ({} {:g}), then "
                     "split into their own replicas",
                     warmup.until_examples, field("sync_warmup"), warmup.share);
}

namespace {

nlohmann::json optional_number(const std::optional<double>& value) {
  return value && std::isfinite(*value) ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json finite_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

nlohmann::json quality_json(const std::optional<QualityReport>& q) {
  if (!q) return nullptr;
  return {{"examples", q->examples}, {"ne", finite_or_null(q->ne)}, {"logloss", finite_or_null(q->logloss)},
          {"auc", finite_or_null(q->auc)}, {"calibration", finite_or_null(q->calibration)}};
}

}  // namespace

const char* report_kind_name(ReportKind kind) {
  switch (kind) {
    case ReportKind::Progress:
      return "progress";
    case ReportKind::Evaluation:
      return "eval";
    case ReportKind::Final:
      return "final";
  }
  return "?";
}

nlohmann::json TrainReport::to_json() const {
  nlohmann::json j;
  j["event"] = report_kind_name(kind);
  j["examples"] = examples;
  j["total_examples"] = total_examples;
  j["elapsed_s"] = elapsed_s;
  j["examples_per_second"] = examples_per_second;
  j["sync_rounds"] = sync_rounds;
  j["sync_rounds_per_second"] = sync_rounds_per_second;
  j["sync_interval_ms"] = sync_interval_ms;
  j["sync_round_iterations"] = sync_round_iterations;
  j["sync_warmup_examples"] = sync_warmup_examples;
  j["sync_gap"] = optional_number(sync_gap);
  j["divergence"] = finite_or_null(divergence);
  j["wait_share"] = wait_share;
  j["running_logloss"] = finite_or_null(running_logloss);
  j["running_ne"] = finite_or_null(running_ne);
  // Quality keys are always present; null until an evaluation has run.
  j["ne"] = eval ? finite_or_null(eval->ne) : nlohmann::json(nullptr);
  j["logloss"] = eval ? finite_or_null(eval->logloss) : nlohmann::json(nullptr);
  j["auc"] = eval ? finite_or_null(eval->auc) : nlohmann::json(nullptr);
  j["calibration"] = eval ? finite_or_null(eval->calibration) : nlohmann::json(nullptr);
  j["eval"] = quality_json(eval);
  j["center"] = quality_json(center);
  nlohmann::json per_group = nlohmann::json::array();
  for (const GroupReport& g : groups) {
    per_group.push_back({{"examples", g.examples},
                         {"iterations", g.iterations},
                         {"syncs", g.syncs},
                         {"examples_per_second", g.examples_per_second}});
  }
  j["groups"] = per_group;
  return j;
}


std::optional<NeRise> held_out_ne_rise(const TrainResult& result, uint64_t examples_per_epoch, double tolerance) {
  const auto& points = result.evaluation_ne;
  if (points.size() < 2 || examples_per_epoch == 0) return std::nullopt;
  size_t best = 0;
  for (size_t i = 1; i < points.size(); ++i) {
    if (points[i].second < points[best].second) best = i;
  }
  const auto& [last_examples, last_ne] = points.back();
  if (!(last_ne > points[best].second * (1 + tolerance))) return std::nullopt;
  if (last_examples < points[best].first + examples_per_epoch) return std::nullopt;
  NeRise rise;
  rise.best_examples = points[best].first;
  rise.best_ne = points[best].second;
  rise.final_ne = last_ne;
  rise.best_epoch = static_cast<int>((points[best].first + examples_per_epoch - 1) / examples_per_epoch);
  return rise;
}

}  // namespace shadowsync
