// The engine: one loaded model with its options, host bindings and recurrent state.
// Not thread-safe by itself; the C ABI serializes calls on one handle.
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "backend.hpp"
#include "error.hpp"
#include "gpu.hpp"
#include "manifest.hpp"
#include "node_group.hpp"

namespace hyb {

// A host buffer, row-major, column axis first: shape = [ncol, per-column shape...].
// on_device: the memory is on the model's CUDA device (hyb_model_bind_device), not the host.
struct HostArray {
  void *data = nullptr;
  Dtype dtype = Dtype::Float64;
  std::vector<int64_t> shape;
  bool on_device = false;
};

struct Options {
  std::string device = "cpu";  // cpu | cuda | cuda:N | auto
  int threads = 0;             // libtorch intra-op threads (process-wide); 0: its default
  bool reject_nonfinite = true;
  int64_t chunk = 0;              // 0: the whole batch in one forward; N: fixed chunks of N
                                  // (reproducible mode: also deterministic settings on CUDA)
  std::string batching = "rank";  // rank | node
  bool cuda_graphs = false;       // replay the forward as a CUDA graph (cuda_graph.hpp)
  bool keep_heap = true;          // heap=keep: freed heap stays mapped between calls (heap.hpp)
};

class Engine {
 public:
  Engine() = default;
  ~Engine();  // waits for a run still in flight
  Engine(const Engine &) = delete;
  Engine &operator=(const Engine &) = delete;

  // Options (see hybridge.h): unknown keys and bad values are HYB_ERR_ARGUMENT, options
  // that must come before load are HYB_ERR_ORDER after it.
  void set_option(const std::string &key, const std::string &value);
  const Options &options() const { return options_; }
  void set_comm(int fortran_comm);
  void declare(Role role, TensorSpec spec);
  void load(const std::string &path);

  bool loaded() const { return loaded_; }
  const Manifest &manifest() const;
  std::string device() const;

  // Bindings last until the next run, which drops them when it ends.
  void bind(Role role, const std::string &name, const HostArray &array);
  // A bind call failed (in the engine or in the C ABI before it): drop this run's
  // bindings, so no later run reaches an array the caller may free. With batching=node the
  // next run, which is collective, also fails with this error on every rank of the node.
  void bind_failed(const Error &error);
  // run() = run_start() + run_finish(). Between the two the host may do other work; the
  // bound arrays must stay alive and untouched, and every other call on this model is
  // refused (HYB_ERR_ORDER). rank: the forward runs in a worker thread. node: the columns
  // travel with non-blocking MPI, the owner's forward runs in a worker thread, the results
  // come back in run_finish. Every MPI call stays on the calling thread.
  void run();
  void run_start();
  void run_finish();
  bool run_in_flight() const { return flight_ != Flight::None; }
  // HYB_ERR_ORDER naming `what` while a run is in flight.
  void require_idle(const char *what) const;

  void get_state(const std::string &name, const HostArray &array) const;
  void set_state(const std::string &name, const HostArray &array);
  void reset_state();
  // Columns the recurrent state holds; -1 before the first run (or set_state) after load or reset.
  int64_t state_ncol() const { return state_ncol_; }
  int64_t nonfinite_count() const { return nonfinite_count_; }

 private:
  void require_loaded() const;
  void check_host_array(const TensorSpec &spec, Role role, const HostArray &array) const;
  void check_model_returns(const std::vector<torch::Tensor> &returned, int64_t batch, const char *when) const;
  void dry_run();
  int64_t check_bindings() const;
  void check_nonfinite(const TensorSpec &spec, const HostArray &array);
  void start_state(int64_t ncol);
  // Checks the bindings and inputs, starts the state; returns ncol.
  int64_t prepare_run();
  // The forward over ncol columns in host layout ([ncol, ...], any dtype and device), in
  // chunks; results are copied (and cast) into `outputs` and `next_state`.
  void forward_columns(const std::vector<torch::Tensor> &inputs, const std::vector<torch::Tensor> &state,
                       int64_t ncol, const std::vector<torch::Tensor> &outputs,
                       const std::vector<torch::Tensor> &next_state);
  void run_chunk(const std::vector<torch::Tensor> &inputs, const std::vector<torch::Tensor> &state,
                 int64_t first, int64_t n, int64_t batch, const std::vector<torch::Tensor> &outputs,
                 const std::vector<torch::Tensor> &next_state);
  torch::Tensor to_model(const torch::Tensor &host, const TensorSpec &s, size_t slot);
  // rank batching: this rank's bound arrays, all on this rank.
  void run_rank(bool prepared);  // prepared: prepare_run() was called (run_start)
  void apply_threads() const;
  // node batching, see run_start().
  void load_node(const std::string &path);
  void node_start();
  void start_owner_forward(int64_t total);
  void node_finish();
  void load_backend(const std::string &path);
  torch::Device state_device() const;

  enum class Flight { None, Rank, Node };

  Options options_;
  std::optional<int> fortran_comm_;
  bool loaded_ = false;
  std::unique_ptr<NodeGroup> node_;  // batching=node only
  std::string device_name_;          // where the model runs (on the owner, for node batching)
  std::unique_ptr<ModelStream> stream_;
  TensorSet declared_;
  std::string path_;
  std::unique_ptr<ModelBackend> backend_;
  Manifest manifest_;
  torch::Device device_{torch::kCPU};
  std::map<std::string, HostArray> inputs_, outputs_;  // cleared after each run
  std::optional<Error> failed_bind_;                   // batching=node: a bind failed since the last run
  std::vector<torch::Tensor> state_;         // per state, host layout [ncol, ...], model dtype, on device_
  std::vector<torch::Tensor> cast_buffers_;  // per model argument: CPU casts reused call to call
  int64_t state_ncol_ = -1;                  // -1: no state yet (after load or reset)
  int64_t nonfinite_count_ = 0;

  // A run between run_start and run_finish.
  Flight flight_ = Flight::None;
  std::future<void> compute_;  // the worker thread's forward (rank mode; the owner in node mode)
  struct NodeRun {
    std::vector<int64_t> ncol_by_rank;
    std::vector<torch::Tensor> mine;       // this rank's inputs then states, model dtype
    std::vector<torch::Tensor> batch_in;   // owner: the node's inputs then states
    std::vector<torch::Tensor> batch_out;  // owner: the node's outputs then new states
    std::vector<NodeGroup::Gather> gathers;
    int owner_status = HYB_OK;  // owner: a failure after the ranks agreed, told in node_finish
    std::string owner_message;
  } node_run_;
};

}  // namespace hyb
