#include "host_array.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <sstream>

#include "error.hpp"

namespace hyb {
namespace {

std::string expected_text(const TensorSpec &s) {
  std::string t = s.batched() ? "[ncol" : "[";
  for (size_t i = 0; i < s.shape.size(); ++i)
    t += (s.batched() || i > 0 ? ", " : "") + std::to_string(s.shape[i]);
  return t + (s.batched() ? "] with ncol >= 1 (column axis first)" : "] (no column axis: batch_axis -1)");
}

template <typename T>
void scan(const T *p, int64_t n, double limit, NonfiniteScan &out) {
  // A first pass with no branch and no early exit vectorizes; the counting pass below runs
  // only for an array that has a bad value.
  // In T: for a float array any limit >= FLT_MAX means "finite", and FLT_MAX is a float.
  const T limit_t = static_cast<T>(std::min(limit, static_cast<double>(std::numeric_limits<T>::max())));
  unsigned any_bad = 0;
  for (int64_t k = 0; k < n; ++k) any_bad |= static_cast<unsigned>(!(std::fabs(p[k]) <= limit_t));
  if (any_bad == 0) return;
  for (int64_t k = 0; k < n; ++k) {
    // !(|x| <= limit) is true for NaN, +-Inf and finite values beyond the model's range.
    if (!(std::fabs(static_cast<double>(p[k])) <= limit) && out.count++ == 0) {
      out.first = k;
      out.first_value = static_cast<double>(p[k]);
    }
  }
}

}  // namespace

torch::ScalarType scalar_type(Dtype d) {
  switch (d) {
    case Dtype::Float32: return torch::kFloat;
    case Dtype::Float64: return torch::kDouble;
    case Dtype::Int32: return torch::kInt;
    case Dtype::Int64: return torch::kLong;
  }
  return torch::kFloat;
}

std::string describe(Role role, const std::string &name) {
  return std::string(role_name(role)) + " '" + name + "'";
}

void check_host_array(const TensorSpec &spec, Role role, const HostArray &a) {
  // Every bind checks: the tensor's name goes into a message only when there is one.
  const auto name = [&] { return describe(role, spec.name); };
  if (a.data == nullptr) throw Error(HYB_ERR_ARGUMENT, name() + ": the data pointer is NULL");
  const size_t column_axis = spec.batched() ? 1 : 0;
  bool ok = a.shape.size() == spec.shape.size() + column_axis && (column_axis == 0 || a.shape[0] >= 1);
  for (size_t i = 0; ok && i < spec.shape.size(); ++i) ok = a.shape[i + column_axis] == spec.shape[i];
  if (!ok)
    throw Error(HYB_ERR_SHAPE, name() + ": host array has shape " + shape_str(a.shape) + ", expected " +
                                   expected_text(spec));
  int64_t bytes = element_size(a.dtype);
  for (int64_t d : a.shape)
    if (__builtin_mul_overflow(bytes, d, &bytes))
      throw Error(HYB_ERR_SHAPE, name() + ": host array of shape " + shape_str(a.shape) +
                                     " is larger than any memory (over 2^63 bytes)");
  if (is_floating(a.dtype) != is_floating(spec.dtype))
    throw Error(HYB_ERR_DTYPE, name() + ": the host array is " + dtype_name(a.dtype) +
                                   " but the model's tensor is " + dtype_name(spec.dtype) +
                                   "; floats cast only to floats, integers to integers");
}

torch::Tensor host_view(const HostArray &a, const TensorSpec &spec, int64_t first, int64_t n,
                        const torch::Device &device) {
  const auto options = torch::TensorOptions()
                           .dtype(scalar_type(a.dtype))
                           .device(a.on_device ? device : torch::Device(torch::kCPU));
  if (!spec.batched()) return torch::from_blob(a.data, a.shape, options);
  int64_t per_column = 1;
  for (size_t i = 1; i < a.shape.size(); ++i) per_column *= a.shape[i];
  std::vector<int64_t> shape = a.shape;
  shape[0] = n;
  return torch::from_blob(static_cast<char *>(a.data) + (first * per_column * element_size(a.dtype)), shape,
                          options);
}

torch::Tensor whole(const HostArray &a, const torch::Device &device) {
  return torch::from_blob(a.data, a.shape,
                          torch::TensorOptions()
                              .dtype(scalar_type(a.dtype))
                              .device(a.on_device ? device : torch::Device(torch::kCPU)));
}

const torch::Tensor &whole_reused(torch::Tensor &view, const HostArray &a, const torch::Device &device) {
  const bool same = view.defined() && view.data_ptr() == a.data &&
                    view.scalar_type() == scalar_type(a.dtype) && view.sizes() == c10::IntArrayRef(a.shape) &&
                    view.device() == (a.on_device ? device : torch::Device(torch::kCPU));
  if (!same) view = whole(a, device);
  return view;
}

NonfiniteScan scan_nonfinite(const HostArray &a, Dtype model_dtype, const torch::Device &device) {
  NonfiniteScan out;
  if (!is_floating(a.dtype)) return out;
  // A float64 value beyond float32's range becomes Inf in the cast to a float32 model.
  const double limit = model_dtype == Dtype::Float32 ? static_cast<double>(FLT_MAX) : DBL_MAX;
  if (a.on_device) {  // counted where the data are; only the verdict comes back
    const torch::Tensor bad = whole(a, device).to(torch::kDouble).abs().le(limit).logical_not().flatten();
    out.count = bad.sum().item<int64_t>();
    if (out.count > 0) {
      out.first = bad.nonzero()[0][0].item<int64_t>();
      out.first_value = whole(a, device).flatten()[out.first].item<double>();
    }
    return out;
  }
  int64_t n = 1;
  for (int64_t d : a.shape) n *= d;
  if (a.dtype == Dtype::Float64)
    scan(static_cast<const double *>(a.data), n, limit, out);
  else
    scan(static_cast<const float *>(a.data), n, limit, out);
  return out;
}

std::string describe_nonfinite(const TensorSpec &s, const NonfiniteScan &scan, Dtype host_dtype) {
  const int64_t per_column = s.per_column_numel();
  const int64_t flat = s.batched() ? scan.first % per_column : scan.first;
  std::ostringstream out;
  const double v = scan.first_value;
  if (std::isnan(v))
    out << "NaN";
  else if (std::isinf(v))
    out << (v > 0 ? "+Inf" : "-Inf");
  else
    out << v << " (beyond float32's range: Inf in the model, which is float32 while the host is "
        << dtype_name(host_dtype) << ")";
  if (s.batched()) out << " at column " << scan.first / per_column << ",";
  if (s.shape.size() <= 1) {
    out << " feature " << flat;
  } else {
    std::vector<int64_t> index(s.shape.size());
    int64_t rest = flat;
    for (size_t i = s.shape.size(); i-- > 0;) {
      index[i] = rest % s.shape[i];
      rest /= s.shape[i];
    }
    out << " feature " << shape_str(index);
  }
  const int64_t last = s.shape.empty() ? 0 : flat % s.shape.back();
  for (const auto &var : s.layout)
    if (last >= var.offset && last < var.offset + var.size)
      out << " (" << var.name << " index " << last - var.offset << ")";
  out << " (0-based; " << scan.count << " such value(s))";
  return out.str();
}

}  // namespace hyb
