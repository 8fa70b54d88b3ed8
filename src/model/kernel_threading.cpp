// use_single_threaded_kernels_on_this_thread(): the one place that pins oneDNN (OpenMP) kernels
// to the calling thread. See src/model/kernel_threading.hpp.
#include "model/kernel_threading.hpp"

#include <omp.h>

namespace shadowsync {

void use_single_threaded_kernels_on_this_thread() {
  thread_local bool done = false;
  if (!done) {
    omp_set_num_threads(1);  // this thread's nthreads ICV only
    done = true;
  }
}

}  // namespace shadowsync
