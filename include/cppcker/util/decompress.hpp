#pragma once
// Streaming decompression with the format chosen from the first bytes (gzip, zstd or none).
#include <functional>
#include <memory>
#include <string_view>

#include "cppcker/image/manifest.hpp"

namespace cppcker {

class Decompressor {
 public:
  using Sink = std::function<void(std::string_view)>;
  explicit Decompressor(Sink sink);
  ~Decompressor();

  void feed(std::string_view data);
  // End of input: throws Error if the compressed stream was cut short.
  void finish();
  Compression compression() const { return compression_; }

 private:
  struct Impl;
  void start(std::string_view head);
  Sink sink_;
  Compression compression_ = Compression::none;
  bool started_ = false;
  std::string pending_;  // the first bytes, until there are enough to tell the format
  std::unique_ptr<Impl> impl_;
};

}  // namespace cppcker
