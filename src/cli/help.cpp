// Docker-style help, usage lines and argument-count errors, printed from the CLI11 command tree.
// The tree is the one source of truth for commands, flags and descriptions; the table below adds only
// what CLI11 does not know: Docker's usage line, examples, completion kinds and root privileges.
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "cppcker/cli/commands.hpp"

namespace cppcker::cli {

namespace {

// Keyed by command path ("run", "network ls"). A command missing here (a newer one) still gets a usage
// line derived from its positionals and needs root.
const std::vector<CommandInfo>& command_table() {
  static const std::vector<CommandInfo> table = {
      {"", "[OPTIONS] COMMAND", "", CompletionKind::none, false, -1},
      {"run", "[OPTIONS] IMAGE [COMMAND] [ARG...]",
       "  $ cppcker run --rm busybox echo hello\n"
       "  $ cppcker run -it --rm --name shell busybox sh\n"
       "  $ cppcker run -d --name web -p 8080:80 -m 64m busybox httpd -f -p 80\n"
       "  $ cppcker run --rm -v data:/data -e KEY=value busybox sh -c 'echo $KEY > /data/key'",
       CompletionKind::image, true, 1},
      {"exec", "[OPTIONS] CONTAINER COMMAND [ARG...]",
       "  $ cppcker exec web ls /\n"
       "  $ cppcker exec -it web sh\n"
       "  $ cppcker exec -e KEY=value -w /tmp -u 1000 web env",
       CompletionKind::container, true, 2},
      {"ps", "[OPTIONS]",
       "  $ cppcker ps\n"
       "  $ cppcker ps -a\n"
       "  $ cppcker ps -aq --no-trunc",
       CompletionKind::none, true, -1},
      {"images", "[OPTIONS] [REPOSITORY[:TAG]]",
       "  $ cppcker images\n"
       "  $ cppcker images busybox\n"
       "  $ cppcker images -q --no-trunc",
       CompletionKind::image, true, -1},
      {"logs", "[OPTIONS] CONTAINER",
       "  $ cppcker logs web\n"
       "  $ cppcker logs -f --tail 10 web\n"
       "  $ cppcker logs -t web",
       CompletionKind::container, true, -1},
      {"inspect", "[OPTIONS] NAME|ID [NAME|ID...]",
       "  $ cppcker inspect web\n"
       "  $ cppcker inspect --type image busybox",
       CompletionKind::container_or_image, true, -1},
      {"pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "", CompletionKind::image, true, -1},
      {"rmi", "[OPTIONS] IMAGE [IMAGE...]", "", CompletionKind::image, true, -1},
      {"push", "[OPTIONS] NAME[:TAG]", "", CompletionKind::image, true, -1},
      {"login", "[OPTIONS] [SERVER]", "", CompletionKind::none, true, -1},
      {"logout", "[SERVER]", "", CompletionKind::none, true, -1},
      {"tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "", CompletionKind::image, true, -1},
      {"load", "[OPTIONS]", "", CompletionKind::none, true, -1},
      {"save", "[OPTIONS] IMAGE [IMAGE...]", "", CompletionKind::image, true, -1},
      {"cp", "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tcppcker cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
       "  $ cppcker cp web:/etc/hosts ./hosts\n"
       "  $ cppcker cp ./config web:/etc/app/\n"
       "  $ cppcker cp web:/var/log - | tar -tvf -",
       CompletionKind::container, true, -1},
      {"export", "[OPTIONS] CONTAINER", "", CompletionKind::container, true, -1},
      {"rm", "[OPTIONS] CONTAINER [CONTAINER...]", "", CompletionKind::container, true, -1},
      {"stop", "[OPTIONS] CONTAINER [CONTAINER...]", "", CompletionKind::container, true, -1},
      {"kill", "[OPTIONS] CONTAINER [CONTAINER...]", "", CompletionKind::container, true, -1},
      {"start", "[OPTIONS] CONTAINER [CONTAINER...]", "", CompletionKind::container, true, -1},
      {"restart", "[OPTIONS] CONTAINER [CONTAINER...]", "", CompletionKind::container, true, -1},
      {"port", "CONTAINER [PRIVATE_PORT[/PROTO]]", "", CompletionKind::container, true, -1},
      {"create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "", CompletionKind::image, true, 1},
      {"rename", "CONTAINER NEW_NAME", "", CompletionKind::container, true, -1},
      {"wait", "CONTAINER [CONTAINER...]", "", CompletionKind::container, true, -1},
      {"top", "CONTAINER [ps OPTIONS]", "", CompletionKind::container, true, 1},
      {"pause", "CONTAINER [CONTAINER...]", "", CompletionKind::container, true, -1},
      {"unpause", "CONTAINER [CONTAINER...]", "", CompletionKind::container, true, -1},
      {"stats", "[OPTIONS] [CONTAINER...]", "", CompletionKind::container, true, -1},
      {"container", "COMMAND", "", CompletionKind::none, true, -1},
      {"container prune", "[OPTIONS]", "", CompletionKind::none, true, -1},
      {"image", "COMMAND", "", CompletionKind::none, true, -1},
      {"image prune", "[OPTIONS]", "", CompletionKind::none, true, -1},
      {"system", "COMMAND", "", CompletionKind::none, true, -1},
      {"system df", "[OPTIONS]", "", CompletionKind::none, true, -1},
      {"system prune", "[OPTIONS]", "", CompletionKind::none, true, -1},
      {"volume", "COMMAND", "", CompletionKind::none, true, -1},
      {"volume create", "[OPTIONS] [VOLUME]", "", CompletionKind::none, true, -1},
      {"volume ls", "[OPTIONS]", "", CompletionKind::none, true, -1},
      {"volume inspect", "[OPTIONS] VOLUME [VOLUME...]", "", CompletionKind::volume, true, -1},
      {"volume rm", "[OPTIONS] VOLUME [VOLUME...]", "", CompletionKind::volume, true, -1},
      {"volume prune", "[OPTIONS]", "", CompletionKind::none, true, -1},
      {"network", "COMMAND", "", CompletionKind::none, true, -1},
      {"network create", "[OPTIONS] NETWORK", "", CompletionKind::none, true, -1},
      {"network ls", "[OPTIONS]", "", CompletionKind::none, true, -1},
      {"network inspect", "[OPTIONS] NETWORK [NETWORK...]", "", CompletionKind::network, true, -1},
      {"network rm", "NETWORK [NETWORK...]", "", CompletionKind::network, true, -1},
      {"network prune", "[OPTIONS]", "", CompletionKind::none, true, -1},
      {"network connect", "[OPTIONS] NETWORK CONTAINER", "", CompletionKind::network, true, -1},
      {"network disconnect", "[OPTIONS] NETWORK CONTAINER", "", CompletionKind::network, true, -1},
      {"version", "[OPTIONS]", "", CompletionKind::none, false, -1},
      {"info", "[OPTIONS]", "", CompletionKind::none, true, -1},
      {"commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "", CompletionKind::container, true, -1},
      {"diff", "CONTAINER", "", CompletionKind::container, true, -1},
      {"history", "[OPTIONS] IMAGE", "", CompletionKind::image, true, -1},
      {"import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]", "", CompletionKind::none, true, -1},
      {"build", "[OPTIONS] PATH | -", "", CompletionKind::none, true, -1},
      {"builder", "COMMAND", "", CompletionKind::none, true, -1},
      {"builder prune", "[OPTIONS]", "", CompletionKind::none, true, -1},
      {"completion", "bash|zsh|fish",
       "  $ source <(cppcker completion bash)\n"
       "  $ cppcker completion zsh > \"${fpath[1]}/_cppcker\"\n"
       "  $ cppcker completion fish > ~/.config/fish/completions/cppcker.fish",
       CompletionKind::none, false, -1},
      {"__complete", "KIND", "", CompletionKind::none, false, -1},
  };
  return table;
}

bool is_help_option(const CLI::App* app, const CLI::Option* opt) {
  for (const CLI::App* a = app; a; a = a->get_parent())
    if (opt == a->get_help_ptr() || opt == a->get_help_all_ptr()) return true;
  return false;
}

// pflag's name for the value an option takes ("" for a flag).
std::string value_name(const CLI::Option* opt) {
  if (opt->get_expected_max() == 0) return "";
  if (opt->get_expected_max() > 1) return "list";
  std::string t = opt->get_type_name();
  if (t == "INT") return "int";
  if (t == "UINT") return "uint";
  if (t == "FLOAT") return "decimal";
  return "string";
}

std::string flag_names(const CLI::Option* opt) {
  std::string line = "  ";
  const auto& shorts = opt->get_snames();
  const auto& longs = opt->get_lnames();
  if (!shorts.empty() && !longs.empty()) line += "-" + shorts.front() + ", --" + longs.front();
  else if (!longs.empty()) line += "    --" + longs.front();
  else line += "-" + shorts.front();
  std::string v = value_name(opt);
  if (!v.empty()) line += " " + v;
  return line;
}

std::string flag_description(const CLI::Option* opt) {
  std::string d = opt->get_description();
  std::string def = opt->get_default_str();
  if (!def.empty() && def != "0" && def != "false" && def != "[]" && opt->get_expected_max() != 0)
    d += value_name(opt) == "string" ? " (default \"" + def + "\")" : " (default " + def + ")";
  return d;
}

// pflag's layout: names, then the descriptions in one column three spaces after the widest names.
std::string options_block(const CLI::App* app) {
  struct Row {
    std::string key, names, description;
  };
  std::vector<Row> rows;
  for (const CLI::Option* opt : app->get_options()) {
    if (!opt->nonpositional() || is_help_option(app, opt) || opt->get_group().empty()) continue;
    std::string key = opt->get_lnames().empty() ? opt->get_snames().front() : opt->get_lnames().front();
    rows.push_back({key, flag_names(opt), flag_description(opt)});
  }
  // pflag sorts by the long name.
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.key < b.key; });
  std::size_t width = 0;
  for (const auto& r : rows) width = std::max(width, r.names.size());
  std::string out;
  for (const auto& r : rows) out += r.names + std::string(width - r.names.size() + 3, ' ') + r.description + "\n";
  return out;
}

// In name order, as cobra lists them.
std::vector<const CLI::App*> visible_subcommands(const CLI::App* app) {
  auto subs = app->get_subcommands([](const CLI::App* s) { return !s->get_group().empty() && !s->get_name().empty(); });
  std::sort(subs.begin(), subs.end(), [](const CLI::App* a, const CLI::App* b) { return a->get_name() < b->get_name(); });
  return subs;
}

std::string subcommand_rows(const std::vector<const CLI::App*>& subs) {
  std::size_t pad = 11;  // cobra's minimum name padding
  for (const auto* s : subs) pad = std::max(pad, s->get_name().size());
  std::string out;
  for (const auto* s : subs) out += "  " + s->get_name() + std::string(pad - s->get_name().size() + 1, ' ') + s->get_description() + "\n";
  return out;
}

class DockerFormatter : public CLI::FormatterBase {
 public:
  std::string make_help(const CLI::App* app, std::string, CLI::AppFormatMode) const override {
    return help_text(app);
  }
};

}  // namespace

const CommandInfo* command_info(const std::string& path) {
  for (const auto& c : command_table())
    if (c.path == path) return &c;
  return nullptr;
}

std::string command_path(const CLI::App* cmd) {
  std::string path;
  for (const CLI::App* a = cmd; a && a->get_parent(); a = a->get_parent())
    path = a->get_name() + (path.empty() ? "" : " " + path);
  return path;
}

std::string usage_line(const CLI::App* cmd) {
  std::string path = command_path(cmd);
  std::string full = "cppcker" + (path.empty() ? "" : " " + path);
  if (const CommandInfo* info = command_info(path)) return full + " " + std::string(info->usage);
  // Derived for a command the table does not know: [OPTIONS], then the positionals as Docker writes them.
  std::string line = full;
  if (!visible_subcommands(cmd).empty()) return line + " COMMAND";
  bool has_flags = false;
  for (const CLI::Option* o : cmd->get_options())
    if (o->nonpositional() && !is_help_option(cmd, o) && !o->get_group().empty()) has_flags = true;
  if (has_flags) line += " [OPTIONS]";
  for (const CLI::Option* o : cmd->get_options()) {
    if (o->nonpositional()) continue;
    std::string n = o->get_name();
    std::string many = o->get_expected_max() > 1 ? " [" + n + "...]" : "";
    line += o->get_required() ? " " + n + many : " [" + n + (many.empty() ? "" : "...") + "]";
  }
  return line;
}

std::string help_text(const CLI::App* app) {
  std::string out = "\nUsage:  " + usage_line(app) + "\n\n" + app->get_description() + "\n";
  const CommandInfo* info = command_info(command_path(app));
  if (info && !info->examples.empty()) out += "\nExamples:\n" + std::string(info->examples) + "\n";
  std::string options = options_block(app);
  if (!options.empty()) out += "\nOptions:\n" + options;
  std::vector<const CLI::App*> management, commands;
  for (const auto* s : visible_subcommands(app))
    (visible_subcommands(s).empty() ? commands : management).push_back(s);
  if (!management.empty()) out += "\nManagement Commands:\n" + subcommand_rows(management);
  if (!commands.empty()) out += "\nCommands:\n" + subcommand_rows(commands);
  if (!management.empty() || !commands.empty())
    out += "\nRun '" + std::string("cppcker") + (command_path(app).empty() ? "" : " " + command_path(app)) +
           " COMMAND --help' for more information on a command.\n";
  return out;
}

std::shared_ptr<CLI::FormatterBase> make_help_formatter() { return std::make_shared<DockerFormatter>(); }

ArgumentRule argument_rule(const CLI::App* cmd) {
  const CommandInfo* info = command_info(command_path(cmd));
  if (info && info->min_args >= 0) return {static_cast<std::size_t>(info->min_args), std::nullopt};
  ArgumentRule rule{0, 0};
  for (const CLI::Option* o : cmd->get_options()) {
    if (o->nonpositional()) continue;
    bool many = o->get_expected_max() > 1;
    if (o->get_required()) rule.min += 1;
    if (many) rule.max.reset();
    else if (rule.max) *rule.max += 1;
  }
  return rule;
}

std::size_t given_arguments(const CLI::App* cmd) {
  std::size_t n = 0;
  for (const CLI::Option* o : cmd->get_options())
    if (!o->nonpositional()) n += o->count();
  return n;
}

std::string argument_count_error(const CLI::App* cmd, std::size_t given) {
  ArgumentRule r = argument_rule(cmd);
  if (given >= r.min && (!r.max || given <= *r.max)) return "";
  std::string path = "cppcker" + (command_path(cmd).empty() ? "" : " " + command_path(cmd));
  auto plural = [](std::size_t n) { return n == 1 ? std::string("argument") : std::string("arguments"); };
  std::string what;
  if (r.max && *r.max == 0) what = "accepts no arguments";
  else if (r.max && *r.max == r.min) what = "requires exactly " + std::to_string(r.min) + " " + plural(r.min);
  else if (r.max && r.min > 0) what = "requires at least " + std::to_string(r.min) + " and at most " + std::to_string(*r.max) + " " + plural(*r.max);
  else if (r.max) what = "requires at most " + std::to_string(*r.max) + " " + plural(*r.max);
  else what = "requires at least " + std::to_string(r.min) + " " + plural(r.min);
  return "\"" + path + "\" " + what + ".\nSee '" + path + " --help'.\n\nUsage:  " + usage_line(cmd) + "\n\n" +
         cmd->get_description();
}

std::string unknown_flag_error(const CLI::App* cmd, const std::string& arg) {
  std::string path = "cppcker" + (command_path(cmd).empty() ? "" : " " + command_path(cmd));
  std::string see = "\nSee '" + path + " --help'.";
  if (arg.rfind("--", 0) == 0) return "unknown flag: " + arg.substr(0, arg.find('=')) + see;
  // A group of short flags (-it): the first letter that no command on the way knows, as pflag reports.
  auto known = [cmd](char c) {
    for (const CLI::App* a = cmd; a; a = a->get_parent())
      for (const CLI::Option* o : a->get_options())
        if (o->check_sname(std::string(1, c))) return true;
    return false;
  };
  char bad = arg.size() > 1 ? arg[1] : '-';
  for (std::size_t i = 1; i < arg.size(); ++i)
    if (!known(arg[i])) {
      bad = arg[i];
      break;
    }
  return std::string("unknown shorthand flag: '") + bad + "' in " + arg + see;
}

bool needs_root(const CLI::App* cmd) {
  const CommandInfo* info = command_info(command_path(cmd));
  return info ? info->needs_root : true;
}

CompletionKind completion_kind(const CLI::App* cmd) {
  const CommandInfo* info = command_info(command_path(cmd));
  return info ? info->completion : CompletionKind::none;
}

}  // namespace cppcker::cli
