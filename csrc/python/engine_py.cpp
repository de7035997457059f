// pybind11 module `hybridge_engine`: the C++ engine for Python tests and benchmarks,
// numpy in and out, without the C ABI in between. Does not use torch's Python bindings.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <string>
#include <vector>

#include "engine.hpp"
#include "error.hpp"

namespace py = pybind11;

namespace {

PyObject *engine_error = nullptr;  // hybridge_engine.EngineError(status, status_name, message)

hyb::Role role_from_name(const std::string &role) {
  if (role == "input") return hyb::Role::Input;
  if (role == "output") return hyb::Role::Output;
  if (role == "state") return hyb::Role::State;
  throw hyb::Error(HYB_ERR_ARGUMENT, "role '" + role + "' is not one of input, output, state");
}

hyb::Dtype dtype_from_name(const std::string &dtype, const std::string &what) {
  for (hyb::Dtype d : {hyb::Dtype::Float32, hyb::Dtype::Float64, hyb::Dtype::Int32, hyb::Dtype::Int64})
    if (dtype == hyb::dtype_name(d)) return d;
  throw hyb::Error(HYB_ERR_DTYPE,
                   what + ": dtype '" + dtype + "' is not one of float32, float64, int32, int64");
}

// A C-contiguous float32/float64 view of a numpy array (copied only when not contiguous).
py::array host_array_of(const py::handle &obj, const std::string &what, hyb::HostArray &out) {
  py::array a = py::array::ensure(obj);
  if (!a) throw hyb::Error(HYB_ERR_ARGUMENT, what + ": expected a numpy array");
  if (a.dtype().is(py::dtype::of<double>()))
    out.dtype = hyb::Dtype::Float64;
  else if (a.dtype().is(py::dtype::of<float>()))
    out.dtype = hyb::Dtype::Float32;
  else if (a.dtype().is(py::dtype::of<int32_t>()))
    out.dtype = hyb::Dtype::Int32;
  else if (a.dtype().is(py::dtype::of<int64_t>()))
    out.dtype = hyb::Dtype::Int64;
  else
    throw hyb::Error(HYB_ERR_DTYPE, what + ": numpy dtype " + py::str(a.dtype()).cast<std::string>() +
                                        " is not one of float32, float64, int32, int64");
  if (!a.attr("flags").attr("c_contiguous").cast<bool>())
    a = py::module_::import("numpy").attr("ascontiguousarray")(a);
  out.data = a.mutable_data();
  out.shape.assign(a.shape(), a.shape() + a.ndim());
  return a;
}

py::dict spec_dict(const hyb::TensorSpec &s) {
  py::list layout;
  for (const auto &v : s.layout)
    layout.append(py::dict(py::arg("name") = v.name, py::arg("offset") = v.offset, py::arg("size") = v.size,
                           py::arg("units") = v.units));
  return py::dict(py::arg("name") = s.name, py::arg("shape") = s.shape,
                  py::arg("dtype") = hyb::dtype_name(s.dtype), py::arg("batch_axis") = s.batch_axis,
                  py::arg("layout") = layout);
}

std::vector<py::ssize_t> with_ncol(int64_t ncol, const std::vector<int64_t> &shape) {
  std::vector<py::ssize_t> out{static_cast<py::ssize_t>(ncol)};
  out.insert(out.end(), shape.begin(), shape.end());
  return out;
}

py::array new_array(const std::string &dtype, const std::vector<py::ssize_t> &shape,
                    const std::string &what) {
  switch (dtype_from_name(dtype, what)) {
    case hyb::Dtype::Float64: return py::array_t<double>(shape);
    case hyb::Dtype::Int32: return py::array_t<int32_t>(shape);
    case hyb::Dtype::Int64: return py::array_t<int64_t>(shape);
    default: return py::array_t<float>(shape);
  }
}

// run(inputs) -> outputs: binds, runs with the GIL released, returns new arrays.
py::dict run(hyb::Engine &e, const py::dict &inputs, const std::string &out_dtype) {
  // Everything that can fail before binding comes first: a failed bind clears the bindings.
  std::vector<std::pair<std::string, py::array>> keep;  // the (possibly copied) inputs, alive during run
  std::vector<hyb::HostArray> host;
  for (auto item : inputs) {
    const std::string name = py::str(item.first);
    host.emplace_back();
    keep.emplace_back(name, host_array_of(item.second, "input '" + name + "'", host.back()));
  }
  // ncol from the first batched input (1 when none is batched: one forward on whole tensors)
  int64_t ncol = 1;
  for (size_t i = 0; i < keep.size(); ++i) {
    const hyb::TensorSpec *s = e.manifest().tensors.find(hyb::Role::Input, keep[i].first);
    if (s && s->batched() && !host[i].shape.empty()) {
      ncol = host[i].shape[0];
      break;
    }
  }
  py::dict outputs;
  std::vector<std::pair<std::string, hyb::HostArray>> out_host;
  if (ncol > 0)
    for (const auto &s : e.manifest().tensors.specs(hyb::Role::Output)) {
      const std::vector<py::ssize_t> shape =
          s.batched() ? with_ncol(ncol, s.shape) : std::vector<py::ssize_t>(s.shape.begin(), s.shape.end());
      py::array out =
          new_array(hyb::is_floating(s.dtype) ? out_dtype : hyb::dtype_name(s.dtype), shape, "out_dtype");
      out_host.emplace_back(s.name, hyb::HostArray{});
      host_array_of(out, "output '" + s.name + "'", out_host.back().second);
      outputs[py::str(s.name)] = out;
    }
  for (size_t i = 0; i < keep.size(); ++i) e.bind(hyb::Role::Input, keep[i].first, host[i]);
  for (const auto &[name, a] : out_host) e.bind(hyb::Role::Output, name, a);
  {
    py::gil_scoped_release release;
    e.run();  // names any input or output left unbound
  }
  return outputs;
}

}  // namespace

PYBIND11_MODULE(hybridge_engine, m) {
  m.doc() = "The hybridge C++ engine, for tests and benchmarks (the C ABI is the public interface).";
  engine_error = PyErr_NewException("hybridge_engine.EngineError", PyExc_RuntimeError, nullptr);
  m.add_object("EngineError", py::handle(engine_error));
  // pybind11 takes exactly void(*)(std::exception_ptr).
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const hyb::Error &e) {
      py::tuple args = py::make_tuple(e.status(), hyb::status_name(e.status()), e.what());
      PyErr_SetObject(engine_error, args.ptr());
    }
  });

  py::class_<hyb::Engine>(m, "Engine")
      .def(py::init<>())
      .def("set_option", &hyb::Engine::set_option, py::arg("key"), py::arg("value"))
      .def("set_comm", &hyb::Engine::set_comm, py::arg("fortran_comm"),
           "Communicator as a Fortran handle (mpi4py: comm.py2f()).")
      .def(
          "declare",
          [](hyb::Engine &e, const std::string &role, const std::string &name, std::vector<int64_t> shape,
             const std::string &dtype, int batch_axis) {
            hyb::TensorSpec s;
            s.name = name;
            s.shape = std::move(shape);
            s.dtype = dtype_from_name(dtype, "declaration of " + role + " '" + name + "'");
            s.batch_axis = batch_axis;
            e.declare(role_from_name(role), std::move(s));
          },
          py::arg("role"), py::arg("name"), py::arg("shape"), py::arg("dtype") = "float32",
          py::arg("batch_axis") = 0)
      .def("load", &hyb::Engine::load, py::arg("path"), py::call_guard<py::gil_scoped_release>())
      .def("manifest", [](const hyb::Engine &e) { return e.manifest().text; })
      .def("device", &hyb::Engine::device)
      .def(
          "tensors",
          [](const hyb::Engine &e, const std::string &role) {
            py::list out;
            for (const auto &s : e.manifest().tensors.specs(role_from_name(role))) out.append(spec_dict(s));
            return out;
          },
          py::arg("role"))
      .def("run", &run, py::arg("inputs"), py::arg("out_dtype") = "float64",
           "inputs: {name: array [ncol, ...]} -> {output name: new array of out_dtype}")
      .def(
          "get_state",
          [](const hyb::Engine &e, const std::string &name, int64_t ncol) {
            const hyb::TensorSpec &s = e.manifest().tensors.at(hyb::Role::State, name);
            if (ncol < 0) ncol = e.state_ncol();
            if (ncol < 0)
              throw hyb::Error(HYB_ERR_ORDER, "state '" + name + "' has no columns yet; pass ncol");
            py::array out = py::array_t<double>(with_ncol(ncol, s.shape));
            hyb::HostArray a;
            host_array_of(out, "state '" + name + "'", a);
            e.get_state(name, a);
            return out;
          },
          py::arg("name"), py::arg("ncol") = -1)
      .def(
          "set_state",
          [](hyb::Engine &e, const std::string &name, const py::handle &value) {
            hyb::HostArray a;
            py::array keep = host_array_of(value, "state '" + name + "'", a);
            e.set_state(name, a);
          },
          py::arg("name"), py::arg("value"))
      .def("reset_state", &hyb::Engine::reset_state)
      .def("nonfinite_count", &hyb::Engine::nonfinite_count);
}
