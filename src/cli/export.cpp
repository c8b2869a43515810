// cppcker export: a container's filesystem as a tar archive.
#include <fcntl.h>
#include <unistd.h>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/copy.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker::cli {

void register_export(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("export", "Export a container's filesystem as a tar archive");
  auto container = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  cmd->add_option("CONTAINER", *container, "Container to export")->required();
  cmd->add_option("-o,--output", *output, "Write to a file, instead of STDOUT");
  set_action(cmd, [&global, container, output] {
    ImageStore images = global.store();
    ContainerStore containers(global.root);
    if (output->empty()) {
      if (::isatty(STDOUT_FILENO))
        throw Error("cowardly refusing to save to a terminal. Use the -o flag or redirect");
      export_container(images, containers, *container, STDOUT_FILENO);
      return 0;
    }
    // Written beside the target and renamed: a failed or killed export leaves no partial archive under
    // the final name (only a .tmp- file beside it when killed).
    fs::path target = *output;
    fs::path temp = target;
    temp += ".tmp-" + random_hex(4);
    UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) throw_errno("create " + temp.string());
    try {
      export_container(images, containers, *container, fd.get());
      if (::fsync(fd.get()) != 0) throw_errno("fsync " + temp.string());
      fd.reset();
      if (::rename(temp.c_str(), target.c_str()) != 0) throw_errno("rename to " + target.string());
    } catch (...) {
      ::unlink(temp.c_str());
      throw;
    }
    return 0;
  });
}

}  // namespace cppcker::cli
