// What the model benchmarks measure with: this thread's CPU time, and the median of a run's
// samples (a preemption lands in one sample; the median drops it).
#pragma once

#include <time.h>

#include <algorithm>
#include <vector>

namespace shadowsync {

// This thread's CPU time in seconds. The step benchmarks' rates are per CPU second of the
// benchmark thread (Google Benchmark's default), so limits are measured the same way: on a
// shared machine, wall time would count the time other processes held the core.
inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// The upper median of v (0 when empty).
inline double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace shadowsync
