// Raw libtorch inside the Fortran benchmark program: the same model called straight on a
// float32 tensor, so that bench_fortran can alternate its calls with hybridge's, call by
// call, in one process. A slow spell of a shared machine then hits both alike and the
// bridge's cost per call is measured from pairs of neighbouring calls.
//
// One model per process (a benchmark helper, not an API); every function returns 0 on
// success, or prints the reason to stderr and returns 1.
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {
std::optional<torch::jit::Module> model;
std::vector<torch::jit::IValue> ready_input;  // float32 [ncol, ninput]
at::Tensor last_output;

template <typename F>
int guarded(const char *what, F &&f) {
  try {
    f();
    return 0;
  } catch (const std::exception &e) {
    std::cerr << "libtorch_reference: " << what << ": " << e.what() << '\n';
    return 1;
  }
}
}  // namespace

extern "C" {

int bench_reference_load(const char *path, int threads) {
  return guarded("load", [&] {
    at::set_num_threads(threads);
    model = torch::jit::load(path, torch::kCPU);
    model->eval();
  });
}

// x: host float64 [ncol, ninput] (Fortran x(ninput, ncol)); cast once, before timing.
int bench_reference_prepare(const double *x, int64_t ncol, int64_t ninput) {
  return guarded("prepare", [&] {
    c10::InferenceMode guard;
    at::Tensor host = torch::from_blob(const_cast<double *>(x), {ncol, ninput}, torch::kFloat64);
    ready_input = {host.to(torch::kFloat32)};
  });
}

int bench_reference_forward() {
  return guarded("forward", [&] {
    c10::InferenceMode guard;
    last_output = model->forward(ready_input).toTensor();
  });
}

// The last output as float64 [ncol, noutput] (Fortran y(noutput, ncol)), n values.
int bench_reference_output(double *y, int64_t n) {
  return guarded("output", [&] {
    const at::Tensor y64 = last_output.to(torch::kFloat64).contiguous();
    if (y64.numel() != n)
      throw std::runtime_error("output has " + std::to_string(y64.numel()) + " values, caller expects " +
                               std::to_string(n));
    std::memcpy(y, y64.data_ptr<double>(), static_cast<size_t>(n) * sizeof(double));
  });
}

}  // extern "C"
