// SchemaTeacher: the planted model of a synthetic log of any schema (the terms are listed in
// synthetic_schema.hpp). Parameters derive from the seed by hashing, nothing per id is stored;
// the bias is calibrated on a seed-derived sample for a positive rate of kTargetPositiveRate.
#pragma once

#include <cstdint>
#include <vector>

#include "schema_rows.hpp"
#include "teacher.hpp"  // kTargetPositiveRate

namespace shadowsync::synthetic {

class SchemaTeacher {
 public:
  // `left_out`: a schema column whose terms are left out (tests: what a model ignoring that
  // column could reach at best is no better); -1 for the teacher itself.
  SchemaTeacher(uint64_t seed, const SchemaRowSampler& sampler, int left_out = -1);

  double logit(const SchemaRow& row) const { return bias_ + logit_without_bias(row); }
  double bias() const { return bias_; }

 private:
  double logit_without_bias(const SchemaRow& row) const;
  bool used(int column) const { return column != left_out_; }

  uint64_t seed_;
  const SchemaRowSampler& sampler_;
  int left_out_;
  std::vector<double> linear_, tanh_weight_, tanh_center_;
  double bias_ = 0;
};

}  // namespace shadowsync::synthetic
