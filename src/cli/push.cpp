// cppcker push: upload an image to a registry.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include "cppcker/cli/commands.hpp"
#include "cppcker/image/push.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker::cli {

namespace {

// Docker's push progress: on a terminal one line per layer redrawn in place; otherwise a line per state change.
class PushPrinter : public PushObserver {
 public:
  PushPrinter(bool tty, bool quiet) : tty_(tty), quiet_(quiet) {}

  void layer(const std::string& id_digest, PushState state, std::uint64_t current, std::uint64_t total,
             const std::string& detail) override {
    if (quiet_) return;
    std::lock_guard lock(mutex_);
    auto id = short_id(id_digest);
    auto [it, inserted] = layers_.try_emplace(id);
    Layer& l = it->second;
    if (inserted) order_.push_back(id);
    bool changed = l.state != state || inserted;
    l.state = state;
    l.current = current;
    l.total = total;
    l.detail = detail;
    auto now = std::chrono::steady_clock::now();
    if (!tty_) {
      if (changed) std::printf("%s: %s\n", id.c_str(), status(l).c_str());
      std::fflush(stdout);
      return;
    }
    if (!changed && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    draw();
  }

  void tag_pushed(const Pushed& pushed) override {
    std::lock_guard lock(mutex_);
    if (tty_ && !quiet_) draw();
    // A new set of layer lines for the next tag (-a), as Docker prints them.
    layers_.clear();
    order_.clear();
    drawn_lines_ = 0;
    if (!quiet_) std::printf("%s: digest: %s size: %zu\n", pushed.tag.c_str(), pushed.digest.c_str(), pushed.size);
    std::fflush(stdout);
  }

 private:
  struct Layer {
    PushState state = PushState::preparing;
    std::uint64_t current = 0, total = 0;
    std::string detail;
  };

  void draw() {
    if (drawn_lines_ > 0) std::printf("\033[%zuA", drawn_lines_);
    for (const auto& id : order_) std::printf("\033[2K%s: %s\n", id.c_str(), status(layers_[id]).c_str());
    drawn_lines_ = order_.size();
    std::fflush(stdout);
  }

  std::string status(const Layer& l) const {
    switch (l.state) {
      case PushState::preparing: return "Preparing";
      case PushState::waiting: return "Waiting";
      case PushState::pushing: {
        if (!tty_) return "Pushing";
        // Docker's bar: 50 columns of '=' up to a '>'.
        constexpr int width = 50;
        int filled = l.total > 0 ? static_cast<int>(static_cast<double>(l.current) / static_cast<double>(l.total) * width) : 0;
        filled = std::clamp(filled, 0, width);
        std::string bar = "[" + std::string(static_cast<std::size_t>(filled), '=');
        if (filled < width) bar += ">" + std::string(static_cast<std::size_t>(width - filled - 1), ' ');
        bar += "]";
        return "Pushing " + bar + "  " + human_size(static_cast<double>(l.current)) + "/" +
               human_size(static_cast<double>(l.total));
      }
      case PushState::pushed: return "Pushed";
      case PushState::already_exists: return "Layer already exists";
      case PushState::mounted: return "Mounted from " + l.detail;
    }
    return "";
  }

  bool tty_;
  bool quiet_;
  std::mutex mutex_;
  std::map<std::string, Layer> layers_;
  std::vector<std::string> order_;
  std::size_t drawn_lines_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace

void register_push(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("push", "Upload an image to a registry");
  auto name = std::make_shared<std::string>();
  auto all_tags = std::make_shared<bool>(false);
  auto quiet = std::make_shared<bool>(false);
  auto format = std::make_shared<std::string>();
  auto compression = std::make_shared<std::string>();
  cmd->add_option("NAME[:TAG]", *name, "Image to push")->required();
  cmd->add_flag("-a,--all-tags", *all_tags, "Push all tags of an image to the repository");
  cmd->add_option("--format", *format, "Manifest type to push: oci or v2s2 (default: the image's own)");
  cmd->add_option("--compression-format,--compression", *compression,
                  "Compression for layers stored uncompressed: gzip or zstd (zstd needs OCI) (default gzip)");
  cmd->add_flag("-q,--quiet", *quiet, "Suppress verbose output");
  set_action(cmd, [&global, name, all_tags, quiet, format, compression] {
    Reference given = Reference::parse_name_only(*name);
    if (*all_tags && !given.tag.empty()) throw Error("tag can't be used with --all-tags/-a");
    if (!given.digest.empty()) throw Error("cannot push a digest reference");
    PushOptions options;
    options.all_tags = *all_tags;
    if (!format->empty()) options.format = parse_manifest_format(*format);
    if (!compression->empty()) options.compression = parse_push_compression(*compression);
    // For tests and tuning: the size above which blobs go up in PATCH chunks (and the chunk size).
    if (const char* chunk = std::getenv("CPPCKER_PUSH_CHUNK_SIZE"); chunk && *chunk) {
      try {
        options.upload.chunk_size = std::max<std::size_t>(1, std::stoull(chunk));
      } catch (const std::exception&) {
        throw Error("CPPCKER_PUSH_CHUNK_SIZE must be a number of bytes");
      }
    }
    Reference ref = Reference::parse(*name);
    ImageStore store = global.store();
    RegistryConfig config = global.registry_config();
    if (!*quiet) {
      if (!*all_tags && given.tag.empty()) std::printf("Using default tag: latest\n");
      std::printf("The push refers to repository [%s]\n", ref.name().c_str());
      std::fflush(stdout);
    }
    PushPrinter printer(::isatty(STDOUT_FILENO) == 1, *quiet);
    auto pushed = push_image(store, config, ref, options, printer);
    if (*quiet)
      for (const auto& p : pushed) {
        Reference r = ref;
        r.tag = p.tag;
        std::printf("%s\n", r.familiar_string().c_str());
      }
    return 0;
  });
}

}  // namespace cppcker::cli
