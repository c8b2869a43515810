// state: the runtime-spec state of one container, as runc prints it.
#include <iostream>

#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::ocicli {

// runc's containerState: the spec's state plus rootfs, created and owner.
nlohmann::ordered_json state_json(const BundleStore& store, const BundleRecord& record) {
  oci::State s = store.state(record);
  nlohmann::ordered_json j = {{"ociVersion", s.oci_version}, {"id", s.id},       {"pid", s.pid},
                              {"status", s.status},          {"bundle", s.bundle}, {"rootfs", record.rootfs.string()},
                              {"created", record.created},   {"owner", record.owner}};
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return j;
}

void register_state(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("state", "output the state of a container");
  auto args = std::make_shared<std::vector<std::string>>();
  cmd->add_option("container-id", *args, "the container's id");
  set_action(cmd, [&g, args] {
    check_args(g, "state", args->size(), 1, '=');
    BundleStore store = g.store();
    std::cout << state_json(store, store.get(args->front())).dump(2) << "\n";
    return 0;
  });
}

}  // namespace cppcker::ocicli
