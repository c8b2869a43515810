// cppcker cp: copy files between a container and the host.
#include <unistd.h>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/copy.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

void register_cp(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("cp", "Copy files/folders between a container and the local filesystem");
  auto src = std::make_shared<std::string>();
  auto dest = std::make_shared<std::string>();
  auto options = std::make_shared<CopyOptions>();
  cmd->add_option("SRC_PATH", *src, "Source: CONTAINER:SRC_PATH, a local path, or - (a tar stream on STDIN)")->required();
  cmd->add_option("DEST_PATH", *dest, "Destination: CONTAINER:DEST_PATH, a local path, or - (a tar stream on STDOUT)")
      ->required();
  cmd->add_flag("-a,--archive", options->archive, "Archive mode (copy all uid/gid information)");
  cmd->add_flag("-L,--follow-link", options->follow_link, "Always follow symbol link in SRC_PATH");
  set_action(cmd, [&global, src, dest, options] {
    // Docker's checks and wording (cli/command/container/cp.go), exit status 1.
    if (src->empty()) throw Error("source can not be empty");
    if (dest->empty()) throw Error("destination can not be empty");
    auto [src_container, src_path] = split_cp_arg(*src);
    auto [dest_container, dest_path] = split_cp_arg(*dest);
    if (!src_container.empty() && !dest_container.empty()) throw Error("copying between containers is not supported");
    if (src_container.empty() && dest_container.empty()) throw Error("must specify at least one container source");
    ImageStore images = global.store();
    ContainerStore containers(global.root);
    if (!src_container.empty())
      copy_from_container(images, containers, src_container, src_path, dest_path, *options, STDOUT_FILENO);
    else
      copy_to_container(images, containers, src_path, dest_container, dest_path, *options, STDIN_FILENO);
    return 0;
  });
}

}  // namespace cppcker::cli
