#include "guard.hpp"

#include "error.hpp"
#include "host_array.hpp"

namespace hyb {

std::vector<Guard::Bounds> Guard::bounds_of(const std::vector<TensorSpec> &specs, Role role, double margin) {
  std::vector<Bounds> out;
  int64_t offset = 0;
  for (const auto &s : specs) {
    Bounds b;
    b.offset = offset;
    b.batched = s.batched();
    b.model_type = scalar_type(s.dtype);
    offset += s.per_column_numel();
    if (is_floating(s.dtype)) {
      if (s.train_min.empty())
        throw Error(HYB_ERR_MANIFEST, "the guard needs the training range of every input and output, and " +
                                          describe(role, s.name) +
                                          " has none in the manifest (export the model with hybridge 0.2 or "
                                          "later, which records them; or set guard=off)");
      const auto opts = torch::TensorOptions().dtype(torch::kDouble);
      const torch::Tensor lo = torch::tensor(s.train_min, opts).reshape(s.shape);
      const torch::Tensor hi = torch::tensor(s.train_max, opts).reshape(s.shape);
      const torch::Tensor widen = margin * (hi - lo);
      b.lo = lo - widen;
      b.hi = hi + widen;
    }
    out.push_back(b);
  }
  return out;
}

Guard::Guard(const Manifest &manifest, const Options &options)
    : clip_(options.guard == "clip"),
      inputs_(bounds_of(manifest.tensors.specs(Role::Input), Role::Input, options.guard_margin)),
      outputs_(bounds_of(manifest.tensors.specs(Role::Output), Role::Output, options.guard_margin)) {}

torch::Tensor Guard::clip_input(size_t index, const torch::Tensor &host) const {
  const Bounds &b = inputs_[index];
  if (!b.lo.defined()) return host;
  return torch::clamp(host, b.lo.to(host.scalar_type()), b.hi.to(host.scalar_type()));
}

void Guard::first_out_of_bounds(const std::vector<Bounds> &bounds, const std::vector<torch::Tensor> &arrays,
                                int64_t ncol, std::vector<int64_t> &first) {
  first.assign(ncol, -1);
  torch::Tensor found = torch::full({ncol}, -1, torch::kLong);
  for (size_t i = 0; i < bounds.size(); ++i) {
    const Bounds &b = bounds[i];
    if (!b.lo.defined()) continue;
    const torch::Tensor x = arrays[i].to(torch::kCPU).to(b.model_type).to(torch::kDouble);
    // !(lo <= x <= hi): NaN counts as out of bounds too.
    torch::Tensor bad = ((x >= b.lo) & (x <= b.hi)).logical_not();
    bad = b.batched ? bad.reshape({ncol, -1}) : bad.reshape({1, -1}).expand({ncol, -1});
    const torch::Tensor any = bad.any(1);
    const torch::Tensor index = bad.to(torch::kByte).argmax(1) + b.offset;
    found = torch::where(found.lt(0) & any, index, found);
  }
  const auto *p = found.data_ptr<int64_t>();
  first.assign(p, p + ncol);
}

void Guard::check_and_clip_outputs(const std::vector<torch::Tensor> &inputs,
                                   const std::vector<torch::Tensor> &outputs, int64_t ncol) {
  first_out_of_bounds(inputs_, inputs, ncol, first_input_);
  first_out_of_bounds(outputs_, outputs, ncol, first_output_);
  if (!clip_) return;
  for (size_t i = 0; i < outputs_.size(); ++i) {
    const Bounds &b = outputs_[i];
    if (!b.lo.defined()) continue;
    const torch::Tensor &y = outputs[i];
    y.copy_(torch::clamp(y, b.lo.to(y.device(), y.scalar_type()), b.hi.to(y.device(), y.scalar_type())));
  }
}

}  // namespace hyb
