#pragma once
// Streaming sha256 through OpenSSL's EVP interface.
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace cppcker {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // Lowercase hex of the digest; the hasher cannot be updated afterwards.
  std::string hex();
  // "sha256:<hex>"
  std::string digest() { return "sha256:" + hex(); }

 private:
  struct Deleter {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, Deleter> ctx_;
};

std::string sha256_digest(std::string_view data);  // "sha256:<hex>"

// Validates "sha256:<64 lowercase hex>" and returns the hex part; throws Error otherwise.
std::string digest_hex(std::string_view digest);
bool is_valid_digest(std::string_view digest);

}  // namespace cppcker
