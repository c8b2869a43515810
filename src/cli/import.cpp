// cppcker import: a tar archive (a file, stdin or a URL) as a one-layer image.
#include <fcntl.h>
#include <unistd.h>

#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/image/commit.hpp"
#include "cppcker/registry/http.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fd.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker::cli {

void register_import(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("import", "Import the contents from a tarball to create a filesystem image");
  struct Opts {
    std::string source, name, message, platform;
    std::vector<std::string> changes;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("file|URL|-", o->source, "Tar archive (any compression) to import")->required();
  cmd->add_option("REPOSITORY[:TAG]", o->name, "Name of the new image");
  cmd->add_option("-c,--change", o->changes, "Apply Dockerfile instruction to the created image")->allow_extra_args(false);
  cmd->add_option("-m,--message", o->message, "Set commit message for imported image");
  cmd->add_option("--platform", o->platform, "Set platform if server is multi-platform capable");
  set_action(cmd, [&global, o] {
    ImportRequest request;
    request.source = o->source;
    request.name = image_name(o->name);
    request.changes = o->changes;
    request.comment = o->message;
    if (!o->platform.empty()) request.platform = Platform::parse(o->platform);
    const std::string& src = o->source;
    if (src.rfind("http://", 0) == 0 || src.rfind("https://", 0) == 0) {
      request.read = [src](const std::function<void(std::string_view)>& sink) {
        HttpClient http;
        HttpRequest get;
        get.url = src;
        get.sink = sink;
        HttpResponse r = http.perform(get);
        if (r.status < 200 || r.status >= 300)
          throw Error("Get \"" + src + "\": unexpected status " + std::to_string(r.status));
      };
    } else {
      UniqueFd owned;
      if (src != "-") {
        owned.reset(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
        if (!owned) throw_errno("open " + src);
      }
      int fd = src == "-" ? STDIN_FILENO : owned.get();
      auto file = std::make_shared<UniqueFd>(std::move(owned));
      request.read = [fd, file, src](const std::function<void(std::string_view)>& sink) {
        read_chunks(fd, src == "-" ? "stdin" : src, sink);
      };
    }
    std::cout << import_image(global.store(), request) << "\n";
    return 0;
  });
}

}  // namespace cppcker::cli
