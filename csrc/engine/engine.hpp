// The engine: one loaded model with its options, the host's bindings and recurrent state.
// The C ABI serializes calls on one handle (a lock per handle); the engine itself keeps each
// thread's bindings apart, so threads sharing a handle never run on each other's arrays.
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "backend.hpp"
#include "error.hpp"
#include "gpu.hpp"
#include "guard.hpp"
#include "host_array.hpp"
#include "manifest.hpp"
#include "node_group.hpp"
#include "options.hpp"
#include "record.hpp"

namespace hyb {

class Engine {
 public:
  Engine() = default;
  ~Engine();  // waits for a run still in flight
  Engine(const Engine &) = delete;
  Engine &operator=(const Engine &) = delete;

  // Options (options.hpp, docs/options.md): HYB_ERR_ARGUMENT for unknown keys and values out
  // of bounds, HYB_ERR_ORDER for an option that must come before load.
  void set_option(const std::string &key, const std::string &value);
  const Options &options() const { return options_; }
  void set_comm(int fortran_comm);
  void declare(Role role, TensorSpec spec);
  void load(const std::string &path);

  bool loaded() const { return loaded_; }
  const Manifest &manifest() const;
  std::string device() const;

  // Bindings belong to the calling thread and last until its next run, which drops them.
  void bind(Role role, const std::string &name, const HostArray &array);
  // y = model(x) for a model with one input and one output, host arrays: bind both and run
  // in one call (hyb_model_forward, Fortran's hyb_forward), with the same checks and errors
  // as bind + run and without the per-thread bindings, whose bookkeeping would be most of
  // the cost of a call on a few columns. The thread's earlier bindings are dropped.
  void forward_arrays(const HostArray &x, const HostArray &y);
  // forward_arrays' arguments were refused before they reached it (or by it): as a failed
  // bind, and with batching=node the collective run still takes place and fails on every
  // rank, so none waits for this one.
  void forward_refused(const Error &error);
  // A bind call failed (in the engine or in the C ABI before it): drop this thread's
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
  // The guard's report of the last run (option guard); HYB_ERR_ORDER without a guard or a run.
  const Guard &guard_report() const;

 private:
  // By the position of the tensor in the manifest; an array with data == nullptr is unbound
  // (a bind refuses a null pointer).
  struct Bindings {
    std::vector<HostArray> inputs, outputs;
  };
  enum class Flight : std::uint8_t { None, Rank, Node };

  void require_loaded() const;
  Bindings &my_bindings() { return bindings_[std::this_thread::get_id()]; }
  void drop_my_bindings() { bindings_.erase(std::this_thread::get_id()); }
  // Load: every rank of the communicator agrees on the file and the result-deciding options.
  void agree_on_load(int fortran_comm, const std::string &path) const;
  void load_backend(const std::string &path);
  void check_model_file(const ModelBackend &backend, const std::string &path);
  void check_memory_bounds() const;
  void dry_run();
  void check_model_returns(const std::vector<torch::Tensor> &returned, int64_t batch, const char *when) const;
  // Run: the calling thread's bindings checked; the number of columns (1 when nothing is batched).
  int64_t check_bindings(const Bindings &b) const;
  void check_inputs(const Bindings &b);
  void claim_state_for_this_thread(const char *what);
  void start_state(int64_t ncol);
  int64_t prepare_run(const Bindings &b);
  void run_rank(const Bindings &b, int64_t ncol);
  // The forward over ncol columns in host layout ([ncol, ...], any dtype and device), in
  // chunks; results are copied (and cast) into `outputs` and `next_state`.
  void forward_columns(const std::vector<torch::Tensor> &inputs, const std::vector<torch::Tensor> &state,
                       int64_t ncol, const std::vector<torch::Tensor> &outputs,
                       const std::vector<torch::Tensor> &next_state);
  void run_chunk(const std::vector<torch::Tensor> &inputs, const std::vector<torch::Tensor> &state,
                 int64_t first, int64_t n, int64_t batch, int64_t chunk_index,
                 const std::vector<torch::Tensor> &outputs, const std::vector<torch::Tensor> &next_state);
  torch::Tensor to_model(const torch::Tensor &host, const TensorSpec &s, size_t slot);
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor> &args, int64_t chunk_index);
  int64_t draw_step() const;
  // Recording (record.hpp): the host arrays of a recorded call.
  bool recording_this_call();
  void record_call(const Bindings &b, const std::vector<torch::Tensor> &state_in);
  // The guard's report over a finished run's host arrays (outputs clipped with guard=clip).
  void guard_run(const Bindings &b, int64_t ncol);
  // batching=node (engine_node.cpp).
  void load_node(const std::string &path);
  void node_start(Bindings b);
  void start_owner_forward(int64_t total);
  void node_finish();
  torch::Device state_device() const;

  Options options_;
  StepOption step_;
  std::optional<int> fortran_comm_;
  bool loaded_ = false;
  std::unique_ptr<NodeGroup> node_;  // batching=node only
  std::thread::id node_thread_;      // batching=node: MPI is called from this thread only
  std::string device_name_;          // where the model runs (on the owner, for node batching)
  std::unique_ptr<ModelStream> stream_;
  TensorSet declared_;
  std::string path_;
  std::string checksum_;  // of the model file, "sha256:..."; empty for a file without a manifest
  std::unique_ptr<ModelBackend> backend_;
  Manifest manifest_;
  torch::Device device_{torch::kCPU};
  std::map<std::thread::id, Bindings> bindings_;  // per thread, dropped by each run
  Bindings direct_;  // forward_arrays' two arrays: not a thread's bindings, kept for their capacity
  // Reused from run to run (a run at a time per engine): the host views and the new state
  // (run_rank), the model's arguments and the copies of a chunk (run_chunk).
  std::vector<torch::Tensor> run_inputs_, run_outputs_, run_next_state_, chunk_args_;
  std::vector<std::pair<size_t, int64_t>> chunk_host_memory_;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> chunk_copies_;
  std::optional<Error> failed_bind_;  // batching=node: a bind failed since the last run
  std::vector<torch::Tensor> state_;  // per state, host layout [ncol, ...], model dtype, on state_device()
  std::optional<std::thread::id> state_thread_;  // the thread whose columns the state holds
  std::vector<torch::Tensor> cast_buffers_;      // per model argument: CPU casts reused call to call
  std::vector<torch::Tensor> host_views_;        // per input then output: the last run's views of host arrays
  bool copy_inputs_ = false;  // the model writes into its inputs: never hand it the host's memory
  int64_t state_ncol_ = -1;   // -1: no state yet (after load or reset)
  int64_t nonfinite_count_ = 0;
  int64_t runs_ = 0;  // completed runs since load: the draw step when the host gives none
  std::unique_ptr<CallRecorder> recorder_;
  std::unique_ptr<Guard> guard_;  // option guard=fallback|clip
  bool record_this_call_ = false;

  // A run between run_start and run_finish.
  Flight flight_ = Flight::None;
  Bindings flight_bindings_;   // the bindings the run in flight uses (the starting thread's)
  std::future<void> compute_;  // the worker thread's forward (rank mode; the owner in node mode)
  struct NodeRun {
    std::vector<int64_t> ncol_by_rank;
    std::vector<torch::Tensor> mine;       // this rank's inputs then states, model dtype
    std::vector<torch::Tensor> batch_in;   // owner: the node's inputs then states
    std::vector<torch::Tensor> batch_out;  // owner: the node's outputs then new states
    std::vector<torch::Tensor> state_in;   // recorded calls: this rank's state before the run
    std::vector<NodeGroup::Gather> gathers;
    int owner_status = HYB_OK;  // owner: a failure after the ranks agreed, told in node_finish
    std::string owner_message;
  } node_run_;
};

}  // namespace hyb
