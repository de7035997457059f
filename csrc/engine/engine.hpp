// The engine: one loaded model with its options, host bindings and recurrent state.
// Not thread-safe by itself; the C ABI serializes calls on one handle.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "backend.hpp"
#include "manifest.hpp"

namespace hyb {

// A host buffer, row-major, column axis first: shape = [ncol, per-column shape...].
struct HostArray {
  void *data = nullptr;
  Dtype dtype = Dtype::Float64;
  std::vector<int64_t> shape;
};

struct Options {
  std::string device = "cpu";  // cpu | cuda | cuda:N | auto
  int threads = 0;             // libtorch intra-op threads (process-wide); 0: its default
  bool reject_nonfinite = true;
  int64_t chunk = 0;           // 0: the whole batch in one forward; N: fixed chunks of N
  std::string batching = "rank";
};

class Engine {
 public:
  // Options (see hybridge.h): unknown keys and bad values are HYB_ERR_ARGUMENT, options
  // that must come before load are HYB_ERR_ORDER after it.
  void set_option(const std::string &key, const std::string &value);
  const Options &options() const { return options_; }
  void set_comm(int fortran_comm);
  void declare(Role role, TensorSpec spec);
  void load(const std::string &path);

  bool loaded() const { return backend_ != nullptr; }
  const Manifest &manifest() const;
  std::string device() const;

  // A failed bind drops every binding of the pending run; a run drops them when it ends.
  void bind(Role role, const std::string &name, const HostArray &array);
  void run();

  void get_state(const std::string &name, const HostArray &array) const;
  void set_state(const std::string &name, const HostArray &array);
  void reset_state();
  // Columns the recurrent state holds; -1 before the first run (or set_state) after load or reset.
  int64_t state_ncol() const { return state_ncol_; }
  int64_t nonfinite_count() const { return nonfinite_count_; }

 private:
  void require_loaded() const;
  void check_host_array(const TensorSpec &spec, Role role, const HostArray &array) const;
  void check_model_returns(const std::vector<torch::Tensor> &returned, int64_t batch,
                           const char *when) const;
  void dry_run();
  int64_t check_bindings() const;
  void check_nonfinite(const TensorSpec &spec, const HostArray &array);
  void start_state(int64_t ncol);
  void run_chunk(int64_t first, int64_t ncol_real, int64_t batch,
                 std::vector<torch::Tensor> &next_state);

  Options options_;
  std::optional<int> fortran_comm_;
  TensorSet declared_;
  std::string path_;
  std::unique_ptr<ModelBackend> backend_;
  Manifest manifest_;
  torch::Device device_{torch::kCPU};
  std::map<std::string, HostArray> inputs_, outputs_;  // cleared after each run
  std::vector<torch::Tensor> state_;  // per state, host layout [ncol, ...], model dtype, on device_
  int64_t state_ncol_ = -1;           // -1: no state yet (after load or reset)
  int64_t nonfinite_count_ = 0;
};

}  // namespace hyb
