// batching=node: the ranks of one node (the MPI_COMM_TYPE_SHARED split of the communicator
// the host gave) and the collectives that carry columns to the node's device owner (node
// rank 0) and back.
//
// Columns travel with MPI_Igatherv / MPI_Scatterv in host layout ([ncol, per-column...],
// model dtype), straight into and out of the owner's batch tensors. A shared-memory window
// would save one copy, but the host's arrays are not in a window, so it would cost a copy
// on every rank anyway, plus fences and a window per tensor shape; the collectives work on
// any communicator and let the owner receive into pinned buffers for the GPU.
//
// Every collective is entered by every rank of the node, also after an error: a rank that
// failed says so through agree() and all ranks then stop with the same status. A rank that
// never calls (it freed its model, or took another path) is waited for at most timeout_s:
// then every rank that did call gets HYB_ERR_MPI saying so, instead of waiting forever.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <mpi.h>
#include <torch/torch.h>

namespace hyb {

class NodeGroup {
 public:
  // Splits the communicator by node (HYB_ERR_MPI when that fails).
  NodeGroup(int fortran_comm, int64_t timeout_s);
  ~NodeGroup();
  NodeGroup(const NodeGroup &) = delete;
  NodeGroup &operator=(const NodeGroup &) = delete;

  bool owner() const { return node_rank_ == 0; }
  int size() const { return size_; }
  // "rank 3 (node rank 1)": ranks in the host's communicator, for messages.
  std::string describe(int node_rank) const;

  // Every rank gives its status (HYB_OK or an error) and message and a value. When a rank
  // failed, every rank throws that rank's status and message (the first failing rank's),
  // naming the rank; otherwise returns the values of all node ranks.
  std::vector<int64_t> agree(int status, const std::string &message, int64_t value,
                             const std::string &stage) const;
  // The owner's status and message to every rank; throws on every rank when it failed.
  void agree_with_owner(int status, const std::string &message, const std::string &stage) const;
  // Returns when every rank of the node has called it. A rank that arrives early sleeps
  // between polls instead of spinning inside MPI, leaving its core to the owner's
  // intra-op threads while the owner computes.
  void wait_quietly() const;
  // The owner's string on every rank.
  std::string broadcast(const std::string &from_owner) const;

  // A non-blocking gather in flight. MPI owns its count arrays until it completes.
  struct Gather {
    MPI_Request request = MPI_REQUEST_NULL;
    std::vector<int> counts, displs;
  };
  // Starts gathering each rank's [ncol_r, ...] contiguous tensor into the owner's
  // [sum ncol_r, ...] tensor `batch` (in rank order); `batch` is ignored on other ranks.
  // Both tensors must stay alive until wait().
  void start_gather(const torch::Tensor &mine, const torch::Tensor &batch,
                    const std::vector<int64_t> &ncol_by_rank, std::vector<Gather> &pending) const;
  // The owner's [sum ncol_r, ...] tensor `batch` back to the ranks, rows in rank order.
  void scatter(const torch::Tensor &batch, const torch::Tensor &mine,
               const std::vector<int64_t> &ncol_by_rank) const;
  // Waits for the gathers start_gather began (HYB_ERR_MPI when one failed), and clears them.
  static void wait(std::vector<Gather> &pending);

 private:
  // Byte counts and displacements of each rank's rows of a tensor with row_bytes per column.
  void byte_layout(const std::vector<int64_t> &ncol_by_rank, int64_t row_bytes, std::vector<int> &counts,
                   std::vector<int> &displs) const;

  MPI_Comm node_ = MPI_COMM_NULL;
  int64_t timeout_s_ = 600;
  int node_rank_ = 0;
  int size_ = 1;
  std::vector<int> comm_rank_;  // rank in the host's communicator of each node rank
};

// Load over the host's communicator, before any other collective: every rank gives the
// fingerprint of what decides its results (options, declarations, the model file's checksum);
// HYB_ERR_MANIFEST on every rank, naming the ranks and what differs, unless all agree. Waits
// at most timeout_s for the other ranks (HYB_ERR_MPI: a rank did not load, or has no
// communicator set).
void agree_on_fingerprint(int fortran_comm, const std::string &fingerprint, int64_t timeout_s);

// HYB_ERR_MPI unless MPI is initialized and not finalized; `what` names the call.
void require_mpi_running(const std::string &what);

}  // namespace hyb
