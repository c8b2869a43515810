#include "cppcker/util/decompress.hpp"

#include <zlib.h>
#include <zstd.h>

#include <vector>

#include "cppcker/util/error.hpp"

namespace cppcker {

namespace {
constexpr std::size_t kOutChunk = 256 * 1024;
}

struct Decompressor::Impl {
  z_stream z{};
  bool z_init = false;
  bool z_member_done = false;  // a gzip member ended; another may follow
  ZSTD_DStream* zstd = nullptr;
  std::size_t zstd_last = 0;  // last return of ZSTD_decompressStream: 0 when a frame is complete
  std::vector<char> out = std::vector<char>(kOutChunk);

  ~Impl() {
    if (z_init) inflateEnd(&z);
    if (zstd) ZSTD_freeDStream(zstd);
  }
};

Decompressor::Decompressor(Sink sink) : sink_(std::move(sink)), impl_(std::make_unique<Impl>()) {}
Decompressor::~Decompressor() = default;

void Decompressor::start(std::string_view head) {
  compression_ = detect_compression(head);
  started_ = true;
  if (compression_ == Compression::gzip) {
    if (inflateInit2(&impl_->z, 16 + MAX_WBITS) != Z_OK) throw Error("gzip: cannot initialise zlib");
    impl_->z_init = true;
  } else if (compression_ == Compression::zstd) {
    impl_->zstd = ZSTD_createDStream();
    if (!impl_->zstd || ZSTD_isError(ZSTD_initDStream(impl_->zstd))) throw Error("zstd: cannot initialise decoder");
  }
}

void Decompressor::feed(std::string_view data) {
  if (!started_) {
    pending_.append(data);
    if (pending_.size() < 4) return;
    start(pending_);
    std::string head = std::move(pending_);
    pending_.clear();
    feed(head);
    return;
  }
  Impl& s = *impl_;
  switch (compression_) {
    case Compression::none:
      if (!data.empty()) sink_(data);
      return;
    case Compression::gzip: {
      s.z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
      s.z.avail_in = static_cast<uInt>(data.size());
      while (s.z.avail_in > 0) {
        if (s.z_member_done) {  // concatenated gzip members form one stream (RFC 1952)
          inflateReset(&s.z);
          s.z_member_done = false;
        }
        s.z.next_out = reinterpret_cast<Bytef*>(s.out.data());
        s.z.avail_out = static_cast<uInt>(s.out.size());
        int r = inflate(&s.z, Z_NO_FLUSH);
        std::size_t produced = s.out.size() - s.z.avail_out;
        if (produced) sink_(std::string_view(s.out.data(), produced));
        if (r == Z_STREAM_END) {
          s.z_member_done = true;
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
          throw Error(std::string("gzip: corrupt data: ") + (s.z.msg ? s.z.msg : "inflate failed"));
        } else if (r == Z_BUF_ERROR && produced == 0) {
          break;
        }
      }
      return;
    }
    case Compression::zstd: {
      ZSTD_inBuffer in{data.data(), data.size(), 0};
      bool output_full = false;
      // Loop until the input is consumed and the decoder no longer fills the whole output buffer.
      while (in.pos < in.size || output_full) {
        ZSTD_outBuffer out{s.out.data(), s.out.size(), 0};
        std::size_t consumed_before = in.pos;
        std::size_t r = ZSTD_decompressStream(s.zstd, &out, &in);
        if (ZSTD_isError(r)) throw Error(std::string("zstd: corrupt data: ") + ZSTD_getErrorName(r));
        // A call that neither read nor wrote returns the next frame's header hint, not our state.
        if (in.pos != consumed_before || out.pos > 0) s.zstd_last = r;
        if (out.pos) sink_(std::string_view(s.out.data(), out.pos));
        output_full = out.pos == out.size;
      }
      return;
    }
  }
}

void Decompressor::finish() {
  if (!started_) {
    std::string head = std::move(pending_);
    pending_.clear();
    if (head.empty()) return;
    start(head);
    feed(head);
  }
  if (compression_ == Compression::gzip && !impl_->z_member_done) throw Error("gzip: unexpected end of compressed data");
  if (compression_ == Compression::zstd && impl_->zstd_last != 0) throw Error("zstd: unexpected end of compressed data");
}

}  // namespace cppcker
