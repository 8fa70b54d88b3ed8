// Cost of one inter-host round on this machine, under mpirun: a plain blocking MPI_Allreduce of
// the dense model and whole tables, the same bytes through MpiCommunicator::allreduce_sum
// (MPI_Iallreduce driven by MPI_Test), and the whole sparse round the sync thread runs (exchange_round: pack,
// collectives, unpack) with and without the embedding tables, the changed rows found by scanning
// the tables or from the workers' marks (TouchedRows). Rank 0 prints one line per case.
// Usage: mpirun -np H mpi_round_bench [DENSE_FLOATS [ROWS_PER_TABLE [DIM [REPLICAS [ROUNDS [TOUCHED]]]]]]
// (TOUCHED: rows of every table each host changes between two rounds)
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>

#include "inter_host_round.hpp"
#include "inter_host_sync.hpp"
#include "mpi_communicator.hpp"
#include "shadowsync/data/hashing.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/train/touched_rows.hpp"

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
  const long touched = arg(6, 256);

  std::vector<std::vector<float>> dense_replicas(static_cast<size_t>(replicas), std::vector<float>(dense, 0.5f));
  std::vector<float*> pointers;
  for (auto& r : dense_replicas) pointers.push_back(r.data());
  EmbeddingStore tables(HashingConfig::uniform(rows, 0), dim);

  TouchedRows marks(tables);
  mpi::MpiCommunicator world(MPI_COMM_WORLD);
  for (const int mode : {0, 1, 2}) {  // dense only; tables, scanned; tables, marked rows
    const bool embeddings = mode > 0;
    const bool marked = mode == 2;
    mpi::InterHostRound round(pointers, dense, embeddings ? &tables : nullptr, hosts);
    if (marked) round.set_touched_rows(&marks);
    // The plain allreduce moves what a dense exchange of the whole tables would (dense model,
    // every table row and accumulator); the round sends the dense model and the changed rows.
    size_t table_floats = 0;
    for (int t = 0; t < tables.hashing().tables() && embeddings; ++t) table_floats += tables.rows(t) * round.row_floats();
    const size_t count = round.dense_buffer_floats() + table_floats;
    std::vector<float> send(count, 1.0f), recv(count, 0.0f);
    const double plain = mean_ms(rounds, MPI_COMM_WORLD, [&] {
      MPI_Allreduce(send.data(), recv.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    });
    const double polled = mean_ms(rounds, MPI_COMM_WORLD, [&] {
      if (!world.allreduce_sum(send.data(), recv.data(), count, mpi::deadline_after(60)).ok()) std::abort();
    });
    mpi::RoundBuffers buffers;
    uint64_t step = 0;
    double bytes = 0;
    const double whole = mean_ms(rounds, MPI_COMM_WORLD, [&] {
      // Training between rounds: `touched` rows of every table change on every host.
      for (int t = 0; t < tables.hashing().tables() && embeddings; ++t) {
        for (long k = 0; k < touched; ++k) {
          const uint32_t row = static_cast<uint32_t>((step * 7919 + k * 104729 + rank * 31) % tables.rows(t));
          tables.row(t, row)[0] += 1e-3f;
          tables.accumulator(t)[row] += 1e-3f;
          if (marked) marks.mark(t, row);
        }
      }
      ++step;
      int done_hosts = 0;
      if (!mpi::exchange_round(round, buffers, world, false, 60, done_hosts).ok()) std::abort();
      bytes += static_cast<double>(buffers.bytes_sent);
    });
    if (rank == 0) {
      std::printf("H=%d %s: whole-table bytes %.2f MB: plain MPI_Allreduce %.3f ms, Iallreduce+Test %.3f ms; "
                  "sparse round (%ld rows touched per table, %d replicas) %.3f ms, %.3f MB sent per round\n",
                  hosts, marked ? "dense + tables, marked rows" : embeddings ? "dense + tables, scanned" : "dense only", count * 4e-6, plain, polled,
                  embeddings ? touched : 0L, replicas, whole, bytes / (rounds + 1) * 1e-6);
    }
  }
  MPI_Finalize();
  return 0;
}
