// cppcker completion bash|zsh|fish: scripts generated at run time from the CLI11 command tree, so they
// list exactly the commands and flags this binary has; names (containers, images, networks, volumes) come
// from the hidden `cppcker __complete KIND`, which prints one per line and stays silent on any failure.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iostream>
#include <set>

#include "cppcker/cli/commands.hpp"
#include "cppcker/image/reference.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/runtime/volume.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/text.hpp"

namespace cppcker::cli {

namespace {

struct Node {
  std::string path;  // "" for cppcker itself, "network ls"
  std::string description;
  std::vector<std::pair<std::string, std::string>> subcommands;  // name, description
  std::vector<std::string> flags, value_flags;                     // "-d", "--detach"
  std::vector<const CLI::Option*> options;
  std::string kinds;        // "containers", "containers images", ...; empty: files
  bool first_only = false;  // only the first argument names something (run IMAGE [COMMAND...])
};

std::string kind_words(CompletionKind k) {
  switch (k) {
    case CompletionKind::container: return "containers";
    case CompletionKind::image: return "images";
    case CompletionKind::container_or_image: return "containers images";
    case CompletionKind::network: return "networks";
    case CompletionKind::volume: return "volumes";
    case CompletionKind::none: break;
  }
  return "";
}

void collect(const CLI::App* app, std::vector<Node>& out) {
  Node n;
  n.path = command_path(app);
  n.description = app->get_description();
  for (const CLI::Option* o : app->get_options()) {
    if (!o->nonpositional()) continue;
    n.options.push_back(o);
    for (const auto& s : o->get_snames()) {
      n.flags.push_back("-" + s);
      if (o->get_expected_max() != 0) n.value_flags.push_back("-" + s);
    }
    for (const auto& l : o->get_lnames()) {
      n.flags.push_back("--" + l);
      if (o->get_expected_max() != 0) n.value_flags.push_back("--" + l);
    }
  }
  n.kinds = kind_words(completion_kind(app));
  ArgumentRule rule = argument_rule(app);
  n.first_only = app->get_prefix_command() || (rule.max && *rule.max == 1);
  auto subs = app->get_subcommands([](const CLI::App* s) { return !s->get_group().empty() && !s->get_name().empty(); });
  std::sort(subs.begin(), subs.end(), [](const CLI::App* a, const CLI::App* b) { return a->get_name() < b->get_name(); });
  for (const CLI::App* s : subs) n.subcommands.emplace_back(s->get_name(), s->get_description());
  out.push_back(n);
  for (const CLI::App* s : subs) collect(s, out);
}

// One shell function per table: `case "$1" in "path") echo words ;; esac`.
std::string case_function(const std::string& name, const std::vector<Node>& nodes,
                          const std::function<std::string(const Node&)>& words) {
  std::string out = name + "() {\n  case \"$1\" in\n";
  for (const auto& n : nodes) {
    std::string w = words(n);
    if (!w.empty()) out += "    \"" + n.path + "\") echo \"" + w + "\" ;;\n";
  }
  return out + "  esac\n}\n";
}

// The bash completer; zsh runs the same through bashcompinit.
std::string bash_functions(const std::vector<Node>& nodes) {
  std::string out;
  out += case_function("__cppcker_subcommands", nodes, [](const Node& n) {
    std::vector<std::string> names;
    for (const auto& s : n.subcommands) names.push_back(s.first);
    return join_words(names);
  });
  out += case_function("__cppcker_flags", nodes, [](const Node& n) { return join_words(n.flags); });
  out += case_function("__cppcker_value_flags", nodes, [](const Node& n) { return join_words(n.value_flags); });
  out += case_function("__cppcker_kinds", nodes, [](const Node& n) { return n.kinds + (n.first_only && !n.kinds.empty() ? " first" : ""); });
  out += R"sh(__cppcker_names() {
  local kind
  for kind in $1; do
    [ "$kind" = first ] || cppcker "${__cppcker_root[@]}" __complete "$kind" 2>/dev/null
  done
}
__cppcker_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
  local path="" w i=1 nargs=0
  local values=" $(__cppcker_value_flags "") "
  __cppcker_root=()
  while [ "$i" -lt "$COMP_CWORD" ]; do
    w="${COMP_WORDS[i]}"
    case "$w" in
      --root) __cppcker_root=(--root "${COMP_WORDS[i+1]}") ;;
      --root=*) __cppcker_root=("$w") ;;
    esac
    if [[ "$w" == -* ]]; then
      [[ "$values" == *" $w "* ]] && i=$((i+1))
    elif [ "$nargs" -eq 0 ] && [[ " $(__cppcker_subcommands "$path") " == *" $w "* ]]; then
      path="${path:+$path }$w"
      values=" $(__cppcker_value_flags "$path") "
    else
      nargs=$((nargs+1))
    fi
    i=$((i+1))
  done
  COMPREPLY=()
  if [[ "$values" == *" $prev "* ]]; then
    case "$prev" in
      --network|--net) COMPREPLY=($(compgen -W "$(__cppcker_names networks)" -- "$cur")) ;;
    esac
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(__cppcker_flags "$path")" -- "$cur"))
    return 0
  fi
  local subs
  subs="$(__cppcker_subcommands "$path")"
  if [ -n "$subs" ]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    return 0
  fi
  local kinds
  kinds="$(__cppcker_kinds "$path")"
  if [ -n "$kinds" ] && { [ "$nargs" -eq 0 ] || [[ " $kinds " != *" first "* ]]; }; then
    COMPREPLY=($(compgen -W "$(__cppcker_names "$kinds")" -- "$cur"))
  fi
  return 0
}
)sh";
  return out;
}

std::string fish_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string fish_script(const std::vector<Node>& nodes) {
  std::string out = "# fish completion for cppcker, generated by `cppcker completion fish` from its command tree.\n";
  out += "function __cppcker_subcommands\n    switch \"$argv\"\n";
  for (const auto& n : nodes) {
    if (n.subcommands.empty()) continue;
    out += "        case " + fish_quote(n.path) + "\n            printf '%s\\n'";
    for (const auto& s : n.subcommands) out += " " + s.first;
    out += "\n";
  }
  out += "    end\nend\n";
  // True when the words typed so far lead to exactly the command path given as arguments.
  out += R"fish(function __cppcker_at
    set -l path
    for w in (commandline -opc)[2..-1]
        string match -q -- '-*' $w; and continue
        if contains -- $w (__cppcker_subcommands (string join ' ' $path))
            set path $path $w
        else
            break
        end
    end
    test (string join ' ' $path) = (string join ' ' $argv)
end
function __cppcker_names
    for kind in $argv
        cppcker __complete $kind 2>/dev/null
    end
end
)fish";
  for (const auto& n : nodes) {
    std::string cond = "-n " + fish_quote("__cppcker_at " + n.path);
    for (const auto& s : n.subcommands)
      out += "complete -c cppcker -f " + cond + " -a " + s.first + " -d " + fish_quote(s.second) + "\n";
    for (const CLI::Option* o : n.options) {
      std::string line = "complete -c cppcker " + cond;
      for (const auto& s : o->get_snames()) line += " -s " + s;
      for (const auto& l : o->get_lnames()) line += " -l " + l;
      if (o->get_expected_max() != 0) line += " -r";
      out += line + " -d " + fish_quote(o->get_description()) + "\n";
    }
    if (!n.kinds.empty()) out += "complete -c cppcker " + cond + " -a " + fish_quote("(__cppcker_names " + n.kinds + ")") + "\n";
  }
  return out;
}

std::string script(const CLI::App& root, const std::string& shell) {
  std::vector<Node> nodes;
  collect(&root, nodes);
  // The global flags are read after any command too (CLI11's fallthrough): each command offers them.
  auto merge = [](std::vector<std::string>& into, const std::vector<std::string>& from) {
    for (const auto& f : from)
      if (std::find(into.begin(), into.end(), f) == into.end()) into.push_back(f);
  };
  for (std::size_t i = 1; i < nodes.size(); ++i) {
    merge(nodes[i].flags, nodes[0].flags);
    merge(nodes[i].value_flags, nodes[0].value_flags);
  }
  if (shell == "bash")
    return "# bash completion for cppcker, generated by `cppcker completion bash` from its command tree.\n" +
           bash_functions(nodes) + "complete -o default -F __cppcker_complete cppcker\n";
  if (shell == "zsh")
    return "#compdef cppcker\n"
           "# zsh completion for cppcker, generated by `cppcker completion zsh`: the bash completer through bashcompinit.\n"
           "autoload -U +X bashcompinit && bashcompinit\n" +
           bash_functions(nodes) +
           "complete -o default -F __cppcker_complete cppcker\n"
           "# Autoloaded from $fpath as _cppcker: answer the request that loaded it too.\n"
           "[[ \"${funcstack[1]}\" == _cppcker ]] && _bash_complete -o default -F __cppcker_complete\n";
  return fish_script(nodes);
}

// Names for `__complete KIND`, one per line; whatever fails prints nothing more.
void print_names(const GlobalOptions& global, const std::string& kind) {
  std::error_code ec;
  if (!fs::is_directory(global.root, ec)) return;
  std::set<std::string> names;
  if (kind == "containers") {
    for (const auto& c : ContainerStore(global.root).list()) {
      names.insert(c.name);
      names.insert(c.id.substr(0, 12));
    }
  } else if (kind == "images") {
    for (const auto& [ref, id] : global.store().refs())
      if (ref.find('@') == std::string::npos) names.insert(Reference::parse(ref).familiar_string());
  } else if (kind == "networks") {
    for (const auto& n : global.networks().list()) names.insert(n.name);
  } else if (kind == "volumes") {
    for (const auto& v : VolumeStore(global.root).list()) names.insert(v);
  }
  for (const auto& n : names)
    if (!n.empty()) std::cout << n << "\n";
}

}  // namespace

void register_completion(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("completion", "Print the shell completion script for bash, zsh or fish");
  auto shell = std::make_shared<std::string>();
  cmd->add_option("SHELL", *shell, "bash, zsh or fish")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));
  set_action(cmd, [&app, shell] {
    std::cout << script(app, *shell);
    return 0;
  });

  auto* names = app.add_subcommand("__complete", "Print names for shell completion")->group("");
  auto kind = std::make_shared<std::string>();
  names->add_option("KIND", *kind, "containers, images, networks or volumes")->required();
  set_action(names, [&global, kind] {
    spdlog::set_level(spdlog::level::off);  // completion must never print errors into the user's line
    try {
      print_names(global, *kind);
    } catch (...) {
      // A store this user cannot read, a half-written record: no names, no noise.
    }
    return 0;
  });
}

}  // namespace cppcker::cli
