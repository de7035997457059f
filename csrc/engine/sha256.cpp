#include "sha256.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdio>

#include "error.hpp"

namespace hyb {
namespace {

void require(int ok, const char *what) {
  if (ok != 1) throw Error(HYB_ERR_INTERNAL, std::string("libcrypto SHA-256: ") + what + " failed");
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) throw Error(HYB_ERR_INTERNAL, "libcrypto SHA-256: out of memory");
  require(EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr), "init");
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(const void *data, size_t len) { require(EVP_DigestUpdate(ctx_, data, len), "update"); }

std::string Sha256::hex_digest() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int n = 0;
  require(EVP_DigestFinal_ex(ctx_, digest.data(), &n), "final");
  std::string hex;
  hex.reserve(2 * static_cast<size_t>(n));
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < n; ++i) {
    hex += kHex[digest[i] >> 4U];
    hex += kHex[digest[i] & 0xFU];
  }
  return hex;
}

}  // namespace hyb
