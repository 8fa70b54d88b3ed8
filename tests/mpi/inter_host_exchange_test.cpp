// Whole inter-host rounds without mpirun: 2 and 3 participants, each a thread of this process
// with its own replicas and tables, run exchange_round() (mpi/inter_host_sync.hpp) over the
// in-process communicator (mpi/in_process_communicator.hpp). The dense results are checked
// against the scalar reference of each rule (tests/common/sync_reference.hpp: MA, parallel
// EASGD, BMUF, PA), the tables against the sum of every host's changes, the sync thread
// (alignment at a resume, the final round), and the communicator's collectives, timeout and abort.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../common/sync_reference.hpp"
#include "in_process_communicator.hpp"
#include "inter_host_sync.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/hashing.hpp"
#include "shadowsync/model/embedding_store.hpp"

namespace shadowsync::mpi {
namespace {

// Runs body(rank, communicator) on `hosts` threads sharing one in-process world.
void run_participants(InProcessWorld& world, const std::function<void(int, Communicator&)>& body) {
  std::vector<std::unique_ptr<Communicator>> comms;
  for (int r = 0; r < world.size(); ++r) comms.push_back(world.communicator(r));
  std::vector<std::thread> threads;
  for (int r = 0; r < world.size(); ++r) threads.emplace_back([&, r] { body(r, *comms[static_cast<size_t>(r)]); });
  for (std::thread& t : threads) t.join();
}

struct Host {
  std::vector<std::vector<float>> replicas;
  std::unique_ptr<EmbeddingStore> tables;
  std::unique_ptr<InterHostRound> round;
  RoundBuffers buffers;
  int done_hosts = -1;
  CollectiveStatus status;

  std::vector<float*> pointers() {
    std::vector<float*> p;
    for (auto& r : replicas) p.push_back(r.data());
    return p;
  }
  // The host's model: the mean of its replicas (double).
  std::vector<double> model() const {
    std::vector<double> m(replicas[0].size(), 0.0);
    for (const auto& r : replicas) {
      for (size_t i = 0; i < m.size(); ++i) m[i] += r[i];
    }
    for (double& x : m) x /= static_cast<double>(replicas.size());
    return m;
  }
};

constexpr int kGroups = 2;     // replicas per host
constexpr size_t kN = 300;     // dense floats: more than one 256-float chunk

// `hosts` hosts, identical at attach (as a run's: same seed), replicas differing within a host.
std::vector<Host> make_hosts(int hosts, const SyncParams& rule, bool tables) {
  std::vector<Host> out(static_cast<size_t>(hosts));
  for (Host& host : out) {
    for (int g = 0; g < kGroups; ++g) {
      host.replicas.emplace_back(kN);
      for (size_t i = 0; i < kN; ++i) host.replicas.back()[i] = 0.5f + 0.01f * static_cast<float>(i % 17) + 0.1f * g;
    }
    if (tables) {
      host.tables = std::make_unique<EmbeddingStore>(HashingConfig::uniform(8, 0), 4);
      for (int t = 0; t < host.tables->hashing().tables(); ++t) {
        for (size_t k = 0; k < host.tables->table_floats(t); ++k) host.tables->table_data(t)[k] = 0.5f * t + 0.01f * k;
        for (size_t k = 0; k < host.tables->rows(t); ++k) host.tables->accumulator(t)[k] = 1.0f + k;
      }
    }
    host.round = std::make_unique<InterHostRound>(host.pointers(), kN, host.tables.get(), hosts, rule);
  }
  return out;
}

// One exchange_round on every host at once; `done` for every host.
void exchange(std::vector<Host>& hosts, bool done) {
  InProcessWorld world(static_cast<int>(hosts.size()));
  run_participants(world, [&](int rank, Communicator& comm) {
    Host& h = hosts[static_cast<size_t>(rank)];
    h.status = exchange_round(*h.round, h.buffers, comm, done, 30, h.done_hosts);
  });
  for (const Host& h : hosts) ASSERT_TRUE(h.status.ok()) << h.status.message;
}

// Rounds of `rule` across `hosts` hosts, training (a different push per host and replica)
// before each, the last one the final round (every host done: MA for every rule). Each host's
// replicas must move by the reference's delta of its model.
void check_rounds(SyncRuleKind kind, int hosts_count) {
  SCOPED_TRACE(std::string(sync_rule_name(kind)) + " across " + std::to_string(hosts_count) + " hosts");
  const SyncParams rule = SyncParams::defaults(kind, hosts_count);
  std::vector<Host> hosts = make_hosts(hosts_count, rule, false);
  test::ReferenceRule reference(rule, hosts[0].model());
  test::Random random(11 + static_cast<uint64_t>(hosts_count));
  const int rounds = 4;
  for (int round = 0; round < rounds; ++round) {
    const bool final_round = round == rounds - 1;
    for (Host& h : hosts) {  // training
      for (auto& r : h.replicas) {
        for (float& x : r) x += static_cast<float>(0.05 * random.uniform());
      }
    }
    std::vector<std::vector<double>> models;
    for (const Host& h : hosts) models.push_back(h.model());
    std::vector<std::vector<double>> deltas;
    if (final_round) {
      test::ReferenceRule average(SyncParams{}, models[0]);
      deltas = average.deltas(models);
    } else {
      deltas = reference.deltas(models, /*all_at_once=*/true);
    }
    std::vector<std::vector<std::vector<double>>> expected;
    for (size_t h = 0; h < hosts.size(); ++h) {
      expected.emplace_back();
      for (const auto& r : hosts[h].replicas) {
        expected.back().emplace_back(r.size());
        for (size_t i = 0; i < r.size(); ++i) expected.back().back()[i] = r[i] + deltas[h][i];
      }
    }
    exchange(hosts, final_round);
    for (size_t h = 0; h < hosts.size(); ++h) {
      EXPECT_EQ(hosts[h].done_hosts, final_round ? hosts_count : 0) << "round " << round << " host " << h;
      for (size_t g = 0; g < hosts[h].replicas.size(); ++g) {
        for (size_t i = 0; i < kN; ++i) {
          ASSERT_NEAR(hosts[h].replicas[g][i], expected[h][g][i], 2e-5)
              << "round " << round << " host " << h << " replica " << g << " element " << i;
        }
      }
    }
  }
  // After the final round every host holds the same model.
  for (size_t h = 1; h < hosts.size(); ++h) {
    const std::vector<double> a = hosts[0].model(), b = hosts[h].model();
    for (size_t i = 0; i < kN; ++i) ASSERT_NEAR(a[i], b[i], 1e-5) << "host " << h << " element " << i;
  }
}

TEST(InterHostExchange, ModelAveragingMatchesTheReference) {
  check_rounds(SyncRuleKind::MA, 2);
  check_rounds(SyncRuleKind::MA, 3);
}

TEST(InterHostExchange, ParallelElasticAveragingMatchesTheReference) {
  check_rounds(SyncRuleKind::EASGD, 2);
  check_rounds(SyncRuleKind::EASGD, 3);
}

TEST(InterHostExchange, BlockMomentumMatchesTheReference) {
  check_rounds(SyncRuleKind::BMUF, 2);
  check_rounds(SyncRuleKind::BMUF, 3);
}

TEST(InterHostExchange, ProgressPreservingAveragingMatchesTheReference) {
  check_rounds(SyncRuleKind::PA, 2);
  check_rounds(SyncRuleKind::PA, 3);
}

// Rows several hosts changed get the sum of their changes on every host; untouched rows stay.
TEST(InterHostExchange, ChangedRowsReachEveryHostSummed) {
  for (const int hosts_count : {2, 3}) {
    std::vector<Host> hosts = make_hosts(hosts_count, SyncParams{}, true);
    const EmbeddingStore& before = *hosts[0].tables;
    std::vector<float> start(before.table_data(2), before.table_data(2) + before.table_floats(2));
    const float acc_start = before.accumulator(2)[5];
    for (int h = 0; h < hosts_count; ++h) {
      EmbeddingStore& t = *hosts[static_cast<size_t>(h)].tables;
      t.row(2, 5)[1] += 0.25f * static_cast<float>(h + 1);  // every host: row 5 of table 2
      t.accumulator(2)[5] += 1.0f;
      t.row(2, static_cast<uint32_t>(h))[0] += 2.0f;         // host h alone: row h
    }
    exchange(hosts, false);
    float row5_change = 0;
    for (int h = 0; h < hosts_count; ++h) row5_change += 0.25f * static_cast<float>(h + 1);
    for (int h = 0; h < hosts_count; ++h) {
      const EmbeddingStore& t = *hosts[static_cast<size_t>(h)].tables;
      const size_t dim = static_cast<size_t>(t.dim());
      const size_t stride = static_cast<size_t>(t.row_stride());
      EXPECT_FLOAT_EQ(t.row(2, 5)[1], start[5 * stride + 1] + row5_change) << hosts_count << " hosts, host " << h;
      EXPECT_FLOAT_EQ(t.accumulator(2)[5], acc_start + static_cast<float>(hosts_count));
      for (int other = 0; other < hosts_count; ++other) {
        EXPECT_FLOAT_EQ(t.row(2, static_cast<uint32_t>(other))[0], start[static_cast<size_t>(other) * stride] + 2.0f)
            << "host " << h << " row " << other;
      }
      EXPECT_FLOAT_EQ(t.row(2, 7)[dim - 1], start[7 * stride + dim - 1]);
    }
    // A quiet round moves nothing: nothing is listed.
    exchange(hosts, false);
    for (const Host& h : hosts) EXPECT_TRUE(h.buffers.keys.empty());
  }
}

// The sync thread itself (InterHostSync) over the in-process communicator: a resume aligns every
// host to rank 0's model and tables in attach(), and after the run (every host done) every host
// holds the mean of the hosts' models and the same tables.
TEST(InterHostSync, AlignsToRankZeroAtStartAndEndsWithTheHostsMean) {
  for (const int hosts_count : {2, 3}) {
    SCOPED_TRACE(std::to_string(hosts_count) + " hosts");
    std::vector<Host> hosts = make_hosts(hosts_count, SyncParams{}, true);
    for (int h = 1; h < hosts_count; ++h) {  // each host resumed from its own part: other values
      Host& host = hosts[static_cast<size_t>(h)];
      for (auto& r : host.replicas) {
        for (float& x : r) x += 0.5f * static_cast<float>(h);
      }
      host.tables->row(1, 3)[0] += static_cast<float>(h);
    }
    const std::vector<double> rank0 = hosts[0].model();
    const float rank0_row = hosts[0].tables->row(1, 3)[0];
    InProcessWorld world(hosts_count);
    std::vector<std::unique_ptr<Communicator>> comms;
    std::vector<std::unique_ptr<InterHostSync>> syncs;
    InterHostSyncOptions options;
    options.interval_ms = 1;
    options.timeout_s = options.first_round_timeout_s = 30;
    options.align_at_start = true;
    for (int h = 0; h < hosts_count; ++h) {
      comms.push_back(world.communicator(h));
      syncs.push_back(std::make_unique<InterHostSync>(*comms.back(), options));
    }
    std::vector<std::thread> attach;
    for (int h = 0; h < hosts_count; ++h) {
      attach.emplace_back([&, h] {
        Host& host = hosts[static_cast<size_t>(h)];
        ParticipantAccess access;
        access.replicas = host.pointers();
        access.dense_floats = kN;
        access.embeddings = host.tables.get();
        syncs[static_cast<size_t>(h)]->attach(access);
      });
    }
    for (std::thread& t : attach) t.join();
    for (const Host& host : hosts) {
      const std::vector<double> model = host.model();
      for (size_t i = 0; i < kN; ++i) ASSERT_NEAR(model[i], rank0[i], 1e-6) << "element " << i;
      EXPECT_EQ(host.tables->row(1, 3)[0], rank0_row);
    }
    // Training: every host moves its model and one row its own way; then the run ends.
    std::vector<double> mean(kN, 0.0);
    for (int h = 0; h < hosts_count; ++h) {
      Host& host = hosts[static_cast<size_t>(h)];
      for (auto& r : host.replicas) {
        for (size_t i = 0; i < kN; ++i) r[i] += 0.1f * static_cast<float>(h + 1) + 0.001f * static_cast<float>(i);
      }
      host.tables->row(0, 2)[1] += 1.0f;
      const std::vector<double> model = host.model();
      for (size_t i = 0; i < kN; ++i) mean[i] += model[i] / hosts_count;
    }
    const float row_before = hosts[0].tables->row(0, 2)[1] - 1.0f;
    for (auto& sync : syncs) sync->start();
    for (auto& sync : syncs) sync->request_stop();
    for (auto& sync : syncs) sync->stop();
    for (size_t h = 0; h < hosts.size(); ++h) {
      EXPECT_GE(syncs[h]->stats().rounds, 1u);
      const std::vector<double> model = hosts[h].model();
      for (size_t i = 0; i < kN; ++i) ASSERT_NEAR(model[i], mean[i], 2e-5) << "host " << h << " element " << i;
      EXPECT_FLOAT_EQ(hosts[h].tables->row(0, 2)[1], row_before + static_cast<float>(hosts_count)) << "host " << h;
    }
  }
}

TEST(InProcessCommunicator, CollectivesGiveEveryParticipantTheSameResult) {
  InProcessWorld world(3);
  std::vector<std::vector<float>> sums(3);
  std::vector<std::vector<uint64_t>> gathered(3), variable(3);
  std::vector<std::vector<float>> broadcast(3);
  run_participants(world, [&](int rank, Communicator& comm) {
    const size_t r = static_cast<size_t>(rank);
    const std::vector<float> mine = {1.0f + rank, 10.0f * rank};
    sums[r].resize(2);
    ASSERT_TRUE(comm.allreduce_sum(mine.data(), sums[r].data(), 2, deadline_after(10)).ok());
    const uint64_t value = 100 + r;
    gathered[r].resize(3);
    ASSERT_TRUE(comm.allgather(&value, 1, sizeof value, gathered[r].data(), deadline_after(10)).ok());
    const std::vector<uint64_t> rows(r, 7 * (r + 1));  // rank r sends r values
    variable[r].resize(3);
    ASSERT_TRUE(comm.allgatherv(rows.data(), r, sizeof(uint64_t), variable[r].data(), {0, 1, 2}, deadline_after(10)).ok());
    broadcast[r] = {static_cast<float>(rank), -1.0f};
    ASSERT_TRUE(comm.broadcast(broadcast[r].data(), 2, sizeof(float), 2, deadline_after(10)).ok());
  });
  for (size_t r = 0; r < 3; ++r) {
    EXPECT_EQ(sums[r], (std::vector<float>{6.0f, 30.0f})) << "rank " << r;
    EXPECT_EQ(gathered[r], (std::vector<uint64_t>{100, 101, 102})) << "rank " << r;
    EXPECT_EQ(variable[r], (std::vector<uint64_t>{14, 21, 21})) << "rank " << r;
    EXPECT_EQ(broadcast[r], (std::vector<float>{2.0f, -1.0f})) << "rank " << r;
  }
}

TEST(InProcessCommunicator, AMissingParticipantTimesOutAndAnAbortFailsTheOthers) {
  InProcessWorld world(2);
  std::unique_ptr<Communicator> zero = world.communicator(0);
  float one = 1, sum = 0;
  const CollectiveStatus waited = zero->allreduce_sum(&one, &sum, 1, deadline_after(0.2));
  EXPECT_EQ(waited.code, CollectiveStatus::kTimedOut);
  EXPECT_EQ(waited.message, "timed out");
  // The world is broken: later collectives fail at once.
  EXPECT_EQ(zero->allreduce_sum(&one, &sum, 1, deadline_after(10)).code, CollectiveStatus::kFailed);

  InProcessWorld aborted(2);
  CollectiveStatus status;
  std::thread waiter([&] {
    std::unique_ptr<Communicator> c = aborted.communicator(0);
    status = c->allreduce_sum(&one, &sum, 1, deadline_after(30));
  });
  aborted.communicator(1)->abort(3);
  waiter.join();
  EXPECT_EQ(status.code, CollectiveStatus::kFailed);
  EXPECT_EQ(aborted.abort_code(), 3);
  EXPECT_THROW(aborted.communicator(2), Error);
}

}  // namespace
}  // namespace shadowsync::mpi
