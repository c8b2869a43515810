#pragma once
// `cppcker build`: a Dockerfile's instructions executed in order on top of a base image, each step's result
// an image made through the commit path (a layer for the steps that change files, an empty history entry
// for the others), every step looked up in the build cache first. RUN runs in a container of the core,
// confined as `run` confines one; COPY/ADD write into a step container's filesystem without running
// anything in it. The library never prints: the caller's BuildObserver gets every event (the CLI prints
// Docker's lines from them).
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cppcker/build/context.hpp"
#include "cppcker/build/dockerfile.hpp"
#include "cppcker/image/manifest.hpp"
#include "cppcker/network/network.hpp"
#include "cppcker/registry/config.hpp"
#include "cppcker/runtime/config.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/storage/store.hpp"

namespace cppcker::build {

struct BuildOptions {
  std::string dockerfile;                                   // the Dockerfile's text
  std::vector<std::string> tags;                            // normalised references ("name:tag")
  std::vector<std::pair<std::string, std::string>> build_args;  // --build-arg K=V, in order (a later K wins)
  std::string target;                                       // --target: a stage name; "" the last stage
  bool no_cache = false;                                    // skip lookups (entries are still written)
  bool pull = false;                                        // pull every base image, even when present
  std::string network = "bridge";                           // RUN's network unless RUN --network says
  std::map<std::string, std::string> labels;                // --label: added to the final image
  std::optional<Platform> platform;                         // --platform: pulls and FROM scratch
  std::string cgroup_parent;                                // RUN containers' cgroup parent
  bool remove = true;                                       // --rm: remove step containers after success
  bool force_remove = false;                                // --force-rm
};

// What the build tells its caller, in order. Every hook has a no-op default.
class BuildObserver {
 public:
  virtual ~BuildObserver() = default;
  virtual void note(const std::string& /*text*/) {}     // "# syntax=... is ignored", the unused-args warning
  virtual void step(int /*n*/, int /*total*/, const std::string& /*instruction*/) {}
  virtual void triggers(std::size_t /*count*/) {}       // ONBUILD triggers about to run after a FROM
  virtual void pulling(const std::string& /*reference*/) {}
  virtual void running_in(const std::string& /*container_id*/) {}
  virtual void output(int /*stream*/, std::string_view /*bytes*/) {}  // RUN output, as it comes
  virtual void removing(const std::string& /*container_id*/) {}
  virtual void using_cache() {}
  virtual void step_image(const std::string& /*image_id*/) {}  // the step's result
  virtual void built(const std::string& /*image_id*/) {}
  virtual void tagged(const std::string& /*reference*/) {}
};

// The stores and configs a build works with (the CLI's --root and config file).
struct BuildEnvironment {
  fs::path root;  // the state root: build-cache/ lives there
  const ImageStore& images;
  const ContainerStore& containers;
  const NetworkStore& networks;
  RuntimeConfig runtime;
  RegistryConfig registry;
};

// Builds and returns the image ID ("sha256:..."); tags it last. Throws Error (exit 1) in Docker's words,
// with the Dockerfile line where Docker gives one; nothing is tagged then and the step's container (and
// any mount) is gone.
std::string build_image(const BuildEnvironment& env, const BuildContext& context, const BuildOptions& options,
                        BuildObserver& observer);

// ---- the pure parts, exposed for tests

struct Stage {
  std::string name;      // AS name, lower case ("" when unnamed)
  std::string base;      // FROM's image word, expanded with the global ARGs
  std::string platform;  // FROM --platform, expanded likewise
  std::size_t first = 0, last = 0;  // instruction indices: FROM, and one past the stage's last
  int line = 0;
};
struct Plan {
  std::vector<Instruction> global_args;  // ARG lines before the first FROM
  std::vector<Stage> stages;
  std::vector<std::size_t> build;        // the stages to build, in order (the target last)
};
// The stages of `df` and those `target` ("" = the last) needs: through FROM <stage> and COPY --from.
// `global_env` (global_arg_env) expands FROM lines. Throws Error: "target stage \"x\" could not be found",
// "dockerfile parse error on line N: no build stage in current context" (an instruction before FROM other
// than ARG), a FROM without one or three words.
Plan plan_build(const Dockerfile& df, const std::string& target, const std::vector<std::string>& global_env = {});

// The values of the ARGs before the first FROM, --build-arg overriding their defaults (expanded in order).
std::vector<std::string> global_arg_env(const std::vector<Instruction>& args,
                                        const std::vector<std::pair<std::string, std::string>>& build_args);

// What a stage remembers between its instructions besides the config.
struct StageFlags {
  bool cmd_set = false;  // a CMD in this stage: a later ENTRYPOINT keeps it (else it resets the inherited one)
  std::string author;    // MAINTAINER: the image's "author"
};

// Docker's metadata instructions applied to an image config's "config" object: ENV, LABEL, EXPOSE, USER,
// WORKDIR, VOLUME, CMD, ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER. `env` ("K=V", a
// later K wins: the stage's ARGs then the config's Env) expands words where Docker does. Returns the
// instruction as the history's "#(nop)" line and the cache key show it: after substitution.
std::string apply_instruction(nlohmann::json& config, const Instruction& ins, const std::vector<std::string>& env,
                              char escape, StageFlags& flags);

}  // namespace cppcker::build
