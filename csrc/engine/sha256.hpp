// SHA-256 (FIPS 180-4), streaming. Used for the manifest checksum of a model's weights,
// so the engine needs no crypto library.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace hyb {

class Sha256 {
 public:
  Sha256();
  void update(const void *data, size_t len);
  void update(const std::string &s) { update(s.data(), s.size()); }
  // Lower-case hex digest; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  void compress(const uint8_t *block);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_len_ = 0;
};

}  // namespace hyb
