// The pure parts of the builder: stages and the target, global ARGs, metadata instructions on a config.
#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include "cppcker/build/builder.hpp"
#include "cppcker/build/shell_lex.hpp"
#include "cppcker/runtime/health.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/storage/unpack.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/text.hpp"

namespace cppcker::build {

using nlohmann::json;

namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

[[noreturn]] void parse_error(const Instruction& ins, const std::string& what) {
  throw Error("dockerfile parse error on line " + std::to_string(ins.line) + ": " + what);
}

bool is_number(const std::string& s) {
  return !s.empty() && s.size() < 9 && s.find_first_not_of("0123456789") == std::string::npos;
}

// An env list with `name` set to `value` (replacing an earlier entry).
void set_env(json& config, const std::string& name, const std::string& value) {
  json env = config.contains("Env") && config["Env"].is_array() ? config["Env"] : json::array();
  std::string entry = name + "=" + value;
  bool replaced = false;
  for (auto& e : env) {
    std::string s = e.is_string() ? e.get<std::string>() : "";
    if (s.substr(0, s.find('=')) == name) {
      e = entry;
      replaced = true;
    }
  }
  if (!replaced) env.push_back(entry);
  config["Env"] = env;
}

json object_at(const json& config, const char* key) {
  return config.contains(key) && config[key].is_object() ? config[key] : json::object();
}

std::vector<std::string> shell_of(const json& config) {
  std::vector<std::string> shell = {"/bin/sh", "-c"};
  if (config.contains("Shell") && config["Shell"].is_array() && !config["Shell"].empty()) {
    shell.clear();
    for (const auto& v : config["Shell"]) shell.push_back(v.get<std::string>());
  }
  return shell;
}

// CMD, ENTRYPOINT, HEALTHCHECK CMD: the exec form as written, the shell form wrapped in SHELL.
std::vector<std::string> command_of(const json& config, const std::optional<std::vector<std::string>>& exec,
                                    const std::string& text) {
  if (exec) return *exec;
  std::vector<std::string> argv = shell_of(config);
  argv.push_back(text);
  return argv;
}

std::string clean_abs(const std::string& p) { return "/" + clean_layer_path(p).value_or(""); }

}  // namespace

std::vector<std::string> global_arg_env(const std::vector<Instruction>& args,
                                        const std::vector<std::pair<std::string, std::string>>& build_args) {
  std::vector<std::string> env;
  ShellLex lex;
  for (const auto& ins : args) {
    for (const auto& [name, def] : name_values(ins)) {
      std::optional<std::string> value;
      for (const auto& [k, v] : build_args)
        if (k == name) value = v;
      if (!value && def) value = lex.expand_word(*def, env);
      if (value) env.push_back(name + "=" + *value);
    }
  }
  return env;
}

Plan plan_build(const Dockerfile& df, const std::string& target, const std::vector<std::string>& global_env) {
  Plan plan;
  ShellLex lex(df.escape);
  const auto& all = df.instructions;
  std::size_t i = 0;
  for (; i < all.size() && all[i].keyword != "FROM"; ++i) {
    if (all[i].keyword != "ARG") parse_error(all[i], "no build stage in current context");
    plan.global_args.push_back(all[i]);
  }
  if (i == all.size()) throw Error("dockerfile parse error: no build stage in current context");
  for (; i < all.size(); ++i) {
    if (all[i].keyword != "FROM") continue;
    if (!plan.stages.empty()) plan.stages.back().last = i;
    const Instruction& from = all[i];
    auto words = split_words(from);
    Stage st;
    st.first = i;
    st.last = all.size();
    st.line = from.line;
    if (words.size() == 3 && ascii_lower(words[1]) == "as") {
      st.name = ascii_lower(words[2]);
      if (st.name.empty() || !std::isalpha(static_cast<unsigned char>(st.name.front())) ||
          st.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-.") != std::string::npos)
        parse_error(from, "invalid name for build stage: \"" + words[2] + "\", name can't start with a number or contain symbols");
      if (is_number(st.name)) parse_error(from, "invalid name for build stage: \"" + words[2] + "\"");
      for (const auto& other : plan.stages)
        if (other.name == st.name) parse_error(from, "duplicate stage name \"" + words[2] + "\"");
    } else if (words.size() != 1) {
      parse_error(from, "FROM requires either one or three arguments");
    }
    st.base = lex.expand_word(words[0], global_env);
    if (st.base.empty()) parse_error(from, "base name (" + words[0] + ") should not be blank");
    if (const Flag* f = from.flag("platform")) st.platform = lex.expand_word(f->value, global_env);
    plan.stages.push_back(std::move(st));
  }

  // The target and what it needs, found backwards from it.
  std::size_t target_index = plan.stages.size() - 1;
  if (!target.empty()) {
    auto it = std::find_if(plan.stages.begin(), plan.stages.end(), [&](const Stage& s) { return s.name == ascii_lower(target); });
    if (it == plan.stages.end()) throw Error("target stage \"" + target + "\" could not be found");
    target_index = static_cast<std::size_t>(it - plan.stages.begin());
  }
  // A stage referred to by name or index, among those before `before`.
  auto stage_ref = [&](const std::string& ref, std::size_t before) -> std::optional<std::size_t> {
    std::string l = ascii_lower(ref);
    for (std::size_t s = 0; s < before; ++s)
      if (!plan.stages[s].name.empty() && plan.stages[s].name == l) return s;
    if (is_number(ref)) {
      std::size_t n = std::stoul(ref);
      if (n < before) return n;
    }
    return std::nullopt;
  };
  std::set<std::size_t> needed;
  std::function<void(std::size_t)> need = [&](std::size_t s) {
    if (!needed.insert(s).second) return;
    const Stage& st = plan.stages[s];
    // FROM <stage> by name only (a number is an image name there).
    std::string l = ascii_lower(st.base);
    for (std::size_t o = 0; o < s; ++o)
      if (!plan.stages[o].name.empty() && plan.stages[o].name == l) need(o);
    for (std::size_t k = st.first + 1; k < st.last; ++k) {
      const Instruction& ins = all[k];
      if (ins.keyword != "COPY" && ins.keyword != "ADD") continue;
      if (const Flag* f = ins.flag("from")) {
        if (auto o = stage_ref(f->value, s)) need(*o);
        else if (is_number(f->value)) parse_error(ins, "invalid from flag value " + f->value + ": refers to a stage not yet defined");
      }
    }
  };
  need(target_index);
  plan.build.assign(needed.begin(), needed.end());
  return plan;
}

std::string apply_instruction(json& config, const Instruction& ins, const std::vector<std::string>& env, char escape,
                              StageFlags& flags) {
  ShellLex lex(escape);
  const std::string& kw = ins.keyword;
  auto need_args = [&] {
    if (ins.args.empty() && !ins.json) parse_error(ins, kw + " requires at least one argument");
  };
  if (kw == "ENV") {
    std::string text = "ENV";
    std::vector<std::pair<std::string, std::string>> set;
    for (const auto& [k, v] : name_values(ins)) {
      std::string name = lex.expand_word(k, env);
      if (name.empty()) parse_error(ins, "ENV names can not be blank");
      // Every value of one ENV sees the environment from before it, as in Docker.
      std::string value = v ? lex.expand_word(*v, env) : "";
      set.emplace_back(name, value);
      text += " " + name + "=" + value;
    }
    for (const auto& [k, v] : set) set_env(config, k, v);
    return text;
  }
  if (kw == "LABEL") {
    json labels = object_at(config, "Labels");
    std::string text = "LABEL";
    for (const auto& [k, v] : name_values(ins)) {
      std::string name = lex.expand_word(k, env);
      if (name.empty()) parse_error(ins, "LABEL names can not be blank");
      std::string value = v ? lex.expand_word(*v, env) : "";
      labels[name] = value;
      text += " " + name + "=" + value;
    }
    config["Labels"] = labels;
    return text;
  }
  if (kw == "EXPOSE") {
    need_args();
    json ports = object_at(config, "ExposedPorts");
    std::string text = "EXPOSE";
    for (const auto& w : split_words(ins)) {
      for (auto& port : lex.expand_words(w, env)) {
        std::string key = port;
        auto slash = key.find('/');
        std::string num = key.substr(0, slash);
        std::string proto = slash == std::string::npos ? "tcp" : ascii_lower(key.substr(slash + 1));
        if (proto != "tcp" && proto != "udp" && proto != "sctp") throw Error("invalid proto: " + proto);
        auto dash = num.find('-');
        std::string lo = num.substr(0, dash), hi = dash == std::string::npos ? lo : num.substr(dash + 1);
        if (!is_number(lo) || !is_number(hi) || std::stoul(lo) > 65535 || std::stoul(hi) > 65535 || std::stoul(hi) < std::stoul(lo))
          throw Error("invalid containerPort: " + port);
        for (unsigned long p = std::stoul(lo); p <= std::stoul(hi); ++p) ports[std::to_string(p) + "/" + proto] = json::object();
        text += " " + port;
      }
    }
    config["ExposedPorts"] = ports;
    return text;
  }
  if (kw == "USER") {
    need_args();
    std::string user = lex.expand_word(ins.args, env);
    config["User"] = user;
    return "USER " + user;
  }
  if (kw == "WORKDIR") {
    need_args();
    std::string dir = lex.expand_word(ins.args, env);
    if (dir.empty()) parse_error(ins, "WORKDIR requires at least one argument");
    if (dir.front() != '/') dir = config.value("WorkingDir", std::string("/")) + "/" + dir;
    dir = clean_abs(dir);
    config["WorkingDir"] = dir;
    return "WORKDIR " + dir;
  }
  if (kw == "VOLUME") {
    need_args();
    json vols = object_at(config, "Volumes");
    std::string text = "VOLUME [";
    std::vector<std::string> list;
    if (ins.json) {
      for (const auto& v : *ins.json) list.push_back(lex.expand_word(v, env));
    } else {
      for (const auto& w : split_words(ins))
        for (auto& v : lex.expand_words(w, env)) list.push_back(v);
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (list[i].find_first_not_of(" \t") == std::string::npos) throw Error("VOLUME specified can not be an empty string");
      vols[list[i]] = json::object();
      text += (i ? " " : "") + list[i];
    }
    config["Volumes"] = vols;
    return text + "]";
  }
  if (kw == "CMD" || kw == "ENTRYPOINT") {
    std::vector<std::string> argv;
    if (ins.json || !ins.args.empty()) argv = command_of(config, ins.json, ins.args);
    json value = argv.empty() && !ins.json ? json(nullptr) : json(argv);
    if (kw == "CMD") {
      config["Cmd"] = value;
      flags.cmd_set = true;
    } else {
      config["Entrypoint"] = value;
      if (!flags.cmd_set) config["Cmd"] = nullptr;  // an inherited CMD goes with a new ENTRYPOINT
    }
    return kw + " " + value.dump();
  }
  if (kw == "SHELL") {
    if (!ins.json) parse_error(ins, "SHELL requires the arguments to be in JSON form");
    if (ins.json->empty()) parse_error(ins, "SHELL requires at least one argument");
    config["Shell"] = *ins.json;
    return "SHELL " + json(*ins.json).dump();
  }
  if (kw == "STOPSIGNAL") {
    need_args();
    std::string sig = lex.expand_word(ins.args, env);
    try {
      parse_signal(sig);
    } catch (const Error&) {
      throw Error("Invalid signal: " + sig);
    }
    config["StopSignal"] = sig;
    return "STOPSIGNAL " + sig;
  }
  if (kw == "MAINTAINER") {
    need_args();
    flags.author = ins.args;
    return "MAINTAINER " + ins.args;
  }
  if (kw == "ONBUILD") {
    need_args();
    std::string trigger = onbuild_expression(ins);  // stored as written, as BuildKit stores it
    std::string word = upper(trigger.substr(0, trigger.find_first_of(" \t\n")));
    if (word == "ONBUILD") parse_error(ins, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    if (word == "FROM" || word == "MAINTAINER") parse_error(ins, word + " isn't allowed as an ONBUILD trigger");
    json list = config.contains("OnBuild") && config["OnBuild"].is_array() ? config["OnBuild"] : json::array();
    list.push_back(trigger);
    config["OnBuild"] = list;
    return "ONBUILD " + trigger;
  }
  if (kw == "HEALTHCHECK") {
    need_args();
    std::string rest = ins.args;
    auto space = rest.find_first_of(" \t");
    std::string type = upper(rest.substr(0, space));
    rest = space == std::string::npos ? "" : rest.substr(rest.find_first_not_of(" \t", space));
    json hc = json::object();
    if (type == "NONE") {
      if (!rest.empty()) parse_error(ins, "HEALTHCHECK NONE takes no arguments");
      hc["Test"] = json::array({"NONE"});
    } else if (type == "CMD") {
      if (rest.empty()) parse_error(ins, "Missing command after HEALTHCHECK CMD");
      const auto& exec = ins.json;
      std::vector<std::string> test;
      if (exec) {
        test = {"CMD"};
        test.insert(test.end(), exec->begin(), exec->end());
      } else {
        test = {"CMD-SHELL", rest};
      }
      hc["Test"] = test;
      auto duration = [&](const char* name, const char* key) {
        const Flag* f = ins.flag(name);
        if (!f) return;
        std::int64_t ns;
        try {
          ns = parse_go_duration(f->value);
        } catch (const Error& e) {
          parse_error(ins, std::string("invalid --") + name + " value: " + e.what());
        }
        if (ns != 0 && ns < 1'000'000) parse_error(ins, std::string("Interval \"") + name + "\" cannot be less than 1ms");
        if (ns < 0) parse_error(ins, std::string("Interval \"") + name + "\" cannot be negative");
        if (ns) hc[key] = ns;
      };
      duration("interval", "Interval");
      duration("timeout", "Timeout");
      duration("start-period", "StartPeriod");
      duration("start-interval", "StartInterval");
      if (const Flag* f = ins.flag("retries")) {
        if (!is_number(f->value)) parse_error(ins, "invalid --retries value: " + f->value);
        int n = std::stoi(f->value);
        if (n) hc["Retries"] = n;
      }
    } else {
      parse_error(ins, "Unknown type \"" + type + "\" in HEALTHCHECK (try CMD)");
    }
    config["Healthcheck"] = hc;
    return "HEALTHCHECK " + hc.dump();
  }
  throw Error("dockerfile parse error on line " + std::to_string(ins.line) + ": unknown instruction: " + kw);
}

}  // namespace cppcker::build
