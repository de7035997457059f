// SHA-256, streaming, from OpenSSL's libcrypto (EVP). Used for the manifest checksum of a
// model file's contents.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

struct evp_md_ctx_st;

namespace hyb {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256 &) = delete;
  Sha256 &operator=(const Sha256 &) = delete;
  void update(const void *data, size_t len);
  void update(const std::string &s) { update(s.data(), s.size()); }
  // Lower-case hex digest; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  evp_md_ctx_st *ctx_;
};

}  // namespace hyb
