// OptimizerConfig: parsing and naming of the dense optimizer.
#include "shadowsync/model/optimizer.hpp"

#include "shadowsync/core/error.hpp"

namespace shadowsync {

DenseOptimizer OptimizerConfig::parse(std::string_view text) {
  if (text == "adagrad") return DenseOptimizer::Adagrad;
  if (text == "sgd") return DenseOptimizer::Sgd;
  throw Error(field("optimizer") + ": unknown dense optimizer '" + std::string(text) + "' (valid: adagrad, sgd)");
}

std::string OptimizerConfig::name(DenseOptimizer optimizer) {
  return optimizer == DenseOptimizer::Sgd ? "sgd" : "adagrad";
}

}  // namespace shadowsync
