#include "cast.hpp"

#include <cstdint>
#include <cstring>

namespace hyb {
namespace {

template <typename From, typename To>
void convert(const From *__restrict src, To *__restrict dst, int64_t n) {
  for (int64_t k = 0; k < n; ++k) dst[k] = static_cast<To>(src[k]);
}

bool plain_float(const torch::Tensor &t) {
  return t.is_cpu() && t.is_contiguous() &&
         (t.scalar_type() == torch::kFloat || t.scalar_type() == torch::kDouble);
}

}  // namespace

bool copy_floats(const torch::Tensor &src, const torch::Tensor &dst) {
  if (!plain_float(src) || !plain_float(dst) || src.numel() != dst.numel()) return false;
  const int64_t n = src.numel();
  const bool src_double = src.scalar_type() == torch::kDouble;
  const bool dst_double = dst.scalar_type() == torch::kDouble;
  if (src_double == dst_double) {
    if (src.data_ptr() != dst.data_ptr())
      std::memmove(dst.data_ptr(), src.data_ptr(), static_cast<size_t>(n) * src.element_size());
  } else if (src_double) {
    convert(src.data_ptr<double>(), dst.data_ptr<float>(), n);
  } else {
    convert(src.data_ptr<float>(), dst.data_ptr<double>(), n);
  }
  return true;
}

}  // namespace hyb
