// cppcker version: Docker's "Client:" block (there is no server), and the shared --format printer.
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/format/template.hpp"
#include "cppcker/image/manifest.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker_build_info.hpp"  // CPPCKER_GIT_COMMIT, CPPCKER_BUILD_TIME


namespace cppcker::cli {

int print_formatted(const nlohmann::ordered_json& data, const std::string& format,
                    const std::function<std::string(const nlohmann::ordered_json&)>& human) {
  if (format.empty()) {
    std::cout << human(data);
  } else if (format == "json" || format == "{{json .}}") {
    std::cout << data.dump() << "\n";
  } else {
    // A Go template over Docker's field names ({{.Client.Version}}, {{.CgroupVersion}}); Docker's
    // CLI reads a written "\n" or "\t" as the character.
    std::string text = format;
    for (auto [from, to] : {std::pair{"\\n", "\n"}, std::pair{"\\t", "\t"}})
      for (std::size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += 1) text.replace(at, 2, to);
    std::cout << format::Template::parse(text).execute(data) << "\n";
  }
  return 0;
}

namespace {

nlohmann::ordered_json version_json() {
  Platform host = Platform::host();
  std::string compiler =
#if defined(__clang__)
      "clang " __clang_version__;
#elif defined(__GNUC__)
      "g++ " __VERSION__;
#else
      "unknown";
#endif
  return {{"Client",
           {{"Version", CPPCKER_VERSION},
            {"CompilerVersion", compiler},
            {"GitCommit", CPPCKER_GIT_COMMIT},
            {"BuildTime", CPPCKER_BUILD_TIME},
            {"Os", host.os},
            {"Arch", host.architecture}}}};
}

// Docker's tabwriter: labels padded to 20 columns.
std::string row(const std::string& label, const std::string& value) {
  std::string l = " " + label + ":";
  return l + std::string(l.size() < 20 ? 20 - l.size() : 1, ' ') + value + "\n";
}

std::string version_text(const nlohmann::ordered_json& v) {
  const auto& c = v["Client"];
  return "Client:\n" + row("Version", c["Version"]) + row("C++ compiler", c["CompilerVersion"]) +
         row("Git commit", c["GitCommit"]) + row("Built", c["BuildTime"]) +
         row("OS/Arch", c["Os"].get<std::string>() + "/" + c["Arch"].get<std::string>());
}

}  // namespace

void register_version(CLI::App& app, GlobalOptions&) {
  auto* cmd = app.add_subcommand("version", "Show the cppcker version information");
  auto format = std::make_shared<std::string>();
  cmd->add_option("-f,--format", *format, "Format the output: \"json\"");
  set_action(cmd, [format] { return print_formatted(version_json(), *format, version_text); });
}

}  // namespace cppcker::cli
