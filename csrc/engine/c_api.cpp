// The C ABI (csrc/include/hybridge.h): handles from a registry, a status from every call,
// the message in a thread-local last error, no exception across the boundary.
#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <c10/util/Exception.h>

// Only the hyb_* functions are exported from libhybridge (the rest is built hidden).
#pragma GCC visibility push(default)
#include "hybridge.h"
#pragma GCC visibility pop

#include "engine.hpp"
#include "error.hpp"

namespace {

using hyb::Error;

thread_local std::string last_error;

// One model handle: the engine and the lock that serializes calls on it.
struct Slot {
  std::mutex mutex;
  hyb::Engine engine;
  bool freed = false;  // set by hyb_model_free: a call that waited for the lock finds it freed
};

// Ids are never reused; freed ids are remembered so a late call is told what happened.
class Registry {
 public:
  int64_t create() {
    std::scoped_lock lock(mutex_);
    const int64_t id = next_id_++;
    live_.emplace(id, std::make_shared<Slot>());
    return id;
  }

  std::shared_ptr<Slot> get(int64_t id) {
    std::scoped_lock lock(mutex_);
    auto it = live_.find(id);
    if (it != live_.end()) return it->second;
    throw Error(HYB_ERR_HANDLE, describe_dead(id));
  }

  // Waits for a call running on this handle without holding the registry's lock, so calls
  // on other handles go on meanwhile.
  void free(int64_t id) {
    std::shared_ptr<Slot> slot = get_for_free(id);
    std::scoped_lock busy(slot->mutex);
    if (slot->engine.run_in_flight())
      throw Error(HYB_ERR_ORDER, "a run started with hyb_model_run_start is in flight on handle " +
                                     std::to_string(id) +
                                     "; call hyb_model_run_finish before hyb_model_free");
    std::scoped_lock lock(mutex_);
    if (!live_.erase(id))  // another thread freed it while this one waited
      throw Error(HYB_ERR_HANDLE, "handle " + std::to_string(id) + " was freed already (double free)");
    freed_.insert(id);
    slot->freed = true;
  }  // the engine goes with the last reference, after both locks are released

 private:
  std::shared_ptr<Slot> get_for_free(int64_t id) {
    std::scoped_lock lock(mutex_);
    auto it = live_.find(id);
    if (it != live_.end()) return it->second;
    throw Error(HYB_ERR_HANDLE, freed_.count(id)
                                    ? "handle " + std::to_string(id) + " was freed already (double free)"
                                    : describe_dead(id));
  }

  std::string describe_dead(int64_t id) const {
    if (id == 0) return "handle 0 is not a model (0 is never valid; call hyb_model_create)";
    if (freed_.count(id)) return "handle " + std::to_string(id) + " was freed (hyb_model_free)";
    return "handle " + std::to_string(id) + " is unknown (never returned by hyb_model_create)";
  }

  std::mutex mutex_;
  std::unordered_map<int64_t, std::shared_ptr<Slot>> live_;
  std::unordered_set<int64_t> freed_;
  int64_t next_id_ = 1;
};

// Never destroyed: a Fortran program may free its models after C++ static destructors ran.
Registry &registry() {
  static Registry *r = new Registry;
  return *r;
}

int fail(int status, const std::string &call, const std::string &message) {
  last_error = call + ": " + message;
  return status;
}

// Runs f and turns every exception into a status and this thread's last error.
template <typename F>
int guarded(const char *call, F &&f) {
  try {
    f();
    return HYB_OK;
  } catch (const Error &e) {
    return fail(e.status(), call, e.what());
  } catch (const c10::Error &e) {
    return fail(HYB_ERR_INTERNAL, call, std::string("libtorch error: ") + e.what_without_backtrace());
  } catch (const std::bad_alloc &) {
    return fail(HYB_ERR_INTERNAL, call, "out of memory");
  } catch (const std::exception &e) {
    return fail(HYB_ERR_INTERNAL, call, e.what());
  } catch (...) {
    return fail(HYB_ERR_INTERNAL, call, "unknown C++ exception");
  }
}

// Runs f(engine) with the handle's lock held; refused while a run is in flight (between
// hyb_model_run_start and hyb_model_run_finish) unless in_flight_ok.
template <typename F>
int with_model(const char *call, hyb_model model, F &&f, bool in_flight_ok = false) {
  return guarded(call, [&] {
    std::shared_ptr<Slot> slot = registry().get(model);
    std::scoped_lock lock(slot->mutex);
    if (slot->freed)
      throw Error(HYB_ERR_HANDLE, "handle " + std::to_string(model) + " was freed (hyb_model_free)");
    if (!in_flight_ok) slot->engine.require_idle(call);
    f(slot->engine);
  });
}

void require(const void *p, const char *what) {
  if (p == nullptr) throw Error(HYB_ERR_ARGUMENT, std::string(what) + " is NULL");
}

// Copies s into buf, truncated to buflen-1 bytes and NUL-terminated.
void copy_truncated(const std::string &s, char *buf, int64_t buflen, int64_t *full_len) {
  if (full_len) *full_len = static_cast<int64_t>(s.size());
  if (buflen <= 0) return;
  require(buf, "buf");
  const size_t n = std::min(s.size(), static_cast<size_t>(buflen - 1));
  std::memcpy(buf, s.data(), n);
  buf[n] = '\0';
}

// Copies s into buf whole, or fails: a truncated name would be a different name.
void copy_whole(const std::string &s, char *buf, int64_t buflen, const char *what) {
  require(buf, what);
  if (buflen < static_cast<int64_t>(s.size()) + 1)
    throw Error(HYB_ERR_ARGUMENT, std::string(what) + " of " + std::to_string(buflen) +
                                      " bytes is too short for '" + s + "' (needs " +
                                      std::to_string(s.size() + 1) + ")");
  std::memcpy(buf, s.c_str(), s.size() + 1);
}

// what(): the array's name for a message, built only when there is one (binds run every step).
// a's shape keeps its capacity: a host array reused call after call allocates nothing.
template <typename What>
void set_host_array(hyb::HostArray &a, const What &what, void *data, int dtype, int ndim,
                    const int64_t *shape) {
  if (ndim < 0 || ndim > HYB_MAX_NDIM)
    throw Error(HYB_ERR_SHAPE, what() + ": ndim " + std::to_string(ndim) + " outside 0.." +
                                   std::to_string(HYB_MAX_NDIM) + " (column axis included)");
  if (ndim > 0) require(shape, "shape");
  a.data = data;
  a.dtype = dtype >= HYB_FLOAT32 && dtype <= HYB_INT64 ? static_cast<hyb::Dtype>(dtype)
                                                       : hyb::dtype_from_code(dtype, what());
  a.shape.assign(shape, shape + ndim);
  a.on_device = false;
}

template <typename What>
hyb::HostArray host_array(const What &what, void *data, int dtype, int ndim, const int64_t *shape) {
  hyb::HostArray a;
  set_host_array(a, what, data, dtype, ndim, shape);
  return a;
}

const hyb::TensorSpec &spec_at(const hyb::Engine &e, int role, int index) {
  const auto &specs = e.manifest().tensors.specs(hyb::role_from_code(role));
  if (index < 0 || index >= static_cast<int>(specs.size()))
    throw Error(HYB_ERR_ARGUMENT, "index " + std::to_string(index) + " outside 0.." +
                                      std::to_string(static_cast<int>(specs.size()) - 1) +
                                      " (the model has " + std::to_string(specs.size()) + " " +
                                      hyb::role_name(hyb::role_from_code(role)) + " tensor(s))");
  return specs[index];
}

// hyb_model_bind and hyb_model_bind_device: every failure goes to Engine::bind_failed (the
// bindings are dropped; with batching=node the next run fails on every rank), also when
// the arguments never reach the engine's bind.
int bind_array(const char *call, hyb_model model, int role, const char *name, void *data, int dtype, int ndim,
               const int64_t *shape, bool on_device) {
  return with_model(call, model, [&](hyb::Engine &e) {
    try {
      require(name, "name");
      const hyb::Role r = hyb::role_from_code(role);
      const auto what = [&] { return std::string(hyb::role_name(r)) + " '" + name + "'"; };
      hyb::HostArray a = host_array(what, data, dtype, ndim, shape);
      a.on_device = on_device;
      e.bind(r, name, a);
    } catch (const Error &error) {
      e.bind_failed(error);
      throw;
    }
  });
}

}  // namespace

extern "C" {

const char *hyb_status_name(int status) { return hyb::status_name(status); }

int hyb_last_error(char *buf, int64_t buflen, int64_t *full_len) {
  // Not through guarded(): reading the message must not replace it.
  if (buflen > 0 && buf == nullptr) return HYB_ERR_ARGUMENT;
  copy_truncated(last_error, buf, buflen, full_len);
  return HYB_OK;
}

int hyb_abi_version(int *version) {
  return guarded("hyb_abi_version", [&] {
    require(version, "version");
    *version = HYB_ABI_VERSION;
  });
}

int hyb_model_create(hyb_model *model) {
  return guarded("hyb_model_create", [&] {
    require(model, "model");
    *model = registry().create();
  });
}

int hyb_model_set_option(hyb_model model, const char *key, const char *value) {
  return with_model("hyb_model_set_option", model, [&](hyb::Engine &e) {
    require(key, "key");
    require(value, "value");
    e.set_option(key, value);
  });
}

int hyb_model_set_comm(hyb_model model, int fortran_comm) {
  return with_model("hyb_model_set_comm", model, [&](hyb::Engine &e) { e.set_comm(fortran_comm); });
}

int hyb_model_declare(hyb_model model, int role, const char *name, int dtype, int ndim, const int64_t *shape,
                      int batch_axis) {
  return with_model("hyb_model_declare", model, [&](hyb::Engine &e) {
    require(name, "name");
    const hyb::Role r = hyb::role_from_code(role);
    const std::string what = std::string(hyb::role_name(r)) + " '" + name + "'";
    if (ndim < 0 || ndim > HYB_MAX_NDIM - 1)
      throw Error(HYB_ERR_ARGUMENT, what + ": per-column ndim " + std::to_string(ndim) + " outside 0.." +
                                        std::to_string(HYB_MAX_NDIM - 1));
    if (ndim > 0) require(shape, "shape");
    hyb::TensorSpec spec;
    spec.name = name;
    spec.dtype = hyb::dtype_from_code(dtype, "declaration of " + what);
    spec.shape.assign(shape, shape + ndim);
    spec.batch_axis = batch_axis;
    e.declare(r, std::move(spec));
  });
}

int hyb_model_load(hyb_model model, const char *path) {
  return with_model("hyb_model_load", model, [&](hyb::Engine &e) {
    require(path, "path");
    e.load(path);
  });
}

int hyb_model_free(hyb_model model) {
  return guarded("hyb_model_free", [&] { registry().free(model); });
}

int hyb_model_manifest(hyb_model model, char *buf, int64_t buflen, int64_t *full_len) {
  return with_model("hyb_model_manifest", model,
                    [&](hyb::Engine &e) { copy_truncated(e.manifest().text, buf, buflen, full_len); });
}

int hyb_model_count(hyb_model model, int role, int *n) {
  return with_model("hyb_model_count", model, [&](hyb::Engine &e) {
    require(n, "n");
    *n = static_cast<int>(e.manifest().tensors.specs(hyb::role_from_code(role)).size());
  });
}

int hyb_model_tensor_info(hyb_model model, int role, int index, char *name, int64_t namelen, int *dtype,
                          int *ndim, int64_t *shape, int *batch_axis) {
  return with_model("hyb_model_tensor_info", model, [&](hyb::Engine &e) {
    const hyb::TensorSpec &s = spec_at(e, role, index);
    if (name) copy_whole(s.name, name, namelen, "name buffer");
    if (dtype) *dtype = static_cast<int>(s.dtype);
    if (ndim) *ndim = static_cast<int>(s.shape.size());
    if (shape)
      for (int i = 0; i < HYB_MAX_NDIM; ++i) shape[i] = i < static_cast<int>(s.shape.size()) ? s.shape[i] : 0;
    if (batch_axis) *batch_axis = s.batch_axis;
  });
}

int hyb_model_layout_count(hyb_model model, int role, const char *tensor, int *nvar) {
  return with_model("hyb_model_layout_count", model, [&](hyb::Engine &e) {
    require(tensor, "tensor");
    require(nvar, "nvar");
    *nvar = static_cast<int>(e.manifest().tensors.at(hyb::role_from_code(role), tensor).layout.size());
  });
}

int hyb_model_layout_var(hyb_model model, int role, const char *tensor, int index, char *var, int64_t varlen,
                         int64_t *offset, int64_t *size) {
  return with_model("hyb_model_layout_var", model, [&](hyb::Engine &e) {
    require(tensor, "tensor");
    const auto &layout = e.manifest().tensors.at(hyb::role_from_code(role), tensor).layout;
    if (index < 0 || index >= static_cast<int>(layout.size()))
      throw Error(HYB_ERR_ARGUMENT, "index " + std::to_string(index) + " outside 0.." +
                                        std::to_string(static_cast<int>(layout.size()) - 1) + " (tensor '" +
                                        tensor + "' has " + std::to_string(layout.size()) +
                                        " layout variable(s))");
    const hyb::Variable &v = layout[index];
    if (var) copy_whole(v.name, var, varlen, "var buffer");
    if (offset) *offset = v.offset;
    if (size) *size = v.size;
  });
}

int hyb_model_layout_find(hyb_model model, int role, const char *tensor, const char *var, int64_t *offset,
                          int64_t *size) {
  return with_model("hyb_model_layout_find", model, [&](hyb::Engine &e) {
    require(tensor, "tensor");
    require(var, "var");
    const hyb::TensorSpec &s = e.manifest().tensors.at(hyb::role_from_code(role), tensor);
    for (const auto &v : s.layout)
      if (v.name == var) {
        if (offset) *offset = v.offset;
        if (size) *size = v.size;
        return;
      }
    std::string known;
    for (const auto &v : s.layout) known += (known.empty() ? "" : ", ") + v.name;
    throw Error(HYB_ERR_NAME,
                std::string(hyb::role_name(hyb::role_from_code(role))) + " '" + tensor +
                    "' has no variable '" + var + "' in its layout (" +
                    (known.empty() ? std::string("it has no layout") : "its variables: " + known) + ")");
  });
}

int hyb_model_device(hyb_model model, char *buf, int64_t buflen) {
  return with_model("hyb_model_device", model,
                    [&](hyb::Engine &e) { copy_whole(e.device(), buf, buflen, "buf"); });
}

int hyb_model_bind(hyb_model model, int role, const char *name, void *data, int dtype, int ndim,
                   const int64_t *shape) {
  return bind_array("hyb_model_bind", model, role, name, data, dtype, ndim, shape, /*on_device=*/false);
}

int hyb_model_bind_device(hyb_model model, int role, const char *name, void *data, int dtype, int ndim,
                          const int64_t *shape) {
  return bind_array("hyb_model_bind_device", model, role, name, data, dtype, ndim, shape, /*on_device=*/true);
}

int hyb_model_forward(hyb_model model, const void *x, int x_dtype, int x_ndim, const int64_t *x_shape,
                      void *y, int y_dtype, int y_ndim, const int64_t *y_shape) {
  // Per thread, so that their shapes' memory is reused from call to call.
  thread_local hyb::HostArray x_array, y_array;
  return with_model("hyb_model_forward", model, [&](hyb::Engine &e) {
    try {
      // The engine only reads from an input.
      set_host_array(
          x_array, [] { return std::string("input (x)"); }, const_cast<void *>(x), x_dtype, x_ndim, x_shape);
      set_host_array(y_array, [] { return std::string("output (y)"); }, y, y_dtype, y_ndim, y_shape);
    } catch (const Error &error) {
      e.forward_refused(error);
      throw;
    }
    e.forward_arrays(x_array, y_array);
  });
}

int hyb_model_run(hyb_model model) {
  return with_model("hyb_model_run", model, [&](hyb::Engine &e) { e.run(); });
}

int hyb_model_run_start(hyb_model model) {
  return with_model("hyb_model_run_start", model, [&](hyb::Engine &e) { e.run_start(); });
}

int hyb_model_run_finish(hyb_model model) {
  return with_model(
      "hyb_model_run_finish", model, [&](hyb::Engine &e) { e.run_finish(); }, /*in_flight_ok=*/true);
}

int hyb_model_get_state(hyb_model model, const char *name, void *data, int dtype, int ndim,
                        const int64_t *shape) {
  return with_model("hyb_model_get_state", model, [&](hyb::Engine &e) {
    require(name, "name");
    const auto what = [&] { return std::string("state '") + name + "'"; };
    e.get_state(name, host_array(what, data, dtype, ndim, shape));
  });
}

int hyb_model_set_state(hyb_model model, const char *name, const void *data, int dtype, int ndim,
                        const int64_t *shape) {
  return with_model("hyb_model_set_state", model, [&](hyb::Engine &e) {
    require(name, "name");
    // The engine only reads from a state it is given.
    const auto what = [&] { return std::string("state '") + name + "'"; };
    e.set_state(name, host_array(what, const_cast<void *>(data), dtype, ndim, shape));
  });
}

int hyb_model_reset_state(hyb_model model) {
  return with_model("hyb_model_reset_state", model, [&](hyb::Engine &e) { e.reset_state(); });
}

int hyb_model_guard_columns(hyb_model model, int64_t ncol, int64_t *first_input, int64_t *first_output) {
  return with_model("hyb_model_guard_columns", model, [&](hyb::Engine &e) {
    const hyb::Guard &g = e.guard_report();
    if (ncol != g.last_ncol())
      throw Error(HYB_ERR_SHAPE, "ncol=" + std::to_string(ncol) + " but the last run had " +
                                     std::to_string(g.last_ncol()) + " columns");
    if (first_input) std::copy(g.first_input().begin(), g.first_input().end(), first_input);
    if (first_output) std::copy(g.first_output().begin(), g.first_output().end(), first_output);
  });
}

int hyb_model_nonfinite_count(hyb_model model, int64_t *count) {
  return with_model("hyb_model_nonfinite_count", model, [&](hyb::Engine &e) {
    require(count, "count");
    *count = e.nonfinite_count();
  });
}

}  // extern "C"
