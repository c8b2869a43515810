// cppcker pull: fetch an image from a registry.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>

#include "cppcker/cli/commands.hpp"
#include "cppcker/image/pull.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker::cli {

namespace {

// Docker's pull progress: on a terminal one line per layer redrawn in place; otherwise a line per state change.
class ProgressPrinter : public PullObserver {
 public:
  explicit ProgressPrinter(bool tty, bool quiet) : tty_(tty), quiet_(quiet) {}

  void layer(const std::string& digest, LayerState state, std::uint64_t current, std::uint64_t total) override {
    if (quiet_) return;
    std::lock_guard lock(mutex_);
    auto id = short_id(digest);
    auto [it, inserted] = layers_.try_emplace(id);
    Layer& l = it->second;
    if (inserted) order_.push_back(id);
    auto now = std::chrono::steady_clock::now();
    if (state == LayerState::downloading && l.state != LayerState::downloading) l.started = now;
    bool changed = l.state != state || inserted;
    l.state = state;
    l.current = current;
    l.total = total;
    if (!tty_) {
      if (changed) std::printf("%s: %s\n", id.c_str(), status(l, now).c_str());
      std::fflush(stdout);
      return;
    }
    // Redraw at most ten times a second, and always on a state change.
    if (!changed && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    if (drawn_lines_ > 0) std::printf("\033[%zuA", drawn_lines_);
    for (const auto& lid : order_) std::printf("\033[2K%s: %s\n", lid.c_str(), status(layers_[lid], now).c_str());
    drawn_lines_ = order_.size();
    std::fflush(stdout);
  }

 private:
  struct Layer {
    LayerState state = LayerState::waiting;
    std::uint64_t current = 0, total = 0;
    std::chrono::steady_clock::time_point started;
  };

  std::string status(const Layer& l, std::chrono::steady_clock::time_point now) const {
    switch (l.state) {
      case LayerState::waiting: return "Pulling fs layer";
      case LayerState::already_exists: return "Already exists";
      case LayerState::downloading: {
        if (!tty_) return "Downloading";
        double secs = std::chrono::duration<double>(now - l.started).count();
        std::string rate = secs > 0.05 ? "  " + human_size(static_cast<double>(l.current) / secs) + "/s" : "";
        return "Downloading  " + human_size(static_cast<double>(l.current)) + "/" +
               human_size(static_cast<double>(l.total)) + rate;
      }
      case LayerState::extracting: return "Download complete";
      case LayerState::complete: return "Pull complete";
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

void register_pull(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("pull", "Download an image from a registry");
  auto name = std::make_shared<std::string>();
  auto platform = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  cmd->add_option("NAME[:TAG|@DIGEST]", *name, "Image to pull")->required();
  cmd->add_option("--platform", *platform, "Set platform if the image is multi-platform (os/arch[/variant])");
  cmd->add_flag("-q,--quiet", *quiet, "Suppress verbose output");
  set_action(cmd, [&global, name, platform, quiet] {
    Reference given = Reference::parse_name_only(*name);
    Reference ref = Reference::parse(*name);
    PullOptions options;
    if (!platform->empty()) options.platform = Platform::parse(*platform);
    ImageStore store = global.store();
    RegistryConfig config = global.registry_config();
    if (!*quiet) {
      if (given.tag.empty() && given.digest.empty()) std::printf("Using default tag: latest\n");
      std::printf("%s: Pulling from %s\n", ref.digest.empty() ? ref.tag.c_str() : ref.digest.c_str(),
                  ref.domain == "docker.io" ? ref.path.c_str() : ref.path.c_str());
      std::fflush(stdout);
    }
    ProgressPrinter printer(::isatty(STDOUT_FILENO) == 1, *quiet);
    PullResult result = pull_image(store, config, ref, options, printer);
    if (!*quiet) {
      std::printf("Digest: %s\n", result.digest.c_str());
      std::printf("Status: %s for %s\n", result.updated ? "Downloaded newer image" : "Image is up to date",
                  ref.familiar_string().c_str());
    }
    std::printf("%s\n", ref.string().c_str());
    return 0;
  });
}

}  // namespace cppcker::cli
