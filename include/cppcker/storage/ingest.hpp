#pragma once
// Takes one layer blob as its bytes arrive (from a registry or a file) and, in one pass: hashes it,
// stores it as a blob, decompresses it (gzip/zstd/none by magic bytes), hashes the tar (diffID) and
// extracts it on a second thread. Nothing becomes visible in the store until finish() has checked size,
// digest and diffID; a failure or an early destruction leaves only temporaries for GC.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "cppcker/image/manifest.hpp"
#include "cppcker/storage/store.hpp"
#include "cppcker/util/decompress.hpp"
#include "cppcker/util/fd.hpp"
#include "cppcker/util/sha256.hpp"

namespace cppcker {

// A bounded single-producer single-consumer queue of byte chunks.
class ChunkQueue {
 public:
  explicit ChunkQueue(std::size_t max_bytes) : max_bytes_(max_bytes) {}
  // Returns false when the consumer has given up (the chunk is dropped).
  bool push(std::string chunk);
  // Empty string at end of stream.
  std::string pop();
  void close();    // producer: no more data
  void abandon();  // consumer: stop accepting data
 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> chunks_;
  std::size_t bytes_ = 0;
  std::size_t max_bytes_;
  bool closed_ = false;
  bool abandoned_ = false;
};

class LayerIngest {
 public:
  struct Target {
    Descriptor blob;
    std::string diff_id;
    std::string chain_id;
    bool extract = true;     // false when the layer is extracted already and only the blob is missing
    bool keep_blob = true;   // store the blob for `save`
  };
  LayerIngest(const ImageStore& store, Target target);
  ~LayerIngest();
  LayerIngest(const LayerIngest&) = delete;
  LayerIngest& operator=(const LayerIngest&) = delete;

  void write(std::string_view data);
  std::uint64_t received() const { return received_; }
  // Verifies and commits; returns the record of the stored layer. Throws Error with the layer's digest.
  LayerRecord finish();

 private:
  void on_uncompressed(std::string_view data);
  void unpack_thread();
  void cleanup();

  const ImageStore& store_;
  Target target_;
  Sha256 blob_hash_;
  Sha256 tar_hash_;
  std::uint64_t received_ = 0;
  UniqueFd blob_fd_;
  std::filesystem::path blob_temp_;
  std::filesystem::path layer_temp_;
  std::unique_ptr<Decompressor> decompressor_;
  std::exception_ptr decompress_error_;
  std::unique_ptr<ChunkQueue> queue_;
  std::thread unpacker_;
  std::exception_ptr unpack_error_;
  std::uint64_t unpacked_bytes_ = 0;
  bool finished_ = false;
};

}  // namespace cppcker
