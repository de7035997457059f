#include "engine.hpp"

#include <ATen/Parallel.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <sstream>
#include <tuple>
#include <utility>

#include "cast.hpp"
#include "cuda_graph.hpp"
#include "device.hpp"
#include "engine_detail.hpp"
#include "error.hpp"
#include "heap.hpp"
#include "rng.hpp"

namespace hyb {
namespace {

// Every difference between what the caller declared and what the model file says, in one error.
void require_declarations_match(const TensorSet &declared, const TensorSet &model, const std::string &path) {
  const std::vector<std::string> diffs = compare_declarations(declared, model);
  if (diffs.empty()) return;
  std::string msg = path + ": the model does not match the declarations: ";
  for (size_t i = 0; i < diffs.size(); ++i) msg += (i ? "; " : "") + diffs[i];
  throw Error(HYB_ERR_MANIFEST, msg);
}

// forward's argument names against the tensors the engine passes (inputs, then states), by
// position: a swapped or misspelled declaration would feed one tensor where another belongs.
void check_argument_names(const std::vector<std::string> &names, const Manifest &m, const std::string &path) {
  static const std::regex generated("argument_[0-9]+|input_?[0-9]*");  // names tracing invents
  if (names.empty() || std::regex_match(names.front(), generated)) return;
  std::vector<const TensorSpec *> passed;
  for (Role r : {Role::Input, Role::State})
    for (const auto &s : m.tensors.specs(r)) passed.push_back(&s);
  const std::string source = m.from_model_file ? "manifest" : "declarations";
  std::string forward = "forward(self";
  for (const auto &n : names) forward += ", " + n;
  forward += ')';
  if (names.size() < passed.size())
    throw Error(HYB_ERR_MANIFEST, path + ": the " + source + " give " + std::to_string(passed.size()) +
                                      " tensors (inputs, then states) but the model's " + forward +
                                      " takes " + std::to_string(names.size()));
  std::vector<std::string> diffs;
  for (size_t i = 0; i < passed.size(); ++i) {
    if (names[i] == passed[i]->name) continue;
    std::string d =
        "argument " + std::to_string(i + 1) + " of " + forward + " is '" + names[i] + "' but the " + source +
        " put " +
        describe(m.tensors.find(Role::Input, passed[i]->name) ? Role::Input : Role::State, passed[i]->name) +
        " there";
    for (size_t k = 0; k < names.size(); ++k)
      if (k != i && names[k] == passed[i]->name)
        d += " (the model takes it as argument " + std::to_string(k + 1) + ")";
    diffs.push_back(d);
  }
  if (diffs.empty()) return;
  std::string msg = path + ": the " + source + " do not match the model's arguments: ";
  for (size_t i = 0; i < diffs.size(); ++i) msg += (i ? "; " : "") + diffs[i];
  throw Error(HYB_ERR_MANIFEST, msg + " (tensors are passed by position: inputs in order, then states)");
}

// t.sizes() == model_shape(s, batch), without building the vector.
bool has_model_shape(const torch::Tensor &t, const TensorSpec &s, int64_t batch) {
  const int64_t ndim = static_cast<int64_t>(s.shape.size()) + (s.batched() ? 1 : 0);
  if (t.dim() != ndim) return false;
  size_t next = 0;  // the next per-column dimension
  for (int64_t d = 0; d < ndim; ++d) {
    const int64_t want = s.batched() && d == s.batch_axis ? batch : s.shape[next++];
    if (t.size(d) != want) return false;
  }
  return true;
}

int64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : INT64_MAX;
}

std::string gib(int64_t bytes) {
  std::ostringstream s;
  s.precision(3);
  s << static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0) << " GiB";
  return s.str();
}

// libtorch's intra-op thread count for the length of one run, then back: the setting is
// process-wide (and, under OpenMP, the calling thread's), so leaving it changed would change
// other models and the host's own OpenMP regions.
class ThreadsForRun {
 public:
  explicit ThreadsForRun(int threads) {
    if (threads > 0 && at::get_num_threads() != threads) {
      saved_ = at::get_num_threads();
      at::set_num_threads(threads);
    }
  }
  ~ThreadsForRun() {
    if (saved_ > 0) at::set_num_threads(saved_);
  }
  ThreadsForRun(const ThreadsForRun &) = delete;
  ThreadsForRun &operator=(const ThreadsForRun &) = delete;

 private:
  int saved_ = 0;
};

}  // namespace

std::vector<int64_t> host_shape(const TensorSpec &s, int64_t ncol) {
  std::vector<int64_t> shape = s.shape;
  if (s.batched()) shape.insert(shape.begin(), ncol);
  return shape;
}

std::vector<int64_t> model_shape(const TensorSpec &s, int64_t batch) {
  std::vector<int64_t> shape = s.shape;
  if (s.batched()) shape.insert(shape.begin() + s.batch_axis, batch);
  return shape;
}

torch::Tensor column_rows(const torch::Tensor &t, int64_t first, int64_t n) {
  return first == 0 && n == t.size(0) ? t : t.narrow(0, first, n);
}

torch::Tensor move_axis(const torch::Tensor &t, int64_t from, int64_t to) {
  return from == to ? t : t.movedim(from, to);
}

torch::Tensor pad_columns(const torch::Tensor &t, int64_t batch) {
  const int64_t n = t.size(0);
  if (n == batch) return t;
  std::vector<int64_t> sizes = t.sizes().vec();
  sizes[0] = batch - n;
  return torch::cat({t, t.narrow(0, n - 1, 1).expand(sizes)}, 0);
}

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
  hyb::set_option(options_, step_, key, value, loaded(), path_);
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
    throw Error(HYB_ERR_ORDER, "declare " + describe(role, spec.name) +
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
      throw Error(HYB_ERR_ARGUMENT, "declaration of " + describe(role, spec.name) +
                                        ": the name is already "
                                        "declared as " +
                                        role_name(r));
  declared_.specs(role).push_back(std::move(spec));
}

void Engine::load(const std::string &path) {
  if (loaded())
    throw Error(HYB_ERR_ORDER,
                "this handle already holds model " + path_ + "; create a new handle for " + path);
  // First, on every rank of the communicator: the ranks agree on the file and the options,
  // before any collective (device=auto, batching=node) that a disagreeing rank would skip.
  if (fortran_comm_) agree_on_load(*fortran_comm_, path);
  device_ = resolve_device(options_.device, fortran_comm_);
  if (options_.keep_heap) keep_heap_mapped();
  if (options_.batching == "node") {
    load_node(path);
  } else {
    load_backend(path);
    device_name_ = device_.str();
  }
  path_ = path;
  if (!options_.record_dir.empty()) {
    std::string who = "pid" + std::to_string(getpid());
    if (fortran_comm_) {
      int rank = 0;
      MPI_Comm_rank(MPI_Comm_f2c(*fortran_comm_), &rank);
      who = "rank" + std::to_string(rank);
    }
    recorder_ = std::make_unique<CallRecorder>(options_, path, checksum_, who);
  }
  loaded_ = true;
}

// The model file's manifest (or the declarations) checked: checksum over the whole file,
// declarations, the forward's argument names.
void Engine::check_model_file(const ModelBackend &backend, const std::string &path) {
  Manifest manifest;
  if (!backend.manifest_text().empty()) {
    manifest = Manifest::parse(backend.manifest_text(), path);
    if (manifest.checksum.empty())
      throw Error(HYB_ERR_MANIFEST, path +
                                        ": the manifest has no checksum (save the model with "
                                        "hybridge.manifest.save_model)");
    checksum_ = archive_checksum(path);
    if (checksum_ != manifest.checksum)
      throw Error(
          HYB_ERR_MANIFEST,
          path + ": checksum mismatch: the manifest says " + manifest.checksum +
              ", the file's contents give " + checksum_ +
              " (its code, constants or weights changed after the manifest was written; a model saved "
              "by hybridge 0.1 has a weights-only checksum: export it again)");
    require_declarations_match(declared_, manifest.tensors, path);
  } else {
    if (declared_.specs(Role::Input).empty() || declared_.specs(Role::Output).empty())
      throw Error(HYB_ERR_MANIFEST, path +
                                        " has no hybridge_manifest.json; declare its inputs and "
                                        "outputs (hyb_model_declare) before loading it");
    manifest = Manifest::from_declarations(declared_, std::filesystem::path(path).stem().string());
  }
  check_argument_names(backend.argument_names(), manifest, path);
  if (options_.guard != "off") guard_ = std::make_unique<Guard>(manifest, options_);
  manifest_ = std::move(manifest);
}

// Before anything is allocated: a chunk (or the dry run's 2 columns) of every tensor must fit
// in this machine's memory, and unbatched outputs need one forward per run.
void Engine::check_memory_bounds() const {
  const int64_t batch = options_.chunk > 0 ? options_.chunk : 2;
  const int64_t memory = physical_memory_bytes();
  for (Role r : kRoles)
    for (const auto &s : manifest_.tensors.specs(r)) {
      int64_t bytes = element_size(s.dtype);
      const int64_t columns = s.batched() ? batch : 1;
      if (__builtin_mul_overflow(bytes, s.per_column_numel(), &bytes) ||
          __builtin_mul_overflow(bytes, columns, &bytes) || bytes > memory) {
        const std::string what = options_.chunk > 0 && s.batched()
                                     ? "chunk=" + std::to_string(options_.chunk) + ": a batch of "
                                     : std::string(s.batched() ? "the load's dry run: 2 columns of " : "");
        throw Error(HYB_ERR_ARGUMENT, what + describe(r, s.name) + " (" + shape_str(model_shape(s, columns)) +
                                          " " + dtype_name(s.dtype) + ") need " +
                                          (bytes > memory ? gib(bytes) : "more than 2^63 bytes") +
                                          ", more than this machine's " + gib(memory) + " of memory");
      }
      if (!s.batched() && r == Role::Output && options_.chunk > 0)
        throw Error(HYB_ERR_ARGUMENT, "chunk=" + std::to_string(options_.chunk) + ": " + describe(r, s.name) +
                                          " has no column axis (batch_axis -1), so one run must be one "
                                          "forward; use chunk=0 for this model");
    }
}

// Opens the model, checks it against its manifest and the declarations, moves it to its
// device, and tries it once.
void Engine::load_backend(const std::string &path) {
  std::unique_ptr<ModelBackend> backend = open_model(path);
  check_model_file(*backend, path);
  check_memory_bounds();
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
// (or the host's declarations) fails here, not in the middle of a simulation. It also tells
// whether the model writes into its arguments: then the engine never hands it host memory.
void Engine::dry_run() {
  const int64_t batch = 2;
  std::vector<torch::Tensor> args;
  std::vector<int64_t> versions;
  for (Role r : {Role::Input, Role::State})
    for (const auto &s : manifest_.tensors.specs(r)) {
      args.push_back(torch::zeros(model_shape(s, batch),
                                  torch::TensorOptions().dtype(scalar_type(s.dtype)).device(device_)));
      versions.push_back(args.back()._version());
    }
  ThreadsForRun threads(options_.threads);
  try {
    check_model_returns(forward(args, 0), batch, "dry run");
  } catch (const c10::Error &e) {  // an allocation inside the model, most likely
    throw Error(HYB_ERR_RUNTIME, std::string("libtorch: ") + e.what_without_backtrace());
  }
  for (size_t i = 0; i < args.size(); ++i)
    if (args[i]._version() != versions[i]) copy_inputs_ = true;
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
    // Every run checks, so the expected shape is compared in place and the message is only
    // built for a model that got it wrong.
    if (has_model_shape(returned[i], s, batch) && returned[i].scalar_type() == scalar_type(s.dtype)) continue;
    const std::string name = describe(is_output ? Role::Output : Role::State, s.name);
    const std::vector<int64_t> expected = model_shape(s, batch);
    if (returned[i].sizes().vec() != expected)
      throw Error(HYB_ERR_RUNTIME, std::string(when) + ": " + name + " came back with shape " +
                                       shape_str(returned[i].sizes().vec()) + ", expected " +
                                       shape_str(expected) +
                                       (s.batched() ? " (batch " + std::to_string(batch) + " at axis " +
                                                          std::to_string(s.batch_axis) + ")"
                                                    : " (no column axis)"));
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

void Engine::bind(Role role, const std::string &name, const HostArray &array) {
  require_loaded();
  require_idle("bind");
  size_t index = 0;
  try {
    if (role == Role::State)
      throw Error(HYB_ERR_ARGUMENT, "state '" + name +
                                        "' cannot be bound; the engine keeps recurrent "
                                        "state (hyb_model_get_state / hyb_model_set_state)");
    const TensorSpec &spec = manifest_.tensors.at(role, name);
    check_host_array(spec, role, array);
    index = static_cast<size_t>(&spec - manifest_.tensors.specs(role).data());
    if (array.on_device && (node_ || !device_.is_cuda()))
      throw Error(HYB_ERR_DEVICE, describe(role, name) +
                                      ": a device pointer was bound (hyb_model_bind_device) but "
                                      "this model runs on " +
                                      device_name_ +
                                      (node_ ? " with batching=node, which gathers host arrays" : "") +
                                      "; bind host arrays (hyb_model_bind)");
  } catch (const Error &e) {
    bind_failed(e);
    throw;
  }
  Bindings &b = my_bindings();
  std::vector<HostArray> &bound = role == Role::Input ? b.inputs : b.outputs;
  bound.resize(manifest_.tensors.specs(role).size());
  bound[index] = array;
}

void Engine::forward_arrays(const HostArray &x, const HostArray &y) {
  require_loaded();
  require_idle("forward");
  const auto &input_specs = manifest_.tensors.specs(Role::Input);
  const auto &output_specs = manifest_.tensors.specs(Role::Output);
  if (input_specs.size() != 1 || output_specs.size() != 1) {
    const Error error(HYB_ERR_ARGUMENT,
                      "needs a model with one input and one output, this one has " +
                          std::to_string(input_specs.size()) + " and " + std::to_string(output_specs.size()) +
                          "; bind each tensor and run (hyb_model_bind, hyb_model_run; in Fortran "
                          "hyb_bind_input, hyb_bind_output, hyb_run)");
    forward_refused(error);
    throw error;
  }
  if (node_) {
    // Collective: the run takes place on every rank even when this rank's bind failed, so
    // the others learn of it; the bind's error is the one reported here.
    try {
      bind(Role::Input, input_specs[0].name, x);
      bind(Role::Output, output_specs[0].name, y);
    } catch (const Error &error) {
      forward_refused(error);
      throw;
    }
    run();
    return;
  }
  if (!bindings_.empty()) drop_my_bindings();
  direct_.inputs.resize(1);
  direct_.outputs.resize(1);
  // Unbound until both pass their checks (the shapes' memory is kept for the next call).
  direct_.inputs[0].data = nullptr;
  direct_.outputs[0].data = nullptr;
  check_host_array(input_specs[0], Role::Input, x);
  check_host_array(output_specs[0], Role::Output, y);
  direct_.inputs[0] = x;
  direct_.outputs[0] = y;
  const int64_t ncol = prepare_run(direct_);
  ThreadsForRun threads(options_.threads);
  run_rank(direct_, ncol);
}

void Engine::forward_refused(const Error &error) {
  bind_failed(error);
  if (!node_ || !loaded() || run_in_flight()) return;
  // The run is collective: it takes place on every rank and fails there with this error.
  try {
    run();
  } catch (const Error &) {  // NOLINT(bugprone-empty-catch): it fails, as the bind did
  }
}

void Engine::bind_failed(const Error &error) {
  // Before load there is no run to fail; in flight the bindings belong to the running call.
  if (!loaded() || run_in_flight()) return;
  drop_my_bindings();
  // With rank batching the run fails anyway (nothing is bound) and a caller may bind
  // again; with node batching the other ranks must hear the cause, the first failure.
  if (node_ && !failed_bind_) failed_bind_ = error;
}

int64_t Engine::check_bindings(const Bindings &b) const {
  int64_t ncol = -1;
  Role first_role = Role::Input;  // the first batched tensor, named only in a message
  const TensorSpec *first = nullptr;
  for (Role r : {Role::Input, Role::Output}) {
    const auto &bound = r == Role::Input ? b.inputs : b.outputs;
    const auto &specs = manifest_.tensors.specs(r);
    for (size_t i = 0; i < specs.size(); ++i) {
      const TensorSpec &s = specs[i];
      if (i >= bound.size() || bound[i].data == nullptr)
        throw Error(HYB_ERR_ORDER, describe(r, s.name) +
                                       " is not bound (hyb_model_bind) by this thread; every input "
                                       "and output must be bound before each run, by the thread that runs");
      if (!s.batched()) continue;
      const int64_t n = bound[i].shape[0];
      if (ncol < 0) {
        ncol = n;
        first_role = r;
        first = &s;
      } else if (n != ncol) {
        throw Error(HYB_ERR_SHAPE, describe(r, s.name) + " is bound with ncol=" + std::to_string(n) +
                                       " but " + describe(first_role, first->name) + " with ncol=" +
                                       std::to_string(ncol) + "; all inputs and outputs share ncol");
      }
    }
  }
  return ncol < 0 ? 1 : ncol;  // nothing batched: one forward over whole tensors
}

void Engine::check_inputs(const Bindings &b) {
  const auto &specs = manifest_.tensors.specs(Role::Input);
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec &s = specs[i];
    const HostArray &a = b.inputs[i];
    const NonfiniteScan scan = scan_nonfinite(a, s.dtype, device_);
    if (scan.count == 0) continue;
    if (!options_.reject_nonfinite) {
      nonfinite_count_ += scan.count;
      continue;
    }
    throw Error(HYB_ERR_NONFINITE,
                "input '" + s.name + "': " + describe_nonfinite(s, scan, a.dtype) + "; nonfinite=reject");
  }
}

// Recurrent state holds the columns of one caller: a second thread would run its own
// columns against the first one's memory.
void Engine::claim_state_for_this_thread(const char *what) {
  if (manifest_.tensors.specs(Role::State).empty()) return;
  const auto me = std::this_thread::get_id();
  if (state_thread_ && *state_thread_ != me) {
    std::ostringstream owner;
    owner << *state_thread_;
    throw Error(HYB_ERR_ORDER,
                std::string(what) +
                    ": this model keeps recurrent state per column, and the state belongs to the "
                    "columns of another thread (id " +
                    owner.str() +
                    ") that ran it first; give each thread (each chunk of columns) its own handle, "
                    "or call hyb_model_reset_state before another thread takes the handle over");
  }
  state_thread_ = me;
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

int64_t Engine::prepare_run(const Bindings &b) {
  if (failed_bind_) {
    const Error error = *failed_bind_;
    failed_bind_.reset();
    throw Error(error.status(), std::string("a bind before this run failed: ") + error.what());
  }
  const int64_t ncol = check_bindings(b);
  check_inputs(b);
  claim_state_for_this_thread("run");
  start_state(ncol);
  return ncol;
}

int64_t Engine::draw_step() const { return step_.given ? step_.value : runs_; }

bool Engine::recording_this_call() {
  record_this_call_ = recorder_ && recorder_->next_call();
  return record_this_call_;
}

void Engine::run() {
  require_loaded();
  require_idle("run");
  if (node_) {
    run_start();
    run_finish();
    return;
  }
  // No worker thread when nothing is to overlap.
  Bindings b = std::move(my_bindings());
  drop_my_bindings();
  const int64_t ncol = prepare_run(b);
  ThreadsForRun threads(options_.threads);
  run_rank(b, ncol);
}

void Engine::run_start() {
  require_loaded();
  require_idle("run_start");
  Bindings b = std::move(my_bindings());
  drop_my_bindings();
  if (node_) {
    node_start(std::move(b));
    flight_ = Flight::Node;
    return;
  }
  const int64_t ncol = prepare_run(b);
  flight_bindings_ = std::move(b);
  // The forward's own threads are libtorch's; this one only keeps the caller free.
  const int threads = options_.threads > 0 ? options_.threads : at::get_num_threads();
  compute_ = std::async(std::launch::async, [this, ncol, threads] {
    at::set_num_threads(threads);  // per thread under OpenMP: the caller's count, the caller's bits
    run_rank(flight_bindings_, ncol);
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
    compute_.get();  // rethrows the worker's error
  }
}

void Engine::run_rank(const Bindings &b, int64_t ncol) {
  std::vector<torch::Tensor> &inputs = run_inputs_, &outputs = run_outputs_, &next_state = run_next_state_;
  inputs.clear();
  outputs.clear();
  next_state.clear();
  const size_t nin = b.inputs.size();
  host_views_.resize(nin + b.outputs.size());
  for (size_t i = 0; i < nin; ++i) inputs.push_back(whole_reused(host_views_[i], b.inputs[i], device_));
  for (size_t i = 0; i < b.outputs.size(); ++i)
    outputs.push_back(whole_reused(host_views_[nin + i], b.outputs[i], device_));
  // New state goes to fresh tensors and replaces the old only when every chunk succeeded.
  for (const auto &t : state_) next_state.push_back(torch::empty_like(t));
  const bool record = recording_this_call();
  forward_columns(inputs, state_, ncol, outputs, next_state);
  std::vector<torch::Tensor> state_in;
  state_in.swap(state_);
  state_.swap(next_state);
  ++runs_;
  guard_run(b, ncol);
  if (record) record_call(b, state_in);
}

void Engine::guard_run(const Bindings &b, int64_t ncol) {
  if (!guard_) return;
  std::vector<torch::Tensor> in, out;
  for (const auto &a : b.inputs) in.push_back(whole(a, device_));
  for (const auto &a : b.outputs) out.push_back(whole(a, device_));
  guard_->check_and_clip_outputs(in, out, ncol);
}

const Guard &Engine::guard_report() const {
  require_loaded();
  if (!guard_) throw Error(HYB_ERR_ORDER, "this model has no guard (option guard=fallback or guard=clip)");
  if (guard_->last_ncol() == 0) throw Error(HYB_ERR_ORDER, "the guard has no report before the first run");
  return *guard_;
}

void Engine::record_call(const Bindings &b, const std::vector<torch::Tensor> &state_in) {
  std::vector<std::pair<std::string, torch::Tensor>> in, out, s_in, s_out;
  const auto &input_specs = manifest_.tensors.specs(Role::Input);
  const auto &output_specs = manifest_.tensors.specs(Role::Output);
  for (size_t i = 0; i < input_specs.size(); ++i)
    in.emplace_back(input_specs[i].name, whole(b.inputs[i], device_));
  for (size_t i = 0; i < output_specs.size(); ++i)
    out.emplace_back(output_specs[i].name, whole(b.outputs[i], device_));
  const auto &states = manifest_.tensors.specs(Role::State);
  for (size_t i = 0; i < states.size(); ++i) {
    s_in.emplace_back(states[i].name, state_in[i]);
    s_out.emplace_back(states[i].name, state_[i]);
  }
  recorder_->write(manifest_, in, out, s_in, s_out, draw_step() - (step_.given ? 0 : 1));
}

void Engine::forward_columns(const std::vector<torch::Tensor> &inputs,
                             const std::vector<torch::Tensor> &state, int64_t ncol,
                             const std::vector<torch::Tensor> &outputs,
                             const std::vector<torch::Tensor> &next_state) {
  const auto on_stream = stream_->guard();
  const int64_t batch = options_.chunk > 0 ? options_.chunk : ncol;
  int64_t chunk_index = 0;
  for (int64_t first = 0; first < ncol; first += batch)
    run_chunk(inputs, state, first, std::min(batch, ncol - first), batch, chunk_index++, outputs, next_state);
  stream_->synchronize();  // outputs bound on the device are complete when the run returns
}

// Host layout -> model tensor: model dtype, on the device, column axis at batch_axis.
// The same casts as hybridge.testing.models.reference(), so results agree bit for bit.
// On the CPU with matching dtype and batch_axis 0 this is the host memory itself, unless the
// model writes into its arguments; host memory bound for a CUDA model goes through a pinned
// buffer.
torch::Tensor Engine::to_model(const torch::Tensor &host, const TensorSpec &s, size_t slot) {
  torch::Tensor t;
  if (device_.is_cuda() && host.is_cpu()) {
    t = upload_pinned(host, scalar_type(s.dtype), device_);
  } else if (host.scalar_type() != scalar_type(s.dtype)) {
    // The cast goes into a buffer kept from call to call: a fresh one each call lets glibc
    // return the pages to the system and fault them in again on the next call.
    if (cast_buffers_.size() <= slot) cast_buffers_.resize(slot + 1);
    torch::Tensor &buffer = cast_buffers_[slot];
    if (!buffer.defined() || buffer.sizes() != host.sizes())
      buffer = torch::empty(host.sizes(), host.options().dtype(scalar_type(s.dtype)));
    if (!copy_floats(host, buffer)) buffer.copy_(host);
    t = buffer;
  } else {
    t = host;
  }
  if (s.batched()) t = move_axis(t, 0, s.batch_axis);
  t = t.contiguous();
  if (copy_inputs_ && t.data_ptr() == host.data_ptr()) t = t.clone();
  return t;
}

std::vector<torch::Tensor> Engine::forward(const std::vector<torch::Tensor> &args, int64_t chunk_index) {
  if (!options_.seeded) return backend_->forward(args);
  const SeededDraws draws(device_, options_.seed, draw_step(), chunk_index);
  return backend_->forward(args);
}

void Engine::run_chunk(const std::vector<torch::Tensor> &inputs, const std::vector<torch::Tensor> &state,
                       int64_t first, int64_t n, int64_t batch, int64_t chunk_index,
                       const std::vector<torch::Tensor> &outputs,
                       const std::vector<torch::Tensor> &next_state) {
  const auto &input_specs = manifest_.tensors.specs(Role::Input);
  const auto &output_specs = manifest_.tensors.specs(Role::Output);
  const auto &state_specs = manifest_.tensors.specs(Role::State);
  std::vector<torch::Tensor> &args = chunk_args_;
  std::vector<std::pair<size_t, int64_t>> &host_memory =
      chunk_host_memory_;  // args that are host memory: (index, version)
  args.clear();
  host_memory.clear();
  for (size_t i = 0; i < input_specs.size(); ++i) {
    const TensorSpec &s = input_specs[i];
    torch::Tensor host = s.batched() ? pad_columns(column_rows(inputs[i], first, n), batch) : inputs[i];
    if (guard_ && guard_->clips()) host = guard_->clip_input(i, host);
    args.push_back(to_model(host, s, args.size()));
    if (args.back().is_alias_of(inputs[i])) host_memory.emplace_back(i, args.back()._version());
  }
  for (size_t i = 0; i < state_specs.size(); ++i)
    args.push_back(
        to_model(pad_columns(column_rows(state[i], first, n), batch), state_specs[i], args.size()));
  const std::vector<torch::Tensor> returned = forward(args, chunk_index);
  for (const auto &[i, version] : host_memory)
    if (args[i]._version() != version) {
      copy_inputs_ = true;
      throw Error(HYB_ERR_RUNTIME,
                  "the model wrote into " + describe(Role::Input, input_specs[i].name) +
                      " in place during this run (it did not at the load's dry run), so the "
                      "caller's array was changed; from now on hybridge hands this model copies");
    }
  check_model_returns(returned, batch, "run");
  // Results in host layout, then into the targets (a cast when the host kind differs).
  std::vector<std::pair<torch::Tensor, torch::Tensor>> &copies = chunk_copies_;  // (target rows, result rows)
  copies.clear();
  for (size_t i = 0; i < returned.size(); ++i) {
    const bool is_output = i < output_specs.size();
    const TensorSpec &s = is_output ? output_specs[i] : state_specs[i - output_specs.size()];
    const torch::Tensor &target_all = is_output ? outputs[i] : next_state[i - output_specs.size()];
    torch::Tensor target, rows;
    if (s.batched()) {
      target = column_rows(target_all, first, n);
      rows = column_rows(move_axis(returned[i], s.batch_axis, 0), 0, n);
    } else {
      target = target_all;
      rows = returned[i];
    }
    if (rows.device() != target.device() && target.is_cpu()) rows = download_pinned(rows);
    copies.emplace_back(target, rows);
  }
  stream_->synchronize();  // the downloads to pinned memory have landed
  for (auto &[target, rows] : copies)
    if (!copy_floats(rows, target)) target.copy_(rows);
  // The vectors keep their capacity, not the model's results.
  copies.clear();
  args.clear();
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
  const NonfiniteScan scan = scan_nonfinite(array, spec.dtype, device_);
  if (scan.count > 0 && options_.reject_nonfinite)
    throw Error(HYB_ERR_NONFINITE, "state '" + name + "': " + describe_nonfinite(spec, scan, array.dtype) +
                                       "; nonfinite=reject");
  nonfinite_count_ += scan.count;
  claim_state_for_this_thread("set_state");
  start_state(array.shape[0]);
  const size_t i = &spec - states.data();
  state_[i].copy_(whole(array, device_));
}

void Engine::reset_state() {
  require_loaded();
  require_idle("reset_state");
  state_.clear();
  state_ncol_ = -1;
  state_thread_.reset();
}

}  // namespace hyb
