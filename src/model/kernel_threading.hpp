// The one place that decides how many threads a oneDNN kernel may use. Debian's oneDNN runs on
// OpenMP: a GEMM called from a thread whose OpenMP nthreads ICV is > 1 starts a whole OpenMP
// team, which would oversubscribe the cores the Hogwild workers already occupy.
#pragma once

namespace shadowsync {

// Sets this thread's OpenMP thread count to 1 (omp_set_num_threads(1) affects only the calling
// thread's ICV), so every oneDNN kernel it calls runs single-threaded on it. Idempotent and cheap
// (a thread_local flag). Called by ModelWorkspace's constructor and at the top of train_step,
// predict_logits and loss_and_gradients, so users of ModelWorkspace need not call it.
void use_single_threaded_kernels_on_this_thread();

}  // namespace shadowsync
