// Tests of InterHostRound (mpi/inter_host_round.hpp), the local halves of an inter-host round,
// with H simulated hosts and a hand-made sum in place of MPI_Allreduce: the dense MA rule and the
// embedding delta exchange against scalar references, delta write-back, the done count.
#include <cmath>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "inter_host_round.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/hashing.hpp"
#include "shadowsync/model/embedding_store.hpp"

namespace shadowsync::mpi {
namespace {

struct Host {
  std::vector<std::vector<float>> replicas;
  std::unique_ptr<EmbeddingStore> tables;
  std::unique_ptr<InterHostRound> round;
  std::vector<float> sent;
  std::vector<uint64_t> keys;
  std::vector<float> deltas;

  std::vector<float*> pointers() {
    std::vector<float*> p;
    for (auto& r : replicas) p.push_back(r.data());
    return p;
  }
};

float value(int host, int replica, size_t i) { return static_cast<float>(host * 7 + replica * 3) + 0.25f * i; }

// H hosts of G replicas of n floats; tables (8 rows per table, dim 4) filled identically.
std::vector<Host> make_hosts(int hosts, int groups, size_t n, bool embeddings, const SyncParams& rule = SyncParams{}) {
  std::vector<Host> out(static_cast<size_t>(hosts));
  for (int h = 0; h < hosts; ++h) {
    Host& host = out[static_cast<size_t>(h)];
    for (int g = 0; g < groups; ++g) {
      host.replicas.emplace_back(n);
      for (size_t i = 0; i < n; ++i) host.replicas.back()[i] = value(h, g, i);
    }
    if (embeddings) {
      host.tables = std::make_unique<EmbeddingStore>(HashingConfig::uniform(8, 0), 4);
      for (int t = 0; t < host.tables->hashing().tables(); ++t) {
        for (size_t k = 0; k < host.tables->table_floats(t); ++k) host.tables->table_data(t)[k] = 0.5f * t + 0.01f * k;
        for (size_t k = 0; k < host.tables->rows(t); ++k) host.tables->accumulator(t)[k] = 1.0f + k;
      }
    }
    host.round = std::make_unique<InterHostRound>(host.pointers(), n, host.tables.get(), hosts, rule);
    host.sent.resize(host.round->dense_buffer_floats());
  }
  return out;
}

// pack on every host, sum (the allreduce) and gather every host's rows (the allgather), unpack on
// every host; returns each host's done count.
std::vector<int> run_round(std::vector<Host>& hosts, const std::vector<bool>& done) {
  for (size_t h = 0; h < hosts.size(); ++h) {
    hosts[h].round->pack_dense(hosts[h].sent.data(), done[h]);
    hosts[h].round->pack_rows(hosts[h].keys, hosts[h].deltas);
  }
  std::vector<float> sum(hosts[0].sent.size(), 0.0f);
  for (const Host& host : hosts) {
    for (size_t k = 0; k < sum.size(); ++k) sum[k] += host.sent[k];
  }
  std::vector<int> counts;
  for (size_t h = 0; h < hosts.size(); ++h) {
    counts.push_back(hosts[h].round->unpack_dense(hosts[h].sent.data(), sum.data()));
    for (size_t from = 0; from < hosts.size(); ++from) {
      hosts[h].round->apply_rows(hosts[from].keys.data(), hosts[from].deltas.data(), hosts[from].keys.size(), from == h);
    }
  }
  return counts;
}

TEST(InterHostRound, DenseModelAveragingMatchesTheScalarReference) {
  const int H = 3, G = 2;
  const size_t n = 37;
  std::vector<Host> hosts = make_hosts(H, G, n, false);
  // Reference: m = mean over hosts of each host's replica mean; replica += m - host mean.
  std::vector<double> host_mean(H * n), global(n, 0.0);
  for (int h = 0; h < H; ++h) {
    for (size_t i = 0; i < n; ++i) {
      double s = 0;
      for (int g = 0; g < G; ++g) s += value(h, g, i);
      host_mean[h * n + i] = s / G;
      global[i] += s / G / H;
    }
  }
  run_round(hosts, {false, false, false});
  for (int h = 0; h < H; ++h) {
    for (int g = 0; g < G; ++g) {
      for (size_t i = 0; i < n; ++i) {
        const double expected = value(h, g, i) + global[i] - host_mean[h * n + i];
        EXPECT_NEAR(hosts[h].replicas[g][i], expected, 1e-4) << "host " << h << " replica " << g << " i " << i;
      }
    }
    // Each host's model (the mean of its replicas) is now the global mean.
    for (size_t i = 0; i < n; ++i) {
      EXPECT_NEAR((hosts[h].replicas[0][i] + hosts[h].replicas[1][i]) / 2, global[i], 1e-4);
    }
  }
}

// EASGD and BMUF across hosts against a scalar reference (double), over two rounds with training
// (a per-host push) between them, then the final round averages.
void check_rule_against_reference(SyncRuleKind kind) {
  const int H = 3;
  const size_t n = 11;
  const SyncParams params = SyncParams::defaults(kind, H);
  // Hosts start identical (same seed), as in a run.
  std::vector<Host> hosts = make_hosts(H, 1, n, false);
  for (int h = 0; h < H; ++h) {
    for (size_t i = 0; i < n; ++i) hosts[h].replicas[0][i] = value(0, 0, i);
  }
  for (int h = 0; h < H; ++h) {
    hosts[h].round = std::make_unique<InterHostRound>(hosts[h].pointers(), n, nullptr, H, params);
  }
  std::vector<std::vector<double>> w(H, std::vector<double>(n));
  for (int h = 0; h < H; ++h) {
    for (size_t i = 0; i < n; ++i) w[h][i] = value(0, 0, i);
  }
  std::vector<double> center(n), momentum(n, 0.0), start(n);
  for (size_t i = 0; i < n; ++i) center[i] = start[i] = value(0, 0, i);
  for (int round = 0; round < 2; ++round) {
    for (int h = 0; h < H; ++h) {  // training: host h moves by (h + 1) (round + 1) / 8
      for (size_t i = 0; i < n; ++i) {
        const float push = static_cast<float>((h + 1) * (round + 1)) / 8.0f + 0.01f * i;
        hosts[h].replicas[0][i] += push;
        w[h][i] += push;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      double sum = 0;
      for (int h = 0; h < H; ++h) sum += w[h][i];
      const double m = sum / H;
      if (kind == SyncRuleKind::EASGD) {
        for (int h = 0; h < H; ++h) w[h][i] -= params.alpha * (w[h][i] - center[i]);
        center[i] += params.alpha * (sum - H * center[i]);
      } else {
        momentum[i] = params.block_momentum * momentum[i] + params.block_lr * (m - start[i]);
        center[i] += momentum[i];
        const double target = center[i] + params.block_momentum * momentum[i];
        start[i] = target;
        for (int h = 0; h < H; ++h) w[h][i] = target;
      }
    }
    run_round(hosts, {false, false, false});
    for (int h = 0; h < H; ++h) {
      for (size_t i = 0; i < n; ++i) {
        EXPECT_NEAR(hosts[h].replicas[0][i], w[h][i], 1e-4) << sync_rule_name(kind) << " round " << round << " host " << h;
      }
    }
  }
  // The final round (every host done) averages: all hosts end identical.
  EXPECT_EQ(run_round(hosts, {true, true, true}), (std::vector<int>{3, 3, 3}));
  for (size_t i = 0; i < n; ++i) {
    double sum = 0;
    for (int h = 0; h < H; ++h) sum += w[h][i];
    for (int h = 0; h < H; ++h) EXPECT_NEAR(hosts[h].replicas[0][i], sum / H, 1e-4);
  }
}

TEST(InterHostRound, ElasticAveragingAcrossHostsMatchesTheScalarReference) {
  check_rule_against_reference(SyncRuleKind::EASGD);
}

TEST(InterHostRound, BlockMomentumAcrossHostsMatchesTheScalarReference) {
  check_rule_against_reference(SyncRuleKind::BMUF);
}

TEST(InterHostRound, ProgressAveragingAcrossHostsMatchesTheScalarReference) {
  // PA is block momentum with its own parameters (gain sqrt(H)); across hosts it must not fall
  // back to plain averaging.
  const SyncParams pa = SyncParams::defaults(SyncRuleKind::PA, 3);
  ASSERT_TRUE(pa.nesterov);
  ASSERT_NEAR(pa.block_momentum, 1.0 - 1.0 / std::sqrt(3.0), 1e-6);
  check_rule_against_reference(SyncRuleKind::PA);
}

TEST(InterHostRound, EachHostMeasuresItsDistanceToTheHostsMean) {
  // Two hosts of two replicas: host 0's model (mean of its replicas) is {1, 2, 3}, host 1's
  // {3, 2, 1}; their mean {2, 2, 2}. Host 0: (1-2)^2 + 0 + (3-2)^2 = 2; mean norm 3 * 4 = 12.
  std::vector<Host> hosts = make_hosts(2, 2, 3, false);
  const float models[2][3] = {{1, 2, 3}, {3, 2, 1}};
  for (int h = 0; h < 2; ++h) {
    for (size_t i = 0; i < 3; ++i) {
      hosts[h].replicas[0][i] = models[h][i] - 0.5f;
      hosts[h].replicas[1][i] = models[h][i] + 0.5f;
    }
  }
  run_round(hosts, {false, false});
  for (int h = 0; h < 2; ++h) {
    EXPECT_DOUBLE_EQ(hosts[h].round->last_spread_sq(), 2.0) << "host " << h;
    EXPECT_DOUBLE_EQ(hosts[h].round->last_mean_norm_sq(), 12.0) << "host " << h;
  }
  // After the round every replica is at the mean: the next round measures no spread.
  run_round(hosts, {true, true});
  EXPECT_DOUBLE_EQ(hosts[0].round->last_spread_sq(), 0.0);
}

TEST(InterHostRound, UpdatesBetweenPackAndUnpackAreKept) {
  std::vector<Host> hosts = make_hosts(2, 1, 5, false);
  std::vector<float> sum(hosts[0].sent.size(), 0.0f);
  for (Host& host : hosts) host.round->pack_dense(host.sent.data(), false);
  for (const Host& host : hosts) {
    for (size_t k = 0; k < sum.size(); ++k) sum[k] += host.sent[k];
  }
  hosts[0].replicas[0][2] += 100.0f;  // a worker's update while the allreduce runs
  hosts[0].round->unpack_dense(hosts[0].sent.data(), sum.data());
  const float mean2 = (value(0, 0, 2) + value(1, 0, 2)) / 2;
  EXPECT_FLOAT_EQ(hosts[0].replicas[0][2], mean2 + 100.0f);
  EXPECT_FLOAT_EQ(hosts[0].replicas[0][3], (value(0, 0, 3) + value(1, 0, 3)) / 2);
}

// A paused host (the engine reads its replicas for a checkpoint or an evaluation) takes part in
// the round without writing its replicas, but its rule state advances like every other host's.
TEST(InterHostRound, APausedHostWritesNothingButKeepsTheRuleStateInStep) {
  const int H = 2;
  const size_t n = 6;
  const SyncParams params = SyncParams::defaults(SyncRuleKind::EASGD, H);
  std::vector<Host> hosts = make_hosts(H, 1, n, false);
  for (Host& host : hosts) {
    for (size_t i = 0; i < n; ++i) host.replicas[0][i] = value(0, 0, i);
    host.round = std::make_unique<InterHostRound>(host.pointers(), n, nullptr, H, params);
  }
  for (size_t i = 0; i < n; ++i) hosts[1].replicas[0][i] += 1.0f;  // host 1 trained
  const std::vector<float> before = hosts[0].replicas[0];
  std::vector<float> sum(hosts[0].sent.size(), 0.0f);
  for (Host& host : hosts) host.round->pack_dense(host.sent.data(), false);
  for (const Host& host : hosts) {
    for (size_t k = 0; k < sum.size(); ++k) sum[k] += host.sent[k];
  }
  EXPECT_EQ(hosts[0].round->unpack_dense(hosts[0].sent.data(), sum.data(), false), 0);
  hosts[1].round->unpack_dense(hosts[1].sent.data(), sum.data());
  EXPECT_EQ(hosts[0].replicas[0], before);
  // Same model on both hosts now: with the same center, the next round moves both alike.
  for (size_t i = 0; i < n; ++i) hosts[0].replicas[0][i] = hosts[1].replicas[0][i];
  run_round(hosts, {false, false});
  for (size_t i = 0; i < n; ++i) {
    EXPECT_FLOAT_EQ(hosts[0].replicas[0][i], hosts[1].replicas[0][i]) << i;
    EXPECT_NE(hosts[0].replicas[0][i], before[i]) << i;
  }
}

TEST(InterHostRound, EmbeddingChangesOfEveryHostReachEveryHost) {
  const int H = 3;
  std::vector<Host> hosts = make_hosts(H, 1, 4, true);
  const int stride = hosts[0].tables->row_stride();
  const float start_row = hosts[0].tables->row(5, 3)[1];
  const float start_acc = hosts[0].tables->accumulator(5)[3];
  // Host h adds (h + 1) to element 1 of row 3 of table 5, and 10 (h + 1) to its accumulator;
  // host 2 alone also changes row 7 of table 0.
  for (int h = 0; h < H; ++h) {
    hosts[h].tables->row(5, 3)[1] += static_cast<float>(h + 1);
    hosts[h].tables->accumulator(5)[3] += 10.0f * (h + 1);
  }
  hosts[2].tables->row(0, 7)[0] = 42.0f;
  const float start_other = hosts[0].tables->row(0, 7)[0];
  run_round(hosts, {false, false, false});
  for (int h = 0; h < H; ++h) {
    EXPECT_FLOAT_EQ(hosts[h].tables->row(5, 3)[1], start_row + 6.0f) << h;
    EXPECT_FLOAT_EQ(hosts[h].tables->accumulator(5)[3], start_acc + 60.0f) << h;
    EXPECT_FLOAT_EQ(hosts[h].tables->row(0, 7)[0], 42.0f) << h;
    EXPECT_FLOAT_EQ(hosts[h].tables->row(5, 2)[1], 0.5f * 5 + 0.01f * (2 * stride + 1)) << h;  // untouched
  }
  EXPECT_NE(start_other, 42.0f);
  // A second round with a change on host 1 only: exchanged once, not again.
  hosts[1].tables->row(5, 3)[1] += 1.0f;
  run_round(hosts, {false, false, false});
  run_round(hosts, {false, false, false});
  for (int h = 0; h < H; ++h) EXPECT_FLOAT_EQ(hosts[h].tables->row(5, 3)[1], start_row + 7.0f) << h;
}

TEST(InterHostRound, OnlyChangedRowsAreListed) {
  std::vector<Host> hosts = make_hosts(1, 1, 2, true);
  Host& host = hosts[0];
  host.round->pack_rows(host.keys, host.deltas);
  EXPECT_TRUE(host.keys.empty());
  host.tables->row(0, 5)[3] += 2.0f;   // key 5
  host.tables->accumulator(2)[1] += 0.5f;  // key 2 * 8 + 1 = 17: the accumulator alone
  host.round->pack_rows(host.keys, host.deltas);
  ASSERT_EQ(host.keys, (std::vector<uint64_t>{5, 17}));
  ASSERT_EQ(host.deltas.size(), 2 * host.round->row_floats());
  EXPECT_EQ(host.round->row_floats(), 5u);  // dim 4 + the accumulator
  EXPECT_FLOAT_EQ(host.deltas[3], 2.0f);
  EXPECT_FLOAT_EQ(host.deltas[5 + 4], 0.5f);
  // Applied as this host's own: listed once, then the copy agrees and nothing is listed.
  host.round->apply_rows(host.keys.data(), host.deltas.data(), host.keys.size(), true);
  std::vector<uint64_t> keys;
  std::vector<float> deltas;
  host.round->pack_rows(keys, deltas);
  EXPECT_TRUE(keys.empty());
  const uint64_t bad = 26 * 8;
  EXPECT_THROW(host.round->apply_rows(&bad, host.deltas.data(), 1, false), Error);
}

// Tables of their own sizes (one per table of the schema): a row's key counts the rows of the
// tables before it, and the last key of the last table is the end of the range.
TEST(InterHostRound, RowKeysFollowEachTablesOwnSize) {
  HashingConfig hashing;
  hashing.rows.clear();
  for (int t = 0; t < 26; ++t) hashing.rows.push_back(static_cast<uint32_t>(2 + t));  // 2..27 rows
  std::vector<std::vector<float>> replica(1, std::vector<float>(2, 1.0f));
  EmbeddingStore tables(hashing, 4);
  InterHostRound round({replica[0].data()}, 2, &tables, 1, SyncParams{});
  tables.row(25, 26)[0] += 1.0f;  // the last row of the last table
  tables.row(1, 2)[2] += 3.0f;
  std::vector<uint64_t> keys;
  std::vector<float> deltas;
  round.pack_rows(keys, deltas);
  // Table 1 starts after table 0's 2 rows; table 25 after 2 + 3 + ... + 26 = 350 rows.
  EXPECT_EQ(keys, (std::vector<uint64_t>{2 + 2, 350 + 26}));
  EXPECT_FLOAT_EQ(deltas[2], 3.0f);
  EXPECT_FLOAT_EQ(deltas[5], 1.0f);
  const uint64_t last = 376, beyond = 377;
  EXPECT_NO_THROW(round.apply_rows(&last, deltas.data(), 1, true));
  EXPECT_THROW(round.apply_rows(&beyond, deltas.data(), 1, false), Error);
}

// With the workers' marks only the marked rows are compared (a changed row nobody marked waits for
// the whole-table comparison of the final round); taking a mark clears it.
TEST(InterHostRound, MarkedRowsAloneAreComparedUntilTheWholeTablesAreAskedFor) {
  std::vector<Host> hosts = make_hosts(1, 1, 4, true);
  Host& host = hosts[0];
  TouchedRows touched(*host.tables);
  host.round->set_touched_rows(&touched);
  host.tables->row(0, 1)[0] += 1.0f;  // a worker's update, marked
  touched.mark(0, 1);
  host.tables->row(2, 3)[1] += 2.0f;  // an update whose mark was missed
  touched.mark(5, 6);                 // a mark on a row that did not change
  host.round->pack_rows(host.keys, host.deltas);
  ASSERT_EQ(host.keys, (std::vector<uint64_t>{1}));
  EXPECT_FLOAT_EQ(host.deltas[0], 1.0f);
  host.round->apply_rows(host.keys.data(), host.deltas.data(), host.keys.size(), true);
  host.round->pack_rows(host.keys, host.deltas);  // the marks were taken
  EXPECT_TRUE(host.keys.empty());
  host.round->pack_rows(host.keys, host.deltas, true);
  ASSERT_EQ(host.keys, (std::vector<uint64_t>{2 * 8 + 3}));  // 8 rows per table
  EXPECT_FLOAT_EQ(host.deltas[1], 2.0f);
}

TEST(InterHostRound, UnpackCountsTheHostsThatAreDone) {
  std::vector<Host> hosts = make_hosts(3, 1, 3, false);
  EXPECT_EQ(run_round(hosts, {false, true, false}), (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(run_round(hosts, {true, true, true}), (std::vector<int>{3, 3, 3}));
}

TEST(InterHostRound, RefusesNoReplicas) {
  EXPECT_THROW(InterHostRound({}, 4, nullptr, 2), Error);
}

}  // namespace
}  // namespace shadowsync::mpi
