// The build's executor: stages in order, each instruction a cached step.
#include "cppcker/build/builder.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <set>

#include "cppcker/build/cache.hpp"
#include "cppcker/build/shell_lex.hpp"
#include "cppcker/image/commit.hpp"
#include "cppcker/image/pull.hpp"
#include "cppcker/image/reference.hpp"
#include "cppcker/runtime/container_defaults.hpp"
#include "cppcker/runtime/container_fs.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/runtime/networking.hpp"
#include "cppcker/runtime/options.hpp"
#include "cppcker/runtime/run.hpp"
#include "cppcker/runtime/upper_layer.hpp"
#include "cppcker/storage/layer_writer.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"
#include "cppcker/util/text.hpp"
#include "cppcker/util/word_list.hpp"

namespace cppcker::build {

using nlohmann::json;

namespace {

// Usable without an ARG line, and kept out of the history and the cache key (Docker's rule).
constexpr std::array<std::string_view, 10> kProxyArgNames = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                                                             "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy"};
bool is_proxy_arg(std::string_view name) {
  return in_word_list(kProxyArgNames, name);
}
const char* const kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string env_key(const std::string& entry) { return entry.substr(0, entry.find('=')); }

std::vector<std::string> strings_at(const json& j, const char* key) {
  std::vector<std::string> out;
  if (j.contains(key) && j[key].is_array())
    for (const auto& v : j[key])
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

// Flags this builder implements; the parser has refused those BuildKit does not know, what remains (RUN
// --mount, ADD --checksum...) is refused here rather than ignored.
void check_flags(const Instruction& ins) {
  static const std::map<std::string, std::set<std::string>> allowed = {
      {"FROM", {"platform"}},
      {"RUN", {"network"}},
      {"COPY", {"from", "chown", "chmod", "link"}},
      {"ADD", {"chown", "chmod", "link"}},
      {"HEALTHCHECK", {"interval", "timeout", "start-period", "start-interval", "retries"}},
  };
  auto it = allowed.find(ins.keyword);
  for (const auto& f : ins.flags)
    if (it == allowed.end() || !it->second.count(f.name))
      throw Error("dockerfile parse error on line " + std::to_string(ins.line) + ": " + ins.keyword + " --" + f.name +
                  " is not supported by cppcker");
}

// A directory below the state root for one build's scratch files (fetched URLs, FROM scratch layers);
// removed with everything in it when the build ends. Names start with the builder's pid, so that what a
// killed build left is swept by the next one.
class ScratchDir {
 public:
  explicit ScratchDir(const fs::path& root) : path_(root / "build-tmp" / (std::to_string(::getpid()) + "-" + random_hex(8))) {
    std::error_code ec;
    for (fs::directory_iterator it(path_.parent_path(), ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      pid_t pid = static_cast<pid_t>(std::atol(name.c_str()));
      if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) remove_tree(it->path());
    }
    make_dirs(path_);
  }
  ~ScratchDir() {
    try {
      remove_tree(path_);
    } catch (const Error&) {
    }
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A step's container: removed when the step ends, however it ends, unless kept (a success with --rm=false).
// A failed step's container goes too (unlike Docker's default): a failed build leaves nothing behind.
class StepContainer {
 public:
  StepContainer(const BuildEnvironment& env, Container c) : env_(env), c_(std::move(c)) {}
  ~StepContainer() {
    if (keep_) return;
    try {
      // run_foreground left no owner mark naming this process, however the step ended.
      remove_container(env_.containers, env_.networks, env_.containers.load(c_.id).value_or(c_), /*force=*/true);
    } catch (const Error&) {
      // Best effort on a failure path: the error that ended the step is the one to report.
    }
  }
  StepContainer(const StepContainer&) = delete;
  StepContainer& operator=(const StepContainer&) = delete;
  Container& get() { return c_; }
  void keep() { keep_ = true; }

 private:
  const BuildEnvironment& env_;
  Container c_;
  bool keep_ = false;
};

struct StageState {
  std::string image;        // the current image ("" while a FROM scratch stage has made none)
  std::size_t layers = 0;   // its layer count (0: there is no filesystem to run in)
  json config = json::object();
  StageFlags flags;
  std::vector<std::string> args;  // "K=V": the ARGs declared in this stage that have a value
  std::set<std::string> declared;
  std::optional<Platform> platform;
};

class Executor {
 public:
  Executor(const BuildEnvironment& env, const BuildContext& context, const BuildOptions& options,
           BuildObserver& observer, const Dockerfile& df)
      : env_(env), context_(context), o_(options), observer_(observer), df_(df), lex_(df.escape), cache_(env.root),
        scratch_(env.root) {}

  std::string run() {
    if (!df_.syntax.empty()) observer_.note("# syntax=" + df_.syntax + " is ignored: cppcker builds with its own frontend");
    for (const auto& w : df_.warnings) observer_.note(w);
    global_env_ = global_arg_env(plan_global_args(), o_.build_args);
    plan_ = plan_build(df_, o_.target, global_env_);
    for (const auto& ins : plan_.global_args)
      for (const auto& [name, def] : name_values(ins)) {
        consumed_.insert(name);
        global_declared_.insert(name);
      }
    total_ = static_cast<int>(plan_.global_args.size());
    for (std::size_t s : plan_.build) total_ += static_cast<int>(plan_.stages[s].last - plan_.stages[s].first);
    for (const auto& ins : plan_.global_args) observer_.step(++step_, total_, ins.original);

    results_.assign(plan_.stages.size(), std::nullopt);
    StageState* last = nullptr;
    std::vector<StageState> states(plan_.stages.size());
    for (std::size_t s : plan_.build) {
      build_stage(s, states[s]);
      results_[s] = states[s].image;
      last = &states[s];
    }
    if (!o_.labels.empty()) {
      Instruction label;
      label.keyword = "LABEL";
      for (const auto& [k, v] : o_.labels) label.args += (label.args.empty() ? "" : " ") + json(k).dump() + "=" + json(v).dump();
      label.original = "LABEL " + label.args;
      metadata_step(*last, label);
    }
    if (last->image.empty()) throw Error("No image was generated. Is your Dockerfile empty?");

    std::vector<std::string> unused;
    for (const auto& [k, v] : o_.build_args)
      if (!consumed_.count(k) && !is_proxy_arg(k) && std::find(unused.begin(), unused.end(), k) == unused.end())
        unused.push_back(k);
    std::sort(unused.begin(), unused.end());
    if (!unused.empty()) observer_.note("[Warning] One or more build-args [" + join_words(unused) + "] were not consumed");

    observer_.built(last->image);
    for (const auto& tag : o_.tags) {
      env_.images.set_ref(Reference::parse(tag), last->image);
      observer_.tagged(Reference::parse(tag).familiar_string());
    }
    return last->image;
  }

 private:
  std::vector<Instruction> plan_global_args() const {
    std::vector<Instruction> out;
    for (const auto& ins : df_.instructions) {
      if (ins.keyword == "FROM") break;
      if (ins.keyword == "ARG") out.push_back(ins);
    }
    return out;
  }

  // The environment words are expanded with: the stage's ARGs, then its config's Env (which wins).
  std::vector<std::string> expand_env(const StageState& st) const {
    std::vector<std::string> env = st.args;
    for (const auto& e : strings_at(st.config, "Env")) env.push_back(e);
    return env;
  }

  void build_stage(std::size_t index, StageState& st) {
    const Stage& stage = plan_.stages[index];
    const auto& all = df_.instructions;
    observer_.step(++step_, total_, all[stage.first].original);
    in_step(all[stage.first], [&] { from(stage, st); });
    for (std::size_t i = stage.first + 1; i < stage.last; ++i) {
      observer_.step(++step_, total_, all[i].original);
      in_step(all[i], [&] { dispatch(st, all[i], index); });
    }
  }

  // Runs one step; its failure names the Dockerfile line (parse errors already do).
  template <typename F>
  void in_step(const Instruction& ins, F&& f) {
    try {
      f();
    } catch (const Error& e) {
      std::string what = e.what();
      if (what.rfind("dockerfile parse error", 0) == 0) throw;
      throw Error("failed to build: Dockerfile line " + std::to_string(ins.line) + ": " + what);
    }
  }

  void from(const Stage& stage, StageState& st) {
    check_flags(df_.instructions[stage.first]);
    if (!stage.platform.empty()) st.platform = Platform::parse(stage.platform);
    else st.platform = o_.platform;
    std::string base_lower = ascii_lower(stage.base);
    std::optional<std::string> base;
    for (std::size_t s = 0; &plan_.stages[s] != &stage; ++s)
      if (!plan_.stages[s].name.empty() && plan_.stages[s].name == base_lower) base = results_[s].value_or("");
    if (!base) base = base_lower == "scratch" ? std::string() : image_for(stage.base, st.platform);
    set_image(st, *base);
    observer_.step_image(st.image);
    // ONBUILD triggers of the base run now, and the new image does not inherit them.
    std::vector<std::string> triggers = strings_at(st.config, "OnBuild");
    st.config["OnBuild"] = nullptr;
    if (triggers.empty()) return;
    observer_.triggers(triggers.size());
    for (const auto& text : triggers) {
      Dockerfile trigger = parse_dockerfile(text);
      for (const auto& ins : trigger.instructions) {
        if (ins.keyword == "FROM" || ins.keyword == "ONBUILD" || ins.keyword == "MAINTAINER")
          throw Error(ins.keyword + " isn't allowed as an ONBUILD trigger");
        dispatch(st, ins, std::size_t(-1));
      }
    }
  }

  // An image by name: pulled when missing (or always with --pull).
  std::string image_for(const std::string& name, const std::optional<Platform>& platform) {
    if (!o_.pull) {
      if (auto id = env_.images.find_image(name)) return *id;
    }
    Reference ref = Reference::parse(name);
    observer_.pulling(ref.familiar_string());
    PullObserver quiet;
    PullOptions po;
    po.platform = platform;
    return pull_image(env_.images, env_.registry, ref, po, quiet).image_id;
  }

  void set_image(StageState& st, const std::string& id) {
    st.image = id;
    st.layers = 0;
    if (id.empty()) {
      st.config = json::object();
      return;
    }
    auto record = env_.images.get_image(id);
    if (!record) throw Error("No such image: " + id);
    st.layers = record->layers.size();
    json full = json::parse(env_.images.read_blob(id), nullptr, false);
    st.config = !full.is_discarded() && full.contains("config") && full["config"].is_object() ? full["config"] : json::object();
  }

  // A cache hit: the step's image is the cached one.
  bool reuse(StageState& st, const std::string& key) {
    if (o_.no_cache) return false;
    auto hit = cache_.lookup(env_.images, key);
    if (!hit) return false;
    set_image(st, *hit);
    observer_.using_cache();
    observer_.step_image(st.image);
    return true;
  }

  void remember(StageState& st, const std::string& key, const std::string& parent, const CommitResult& made) {
    st.image = made.image_id;
    if (!made.empty_layer) ++st.layers;
    cache_.put({key, parent, made.image_id});
    observer_.step_image(st.image);
  }

  NewImage new_image(const StageState& st, const std::string& created_by) const {
    NewImage n;
    n.base_image_id = st.image;
    n.platform = st.platform;
    n.config = st.config;
    n.history = {{"created_by", created_by}};
    n.author = st.flags.author;
    return n;
  }

  void dispatch(StageState& st, const Instruction& ins, std::size_t stage_index) {
    check_flags(ins);
    const std::string& kw = ins.keyword;
    if (kw == "ARG") return arg(st, ins);
    if (kw == "RUN") return run_step(st, ins);
    if (kw == "COPY" || kw == "ADD") return copy_step(st, ins, stage_index);
    if (kw == "WORKDIR") return workdir_step(st, ins);
    if (kw == "FROM") throw Error("FROM is only allowed at the start of a stage");
    metadata_step(st, ins);
  }

  void arg(StageState& st, const Instruction& ins) {
    std::vector<std::string> env = expand_env(st);
    for (const auto& [name, def] : name_values(ins)) {
      consumed_.insert(name);
      st.declared.insert(name);
      std::optional<std::string> value;
      for (const auto& [k, v] : o_.build_args)
        if (k == name) value = v;
      if (!value && def) value = lex_.expand_word(*def, env);
      // A global ARG re-declared without a default brings the global value into the stage.
      if (!value && global_declared_.count(name))
        value = lookup_env(global_env_, name);
      std::erase_if(st.args, [&](const std::string& e) { return env_key(e) == name; });
      if (value) st.args.push_back(name + "=" + *value);
    }
    observer_.step_image(st.image);
  }

  void metadata_step(StageState& st, const Instruction& ins) {
    std::string text = apply_instruction(st.config, ins, expand_env(st), df_.escape, st.flags);
    std::string key = cache_key({"meta", st.image, text, st.flags.author, st.config.dump()});
    if (reuse(st, key)) return;
    std::string parent = st.image;
    CommitResult made = store_new_image(env_.images, new_image(st, "/bin/sh -c #(nop)  " + text));
    remember(st, key, parent, made);
  }

  // A step container on the stage's image: the user, working directory and environment a RUN gets.
  Container make_container(const StageState& st, std::vector<std::string> argv, const std::string& network,
                           const std::vector<std::string>& extra_env) {
    ContainerSpec spec;
    resolve_cgroup_parent(spec, o_.cgroup_parent);
    apply_confinement_defaults(spec, env_.runtime);
    spec.image = st.image;
    spec.image_id = st.image;
    spec.cmd = std::move(argv);
    spec.workdir = st.config.value("WorkingDir", std::string());
    spec.user = st.config.value("User", std::string());
    spec.network = network;
    std::vector<std::string> image_env = strings_at(st.config, "Env");
    bool has_path = std::any_of(image_env.begin(), image_env.end(), [](const std::string& e) { return e.rfind("PATH=", 0) == 0; });
    if (!has_path) image_env.insert(image_env.begin(), kDefaultPath);
    validate_network(env_.networks, env_.containers, spec.network);
    return env_.containers.create(spec, "", [&](Container& r) {
      r.spec.hostname = r.id.substr(0, 12);
      r.spec.env = merge_env(merge_env(image_env, {"HOSTNAME=" + r.spec.hostname}), extra_env);
    });
  }

  // A step that succeeded: its container goes (--rm, the default; --force-rm) or stays (--rm=false).
  void finish(StepContainer& step) {
    if (!o_.remove && !o_.force_remove) return step.keep();
    observer_.removing(step.get().id);
  }

  CommitResult commit_container_step(const StageState& st, const Container& c, const std::string& created_by) {
    NewImage n = new_image(st, created_by);
    UpperLayer layer = container_upper_layer(env_.containers, env_.images, c);
    n.write_layer = [layer](const std::function<void(std::string_view)>& sink) { return write_layer_tar(layer, sink); };
    n.container_id = c.id;
    return store_new_image(env_.images, n);
  }

  // A change to the stage's filesystem without running anything: in a step container's live view, or
  // (a stage with no layer yet: FROM scratch) in an empty directory that becomes the first layer.
  CommitResult change_files(StageState& st, const std::string& created_by, const std::function<void(int)>& change) {
    if (st.layers == 0) {
      fs::path dir = scratch_.path() / ("layer-" + random_hex(6));
      make_dirs(dir);
      UniqueFd root(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!root) throw_errno("open " + dir.string());
      change(root.get());
      NewImage n = new_image(st, created_by);
      UpperLayer layer;
      layer.upper = dir;
      n.write_layer = [layer](const std::function<void(std::string_view)>& sink) { return write_layer_tar(layer, sink); };
      CommitResult made = store_new_image(env_.images, n);
      remove_tree(dir);
      return made;
    }
    StepContainer step(env_, make_container(st, {"/bin/sh"}, "none", {}));
    observer_.running_in(step.get().id);
    {
      ContainerFs view = open_container_fs(env_.images, env_.containers, step.get(), FsView::live);
      change(view.root());
    }
    CommitResult made = commit_container_step(st, step.get(), created_by);
    finish(step);
    return made;
  }

  void workdir_step(StageState& st, const Instruction& ins) {
    std::string text = apply_instruction(st.config, ins, expand_env(st), df_.escape, st.flags);
    std::string key = cache_key({"workdir", st.image, text, st.flags.author});
    if (reuse(st, key)) return;
    std::string dir = st.config.value("WorkingDir", std::string("/"));
    std::string parent = st.image;
    CommitResult made = change_files(st, "/bin/sh -c #(nop) " + text, [&](int root) { make_workdir(root, dir, st.config.value("User", std::string())); });
    remember(st, key, parent, made);
  }

  void run_step(StageState& st, const Instruction& ins) {
    if (st.layers == 0) throw Error("RUN needs a filesystem to run in: the stage has none (FROM scratch)");
    std::string network = o_.network;
    if (const Flag* f = ins.flag("network")) {
      if (f->value == "none" || f->value == "host") network = f->value;
      else if (f->value != "default") throw Error("unsupported network mode " + f->value);
    }
    // The command: exec form as written; shell form (a heredoc body included) through SHELL.
    std::vector<std::string> argv;
    if (ins.json) {
      argv = *ins.json;
    } else {
      argv = strings_at(st.config, "Shell");
      if (argv.empty()) argv = {"/bin/sh", "-c"};
      std::string script = ins.args;
      if (!ins.heredocs.empty()) {
        std::string rest = ins.args;
        // A lone "<<EOF": the body is the script; otherwise the shell reads the heredocs itself.
        if (ins.heredocs.size() == 1 && rest.rfind("<<", 0) == 0 && rest.find_first_of(" \t") == std::string::npos) {
          script = ins.heredocs[0].content;
        } else {
          for (const auto& h : ins.heredocs) script += "\n" + h.content + h.name;
          script += "\n";
        }
      }
      argv.push_back(script);
    }
    if (argv.empty()) throw Error("RUN requires at least one argument");
    // ARGs a RUN sees: the declared ones with a value that no ENV overrides (in its history and cache
    // key too), and the proxy variables given with --build-arg (in neither).
    std::vector<std::string> env_keys;
    for (const auto& e : strings_at(st.config, "Env")) env_keys.push_back(env_key(e));
    std::vector<std::string> run_args;
    for (const auto& a : st.args)
      if (std::find(env_keys.begin(), env_keys.end(), env_key(a)) == env_keys.end()) run_args.push_back(a);
    std::sort(run_args.begin(), run_args.end());
    std::vector<std::string> extra = run_args;
    for (const auto& [k, v] : o_.build_args)
      if (is_proxy_arg(k) && !st.declared.count(k)) extra.push_back(k + "=" + v);
    std::string created_by = join_words(argv);
    if (!run_args.empty()) created_by = "|" + std::to_string(run_args.size()) + " " + join_words(run_args) + " " + created_by;
    std::string body;
    for (const auto& h : ins.heredocs) body += h.name + "\n" + h.content;
    std::string key = cache_key({"run", st.image, ins.original, body, created_by, network});
    if (reuse(st, key)) return;

    StepContainer step(env_, make_container(st, argv, network, extra));
    observer_.running_in(step.get().id);
    int status = run_foreground(env_.images, env_.containers, env_.networks, step.get(), /*attach_stdin=*/false,
                                [&](int stream, std::string_view bytes) { observer_.output(stream, bytes); });
    if (status != 0)
      throw Error("The command '" + join_words(argv) + "' returned a non-zero code: " + std::to_string(status));
    std::string parent = st.image;
    CommitResult made = commit_container_step(st, step.get(), created_by);
    finish(step);
    remember(st, key, parent, made);
  }

  void copy_step(StageState& st, const Instruction& ins, std::size_t stage_index) {
    std::vector<std::string> env = expand_env(st);
    CopySpec spec;
    spec.add = ins.keyword == "ADD";
    spec.workdir = st.config.value("WorkingDir", std::string());
    if (spec.workdir.empty()) spec.workdir = "/";
    // Heredoc words are sources named after them; an unquoted delimiter's body is expanded as BuildKit
    // does it (quotes are plain characters there).
    std::vector<std::string> words;
    spec.heredocs.clear();
    for (const auto& w : split_words(ins)) {
      if (!ins.json) {
        if (auto h = heredoc_word(w)) {
          auto body = std::find_if(ins.heredocs.begin(), ins.heredocs.end(), [&](const Heredoc& d) { return d.name == h->name; });
          if (body != ins.heredocs.end()) {
            Heredoc doc = *body;
            if (doc.expand) doc.content = ShellLex(df_.escape, LexOptions{.skip_process_quotes = true}).expand_word(doc.content, env);
            spec.heredocs.push_back(std::move(doc));
            continue;
          }
        }
      }
      words.push_back(ins.json ? w : lex_.expand_word(w, env));
    }
    if (words.empty() || (words.size() < 2 && ins.heredocs.empty()))
      throw Error("dockerfile parse error on line " + std::to_string(ins.line) + ": " + ins.keyword + " requires at least two arguments");
    spec.dest = words.back();
    spec.sources.assign(words.begin(), words.end() - 1);
    if (const Flag* f = ins.flag("chown")) spec.chown = lex_.expand_word(f->value, env);
    if (const Flag* f = ins.flag("chmod")) {
      std::string m = lex_.expand_word(f->value, env);
      if (m.empty() || m.size() > 4 || m.find_first_not_of("01234567") != std::string::npos)
        throw Error("invalid chmod parameter: " + m);
      spec.chmod = static_cast<mode_t>(std::stoul(m, nullptr, 8));
    }

    SourceRoot source{context_.root(), &context_.ignore()};
    std::optional<decltype(open_image_fs(env_.images, std::string()))> from_fs;
    std::string from_text, from_image;
    if (const Flag* f = ins.flag("from")) {
      std::string ref = lex_.expand_word(f->value, env);
      std::optional<std::string> image;
      std::string l = ascii_lower(ref);
      std::size_t before = stage_index == std::size_t(-1) ? plan_.stages.size() : stage_index;
      for (std::size_t s = 0; s < before; ++s)
        if ((!plan_.stages[s].name.empty() && plan_.stages[s].name == l) || ref == std::to_string(s)) image = results_[s];
      if (!image) image = image_for(ref, st.platform);
      if (image->empty()) throw Error("COPY --from=" + ref + ": the stage has no filesystem");
      from_image = *image;
      from_text = " --from=" + *image;
    }
    std::string flags = from_text + (spec.chown.empty() ? "" : " --chown=" + spec.chown) +
                        (spec.chmod ? " --chmod=" + std::to_string(*spec.chmod) : "");
    std::optional<PreparedCopy> copy;
    std::string content;
    if (from_image.empty()) {
      copy.emplace(PreparedCopy::prepare(source, spec, scratch_.path()));
      content = copy->digest();
    } else {
      // An image ID names its whole filesystem (the config it is the digest of lists the layers' digests),
      // so a --from step is looked up without mounting and reading the source.
      for (const auto& h : spec.heredocs) content += h.name + "\n" + h.content;
    }
    std::string key = cache_key({ascii_lower(ins.keyword), st.image, flags, join_words(words, "\n"), content});
    if (reuse(st, key)) return;
    if (!copy) {
      from_fs.emplace(open_image_fs(env_.images, from_image));
      copy.emplace(PreparedCopy::prepare(SourceRoot{from_fs->root(), nullptr}, spec, scratch_.path()));
    }
    std::string parent = st.image;
    std::string created_by = "/bin/sh -c #(nop) " + ins.keyword + flags + " " + copy->digest() + " in " + spec.dest + " ";
    CommitResult made = change_files(st, created_by, [&](int root) { copy->apply(root); });
    remember(st, key, parent, made);
  }

  const BuildEnvironment& env_;
  const BuildContext& context_;
  const BuildOptions& o_;
  BuildObserver& observer_;
  const Dockerfile& df_;
  ShellLex lex_;
  BuildCache cache_;
  ScratchDir scratch_;
  Plan plan_;
  std::vector<std::string> global_env_;
  std::set<std::string> global_declared_, consumed_;
  std::vector<std::optional<std::string>> results_;  // each built stage's image
  int step_ = 0, total_ = 0;
};

}  // namespace

std::string build_image(const BuildEnvironment& env, const BuildContext& context, const BuildOptions& options,
                        BuildObserver& observer) {
  Dockerfile df = parse_dockerfile(options.dockerfile);
  Executor executor(env, context, options, observer, df);
  return executor.run();
}

}  // namespace cppcker::build
