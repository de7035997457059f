#include "engine.hpp"

#include <ATen/Parallel.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "device.hpp"
#include "error.hpp"

namespace hyb {
namespace {

torch::ScalarType scalar_type(Dtype d) { return d == Dtype::Float64 ? torch::kDouble : torch::kFloat; }

std::string what(Role role, const std::string &name) {
  return std::string(role_name(role)) + " '" + name + "'";
}

int64_t parse_count(const std::string &key, const std::string &value, int64_t min) {
  if (value.empty() || value.size() > 9 || value.find_first_not_of("0123456789") != std::string::npos ||
      std::stoll(value) < min)
    throw Error(HYB_ERR_ARGUMENT, "option " + key + ": value '" + value +
                                      "' is not an integer >= " + std::to_string(min));
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

// Columns [first, first+n) of a host array, as a tensor over the host memory (no copy).
torch::Tensor host_view(const HostArray &a, int64_t first, int64_t n) {
  int64_t per_column = 1;
  for (size_t i = 1; i < a.shape.size(); ++i) per_column *= a.shape[i];
  const int64_t elem = a.dtype == Dtype::Float64 ? 8 : 4;
  std::vector<int64_t> shape = a.shape;
  shape[0] = n;
  return torch::from_blob(static_cast<char *>(a.data) + first * per_column * elem, shape,
                          torch::TensorOptions().dtype(scalar_type(a.dtype)));
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

// Host layout -> model tensor: model dtype, on the device, column axis at batch_axis.
// The same casts as hybridge.testing.models.reference(), so results agree bit for bit.
// On the CPU with matching dtype and batch_axis 0 this is the host memory itself.
torch::Tensor to_model(const torch::Tensor &host, const TensorSpec &s, const torch::Device &device) {
  return host.to(device, scalar_type(s.dtype)).movedim(0, s.batch_axis).contiguous();
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
    if (last >= v.offset && last < v.offset + v.size) out << " (" << v.name << " index " << last - v.offset << ")";
  return out.str();
}

}  // namespace

void Engine::require_loaded() const {
  if (!loaded())
    throw Error(HYB_ERR_ORDER, "no model is loaded in this handle yet (call hyb_model_load first)");
}

void Engine::set_option(const std::string &key, const std::string &value) {
  auto before_load = [&] {
    if (loaded())
      throw Error(HYB_ERR_ORDER, "option " + key + " must be set before hyb_model_load (model " +
                                     path_ + " is already loaded)");
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
    if (value != "rank")
      throw Error(HYB_ERR_ARGUMENT, "option batching: value '" + value +
                                        "' is not supported by this engine; supported: rank");
    options_.batching = value;
  } else {
    throw Error(HYB_ERR_ARGUMENT, "unknown option '" + key +
                                      "'; options are device, threads, nonfinite, chunk, batching");
  }
}

void Engine::set_comm(int fortran_comm) {
  if (loaded())
    throw Error(HYB_ERR_ORDER, "hyb_model_set_comm must come before hyb_model_load (model " + path_ +
                                   " is already loaded)");
  check_fortran_comm(fortran_comm);
  fortran_comm_ = fortran_comm;
}

void Engine::declare(Role role, TensorSpec spec) {
  if (loaded())
    throw Error(HYB_ERR_ORDER, "declare " + what(role, spec.name) + ": declarations must come before "
                               "hyb_model_load (model " + path_ + " is already loaded)");
  try {
    spec.validate(role);
  } catch (const Error &e) {
    throw Error(HYB_ERR_ARGUMENT, std::string("declaration of ") + e.what());
  }
  for (Role r : kRoles)
    if (declared_.find(r, spec.name))
      throw Error(HYB_ERR_ARGUMENT, "declaration of " + what(role, spec.name) + ": the name is already "
                                    "declared as " + role_name(r));
  declared_.specs(role).push_back(std::move(spec));
}

void Engine::load(const std::string &path) {
  if (loaded())
    throw Error(HYB_ERR_ORDER, "this handle already holds model " + path_ + "; create a new handle for " + path);
  std::unique_ptr<ModelBackend> backend = open_model(path);
  Manifest manifest;
  if (!backend->manifest_text().empty()) {
    manifest = Manifest::parse(backend->manifest_text(), path);
    if (manifest.checksum.empty())
      throw Error(HYB_ERR_MANIFEST, path + ": the manifest has no checksum (save the model with "
                                           "hybridge.manifest.save_model)");
    const std::string actual = weights_checksum(backend->named_weights());
    if (actual != manifest.checksum)
      throw Error(HYB_ERR_MANIFEST, path + ": checksum mismatch: the manifest says " + manifest.checksum +
                                        ", the model's weights give " + actual +
                                        " (weights changed after the manifest was written?)");
    const std::vector<std::string> diffs = compare_declarations(declared_, manifest.tensors);
    if (!diffs.empty()) {
      std::string msg = path + ": the model does not match the declarations: ";
      for (size_t i = 0; i < diffs.size(); ++i) msg += (i ? "; " : "") + diffs[i];
      throw Error(HYB_ERR_MANIFEST, msg);
    }
  } else {
    if (declared_.specs(Role::Input).empty() || declared_.specs(Role::Output).empty())
      throw Error(HYB_ERR_MANIFEST, path + " has no hybridge_manifest.json; declare its inputs and "
                                           "outputs (hyb_model_declare) before loading it");
    manifest = Manifest::from_declarations(declared_, std::filesystem::path(path).stem().string());
  }
  device_ = resolve_device(options_.device, fortran_comm_);
  backend->to(device_);
  backend_ = std::move(backend);
  manifest_ = std::move(manifest);
  path_ = path;
  try {
    dry_run();
  } catch (const Error &e) {
    backend_.reset();
    const std::string source = manifest_.from_model_file ? "its manifest" : "the declarations (no manifest in the file)";
    throw Error(HYB_ERR_MANIFEST, path + ": a dry run with 2 zero columns shaped as " + source +
                                      " failed: " + e.what());
  }
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
    throw Error(HYB_ERR_RUNTIME, std::string(when) + ": the model returned " + std::to_string(returned.size()) +
                                     " tensor(s); expected " + std::to_string(outputs.size()) +
                                     " output(s) + " + std::to_string(states.size()) + " new state(s)");
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
  return device_.str();
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
  if (role == Role::State)
    throw Error(HYB_ERR_ARGUMENT, "state '" + name + "' cannot be bound; the engine keeps recurrent "
                                  "state (hyb_model_get_state / hyb_model_set_state)");
  try {
    const TensorSpec &spec = manifest_.tensors.at(role, name);
    check_host_array(spec, role, array);
  } catch (const Error &) {
    // The caller may give up on this run and free the arrays it did bind: drop them all,
    // so no later run can reach a dangling pointer.
    inputs_.clear();
    outputs_.clear();
    throw;
  }
  (role == Role::Input ? inputs_ : outputs_)[name] = array;
}

int64_t Engine::check_bindings() const {
  int64_t ncol = -1;
  std::string first;
  for (Role r : {Role::Input, Role::Output}) {
    const auto &bound = r == Role::Input ? inputs_ : outputs_;
    for (const auto &s : manifest_.tensors.specs(r)) {
      auto it = bound.find(s.name);
      if (it == bound.end())
        throw Error(HYB_ERR_ORDER, what(r, s.name) + " is not bound (hyb_model_bind); "
                                   "every input and output must be bound before each run");
      const int64_t n = it->second.shape[0];
      if (ncol < 0) {
        ncol = n;
        first = what(r, s.name);
      } else if (n != ncol) {
        throw Error(HYB_ERR_SHAPE, what(r, s.name) + " is bound with ncol=" +
                                       std::to_string(n) + " but " + first + " with ncol=" +
                                       std::to_string(ncol) + "; all inputs and outputs share ncol");
      }
    }
  }
  return ncol;
}

void Engine::check_nonfinite(const TensorSpec &spec, const HostArray &a) {
  const int64_t per_column = spec.per_column_numel();
  const int64_t n = a.shape[0] * per_column;
  int64_t count = 0, first = -1;
  if (a.dtype == Dtype::Float64)
    count_nonfinite(static_cast<const double *>(a.data), n, count, first);
  else
    count_nonfinite(static_cast<const float *>(a.data), n, count, first);
  if (count == 0) return;
  if (!options_.reject_nonfinite) {
    nonfinite_count_ += count;
    return;
  }
  const double v = a.dtype == Dtype::Float64 ? static_cast<const double *>(a.data)[first]
                                             : static_cast<const float *>(a.data)[first];
  const std::string kind = std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
  throw Error(HYB_ERR_NONFINITE,
              "input '" + spec.name + "': " + kind + " at column " + std::to_string(first / per_column) +
                  ", " + describe_feature(spec, first % per_column) + " (0-based; " +
                  std::to_string(count) + " non-finite value(s) in this input); nonfinite=reject");
}

void Engine::start_state(int64_t ncol) {
  const auto &states = manifest_.tensors.specs(Role::State);
  if (states.empty()) return;
  if (state_ncol_ < 0) {
    state_.clear();
    for (const auto &s : states)
      state_.push_back(torch::zeros(host_shape(s, ncol),
                                    torch::TensorOptions().dtype(scalar_type(s.dtype)).device(device_)));
    state_ncol_ = ncol;
  } else if (state_ncol_ != ncol) {
    throw Error(HYB_ERR_SHAPE, "the recurrent state holds ncol=" + std::to_string(state_ncol_) +
                                   " columns but this call has ncol=" + std::to_string(ncol) +
                                   "; call hyb_model_reset_state (state restarts at zero) first");
  }
}

void Engine::run() {
  require_loaded();
  // Bindings point at host memory that may not outlive this call: always drop them.
  struct ClearBindings {
    Engine &e;
    ~ClearBindings() {
      e.inputs_.clear();
      e.outputs_.clear();
    }
  } clear{*this};
  const int64_t ncol = check_bindings();
  if (options_.threads > 0 && at::get_num_threads() != options_.threads) at::set_num_threads(options_.threads);
  for (const auto &s : manifest_.tensors.specs(Role::Input)) check_nonfinite(s, inputs_.at(s.name));
  start_state(ncol);
  // New state goes to fresh tensors and replaces the old only when every chunk succeeded.
  std::vector<torch::Tensor> next_state;
  for (const auto &t : state_) next_state.push_back(torch::empty_like(t));
  const int64_t batch = options_.chunk > 0 ? options_.chunk : ncol;
  for (int64_t first = 0; first < ncol; first += batch)
    run_chunk(first, std::min(batch, ncol - first), batch, next_state);
  state_ = std::move(next_state);
}

void Engine::run_chunk(int64_t first, int64_t n, int64_t batch, std::vector<torch::Tensor> &next_state) {
  const auto &inputs = manifest_.tensors.specs(Role::Input);
  const auto &outputs = manifest_.tensors.specs(Role::Output);
  const auto &states = manifest_.tensors.specs(Role::State);
  std::vector<torch::Tensor> args;
  for (const auto &s : inputs)
    args.push_back(to_model(pad_columns(host_view(inputs_.at(s.name), first, n), batch), s, device_));
  for (size_t i = 0; i < states.size(); ++i)
    args.push_back(to_model(pad_columns(state_[i].narrow(0, first, n), batch), states[i], device_));
  const std::vector<torch::Tensor> returned = backend_->forward(args);
  check_model_returns(returned, batch, "run");
  for (size_t i = 0; i < outputs.size(); ++i)
    host_view(outputs_.at(outputs[i].name), first, n)
        .copy_(returned[i].movedim(outputs[i].batch_axis, 0).narrow(0, 0, n));
  for (size_t i = 0; i < states.size(); ++i)
    next_state[i].narrow(0, first, n)
        .copy_(returned[outputs.size() + i].movedim(states[i].batch_axis, 0).narrow(0, 0, n));
}

void Engine::get_state(const std::string &name, const HostArray &array) const {
  require_loaded();
  const auto &states = manifest_.tensors.specs(Role::State);
  const TensorSpec &spec = manifest_.tensors.at(Role::State, name);
  check_host_array(spec, Role::State, array);
  const int64_t ncol = array.shape[0];
  torch::Tensor host = host_view(array, 0, ncol);
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
  const auto &states = manifest_.tensors.specs(Role::State);
  const TensorSpec &spec = manifest_.tensors.at(Role::State, name);
  check_host_array(spec, Role::State, array);
  start_state(array.shape[0]);
  const size_t i = &spec - states.data();
  state_[i].copy_(host_view(array, 0, array.shape[0]));
}

void Engine::reset_state() {
  require_loaded();
  state_.clear();
  state_ncol_ = -1;
}

}  // namespace hyb
