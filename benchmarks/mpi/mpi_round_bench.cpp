// Cost of one inter-host round on this machine, under mpirun: a plain blocking MPI_Allreduce of
// the round's bytes, the same bytes through timed_allreduce_sum (MPI_Iallreduce driven by
// MPI_Test, what the sync thread uses), and the whole round (pack, allreduce, unpack) with and
// without the embedding tables. Rank 0 prints one line per case: mean ms per round.
// Usage: mpirun -np H mpi_round_bench [DENSE_FLOATS [ROWS_PER_TABLE [DIM [REPLICAS [ROUNDS]]]]]
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>

#include "inter_host_round.hpp"
#include "inter_host_sync.hpp"
#include "shadowsync/data/hashing.hpp"
#include "shadowsync/model/embedding_store.hpp"

namespace {

using namespace shadowsync;

double mean_ms(int rounds, MPI_Comm comm, const std::function<void()>& round) {
  round();  // warm up
  MPI_Barrier(comm);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) round();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  double slowest = 0;
  MPI_Allreduce(&ms, &slowest, 1, MPI_DOUBLE, MPI_MAX, comm);
  return slowest / rounds;
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0, hosts = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &hosts);
  auto arg = [&](int i, long fallback) { return argc > i ? std::atol(argv[i]) : fallback; };
  const size_t dense = static_cast<size_t>(arg(1, 112672));
  const uint32_t rows = static_cast<uint32_t>(arg(2, 4096));
  const int dim = static_cast<int>(arg(3, 16));
  const int replicas = static_cast<int>(arg(4, 2));
  const int rounds = static_cast<int>(arg(5, 50));

  std::vector<std::vector<float>> dense_replicas(static_cast<size_t>(replicas), std::vector<float>(dense, 0.5f));
  std::vector<float*> pointers;
  for (auto& r : dense_replicas) pointers.push_back(r.data());
  EmbeddingStore tables(HashingConfig::uniform(rows, 0), dim);

  for (const bool embeddings : {false, true}) {
    mpi::InterHostRound round(pointers, dense, embeddings ? &tables : nullptr, hosts);
    const size_t count = round.buffer_floats();
    std::vector<float> send(count, 1.0f), recv(count, 0.0f);
    const double plain = mean_ms(rounds, MPI_COMM_WORLD, [&] {
      MPI_Allreduce(send.data(), recv.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    });
    const double polled = mean_ms(rounds, MPI_COMM_WORLD, [&] {
      if (mpi::timed_allreduce_sum(send.data(), recv.data(), count, MPI_COMM_WORLD, 60) != MPI_SUCCESS) std::abort();
    });
    const double whole = mean_ms(rounds, MPI_COMM_WORLD, [&] {
      round.pack(send.data(), false);
      if (mpi::timed_allreduce_sum(send.data(), recv.data(), count, MPI_COMM_WORLD, 60) != MPI_SUCCESS) std::abort();
      round.unpack(send.data(), recv.data());
    });
    if (rank == 0) {
      std::printf("H=%d %s: %zu floats (%.2f MB) per round: plain MPI_Allreduce %.3f ms, Iallreduce+Test %.3f ms, "
                  "whole round (pack + allreduce + unpack, %d replicas) %.3f ms\n",
                  hosts, embeddings ? "dense + tables" : "dense only", count, count * 4e-6, plain, polled, replicas,
                  whole);
    }
  }
  MPI_Finalize();
  return 0;
}
