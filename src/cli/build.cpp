// cppcker build: an image from a Dockerfile, with Docker's (classic builder's) output.
#include <fcntl.h>
#include <unistd.h>

#include <iostream>

#include "cppcker/build/builder.hpp"
#include "cppcker/cli/commands.hpp"
#include "cppcker/image/commit.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker::cli {

namespace {

// Prints Docker's lines for each event; -q prints nothing but the ID at the end.
class PrintingObserver : public build::BuildObserver {
 public:
  explicit PrintingObserver(bool quiet) : quiet_(quiet) {}
  void note(const std::string& text) override { say(text); }
  void step(int n, int total, const std::string& instruction) override {
    say("Step " + std::to_string(n) + "/" + std::to_string(total) + " : " + instruction);
  }
  void triggers(std::size_t count) override {
    say("# Executing " + std::to_string(count) + " build trigger" + (count == 1 ? "" : "s"));
  }
  void pulling(const std::string& reference) override { say("Pulling " + reference); }
  void running_in(const std::string& id) override { say(" ---> Running in " + id.substr(0, 12)); }
  void output(int, std::string_view bytes) override {
    if (quiet_) return;
    std::cout << bytes;
    std::cout.flush();
  }
  void removing(const std::string& id) override { say("Removing intermediate container " + id.substr(0, 12)); }
  void using_cache() override { say(" ---> Using cache"); }
  void step_image(const std::string& id) override {
    if (!id.empty()) say(" ---> " + short_id(id));
  }
  void built(const std::string& id) override {
    if (quiet_) {
      std::cout << id << "\n";
      return;
    }
    say("Successfully built " + short_id(id));
  }
  void tagged(const std::string& reference) override { say("Successfully tagged " + reference); }

 private:
  void say(const std::string& line) {
    if (quiet_) return;
    std::cout << line << "\n";
    std::cout.flush();
  }
  bool quiet_;
};

std::pair<std::string, std::string> key_value(const std::string& text, const char* what) {
  auto eq = text.find('=');
  if (eq == 0) throw Error(std::string("invalid ") + what + ": " + text);
  if (eq == std::string::npos) {
    // Docker: "--build-arg K" takes K's value from the environment, and is skipped when unset.
    return {text, ""};
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}

}  // namespace

void register_build(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("build", "Build an image from a Dockerfile");
  struct Opts {
    std::string context, file, target, network = "default", iidfile, platform, cgroup_parent;
    std::vector<std::string> tags, build_args, labels;
    bool no_cache = false, pull = false, quiet = false, rm = true, force_rm = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("PATH", o->context, "Build context: a directory, or - for a tar on stdin")->required();
  cmd->add_option("-t,--tag", o->tags, "Name and optionally a tag in the 'name:tag' format")->allow_extra_args(false);
  cmd->add_option("-f,--file", o->file, "Name of the Dockerfile (Default is 'PATH/Dockerfile')");
  cmd->add_option("--build-arg", o->build_args, "Set build-time variables")->allow_extra_args(false);
  cmd->add_option("--target", o->target, "Set the target build stage to build.");
  cmd->add_flag("--no-cache", o->no_cache, "Do not use cache when building the image");
  cmd->add_flag("--pull", o->pull, "Always attempt to pull a newer version of the image");
  cmd->add_option("--network", o->network, "Set the networking mode for the RUN instructions during build (default \"default\")");
  cmd->add_option("--label", o->labels, "Set metadata for an image")->allow_extra_args(false);
  cmd->add_option("--iidfile", o->iidfile, "Write the image ID to the file");
  cmd->add_flag("-q,--quiet", o->quiet, "Suppress the build output and print image ID on success");
  cmd->add_option("--platform", o->platform, "Set platform if server is multi-platform capable");
  cmd->add_option("--cgroup-parent", o->cgroup_parent, "Optional parent cgroup for the container");
  cmd->add_flag("--rm", o->rm, "Remove intermediate containers after a successful build (default true)");
  cmd->add_flag("--force-rm", o->force_rm, "Always remove intermediate containers");
  set_action(cmd, [&global, o] {
    build::BuildOptions options;
    for (const auto& t : o->tags) options.tags.push_back(image_name(t));
    for (const auto& a : o->build_args) {
      auto [k, v] = key_value(a, "build-arg");
      if (a.find('=') == std::string::npos) {
        const char* value = std::getenv(k.c_str());
        if (!value) continue;
        v = value;
      }
      options.build_args.emplace_back(k, v);
    }
    for (const auto& l : o->labels) {
      auto [k, v] = key_value(l, "label");
      options.labels[k] = v;
    }
    options.target = o->target;
    options.no_cache = o->no_cache;
    options.pull = o->pull;
    if (o->network == "default" || o->network.empty()) options.network = "bridge";
    else if (o->network == "none" || o->network == "host" || o->network == "bridge") options.network = o->network;
    else throw Error("network mode \"" + o->network + "\" not supported by buildkit: use bridge, none or host");
    if (!o->platform.empty()) options.platform = Platform::parse(o->platform);
    options.cgroup_parent = o->cgroup_parent;
    options.remove = o->rm;
    options.force_remove = o->force_rm;

    // The context: a directory read in place, or a tar from stdin extracted into a scratch directory.
    if (o->context == "-" && o->file == "-") throw Error("invalid argument: can't use stdin for both build context and dockerfile");
    std::optional<fs::path> scratch;
    struct ScratchRemover {
      std::optional<fs::path>& p;
      ~ScratchRemover() {
        if (!p) return;
        try {
          remove_tree(*p);
        } catch (const Error&) {
        }
      }
    } remover{scratch};
    std::optional<build::BuildContext> context;
    if (o->context == "-") {
      // Named as the builder names its scratch directories (pid first), so a killed build's is swept.
      scratch = fs::path(global.root) / "build-tmp" / (std::to_string(::getpid()) + "-context-" + random_hex(8));
      make_dirs(*scratch);
      context.emplace(build::BuildContext::from_tar(STDIN_FILENO, *scratch));
    } else {
      if (o->context.find("://") != std::string::npos || o->context.rfind("git@", 0) == 0)
        throw Error("unable to prepare context: remote contexts (" + o->context + ") are not supported");
      context.emplace(build::BuildContext::open_directory(o->context));
    }
    if (o->file == "-") {
      options.dockerfile = read_all(STDIN_FILENO, "stdin");
    } else if (o->context == "-") {
      auto text = context->read(o->file.empty() ? "Dockerfile" : o->file);
      if (!text) throw Error("unable to prepare context: Cannot locate specified Dockerfile: " + (o->file.empty() ? "Dockerfile" : o->file));
      options.dockerfile = *text;
    } else {
      fs::path file = o->file.empty() ? fs::path(o->context) / "Dockerfile" : fs::path(o->file);
      if (o->file.empty() && !fs::exists(file) && fs::exists(fs::path(o->context) / "dockerfile"))
        file = fs::path(o->context) / "dockerfile";
      auto text = read_file_if_exists(file);
      if (!text) throw Error("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat " + fs::absolute(file).string() + ": no such file or directory");
      options.dockerfile = *text;
    }

    ImageStore images = global.store();
    ContainerStore containers(global.root);
    NetworkStore networks = global.networks();
    build::BuildEnvironment env{global.root, images, containers, networks, global.runtime_config(), global.registry_config()};
    PrintingObserver observer(o->quiet);
    std::string id = build::build_image(env, *context, options, observer);
    if (!o->iidfile.empty()) write_file_atomic(o->iidfile, id, 0644);
    return 0;
  });
}

}  // namespace cppcker::cli
