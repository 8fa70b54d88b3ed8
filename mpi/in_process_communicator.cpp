// The in-process collectives (see in_process_communicator.hpp).
#include "in_process_communicator.hpp"

#include <cstring>
#include <string>

#include "shadowsync/core/error.hpp"

namespace shadowsync::mpi {

class InProcessCommunicator final : public Communicator {
 public:
  InProcessCommunicator(InProcessWorld& world, int rank) : world_(world), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return world_.size(); }

  CollectiveStatus allreduce_sum(const float* send, float* recv, size_t count, Deadline deadline) override {
    CollectiveStatus mismatch;
    CollectiveStatus status = world_.collective(rank_, {send, count}, deadline, [&](const auto& slots) {
      for (const auto& slot : slots) {
        if (slot.count != count) mismatch = CollectiveStatus::failed("allreduce: participants sum different counts");
      }
      if (!mismatch.ok()) return;
      const float* first = static_cast<const float*>(slots[0].send);
      for (size_t k = 0; k < count; ++k) recv[k] = first[k];
      for (size_t r = 1; r < slots.size(); ++r) {
        const float* other = static_cast<const float*>(slots[r].send);
        for (size_t k = 0; k < count; ++k) recv[k] += other[k];
      }
    });
    return status.ok() ? mismatch : status;
  }

  CollectiveStatus broadcast(void* data, size_t count, size_t element_bytes, int root, Deadline deadline) override {
    if (root < 0 || root >= size()) return CollectiveStatus::failed("broadcast: root " + std::to_string(root) + " is not a rank");
    CollectiveStatus mismatch;
    CollectiveStatus status = world_.collective(rank_, {data, count}, deadline, [&](const auto& slots) {
      const auto& from = slots[static_cast<size_t>(root)];
      if (from.count != count) {
        mismatch = CollectiveStatus::failed("broadcast: the root sends another count");
        return;
      }
      if (rank_ != root && count > 0) std::memcpy(data, from.send, count * element_bytes);
    });
    return status.ok() ? mismatch : status;
  }

  CollectiveStatus allgather(const void* send, size_t count, size_t element_bytes, void* recv,
                             Deadline deadline) override {
    return allgatherv(send, count, element_bytes, recv, std::vector<size_t>(static_cast<size_t>(size()), count),
                      deadline);
  }

  CollectiveStatus allgatherv(const void* send, size_t count, size_t element_bytes, void* recv,
                              const std::vector<size_t>& counts, Deadline deadline) override {
    if (counts.size() != static_cast<size_t>(size()) || counts[static_cast<size_t>(rank_)] != count) {
      return CollectiveStatus::failed("allgatherv: counts do not match the participants");
    }
    CollectiveStatus mismatch;
    CollectiveStatus status = world_.collective(rank_, {send, count}, deadline, [&](const auto& slots) {
      char* out = static_cast<char*>(recv);
      for (size_t r = 0; r < slots.size(); ++r) {
        if (slots[r].count != counts[r]) {
          mismatch = CollectiveStatus::failed("allgatherv: participant " + std::to_string(r) + " sends " +
                                              std::to_string(slots[r].count) + " elements, not " +
                                              std::to_string(counts[r]));
          return;
        }
        if (counts[r] > 0) std::memcpy(out, slots[r].send, counts[r] * element_bytes);
        out += counts[r] * element_bytes;
      }
    });
    return status.ok() ? mismatch : status;
  }

  void abort(int code) override { world_.fail_all(code); }

 private:
  InProcessWorld& world_;
  int rank_;
};

InProcessWorld::InProcessWorld(int size) : size_(size) {
  if (size < 1) throw Error("in-process communicator: needs at least one participant, got " + std::to_string(size));
  slots_.resize(static_cast<size_t>(size));
}

std::unique_ptr<Communicator> InProcessWorld::communicator(int rank) {
  if (rank < 0 || rank >= size_) {
    throw Error("in-process communicator: rank " + std::to_string(rank) + " is not in [0, " + std::to_string(size_) +
                ")");
  }
  return std::make_unique<InProcessCommunicator>(*this, rank);
}

int InProcessWorld::abort_code() const {
  std::lock_guard lock(mutex_);
  return abort_code_;
}

void InProcessWorld::fail_all(int code) {
  std::lock_guard lock(mutex_);
  broken_ = true;
  if (abort_code_ == 0) abort_code_ = code;
  changed_.notify_all();
}

CollectiveStatus InProcessWorld::arrive(std::unique_lock<std::mutex>& lock, Deadline deadline) {
  const uint64_t generation = generation_;
  if (++arrived_ == size_) {
    arrived_ = 0;
    ++generation_;
    changed_.notify_all();
    return {};
  }
  while (generation_ == generation && !broken_) {
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout && generation_ == generation && !broken_) {
      broken_ = true;  // the others must not wait for this participant either
      changed_.notify_all();
      return CollectiveStatus::timed_out();
    }
  }
  if (generation_ != generation) return {};
  return CollectiveStatus::failed("another participant aborted or timed out");
}

template <typename Read>
CollectiveStatus InProcessWorld::collective(int rank, Slot slot, Deadline deadline, Read read) {
  std::unique_lock lock(mutex_);
  if (broken_) return CollectiveStatus::failed("another participant aborted or timed out");
  slots_[static_cast<size_t>(rank)] = slot;
  CollectiveStatus status = arrive(lock, deadline);
  if (!status.ok()) return status;
  // Every slot stays as it is until every participant has passed the second arrival.
  lock.unlock();
  read(static_cast<const std::vector<Slot>&>(slots_));
  lock.lock();
  return arrive(lock, deadline);
}

}  // namespace shadowsync::mpi
