#include "cppcker/storage/ingest.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "cppcker/storage/unpack.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

namespace {
constexpr std::size_t kQueueBytes = 16u << 20;

std::string short_id(const std::string& digest) { return digest.substr(7, 12); }
}  // namespace

bool ChunkQueue::push(std::string chunk) {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return abandoned_ || bytes_ < max_bytes_; });
  if (abandoned_) return false;
  bytes_ += chunk.size();
  chunks_.push_back(std::move(chunk));
  cv_.notify_all();
  return true;
}

std::string ChunkQueue::pop() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return closed_ || !chunks_.empty(); });
  if (chunks_.empty()) return {};
  std::string chunk = std::move(chunks_.front());
  chunks_.pop_front();
  bytes_ -= chunk.size();
  cv_.notify_all();
  return chunk;
}

void ChunkQueue::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  cv_.notify_all();
}

void ChunkQueue::abandon() {
  std::lock_guard lock(mutex_);
  abandoned_ = true;
  chunks_.clear();
  bytes_ = 0;
  cv_.notify_all();
}

namespace {
// Feeds the unpacker from the queue and hashes every byte it hands out (the diffID).
class QueueSource : public ByteSource {
 public:
  QueueSource(ChunkQueue& q, Sha256& hash) : queue_(q), hash_(hash) {}
  std::string_view next() override {
    current_ = queue_.pop();
    hash_.update(current_);
    return current_;
  }

 private:
  ChunkQueue& queue_;
  Sha256& hash_;
  std::string current_;
};
}  // namespace

LayerIngest::LayerIngest(const ImageStore& store, Target target) : store_(store), target_(std::move(target)) {
  if (target_.keep_blob) {
    blob_temp_ = store_.blob_temp_path(target_.blob.digest);
    blob_fd_.reset(::open(blob_temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!blob_fd_) throw_errno("create " + blob_temp_.string());
  }
  decompressor_ = std::make_unique<Decompressor>([this](std::string_view d) { on_uncompressed(d); });
  if (target_.extract) {
    layer_temp_ = store_.new_layer_temp(target_.chain_id);
    queue_ = std::make_unique<ChunkQueue>(kQueueBytes);
    unpacker_ = std::thread([this] { unpack_thread(); });
  }
}

LayerIngest::~LayerIngest() {
  if (queue_) {
    queue_->close();
    if (unpacker_.joinable()) unpacker_.join();
  }
  if (!finished_) cleanup();
}

void LayerIngest::cleanup() {
  try {
    blob_fd_.reset();
    if (!blob_temp_.empty()) ::unlink(blob_temp_.c_str());
    if (!layer_temp_.empty()) remove_tree(layer_temp_);
  } catch (...) {
    // Leftovers carry the temporary marker; GC removes them.
  }
}

void LayerIngest::unpack_thread() {
  QueueSource source(*queue_, tar_hash_);
  try {
    unpacked_bytes_ = unpack_layer(source, layer_temp_ / "diff").bytes;
  } catch (...) {
    unpack_error_ = std::current_exception();
    queue_->abandon();
  }
}

void LayerIngest::on_uncompressed(std::string_view data) {
  if (queue_) {
    queue_->push(std::string(data));  // the unpacker hashes it
  } else {
    tar_hash_.update(data);
  }
}

void LayerIngest::write(std::string_view data) {
  received_ += data.size();
  blob_hash_.update(data);
  if (blob_fd_) {
    std::string_view rest = data;
    while (!rest.empty()) {
      ssize_t n = ::write(blob_fd_.get(), rest.data(), rest.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("write " + blob_temp_.string());
      }
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // After a decompression error keep hashing: the digest check then tells corrupt from malformed.
  if (decompress_error_) return;
  try {
    decompressor_->feed(data);
  } catch (...) {
    decompress_error_ = std::current_exception();
    if (queue_) queue_->abandon();
  }
}

LayerRecord LayerIngest::finish() {
  const std::string& digest = target_.blob.digest;
  const std::string layer = "layer " + short_id(digest);
  if (!decompress_error_) {
    try {
      decompressor_->finish();
    } catch (...) {
      decompress_error_ = std::current_exception();
    }
  }
  if (queue_) {
    queue_->close();
    unpacker_.join();
  }
  if (target_.blob.size > 0 && received_ != static_cast<std::uint64_t>(target_.blob.size))
    throw Error(layer + ": size mismatch: expected " + std::to_string(target_.blob.size) + " bytes, got " +
                std::to_string(received_));
  std::string actual = blob_hash_.digest();
  if (actual != digest)
    throw Error(layer + ": filesystem layer verification failed: expected digest " + digest + ", got " + actual);
  for (auto* err : {&decompress_error_, &unpack_error_}) {
    if (!*err) continue;
    try {
      std::rethrow_exception(*err);
    } catch (const std::exception& e) {
      throw Error(layer + ": " + e.what());
    }
  }
  std::string diff_id = tar_hash_.digest();
  if (diff_id != target_.diff_id)
    throw Error(layer + ": layer content does not match the image config: diffID is " + diff_id + ", expected " +
                target_.diff_id);

  LayerRecord record{target_.chain_id, target_.diff_id, digest, target_.blob.media_type, target_.blob.size,
                     unpacked_bytes_};
  if (blob_fd_) {
    blob_fd_.reset();
    store_.commit_blob(blob_temp_, digest);
  }
  if (target_.extract) {
    store_.commit_layer(layer_temp_, target_.chain_id,
                        {{"chain_id", target_.chain_id}, {"diff_id", target_.diff_id}, {"size", unpacked_bytes_}});
  } else if (auto meta = store_.layer_meta(target_.chain_id)) {
    record.unpacked_size = meta->value("size", std::uint64_t{0});
  }
  finished_ = true;
  return record;
}

}  // namespace cppcker
