#include "node_group.hpp"

#include <chrono>
#include <limits>
#include <thread>

#include "device.hpp"
#include "error.hpp"
#include "sha256.hpp"

namespace hyb {
namespace {

void check_mpi(int rc, const std::string &what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(HYB_ERR_MPI, "batching=node: " + what + " failed: " + std::string(text, len));
}

// Completes a non-blocking collective, polling, within timeout_s; HYB_ERR_MPI naming `stage`
// when some rank never joined. The request is then abandoned (a collective cannot be
// cancelled), and the communicator is not to be used again.
void wait_bounded(MPI_Request &request, int64_t timeout_s, const std::string &stage) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  int done = 0;
  auto pause = std::chrono::microseconds(20);
  while (true) {
    check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test (" + stage + ")");
    if (done) return;
    if (std::chrono::steady_clock::now() > deadline)
      throw Error(HYB_ERR_MPI,
                  stage + ": not every rank arrived within " + std::to_string(timeout_s) +
                      " s (option node_timeout): a rank that freed its model, failed before "
                      "this call without making it, set no communicator, or loaded with other "
                      "options never joins. This model's communicator is unusable now: free the model");
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

int64_t row_bytes(const torch::Tensor &t) {
  return t.dim() == 0 ? 0 : (t.numel() / std::max<int64_t>(t.size(0), 1)) * t.element_size();
}

}  // namespace

NodeGroup::NodeGroup(int fortran_comm, int64_t timeout_s) : timeout_s_(timeout_s) {
  check_fortran_comm(fortran_comm);
  MPI_Comm comm = MPI_Comm_f2c(fortran_comm);
  check_mpi(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node_),
            "splitting the communicator by node (MPI_Comm_split_type, MPI_COMM_TYPE_SHARED)");
  // Errors on our own communicator come back as codes (HYB_ERR_MPI), not as MPI's default abort.
  MPI_Comm_set_errhandler(node_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(node_, &node_rank_);
  MPI_Comm_size(node_, &size_);
  int comm_rank = 0;
  MPI_Comm_rank(comm, &comm_rank);
  comm_rank_.resize(size_);
  check_mpi(MPI_Allgather(&comm_rank, 1, MPI_INT, comm_rank_.data(), 1, MPI_INT, node_),
            "MPI_Allgather of ranks");
}

NodeGroup::~NodeGroup() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && node_ != MPI_COMM_NULL) MPI_Comm_free(&node_);
}

std::string NodeGroup::describe(int node_rank) const {
  return "rank " + std::to_string(comm_rank_[node_rank]) + " (node rank " + std::to_string(node_rank) +
         (node_rank == 0 ? ", the device owner)" : ")");
}

std::vector<int64_t> NodeGroup::agree(int status, const std::string &message, int64_t value,
                                      const std::string &stage) const {
  require_mpi_running("batching=node, " + stage);
  int64_t mine[2] = {status, value};
  std::vector<int64_t> all(2 * static_cast<size_t>(size_));
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Iallgather(mine, 2, MPI_INT64_T, all.data(), 2, MPI_INT64_T, node_, &request),
            "MPI_Iallgather (" + stage + ")");
  wait_bounded(request, timeout_s_, "batching=node, " + stage);
  for (int r = 0; r < size_; ++r) {
    if (all[2 * static_cast<size_t>(r)] == HYB_OK) continue;
    std::string text = r == node_rank_ ? message : std::string();
    int len = static_cast<int>(text.size());
    check_mpi(MPI_Bcast(&len, 1, MPI_INT, r, node_), "MPI_Bcast of an error (" + stage + ")");
    text.resize(len);
    check_mpi(MPI_Bcast(text.data(), len, MPI_CHAR, r, node_), "MPI_Bcast of an error (" + stage + ")");
    throw Error(static_cast<int>(all[2 * static_cast<size_t>(r)]),
                "batching=node, " + stage + ": " + describe(r) + ": " + text);
  }
  std::vector<int64_t> values(size_);
  for (int r = 0; r < size_; ++r) values[r] = all[(2 * static_cast<size_t>(r)) + 1];
  return values;
}

void NodeGroup::agree_with_owner(int status, const std::string &message, const std::string &stage) const {
  int owner_status = status;
  check_mpi(MPI_Bcast(&owner_status, 1, MPI_INT, 0, node_),
            "MPI_Bcast of the owner's status (" + stage + ")");
  if (owner_status == HYB_OK) return;
  const std::string text = broadcast(message);
  throw Error(owner_status, "batching=node, " + stage + ": " + describe(0) + ": " + text);
}

void NodeGroup::wait_quietly() const {
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Ibarrier(node_, &request), "MPI_Ibarrier");
  int done = 0;
  while (true) {
    check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test on the barrier");
    if (done) return;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

std::string NodeGroup::broadcast(const std::string &from_owner) const {
  std::string text = owner() ? from_owner : std::string();
  int64_t len = static_cast<int64_t>(text.size());
  check_mpi(MPI_Bcast(&len, 1, MPI_INT64_T, 0, node_), "MPI_Bcast");
  text.resize(len);
  check_mpi(MPI_Bcast(text.data(), static_cast<int>(len), MPI_CHAR, 0, node_), "MPI_Bcast");
  return text;
}

void NodeGroup::byte_layout(const std::vector<int64_t> &ncol_by_rank, int64_t bytes_per_row,
                            std::vector<int> &counts, std::vector<int> &displs) const {
  counts.assign(size_, 0);
  displs.assign(size_, 0);
  int64_t offset = 0;
  for (int r = 0; r < size_; ++r) {
    const int64_t count = ncol_by_rank[r] * bytes_per_row;
    if (offset + count > std::numeric_limits<int>::max())
      throw Error(HYB_ERR_MPI,
                  "batching=node: the node's batch of one tensor exceeds 2 GiB, the limit of "
                  "MPI int counts; use fewer columns per call");
    counts[r] = static_cast<int>(count);
    displs[r] = static_cast<int>(offset);
    offset += count;
  }
}

void NodeGroup::start_gather(const torch::Tensor &mine, const torch::Tensor &batch,
                             const std::vector<int64_t> &ncol_by_rank, std::vector<Gather> &pending) const {
  Gather g;
  byte_layout(ncol_by_rank, row_bytes(mine), g.counts, g.displs);
  check_mpi(
      MPI_Igatherv(mine.data_ptr(), g.counts[node_rank_], MPI_BYTE, owner() ? batch.data_ptr() : nullptr,
                   g.counts.data(), g.displs.data(), MPI_BYTE, 0, node_, &g.request),
      "MPI_Igatherv of the columns");
  pending.push_back(std::move(g));  // moving keeps the arrays' storage where MPI saw it
}

void NodeGroup::scatter(const torch::Tensor &batch, const torch::Tensor &mine,
                        const std::vector<int64_t> &ncol_by_rank) const {
  std::vector<int> counts, displs;
  byte_layout(ncol_by_rank, row_bytes(mine), counts, displs);
  check_mpi(MPI_Scatterv(owner() ? batch.data_ptr() : nullptr, counts.data(), displs.data(), MPI_BYTE,
                         mine.data_ptr(), counts[node_rank_], MPI_BYTE, 0, node_),
            "MPI_Scatterv of the results");
}

void NodeGroup::wait(std::vector<Gather> &pending) {
  std::vector<MPI_Request> requests;
  requests.reserve(pending.size());
  for (const Gather &g : pending) requests.push_back(g.request);
  const int rc = MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE);
  pending.clear();
  check_mpi(rc, "MPI_Waitall on the column gather");
}

void require_mpi_running(const std::string &what) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (finalized) throw Error(HYB_ERR_MPI, what + ": MPI has been finalized (MPI_Finalize was called)");
  if (!initialized) throw Error(HYB_ERR_MPI, what + ": MPI is not initialized");
}

void agree_on_fingerprint(int fortran_comm, const std::string &fingerprint, int64_t timeout_s) {
  require_mpi_running("loading with a communicator");
  MPI_Comm comm = MPI_Comm_f2c(fortran_comm);
  int size = 1;
  MPI_Comm_size(comm, &size);
  Sha256 h;
  h.update(fingerprint);
  const std::string digest = h.hex_digest();  // 64 characters on every rank
  std::string all(digest.size() * static_cast<size_t>(size), '\0');
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Iallgather(digest.data(), static_cast<int>(digest.size()), MPI_CHAR, all.data(),
                           static_cast<int>(digest.size()), MPI_CHAR, comm, &request),
            "MPI_Iallgather (agreeing on the model at load)");
  wait_bounded(request, timeout_s, "agreeing on the model at load (every rank of the communicator loads it)");
  const size_t d = digest.size();
  bool same = true;
  for (int r = 1; r < size; ++r) same = same && all.compare(r * d, d, all, 0, d) == 0;
  if (same) return;
  // They differ: every rank arrived, so the full texts can travel to name the difference.
  int len = static_cast<int>(fingerprint.size());
  std::vector<int> lens(size), displs(size);
  check_mpi(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, comm),
            "MPI_Allgather (load fingerprints)");
  int total = 0;
  for (int r = 0; r < size; ++r) {
    displs[r] = total;
    total += lens[r];
  }
  std::string texts(total, '\0');
  check_mpi(MPI_Allgatherv(fingerprint.data(), len, MPI_CHAR, texts.data(), lens.data(), displs.data(),
                           MPI_CHAR, comm),
            "MPI_Allgatherv (load fingerprints)");
  std::string msg = "the ranks loading this model disagree on what decides its results: rank 0 has '" +
                    texts.substr(0, lens[0]) + "'";
  for (int r = 1; r < size; ++r) {
    const std::string t = texts.substr(displs[r], lens[r]);
    if (t != texts.substr(0, lens[0])) msg += "; rank " + std::to_string(r) + " has '" + t + "'";
  }
  throw Error(HYB_ERR_MANIFEST,
              msg + " (every rank must load the same file with the same options and declarations)");
}

}  // namespace hyb
