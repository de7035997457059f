// The engine's collective paths: the ranks' agreement at load, and batching=node (the node's
// columns gathered to the device owner, run as one batch, scattered back).
#include <ATen/Parallel.h>

#include <filesystem>
#include <sstream>
#include <tuple>

#include "engine.hpp"
#include "engine_detail.hpp"
#include "error.hpp"

namespace hyb {
namespace {

// Runs f; returns HYB_OK and "", or the status and message of what it threw.
template <typename F>
std::pair<int, std::string> status_of(F &&f) {
  try {
    f();
    return {HYB_OK, std::string()};
  } catch (const Error &e) {
    return {e.status(), e.what()};
  } catch (const std::exception &e) {
    return {HYB_ERR_INTERNAL, e.what()};
  }
}

// Host copies of a tensor's [ncol, ...] rows in model dtype (what node batching sends).
torch::Tensor model_dtype_rows(const torch::Tensor &t, const TensorSpec &s) {
  return t.to(torch::kCPU, scalar_type(s.dtype)).contiguous();
}

std::string declarations_text(const TensorSet &declared) {
  std::ostringstream s;
  for (Role r : kRoles)
    for (const auto &spec : declared.specs(r))
      s << role_name(r) << ":" << spec.name << shape_str(spec.shape) << dtype_name(spec.dtype) << "@"
        << spec.batch_axis << ",";
  return s.str();
}

}  // namespace

void Engine::agree_on_load(int fortran_comm, const std::string &path) const {
  std::string file;
  try {
    file = archive_checksum(path);
  } catch (const Error &) {
    // Still take part, so that the others hear of it rather than wait.
    file = std::filesystem::exists(path) ? "unreadable" : "missing";
  }
  const std::string fingerprint = results_fingerprint(options_) + ";device=" + options_.device + ";file " +
                                  std::filesystem::path(path).filename().string() + " " + file +
                                  ";declared=" + declarations_text(declared_);
  agree_on_fingerprint(fortran_comm, fingerprint, options_.node_timeout_s);
}

// batching=node: the owner loads the model as with rank batching; the other ranks take its
// manifest (they never open the model: one copy of the weights per node) and check their
// own declarations against it. Collective over the node.
void Engine::load_node(const std::string &path) {
  if (!fortran_comm_)
    throw Error(HYB_ERR_ORDER,
                "batching=node needs the communicator (hyb_model_set_comm) before hyb_model_load");
  auto node = std::make_unique<NodeGroup>(*fortran_comm_, options_.node_timeout_s);
  int status = HYB_OK;
  std::string message;
  if (node->owner()) std::tie(status, message) = status_of([&] { load_backend(path); });
  node->agree_with_owner(status, message, "loading " + path);
  const std::string text = node->broadcast(manifest_.text);
  const bool from_model_file = node->broadcast(manifest_.from_model_file ? "1" : "0") == "1";
  device_name_ = node->broadcast(device_.str());
  checksum_ = node->broadcast(checksum_);
  if (!node->owner()) {
    device_ = torch::Device(torch::kCPU);  // the other ranks only pack and unpack host rows
    std::tie(status, message) = status_of([&] {
      manifest_ = from_model_file
                      ? Manifest::parse(text, path)
                      : Manifest::from_declarations(declared_, std::filesystem::path(path).stem().string());
      if (from_model_file) {
        const std::vector<std::string> diffs = compare_declarations(declared_, manifest_.tensors);
        if (!diffs.empty())
          throw Error(HYB_ERR_MANIFEST, path + ": the model does not match the declarations: " + diffs[0]);
      }
      if (options_.guard != "off") guard_ = std::make_unique<Guard>(manifest_, options_);
    });
  }
  if (status == HYB_OK)
    for (Role r : kRoles)
      for (const auto &s : manifest_.tensors.specs(r))
        if (!s.batched()) {
          status = HYB_ERR_ARGUMENT;
          message = "batching=node gathers columns, but " + describe(r, s.name) +
                    " has no column axis (batch_axis -1); use batching=rank for this model";
        }
  try {
    node->agree(status, message, 0, "checking the declarations against " + path);
  } catch (const Error &) {
    backend_.reset();
    throw;
  }
  node_ = std::move(node);
  node_thread_ = std::this_thread::get_id();
}

// ---- batching=node runs ----
// Start: every rank checks its own bindings and inputs; the ranks agree (one failure stops
// all, naming the rank); each rank's inputs and state, cast to the model dtype, start to
// travel to the owner. The owner waits for them and starts the forward in a worker thread.
void Engine::node_start(Bindings b) {
  if (std::this_thread::get_id() != node_thread_)
    throw Error(HYB_ERR_ORDER,
                "batching=node: runs are collective MPI calls and must come from the thread that loaded the "
                "model; another thread called");
  require_mpi_running("batching=node run");
  const auto &input_specs = manifest_.tensors.specs(Role::Input);
  const auto &state_specs = manifest_.tensors.specs(Role::State);
  const auto &output_specs = manifest_.tensors.specs(Role::Output);
  NodeRun &r = node_run_;
  r = NodeRun{};
  // Everything a rank can fail at alone comes before the ranks agree: after that, every
  // rank enters every gather, or the others would wait for it for ever.
  int64_t ncol = 0;
  auto [status, message] = status_of([&] {
    ncol = prepare_run(b);
    for (size_t i = 0; i < input_specs.size(); ++i) {
      torch::Tensor host = whole(b.inputs[i], device_);
      if (guard_ && guard_->clips()) host = guard_->clip_input(i, host);
      r.mine.push_back(model_dtype_rows(host, input_specs[i]));
    }
    for (size_t i = 0; i < state_specs.size(); ++i)
      r.mine.push_back(model_dtype_rows(state_[i], state_specs[i]));
    if (recording_this_call()) r.state_in = state_;
  });
  try {
    r.ncol_by_rank = node_->agree(status, message, ncol, "checking the inputs");
    int64_t total = 0;
    for (int64_t n : r.ncol_by_rank) total += n;
    // The owner's batch buffers (pinned for a GPU, so they can fail): one more agreement.
    std::tie(status, message) = status_of([&] {
      if (!node_->owner()) return;
      auto batch_of = [&](const TensorSpec &s) {
        return host_buffer(host_shape(s, total), scalar_type(s.dtype), device_);
      };
      for (const auto &s : input_specs) r.batch_in.push_back(batch_of(s));
      for (const auto &s : state_specs) r.batch_in.push_back(batch_of(s));
      for (const auto &s : output_specs) r.batch_out.push_back(batch_of(s));
      for (const auto &s : state_specs) r.batch_out.push_back(batch_of(s));
    });
    node_->agree_with_owner(status, message, "allocating the node's batch");
    for (size_t i = 0; i < r.mine.size(); ++i)
      node_->start_gather(r.mine[i], node_->owner() ? r.batch_in[i] : torch::Tensor(), r.ncol_by_rank,
                          r.gathers);
    if (node_->owner()) {
      // A failure from here on is reported in node_finish, where every rank listens.
      std::tie(r.owner_status, r.owner_message) = status_of([&] { NodeGroup::wait(r.gathers); });
      if (r.owner_status != HYB_OK) return;
      std::tie(r.owner_status, r.owner_message) = status_of([&] { start_owner_forward(total); });
    }
  } catch (...) {
    // Every rank fails here at the same step; gathers already started end before their
    // buffers go.
    status_of([&] { NodeGroup::wait(r.gathers); });
    r = NodeRun{};
    throw;
  }
  flight_bindings_ = std::move(b);
}

// The owner's forward over the node's batch, in a worker thread (node_run_ holds it).
void Engine::start_owner_forward(int64_t total) {
  const int threads = options_.threads > 0 ? options_.threads : at::get_num_threads();
  compute_ = std::async(std::launch::async, [this, total, threads] {
    at::set_num_threads(threads);
    NodeRun &run = node_run_;
    const size_t nin = manifest_.tensors.specs(Role::Input).size();
    const size_t nout = manifest_.tensors.specs(Role::Output).size();
    const std::vector<torch::Tensor> in(run.batch_in.begin(), run.batch_in.begin() + nin);
    const std::vector<torch::Tensor> state(run.batch_in.begin() + nin, run.batch_in.end());
    const std::vector<torch::Tensor> out(run.batch_out.begin(), run.batch_out.begin() + nout);
    const std::vector<torch::Tensor> next(run.batch_out.begin() + nout, run.batch_out.end());
    forward_columns(in, state, total, out, next);
  });
}

// Finish: the owner's verdict reaches every rank; then each rank's rows of the outputs
// and new state come back and are cast into its bound outputs.
void Engine::node_finish() {
  struct ClearRun {
    Engine &e;
    ~ClearRun() {
      e.flight_bindings_ = Bindings{};
      e.node_run_ = NodeRun{};
    }
  } clear{*this};
  NodeRun &r = node_run_;
  require_mpi_running("batching=node run_finish");
  if (node_->owner() && r.owner_status == HYB_OK)
    std::tie(r.owner_status, r.owner_message) = status_of([&] { compute_.get(); });
  node_->wait_quietly();  // the other ranks sleep here until the owner's forward is done
  // This rank's own part comes before the ranks agree: after that every rank must enter
  // every scatter.
  const auto &output_specs = manifest_.tensors.specs(Role::Output);
  const auto &state_specs = manifest_.tensors.specs(Role::State);
  std::vector<torch::Tensor> mine;  // this rank's rows of the outputs, then of the new states
  const auto [status, message] = status_of([&] {
    if (!node_->owner()) NodeGroup::wait(r.gathers);  // the send of its columns
    const int64_t ncol = check_bindings(flight_bindings_);
    for (size_t i = 0; i < output_specs.size() + state_specs.size(); ++i) {
      const TensorSpec &s = i < output_specs.size() ? output_specs[i] : state_specs[i - output_specs.size()];
      mine.push_back(torch::empty(host_shape(s, ncol), torch::TensorOptions().dtype(scalar_type(s.dtype))));
    }
  });
  node_->agree(status, message, 0, "gathering the columns");
  node_->agree_with_owner(r.owner_status, r.owner_message, "running the model");
  for (size_t i = 0; i < mine.size(); ++i)
    node_->scatter(node_->owner() ? r.batch_out[i] : torch::Tensor(), mine[i], r.ncol_by_rank);
  for (size_t i = 0; i < output_specs.size(); ++i) whole(flight_bindings_.outputs[i], device_).copy_(mine[i]);
  if (!state_specs.empty()) state_.assign(mine.begin() + output_specs.size(), mine.end());
  ++runs_;
  guard_run(flight_bindings_, check_bindings(flight_bindings_));
  if (record_this_call_) record_call(flight_bindings_, r.state_in);
}

}  // namespace hyb
