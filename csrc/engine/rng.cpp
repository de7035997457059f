#include "rng.hpp"

#include <ATen/Context.h>

namespace hyb {
namespace {

std::mutex &seeded_forward_mutex() {
  static std::mutex m;
  return m;
}

// splitmix64 (Steele, Lea and Flood 2014): distinct inputs give well-spread seeds.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27U)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31U);
}

}  // namespace

uint64_t draw_seed(uint64_t seed, int64_t step, int64_t chunk_index) {
  return mix(mix(mix(seed) ^ static_cast<uint64_t>(step)) ^ static_cast<uint64_t>(chunk_index));
}

SeededDraws::SeededDraws(const torch::Device &device, uint64_t seed, int64_t step, int64_t chunk_index)
    : lock_(seeded_forward_mutex()),
      generator_(device.is_cuda() ? at::globalContext().defaultGenerator(device)
                                  : at::globalContext().defaultGenerator(torch::kCPU)) {
  const std::scoped_lock generator_lock(generator_.mutex());
  saved_state_ = generator_.get_state();
  generator_.set_current_seed(draw_seed(seed, step, chunk_index));
}

SeededDraws::~SeededDraws() {
  const std::scoped_lock generator_lock(generator_.mutex());
  generator_.set_state(saved_state_);
}

}  // namespace hyb
