// cppcker save: write images to a tar archive.
#include <fcntl.h>
#include <unistd.h>

#include "cppcker/cli/commands.hpp"
#include "cppcker/image/archive.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker::cli {

void register_save(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("save", "Save one or more images to a tar archive (streamed to STDOUT by default)");
  auto images = std::make_shared<std::vector<std::string>>();
  auto output = std::make_shared<std::string>();
  cmd->add_option("IMAGE", *images, "Images to save")->required();
  cmd->add_option("-o,--output", *output, "Write to a file, instead of STDOUT");
  set_action(cmd, [&global, images, output] {
    ImageStore store = global.store();
    if (output->empty()) {
      if (::isatty(STDOUT_FILENO))
        throw Error("cowardly refusing to save to a terminal. Use the -o flag or redirect");
      save_images(store, *images, STDOUT_FILENO);
      return 0;
    }
    // Written beside the target and renamed, so a failed save leaves no partial archive.
    fs::path target = *output;
    fs::path temp = target;
    temp += ".tmp-" + random_hex(4);
    UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) throw_errno("create " + temp.string());
    try {
      save_images(store, *images, fd.get());
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
