#include "engine.hpp"

#include <ATen/Parallel.h>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <tuple>
#include <utility>

#include "cuda_graph.hpp"
#include "device.hpp"
#include "error.hpp"
#include "heap.hpp"

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

torch::ScalarType scalar_type(Dtype d) { return d == Dtype::Float64 ? torch::kDouble : torch::kFloat; }

std::string what(Role role, const std::string &name) {
  return std::string(role_name(role)) + " '" + name + "'";
}

int64_t parse_count(const std::string &key, const std::string &value, int64_t min) {
  if (value.empty() || value.size() > 9 || value.find_first_not_of("0123456789") != std::string::npos ||
      std::stoll(value) < min)
    throw Error(HYB_ERR_ARGUMENT,
                "option " + key + ": value '" + value + "' is not an integer >= " + std::to_string(min));
  return std::stoll(value);
}

// [ncol, per-column shape...]: the host layout.
std::vector<int64_t> host_shape(const TensorSpec &s, int64_t ncol) {
  std::vector<int64_t> shape{ncol};
  shape.insert(shape.end(), s.shape.begin(), s.shape.end());
  return shape;
}

// The model's shape for a batch: the per-column shape with the column axis at batch_axis.
std::vector<int64_t> model_shape(const TensorSpec &s, int64_t batch) {
  std::vector<int64_t> shape = s.shape;
  shape.insert(shape.begin() + s.batch_axis, batch);
  return shape;
}

// Columns [first, first+n) of a bound array, as a tensor over its memory (no copy);
// `device` is where an on_device array lives.
torch::Tensor host_view(const HostArray &a, int64_t first, int64_t n, const torch::Device &device) {
  int64_t per_column = 1;
  for (size_t i = 1; i < a.shape.size(); ++i) per_column *= a.shape[i];
  const int64_t elem = a.dtype == Dtype::Float64 ? 8 : 4;
  std::vector<int64_t> shape = a.shape;
  shape[0] = n;
  return torch::from_blob(static_cast<char *>(a.data) + first * per_column * elem, shape,
                          torch::TensorOptions()
                              .dtype(scalar_type(a.dtype))
                              .device(a.on_device ? device : torch::Device(torch::kCPU)));
}

torch::Tensor whole(const HostArray &a, const torch::Device &device) {
  return host_view(a, 0, a.shape[0], device);
}

// Every difference between what the caller declared and what the model file says, in one error.
void require_declarations_match(const TensorSet &declared, const TensorSet &model, const std::string &path) {
  const std::vector<std::string> diffs = compare_declarations(declared, model);
  if (diffs.empty()) return;
  std::string msg = path + ": the model does not match the declarations: ";
  for (size_t i = 0; i < diffs.size(); ++i) msg += (i ? "; " : "") + diffs[i];
  throw Error(HYB_ERR_MANIFEST, msg);
}

// [n, ...] -> [batch, ...], the extra columns copies of the last real one: a padded chunk
// has the same shape as every other chunk, so its columns get the same bits.
torch::Tensor pad_columns(const torch::Tensor &t, int64_t batch) {
  const int64_t n = t.size(0);
  if (n == batch) return t;
  std::vector<int64_t> sizes = t.sizes().vec();
  sizes[0] = batch - n;
  return torch::cat({t, t.narrow(0, n - 1, 1).expand(sizes)}, 0);
}

// Host copies of a tensor's [ncol, ...] rows in model dtype (what node batching sends).
torch::Tensor model_dtype_rows(const torch::Tensor &t, const TensorSpec &s) {
  return t.to(torch::kCPU, scalar_type(s.dtype)).contiguous();
}

template <typename T>
void count_nonfinite(const T *p, int64_t n, int64_t &count, int64_t &first) {
  for (int64_t k = 0; k < n; ++k)
    if (!std::isfinite(p[k])) {
      if (count++ == 0) first = k;
    }
}

// "feature 65 (state_q0001 index 5)" or "feature [1, 17]" for a multi-axis column.
std::string describe_feature(const TensorSpec &s, int64_t flat) {
  std::ostringstream out;
  if (s.shape.size() <= 1) {
    out << "feature " << flat;
  } else {
    std::vector<int64_t> index(s.shape.size());
    int64_t rest = flat;
    for (size_t i = s.shape.size(); i-- > 0;) {
      index[i] = rest % s.shape[i];
      rest /= s.shape[i];
    }
    out << "feature " << shape_str(index);
  }
  const int64_t last = s.shape.empty() ? 0 : flat % s.shape.back();
  for (const auto &v : s.layout)
    if (last >= v.offset && last < v.offset + v.size)
      out << " (" << v.name << " index " << last - v.offset << ")";
  return out.str();
}

}  // namespace

Engine::~Engine() {
  // A worker thread may still read the bindings and the model: let it end first.
  if (compute_.valid()) compute_.wait();
}

void Engine::require_loaded() const {
  if (!loaded())
    throw Error(HYB_ERR_ORDER, "no model is loaded in this handle yet (call hyb_model_load first)");
}

void Engine::require_idle(const char *what) const {
  if (run_in_flight())
    throw Error(HYB_ERR_ORDER, std::string(what) +
                                   ": a run started with hyb_model_run_start is in flight; "
                                   "call hyb_model_run_finish first");
}

torch::Device Engine::state_device() const {
  // With node batching each rank keeps its own columns' state on the host; the owner's
  // batch carries it to the device for the forward.
  return node_ ? torch::Device(torch::kCPU) : device_;
}

void Engine::set_option(const std::string &key, const std::string &value) {
  require_idle("set_option");
  auto before_load = [&] {
    if (loaded())
      throw Error(HYB_ERR_ORDER, "option " + key + " must be set before hyb_model_load (model " + path_ +
                                     " is already loaded)");
  };
  if (key == "device") {
    before_load();
    check_device_option(value);
    options_.device = value;
  } else if (key == "threads") {
    options_.threads = static_cast<int>(parse_count(key, value, 1));
    at::set_num_threads(options_.threads);
  } else if (key == "nonfinite") {
    if (value != "reject" && value != "pass")
      throw Error(HYB_ERR_ARGUMENT, "option nonfinite: value '" + value + "' is not one of reject, pass");
    options_.reject_nonfinite = value == "reject";
  } else if (key == "chunk") {
    before_load();
    options_.chunk = parse_count(key, value, 0);
  } else if (key == "batching") {
    before_load();
    if (value != "rank" && value != "node")
      throw Error(HYB_ERR_ARGUMENT, "option batching: value '" + value + "' is not one of rank, node");
    options_.batching = value;
  } else if (key == "cuda_graphs") {
    before_load();
    if (value != "on" && value != "off")
      throw Error(HYB_ERR_ARGUMENT, "option cuda_graphs: value '" + value + "' is not one of on, off");
    options_.cuda_graphs = value == "on";
  } else if (key == "heap") {
    before_load();
    if (value != "keep" && value != "system")
      throw Error(HYB_ERR_ARGUMENT, "option heap: value '" + value + "' is not one of keep, system");
    options_.keep_heap = value == "keep";
  } else {
    throw Error(HYB_ERR_ARGUMENT,
                "unknown option '" + key +
                    "'; options are device, threads, nonfinite, chunk, batching, cuda_graphs, heap");
  }
}

void Engine::set_comm(int fortran_comm) {
  if (loaded())
    throw Error(HYB_ERR_ORDER,
                "hyb_model_set_comm must come before hyb_model_load (model " + path_ + " is already loaded)");
  check_fortran_comm(fortran_comm);
  fortran_comm_ = fortran_comm;
}

void Engine::declare(Role role, TensorSpec spec) {
  if (loaded())
    throw Error(HYB_ERR_ORDER, "declare " + what(role, spec.name) +
                                   ": declarations must come before "
                                   "hyb_model_load (model " +
                                   path_ + " is already loaded)");
  try {
    spec.validate(role);
  } catch (const Error &e) {
    throw Error(HYB_ERR_ARGUMENT, std::string("declaration of ") + e.what());
  }
  for (Role r : kRoles)
    if (declared_.find(r, spec.name))
      throw Error(HYB_ERR_ARGUMENT, "declaration of " + what(role, spec.name) +
                                        ": the name is already "
                                        "declared as " +
                                        role_name(r));
  declared_.specs(role).push_back(std::move(spec));
}

void Engine::load(const std::string &path) {
  if (loaded())
    throw Error(HYB_ERR_ORDER,
                "this handle already holds model " + path_ + "; create a new handle for " + path);
  // First, on every rank: device=auto is collective over the communicator, so it must come
  // before anything one rank can fail alone (the file, the manifest, the owner-only load).
  device_ = resolve_device(options_.device, fortran_comm_);
  if (options_.keep_heap) keep_heap_mapped();
  if (options_.batching == "node") {
    load_node(path);
  } else {
    load_backend(path);
    device_name_ = device_.str();
  }
  path_ = path;
  loaded_ = true;
}

// batching=node: the owner loads the model as with rank batching; the other ranks take its
// manifest (they never open the model: one copy of the weights per node) and check their
// own declarations against it. Collective over the node.
void Engine::load_node(const std::string &path) {
  if (!fortran_comm_)
    throw Error(HYB_ERR_ORDER,
                "batching=node needs the communicator (hyb_model_set_comm) before hyb_model_load");
  auto node = std::make_unique<NodeGroup>(*fortran_comm_);
  int status = HYB_OK;
  std::string message;
  if (node->owner()) {
    try {
      load_backend(path);
    } catch (const Error &e) {
      status = e.status();
      message = e.what();
    } catch (const std::exception &e) {
      status = HYB_ERR_INTERNAL;
      message = e.what();
    }
  }
  node->agree_with_owner(status, message, "loading " + path);
  const std::string text = node->broadcast(manifest_.text);
  const bool from_model_file = node->broadcast(manifest_.from_model_file ? "1" : "0") == "1";
  device_name_ = node->broadcast(device_.str());
  if (!node->owner()) {
    device_ = torch::Device(torch::kCPU);  // the other ranks only pack and unpack host rows
    try {
      if (from_model_file) {
        manifest_ = Manifest::parse(text, path);
        require_declarations_match(declared_, manifest_.tensors, path);
      } else {
        manifest_ = Manifest::from_declarations(declared_, std::filesystem::path(path).stem().string());
      }
    } catch (const Error &e) {
      status = e.status();
      message = e.what();
    }
  }
  try {
    node->agree(status, message, 0, "checking the declarations against " + path);
  } catch (const Error &) {
    backend_.reset();
    throw;
  }
  node_ = std::move(node);
}

// Opens the model, checks it against its manifest and the declarations, moves it to its
// device, and tries it once.
void Engine::load_backend(const std::string &path) {
  std::unique_ptr<ModelBackend> backend = open_model(path);
  Manifest manifest;
  if (!backend->manifest_text().empty()) {
    manifest = Manifest::parse(backend->manifest_text(), path);
    if (manifest.checksum.empty())
      throw Error(HYB_ERR_MANIFEST, path +
                                        ": the manifest has no checksum (save the model with "
                                        "hybridge.manifest.save_model)");
    const std::string actual = weights_checksum(backend->named_weights());
    if (actual != manifest.checksum)
      throw Error(HYB_ERR_MANIFEST, path + ": checksum mismatch: the manifest says " + manifest.checksum +
                                        ", the model's weights give " + actual +
                                        " (weights changed after the manifest was written?)");
    require_declarations_match(declared_, manifest.tensors, path);
  } else {
    if (declared_.specs(Role::Input).empty() || declared_.specs(Role::Output).empty())
      throw Error(HYB_ERR_MANIFEST, path +
                                        " has no hybridge_manifest.json; declare its inputs and "
                                        "outputs (hyb_model_declare) before loading it");
    manifest = Manifest::from_declarations(declared_, std::filesystem::path(path).stem().string());
  }
  if (options_.cuda_graphs && options_.chunk == 0)
    throw Error(HYB_ERR_ARGUMENT,
                "cuda_graphs=on needs chunk=N: every call then has one batch shape and "
                "replays one graph (each new shape would capture and keep another)");
  if (options_.cuda_graphs && !device_.is_cuda() && options_.device != "auto")
    throw Error(HYB_ERR_DEVICE, "cuda_graphs=on needs a CUDA device; this model runs on " + device_.str() +
                                    " (with device=auto it is ignored where no GPU is found)");
  if (device_.is_cuda() && options_.chunk > 0) set_deterministic_cuda();
  stream_ = std::make_unique<ModelStream>(device_);
  const auto on_stream = stream_->guard();
  backend->to(device_);
  backend_ = std::move(backend);
  manifest_ = std::move(manifest);
  try {
    dry_run();
  } catch (const Error &e) {
    backend_.reset();
    const std::string source =
        manifest_.from_model_file ? "its manifest" : "the declarations (no manifest in the file)";
    throw Error(HYB_ERR_MANIFEST,
                path + ": a dry run with 2 zero columns shaped as " + source + " failed: " + e.what());
  }
  if (options_.cuda_graphs && device_.is_cuda()) backend_ = with_cuda_graphs(std::move(backend_));
}

// One forward on two zero columns at load, so a model that does not follow its manifest
// (or the host's declarations) fails here, not in the middle of a simulation.
void Engine::dry_run() {
  const int64_t batch = 2;
  std::vector<torch::Tensor> args;
  for (Role r : {Role::Input, Role::State})
    for (const auto &s : manifest_.tensors.specs(r))
      args.push_back(torch::zeros(model_shape(s, batch),
                                  torch::TensorOptions().dtype(scalar_type(s.dtype)).device(device_)));
  check_model_returns(backend_->forward(args), batch, "dry run");
}

void Engine::check_model_returns(const std::vector<torch::Tensor> &returned, int64_t batch,
                                 const char *when) const {
  const auto &outputs = manifest_.tensors.specs(Role::Output);
  const auto &states = manifest_.tensors.specs(Role::State);
  if (returned.size() != outputs.size() + states.size())
    throw Error(HYB_ERR_RUNTIME, std::string(when) + ": the model returned " +
                                     std::to_string(returned.size()) + " tensor(s); expected " +
                                     std::to_string(outputs.size()) + " output(s) + " +
                                     std::to_string(states.size()) + " new state(s)");
  for (size_t i = 0; i < returned.size(); ++i) {
    const bool is_output = i < outputs.size();
    const TensorSpec &s = is_output ? outputs[i] : states[i - outputs.size()];
    const std::string name = what(is_output ? Role::Output : Role::State, s.name);
    const std::vector<int64_t> expected = model_shape(s, batch);
    if (returned[i].sizes().vec() != expected)
      throw Error(HYB_ERR_RUNTIME, std::string(when) + ": " + name + " came back with shape " +
                                       shape_str(returned[i].sizes().vec()) + ", expected " +
                                       shape_str(expected) + " (batch " + std::to_string(batch) +
                                       " at axis " + std::to_string(s.batch_axis) + ")");
    if (returned[i].scalar_type() != scalar_type(s.dtype))
      throw Error(HYB_ERR_RUNTIME, std::string(when) + ": " + name + " came back as " +
                                       c10::toString(returned[i].scalar_type()) + ", expected " +
                                       dtype_name(s.dtype));
  }
}

const Manifest &Engine::manifest() const {
  require_loaded();
  return manifest_;
}

std::string Engine::device() const {
  require_loaded();
  return device_name_;
}

void Engine::check_host_array(const TensorSpec &spec, Role role, const HostArray &a) const {
  const std::string name = what(role, spec.name);
  if (a.data == nullptr) throw Error(HYB_ERR_ARGUMENT, name + ": the data pointer is NULL");
  const std::vector<int64_t> per_column(a.shape.begin() + (a.shape.empty() ? 0 : 1), a.shape.end());
  if (a.shape.empty() || per_column != spec.shape || a.shape[0] < 1) {
    std::string expected = "[ncol";
    for (int64_t d : spec.shape) expected += ", " + std::to_string(d);
    throw Error(HYB_ERR_SHAPE, name + ": host array has shape " + shape_str(a.shape) + ", expected " +
                                   expected + "] with ncol >= 1 (column axis first)");
  }
}

void Engine::bind(Role role, const std::string &name, const HostArray &array) {
  require_loaded();
  require_idle("bind");
  try {
    if (role == Role::State)
      throw Error(HYB_ERR_ARGUMENT, "state '" + name +
                                        "' cannot be bound; the engine keeps recurrent "
                                        "state (hyb_model_get_state / hyb_model_set_state)");
    const TensorSpec &spec = manifest_.tensors.at(role, name);
    check_host_array(spec, role, array);
    if (array.on_device && (node_ || !device_.is_cuda()))
      throw Error(HYB_ERR_DEVICE, what(role, name) +
                                      ": a device pointer was bound (hyb_model_bind_device) but "
                                      "this model runs on " +
                                      device_name_ +
                                      (node_ ? " with batching=node, which gathers host arrays" : "") +
                                      "; bind host arrays (hyb_model_bind)");
  } catch (const Error &e) {
    bind_failed(e);
    throw;
  }
  (role == Role::Input ? inputs_ : outputs_)[name] = array;
}

void Engine::bind_failed(const Error &error) {
  // Before load there is no run to fail; in flight the bindings belong to the running call.
  if (!loaded() || run_in_flight()) return;
  inputs_.clear();
  outputs_.clear();
  // With rank batching the run fails anyway (nothing is bound) and a caller may bind
  // again; with node batching the other ranks must hear the cause, the first failure.
  if (node_ && !failed_bind_) failed_bind_ = error;
}

int64_t Engine::check_bindings() const {
  int64_t ncol = -1;
  std::string first;
  for (Role r : {Role::Input, Role::Output}) {
    const auto &bound = r == Role::Input ? inputs_ : outputs_;
    for (const auto &s : manifest_.tensors.specs(r)) {
      auto it = bound.find(s.name);
      if (it == bound.end())
        throw Error(HYB_ERR_ORDER, what(r, s.name) +
                                       " is not bound (hyb_model_bind); "
                                       "every input and output must be bound before each run");
      const int64_t n = it->second.shape[0];
      if (ncol < 0) {
        ncol = n;
        first = what(r, s.name);
      } else if (n != ncol) {
        throw Error(HYB_ERR_SHAPE, what(r, s.name) + " is bound with ncol=" + std::to_string(n) + " but " +
                                       first + " with ncol=" + std::to_string(ncol) +
                                       "; all inputs and outputs share ncol");
      }
    }
  }
  return ncol;
}

void Engine::check_nonfinite(const TensorSpec &spec, const HostArray &a) {
  const int64_t per_column = spec.per_column_numel();
  const int64_t n = a.shape[0] * per_column;
  int64_t count = 0, first = -1;
  if (a.on_device) {  // counted where the data are; only the verdict comes back
    const torch::Tensor bad = torch::isfinite(whole(a, device_)).logical_not().flatten();
    count = bad.sum().item<int64_t>();
    if (count > 0) first = bad.nonzero()[0][0].item<int64_t>();
  } else if (a.dtype == Dtype::Float64)
    count_nonfinite(static_cast<const double *>(a.data), n, count, first);
  else
    count_nonfinite(static_cast<const float *>(a.data), n, count, first);
  if (count == 0) return;
  if (!options_.reject_nonfinite) {
    nonfinite_count_ += count;
    return;
  }
  const double v = whole(a, device_).flatten()[first].item<double>();
  const std::string kind = std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
  throw Error(HYB_ERR_NONFINITE,
              "input '" + spec.name + "': " + kind + " at column " + std::to_string(first / per_column) +
                  ", " + describe_feature(spec, first % per_column) + " (0-based; " + std::to_string(count) +
                  " non-finite value(s) in this input); nonfinite=reject");
}

void Engine::start_state(int64_t ncol) {
  const auto &states = manifest_.tensors.specs(Role::State);
  if (states.empty()) return;
  if (state_ncol_ < 0) {
    state_.clear();
    for (const auto &s : states)
      state_.push_back(torch::zeros(
          host_shape(s, ncol), torch::TensorOptions().dtype(scalar_type(s.dtype)).device(state_device())));
    state_ncol_ = ncol;
  } else if (state_ncol_ != ncol) {
    throw Error(HYB_ERR_SHAPE, "the recurrent state holds ncol=" + std::to_string(state_ncol_) +
                                   " columns but this call has ncol=" + std::to_string(ncol) +
                                   "; call hyb_model_reset_state (state restarts at zero) first");
  }
}

void Engine::apply_threads() const {
  if (options_.threads > 0 && at::get_num_threads() != options_.threads)
    at::set_num_threads(options_.threads);
}

int64_t Engine::prepare_run() {
  if (failed_bind_) {
    const Error error = *failed_bind_;
    failed_bind_.reset();
    throw Error(error.status(), std::string("a bind before this run failed: ") + error.what());
  }
  const int64_t ncol = check_bindings();
  apply_threads();
  for (const auto &s : manifest_.tensors.specs(Role::Input)) check_nonfinite(s, inputs_.at(s.name));
  start_state(ncol);
  return ncol;
}

void Engine::run() {
  require_loaded();
  require_idle("run");
  if (node_) {
    run_start();
    run_finish();
  } else {
    run_rank(/*prepared=*/false);  // no worker thread when nothing is to overlap
  }
}

void Engine::run_start() {
  require_loaded();
  require_idle("run_start");
  if (node_) {
    node_start();
    flight_ = Flight::Node;
    return;
  }
  try {
    prepare_run();
  } catch (...) {
    inputs_.clear();
    outputs_.clear();
    throw;
  }
  // The forward's own threads are libtorch's; this one only keeps the caller free.
  compute_ = std::async(std::launch::async, [this, threads = at::get_num_threads()] {
    at::set_num_threads(threads);  // per thread under OpenMP: the caller's count, the caller's bits
    run_rank(/*prepared=*/true);
  });
  flight_ = Flight::Rank;
}

void Engine::run_finish() {
  require_loaded();
  if (!run_in_flight())
    throw Error(HYB_ERR_ORDER, "run_finish: no run is in flight (call hyb_model_run_start first)");
  const Flight flight = flight_;
  flight_ = Flight::None;
  if (flight == Flight::Node) {
    node_finish();
  } else {
    compute_.get();  // rethrows the worker's error; run_rank dropped the bindings
  }
}

void Engine::run_rank(bool prepared) {
  // Bindings point at host memory that may not outlive this call: always drop them.
  struct ClearBindings {
    Engine &e;
    ~ClearBindings() {
      e.inputs_.clear();
      e.outputs_.clear();
    }
  } clear{*this};
  const int64_t ncol = prepared ? check_bindings() : prepare_run();
  std::vector<torch::Tensor> inputs, outputs, next_state;
  for (const auto &s : manifest_.tensors.specs(Role::Input))
    inputs.push_back(whole(inputs_.at(s.name), device_));
  for (const auto &s : manifest_.tensors.specs(Role::Output))
    outputs.push_back(whole(outputs_.at(s.name), device_));
  // New state goes to fresh tensors and replaces the old only when every chunk succeeded.
  for (const auto &t : state_) next_state.push_back(torch::empty_like(t));
  forward_columns(inputs, state_, ncol, outputs, next_state);
  state_ = std::move(next_state);
}

void Engine::forward_columns(const std::vector<torch::Tensor> &inputs,
                             const std::vector<torch::Tensor> &state, int64_t ncol,
                             const std::vector<torch::Tensor> &outputs,
                             const std::vector<torch::Tensor> &next_state) {
  const auto on_stream = stream_->guard();
  const int64_t batch = options_.chunk > 0 ? options_.chunk : ncol;
  for (int64_t first = 0; first < ncol; first += batch)
    run_chunk(inputs, state, first, std::min(batch, ncol - first), batch, outputs, next_state);
  stream_->synchronize();  // outputs bound on the device are complete when the run returns
}

// Host layout -> model tensor: model dtype, on the device, column axis at batch_axis.
// The same casts as hybridge.testing.models.reference(), so results agree bit for bit.
// On the CPU with matching dtype and batch_axis 0 this is the host memory itself; host
// memory bound for a CUDA model goes through a pinned buffer.
torch::Tensor Engine::to_model(const torch::Tensor &host, const TensorSpec &s, size_t slot) {
  torch::Tensor on_device;
  if (device_.is_cuda() && host.is_cpu()) {
    on_device = upload_pinned(host, scalar_type(s.dtype), device_);
  } else if (host.scalar_type() != scalar_type(s.dtype)) {
    // The cast goes into a buffer kept from call to call: a fresh one each call lets glibc
    // return the pages to the system and fault them in again on the next call.
    if (cast_buffers_.size() <= slot) cast_buffers_.resize(slot + 1);
    torch::Tensor &buffer = cast_buffers_[slot];
    if (!buffer.defined() || buffer.sizes() != host.sizes())
      buffer = torch::empty(host.sizes(), host.options().dtype(scalar_type(s.dtype)));
    buffer.copy_(host);
    on_device = buffer;
  } else {
    on_device = host;
  }
  return on_device.movedim(0, s.batch_axis).contiguous();
}

void Engine::run_chunk(const std::vector<torch::Tensor> &inputs, const std::vector<torch::Tensor> &state,
                       int64_t first, int64_t n, int64_t batch, const std::vector<torch::Tensor> &outputs,
                       const std::vector<torch::Tensor> &next_state) {
  const auto &input_specs = manifest_.tensors.specs(Role::Input);
  const auto &output_specs = manifest_.tensors.specs(Role::Output);
  const auto &state_specs = manifest_.tensors.specs(Role::State);
  std::vector<torch::Tensor> args;
  args.reserve(input_specs.size() + state_specs.size());
  for (size_t i = 0; i < input_specs.size(); ++i)
    args.push_back(to_model(pad_columns(inputs[i].narrow(0, first, n), batch), input_specs[i], args.size()));
  for (size_t i = 0; i < state_specs.size(); ++i)
    args.push_back(to_model(pad_columns(state[i].narrow(0, first, n), batch), state_specs[i], args.size()));
  const std::vector<torch::Tensor> returned = backend_->forward(args);
  check_model_returns(returned, batch, "run");
  // Results in host layout, then into the targets (a cast when the host kind differs).
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (target rows, result rows)
  for (size_t i = 0; i < returned.size(); ++i) {
    const bool is_output = i < output_specs.size();
    const TensorSpec &s = is_output ? output_specs[i] : state_specs[i - output_specs.size()];
    const torch::Tensor target =
        (is_output ? outputs[i] : next_state[i - output_specs.size()]).narrow(0, first, n);
    torch::Tensor rows = returned[i].movedim(s.batch_axis, 0).narrow(0, 0, n);
    if (rows.device() != target.device() && target.is_cpu()) rows = download_pinned(rows);
    copies.emplace_back(target, rows);
  }
  stream_->synchronize();  // the downloads to pinned memory have landed
  for (auto &[target, rows] : copies) target.copy_(rows);
}

// ---- batching=node ----
// Start: every rank checks its own bindings and inputs; the ranks agree (one failure stops
// all, naming the rank); each rank's inputs and state, cast to the model dtype, start to
// travel to the owner. The owner waits for them and starts the forward in a worker thread.
void Engine::node_start() {
  const auto &input_specs = manifest_.tensors.specs(Role::Input);
  const auto &state_specs = manifest_.tensors.specs(Role::State);
  const auto &output_specs = manifest_.tensors.specs(Role::Output);
  NodeRun &r = node_run_;
  r = NodeRun{};
  // Everything a rank can fail at alone comes before the ranks agree: after that, every
  // rank enters every gather, or the others would wait for it for ever.
  int64_t ncol = 0;
  auto [status, message] = status_of([&] {
    ncol = prepare_run();
    for (const auto &s : input_specs)
      r.mine.push_back(model_dtype_rows(whole(inputs_.at(s.name), device_), s));
    for (size_t i = 0; i < state_specs.size(); ++i)
      r.mine.push_back(model_dtype_rows(state_[i], state_specs[i]));
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
    inputs_.clear();
    outputs_.clear();
    r = NodeRun{};
    throw;
  }
}

// The owner's forward over the node's batch, in a worker thread (node_run_ holds it).
void Engine::start_owner_forward(int64_t total) {
  compute_ = std::async(std::launch::async, [this, total, threads = at::get_num_threads()] {
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
  struct ClearBindings {
    Engine &e;
    ~ClearBindings() {
      e.inputs_.clear();
      e.outputs_.clear();
      e.node_run_ = NodeRun{};
    }
  } clear{*this};
  NodeRun &r = node_run_;
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
    const int64_t ncol = check_bindings();
    for (size_t i = 0; i < output_specs.size() + state_specs.size(); ++i) {
      const TensorSpec &s = i < output_specs.size() ? output_specs[i] : state_specs[i - output_specs.size()];
      mine.push_back(torch::empty(host_shape(s, ncol), torch::TensorOptions().dtype(scalar_type(s.dtype))));
    }
  });
  node_->agree(status, message, 0, "gathering the columns");
  node_->agree_with_owner(r.owner_status, r.owner_message, "running the model");
  for (size_t i = 0; i < mine.size(); ++i)
    node_->scatter(node_->owner() ? r.batch_out[i] : torch::Tensor(), mine[i], r.ncol_by_rank);
  for (size_t i = 0; i < output_specs.size(); ++i)
    whole(outputs_.at(output_specs[i].name), device_).copy_(mine[i]);
  if (!state_specs.empty()) state_.assign(mine.begin() + output_specs.size(), mine.end());
}

void Engine::get_state(const std::string &name, const HostArray &array) const {
  require_loaded();
  require_idle("get_state");
  const auto &states = manifest_.tensors.specs(Role::State);
  const TensorSpec &spec = manifest_.tensors.at(Role::State, name);
  check_host_array(spec, Role::State, array);
  const int64_t ncol = array.shape[0];
  torch::Tensor host = whole(array, device_);
  if (state_ncol_ < 0) {  // no run yet: the state a first run would start from
    host.zero_();
    return;
  }
  if (ncol != state_ncol_)
    throw Error(HYB_ERR_SHAPE, "state '" + name + "': host array has ncol=" + std::to_string(ncol) +
                                   " but the state holds ncol=" + std::to_string(state_ncol_));
  const size_t i = &spec - states.data();
  host.copy_(state_[i]);
}

void Engine::set_state(const std::string &name, const HostArray &array) {
  require_loaded();
  require_idle("set_state");
  const auto &states = manifest_.tensors.specs(Role::State);
  const TensorSpec &spec = manifest_.tensors.at(Role::State, name);
  check_host_array(spec, Role::State, array);
  start_state(array.shape[0]);
  const size_t i = &spec - states.data();
  state_[i].copy_(whole(array, device_));
}

void Engine::reset_state() {
  require_loaded();
  require_idle("reset_state");
  state_.clear();
  state_ncol_ = -1;
}

}  // namespace hyb
