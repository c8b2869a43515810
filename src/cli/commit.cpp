// cppcker commit: a container's changes as a new image.
#include <iostream>
#include <optional>

#include "cppcker/cli/commands.hpp"
#include "cppcker/image/commit.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/runtime/upper_layer.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

namespace {

// Docker's Config of the container, on top of its image's config (Volumes, StopSignal, Healthcheck...).
nlohmann::json container_config(const ImageStore& images, const Container& c) {
  nlohmann::json cfg = nlohmann::json::object();
  auto image = nlohmann::json::parse(images.read_blob(c.spec.image_id), nullptr, false);
  if (image.is_object() && image.contains("config") && image["config"].is_object()) cfg = image["config"];
  const ContainerSpec& s = c.spec;
  cfg["Hostname"] = s.hostname;
  cfg["User"] = s.user;
  nlohmann::json env = nlohmann::json::array();
  for (const auto& e : s.env)
    if (e != "HOSTNAME=" + s.hostname) env.push_back(e);  // set at start, not part of the config (Docker)
  cfg["Env"] = env;
  cfg["Cmd"] = s.cmd.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.cmd);
  cfg["Entrypoint"] = s.entrypoint.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.entrypoint);
  cfg["WorkingDir"] = s.workdir;
  cfg["Image"] = s.image;
  cfg["Labels"] = s.labels;
  nlohmann::json ports = nlohmann::json::object();
  for (const auto& p : s.exposed_ports) ports[p] = nlohmann::json::object();
  if (ports.empty()) cfg.erase("ExposedPorts");
  else cfg["ExposedPorts"] = ports;
  for (const auto& m : s.mounts)
    if (m.type == "volume" && m.anonymous) {
      if (!cfg.contains("Volumes") || !cfg["Volumes"].is_object()) cfg["Volumes"] = nlohmann::json::object();
      cfg["Volumes"][m.target] = nlohmann::json::object();
    }
  return cfg;
}

// Freezes a running container for as long as it lives; one the user paused stays as it is.
class FreezeGuard {
 public:
  explicit FreezeGuard(const Container& c) {
    cgroup_ = make_cgroup(c.cgroup_paths());
    if (cgroup_->frozen()) return;
    cgroup_->freeze();
    frozen_ = true;
  }
  ~FreezeGuard() {
    if (!frozen_) return;
    try {
      cgroup_->thaw();
    } catch (const Error& e) {
      std::cerr << "Error: thaw container: " << e.what() << "\n";
    }
  }
  FreezeGuard(const FreezeGuard&) = delete;
  FreezeGuard& operator=(const FreezeGuard&) = delete;

 private:
  std::unique_ptr<Cgroup> cgroup_;
  bool frozen_ = false;
};

// Docker's commit reports the daemon's errors, and its exit status is 1.
int daemon_error(const std::string& message) {
  std::cout.flush();
  std::cerr << "Error response from daemon: " << message << "\n";
  return 1;
}

}  // namespace

void register_commit(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("commit", "Create a new image from a container's changes");
  struct Opts {
    std::string container, name, author, message;
    std::vector<std::string> changes;
    bool pause = true;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("CONTAINER", o->container, "Container to commit")->required();
  cmd->add_option("REPOSITORY[:TAG]", o->name, "Name of the new image");
  cmd->add_option("-a,--author", o->author, "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")");
  cmd->add_option("-c,--change", o->changes, "Apply Dockerfile instruction to the created image")->allow_extra_args(false);
  cmd->add_option("-m,--message", o->message, "Commit message");
  cmd->add_flag("-p,--pause", o->pause, "Pause container during commit (default true)");
  set_action(cmd, [&global, o] {
    CommitRequest request;
    Container c;
    ContainerStore containers(global.root);
    ImageStore images = global.store();
    try {
      request.name = image_name(o->name);
      c = containers.resolve(o->container);
    } catch (const Error& e) {
      return daemon_error(e.what());
    }
    try {
      request.layer = container_upper_layer(containers, images, c);
      request.base_image_id = c.spec.image_id;
      request.container_id = c.id;
      request.container_config = container_config(images, c);
      request.author = o->author;
      request.comment = o->message;
      request.changes = o->changes;
      apply_changes(nlohmann::json::object(), request.changes);  // refused before anything is frozen or written
      std::optional<FreezeGuard> frozen;
      if (o->pause && ContainerStore::observed_state(c).status == "running") frozen.emplace(c);
      CommitResult result = commit_container(images, request);
      std::cout << result.image_id << "\n";
      return 0;
    } catch (const Error& e) {
      return daemon_error(e.what());
    }
  });
}

}  // namespace cppcker::cli
