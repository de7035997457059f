// Benchmark reference: C++ calling libtorch directly, no hybridge in between.
//
// Two timings per batch size, both on the same TorchScript model and inputs:
//   libtorch       : module.forward on a float32 tensor prepared before the clock starts
//                    (the floor any bridge is measured against);
//   libtorch_casts : what a real64 host needs at the least: wrap the float64 host array,
//                    cast to float32, forward, cast the result back into a float64 host
//                    array. The difference to hybridge is then the bridge's own cost.
//
// Usage: bench_libtorch MODEL INPUT PLAN THREADS OUT_CSV OUTPUT_DIR
//   INPUT  raw little-endian float64, [max ncol, ninput] row-major (bench/prepare.py)
//   PLAN   "ninput noutput" then one "ncol warmup reps" line per batch size
//   OUT_CSV  one line per timed call: path,threads,ncol,seconds
//   OUTPUT_DIR  receives the float64 outputs of each path, to check that all paths agree
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct BatchPlan {
  int64_t ncol, warmup, reps;
};

struct Plan {
  int64_t ninput = 0, noutput = 0;
  std::vector<BatchPlan> batches;
};

Plan read_plan(const std::string &path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open plan file " + path);
  Plan plan;
  if (!(in >> plan.ninput >> plan.noutput))
    throw std::runtime_error(path + ": first line must be 'ninput noutput'");
  BatchPlan b;
  while (in >> b.ncol >> b.warmup >> b.reps) plan.batches.push_back(b);
  if (plan.batches.empty()) throw std::runtime_error(path + ": no 'ncol warmup reps' lines");
  return plan;
}

std::vector<double> read_float64(const std::string &path, size_t count) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open input file " + path);
  std::vector<double> data(count);
  in.read(reinterpret_cast<char *>(data.data()), static_cast<std::streamsize>(count * sizeof(double)));
  if (in.gcount() != static_cast<std::streamsize>(count * sizeof(double)))
    throw std::runtime_error(path + ": expected " + std::to_string(count) + " float64 values");
  return data;
}

void write_float64(const std::string &path, const double *data, size_t count) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(reinterpret_cast<const char *>(data), static_cast<std::streamsize>(count * sizeof(double)));
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot rename " + tmp);
}

// OUTPUT_DIR/<path>_t<threads>_n<ncol>.f64, the name report.py compares.
std::string output_file(const std::string &dir, const char *path, int threads, int64_t ncol) {
  return dir + "/" + path + "_t" + std::to_string(threads) + "_n" + std::to_string(ncol) + ".f64";
}

struct TimedPath {
  const char *name;
  std::function<void()> call;
};

// Times the paths call by call in turn (a b, b a, a b, ...) after warm-up, so that a slow
// spell of the machine hits all alike and neither always runs first.
void time_calls(const std::vector<TimedPath> &paths, const BatchPlan &b, int threads, std::ofstream &csv) {
  using clock = std::chrono::steady_clock;
  for (int64_t i = 0; i < b.warmup; ++i)
    for (const auto &p : paths) p.call();
  std::vector<std::vector<double>> seconds(paths.size(), std::vector<double>(b.reps));
  for (int64_t i = 0; i < b.reps; ++i)
    for (size_t j = 0; j < paths.size(); ++j) {
      const size_t k = i % 2 == 0 ? j : paths.size() - 1 - j;
      const auto t0 = clock::now();
      paths[k].call();
      seconds[k][i] = std::chrono::duration<double>(clock::now() - t0).count();
    }
  for (size_t k = 0; k < paths.size(); ++k)
    for (double s : seconds[k]) csv << paths[k].name << ',' << threads << ',' << b.ncol << ',' << s << '\n';
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 7) {
    std::cerr << "usage: bench_libtorch MODEL INPUT PLAN THREADS OUT_CSV OUTPUT_DIR\n";
    return 2;
  }
  try {
    const std::string model_path = argv[1], input_path = argv[2], plan_path = argv[3];
    const int threads = std::stoi(argv[4]);
    const std::string csv_path = argv[5], output_dir = argv[6];
    const Plan plan = read_plan(plan_path);
    int64_t max_ncol = 0;
    for (const auto &b : plan.batches) max_ncol = std::max(max_ncol, b.ncol);
    const std::vector<double> x_all = read_float64(input_path, static_cast<size_t>(max_ncol * plan.ninput));

    at::set_num_threads(threads);
    torch::jit::Module module = torch::jit::load(model_path, torch::kCPU);
    module.eval();
    c10::InferenceMode inference;

    std::ofstream csv(csv_path + ".tmp");
    csv << "path,threads,ncol,seconds\n";
    csv.precision(9);
    for (const auto &b : plan.batches) {
      // Host arrays of a real64 model: x(ninput, ncol), y(noutput, ncol) in Fortran order.
      std::vector<double> x_host(x_all.begin(), x_all.begin() + b.ncol * plan.ninput);
      std::vector<double> y_host(static_cast<size_t>(b.ncol * plan.noutput));
      auto wrap = [&](std::vector<double> &v, int64_t nfeature) {
        return torch::from_blob(v.data(), {b.ncol, nfeature}, torch::kFloat64);
      };

      const std::vector<torch::jit::IValue> ready{wrap(x_host, plan.ninput).to(torch::kFloat32)};
      const at::Tensor x64 = wrap(x_host, plan.ninput), y64 = wrap(y_host, plan.noutput);
      at::Tensor y_ready;
      time_calls(
          {{"libtorch", [&] { y_ready = module.forward(ready).toTensor(); }},
           {"libtorch_casts", [&] { y64.copy_(module.forward({x64.to(torch::kFloat32)}).toTensor()); }}},
          b, threads, csv);

      const at::Tensor y_ready64 = y_ready.to(torch::kFloat64).contiguous();
      write_float64(output_file(output_dir, "libtorch", threads, b.ncol), y_ready64.data_ptr<double>(),
                    y_host.size());
      write_float64(output_file(output_dir, "libtorch_casts", threads, b.ncol), y_host.data(), y_host.size());
    }
    csv.close();
    if (!csv || std::rename((csv_path + ".tmp").c_str(), csv_path.c_str()) != 0)
      throw std::runtime_error("cannot write " + csv_path);
  } catch (const std::exception &e) {
    std::cerr << "bench_libtorch: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
