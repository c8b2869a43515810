#include "cppcker/image/commit.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <exception>
#include <memory>
#include <set>
#include <thread>

#include "cppcker/image/pull.hpp"
#include "cppcker/image/reference.hpp"
#include "cppcker/storage/ingest.hpp"
#include "cppcker/storage/unpack.hpp"
#include "cppcker/util/decompress.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fd.hpp"
#include "cppcker/util/humanize.hpp"
#include "cppcker/util/sha256.hpp"

namespace cppcker {

using nlohmann::json;

// ---------------------------------------------------------------- -c changes

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// Shell-like words: whitespace separates, "..." and '...' group (quotes removed), a backslash escapes the
// next character (inside "..." only \" \\ and \$), as Dockerfile ENV and LABEL read their arguments.
std::vector<std::string> split_words(std::string_view s, const std::string& instruction) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (is_space(c)) {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\' && i + 1 < s.size()) {
      cur += s[++i];
    } else if (c == '"' || c == '\'') {
      char q = c;
      std::size_t j = i + 1;
      for (; j < s.size() && s[j] != q; ++j) {
        if (q == '"' && s[j] == '\\' && j + 1 < s.size() && (s[j + 1] == '"' || s[j + 1] == '\\' || s[j + 1] == '$')) ++j;
        cur += s[j];
      }
      if (j >= s.size()) throw Error(instruction + ": unexpected end of statement while looking for matching " + q);
      i = j;
    } else {
      cur += c;
    }
  }
  if (in_word) words.push_back(std::move(cur));
  return words;
}

// JSON form (["a", "b"]) when the text is a JSON array of strings, else nullopt.
std::optional<std::vector<std::string>> json_form(const std::string& args) {
  if (args.empty() || args.front() != '[') return std::nullopt;
  json j = json::parse(args, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& v : j) {
    if (!v.is_string()) return std::nullopt;
    out.push_back(v.get<std::string>());
  }
  return out;
}

// KEY=VALUE pairs, or the legacy "KEY VALUE" form.
std::vector<std::pair<std::string, std::string>> name_values(const std::string& args, const std::string& instruction) {
  std::vector<std::pair<std::string, std::string>> out;
  auto words = split_words(args, instruction);
  if (words.empty()) throw Error(instruction + " requires at least one argument");
  if (words.front().find('=') == std::string::npos) {
    // Legacy form: the first word is the name, the rest of the line (whitespace kept) the value.
    std::string first = words.front();
    std::string_view rest = args;
    rest.remove_prefix(std::min(rest.size(), rest.find_first_of(" \t")));
    if (trim(rest).empty()) throw Error(instruction + " must have two arguments");
    auto value_words = split_words(trim(rest), instruction);
    std::string value;
    for (std::size_t i = 0; i < value_words.size(); ++i) value += (i ? " " : "") + value_words[i];
    out.emplace_back(first, value);
    return out;
  }
  for (const auto& w : words) {
    auto eq = w.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error("Syntax error - can't find = in \"" + w + "\". Must be of the form: name=value");
    out.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  return out;
}

// "80", "80/udp", "8000-8010/tcp" -> "80/tcp" keys.
std::vector<std::string> port_keys(const std::string& spec) {
  std::string proto = "tcp";
  std::string ports = spec;
  if (auto slash = spec.find('/'); slash != std::string::npos) {
    proto = spec.substr(slash + 1);
    ports = spec.substr(0, slash);
  }
  std::transform(proto.begin(), proto.end(), proto.begin(), ::tolower);
  if (proto != "tcp" && proto != "udp" && proto != "sctp") throw Error("invalid proto: " + proto);
  auto number = [&](const std::string& p) {
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
      throw Error("invalid containerPort: " + spec);
    int n = std::stoi(p);
    if (n > 65535) throw Error("invalid containerPort: " + spec);
    return n;
  };
  int lo, hi;
  if (auto dash = ports.find('-'); dash != std::string::npos) {
    lo = number(ports.substr(0, dash));
    hi = number(ports.substr(dash + 1));
    if (hi < lo) throw Error("invalid range specified for container port: " + spec);
  } else {
    lo = hi = number(ports);
  }
  std::vector<std::string> out;
  for (int p = lo; p <= hi; ++p) out.push_back(std::to_string(p) + "/" + proto);
  return out;
}

bool valid_signal(std::string s) {
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) {
    int n = std::stoi(s.substr(0, 4));
    return n > 0 && n < 65;
  }
  std::transform(s.begin(), s.end(), s.begin(), ::toupper);
  if (s.rfind("SIG", 0) == 0) s = s.substr(3);
  static const std::set<std::string> names = {
      "ABRT", "ALRM", "BUS",  "CHLD", "CLD",  "CONT", "FPE",  "HUP",    "ILL",  "INT",  "IO",   "IOT",
      "KILL", "PIPE", "POLL", "PROF", "PWR",  "QUIT", "SEGV", "STKFLT", "STOP", "SYS",  "TERM", "TRAP",
      "TSTP", "TTIN", "TTOU", "URG",  "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ"};
  if (names.count(s)) return true;
  if (s.rfind("RTMIN", 0) == 0 || s.rfind("RTMAX", 0) == 0) return true;
  return false;
}

std::string clean_abs(const std::string& p) {
  auto cleaned = clean_layer_path(p);
  return "/" + cleaned.value_or("");
}

}  // namespace

json apply_changes(json config, const std::vector<std::string>& changes) {
  if (!config.is_object()) config = json::object();
  bool cmd_set = false;
  for (const auto& raw : changes) {
    std::string line = trim(raw);
    if (line.empty()) continue;
    auto space = line.find_first_of(" \t");
    std::string word = line.substr(0, space);
    std::string args = space == std::string::npos ? "" : trim(std::string_view(line).substr(space));
    std::string lower = word;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    std::string upper = word;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    static const std::set<std::string> valid = {"cmd",   "entrypoint", "env",     "expose",    "label",
                                                "user",  "volume",     "workdir", "stopsignal"};
    if (!valid.count(lower)) throw Error(lower + " is not a valid change command");
    auto need_args = [&] {
      if (args.empty()) throw Error(upper + " requires at least one argument");
    };
    if (lower == "cmd" || lower == "entrypoint") {
      need_args();
      std::vector<std::string> argv;
      if (auto j = json_form(args)) argv = *j;
      else argv = {"/bin/sh", "-c", args};
      if (lower == "cmd") {
        config["Cmd"] = argv;
        cmd_set = true;
      } else {
        config["Entrypoint"] = argv;
        // An ENTRYPOINT resets a CMD that did not come with it (Dockerfile semantics).
        if (!cmd_set) config["Cmd"] = nullptr;
      }
    } else if (lower == "env") {
      json env = config.contains("Env") && config["Env"].is_array() ? config["Env"] : json::array();
      for (const auto& [k, v] : name_values(args, upper)) {
        std::string entry = k + "=" + v;
        bool replaced = false;
        for (auto& e : env) {
          std::string s = e.is_string() ? e.get<std::string>() : "";
          if (s.substr(0, s.find('=')) == k) {
            e = entry;
            replaced = true;
          }
        }
        if (!replaced) env.push_back(entry);
      }
      config["Env"] = env;
    } else if (lower == "label") {
      json labels = config.contains("Labels") && config["Labels"].is_object() ? config["Labels"] : json::object();
      for (const auto& [k, v] : name_values(args, upper)) labels[k] = v;
      config["Labels"] = labels;
    } else if (lower == "expose") {
      need_args();
      json ports = config.contains("ExposedPorts") && config["ExposedPorts"].is_object() ? config["ExposedPorts"] : json::object();
      for (const auto& w : split_words(args, upper))
        for (const auto& k : port_keys(w)) ports[k] = json::object();
      config["ExposedPorts"] = ports;
    } else if (lower == "user") {
      need_args();
      config["User"] = args;
    } else if (lower == "volume") {
      need_args();
      json vols = config.contains("Volumes") && config["Volumes"].is_object() ? config["Volumes"] : json::object();
      std::vector<std::string> list;
      if (auto j = json_form(args)) list = *j;
      else list = split_words(args, upper);
      for (const auto& v : list) {
        if (trim(v).empty()) throw Error("VOLUME specified can not be an empty string");
        vols[v] = json::object();
      }
      config["Volumes"] = vols;
    } else if (lower == "workdir") {
      need_args();
      std::string dir = args;
      if (dir.front() != '/') dir = config.value("WorkingDir", std::string()) + "/" + dir;
      config["WorkingDir"] = clean_abs(dir);
    } else if (lower == "stopsignal") {
      need_args();
      if (!valid_signal(args)) throw Error("Invalid signal: " + args);
      config["StopSignal"] = args;
    }
  }
  return config;
}

json merge_config(json user, const json& container) {
  auto empty = [&](const char* key) {
    return !user.contains(key) || user[key].is_null() || (user[key].is_string() && user[key].get<std::string>().empty()) ||
           ((user[key].is_array() || user[key].is_object()) && user[key].empty());
  };
  auto has = [&](const char* key) { return container.contains(key) && !container[key].is_null(); };
  if (!user.is_object()) user = json::object();
  for (const char* key : {"User", "WorkingDir", "StopSignal"})
    if (empty(key) && has(key)) user[key] = container[key];
  if (empty("Env")) {
    if (has("Env")) user["Env"] = container["Env"];
  } else if (has("Env")) {
    for (const auto& e : container["Env"]) {
      std::string s = e.get<std::string>();
      std::string key = s.substr(0, s.find('='));
      bool found = false;
      for (const auto& u : user["Env"]) {
        std::string us = u.get<std::string>();
        if (us.substr(0, us.find('=')) == key) found = true;
      }
      if (!found) user["Env"].push_back(s);
    }
  }
  for (const char* key : {"Labels", "ExposedPorts", "Volumes"}) {
    if (!has(key) || !container[key].is_object()) continue;
    if (!user.contains(key) || !user[key].is_object()) user[key] = json::object();
    for (const auto& [k, v] : container[key].items())
      if (!user[key].contains(k)) user[key][k] = v;
  }
  if (empty("Entrypoint")) {
    if (empty("Cmd") && has("Cmd")) user["Cmd"] = container["Cmd"];
    if (!user.contains("Entrypoint") || user["Entrypoint"].is_null())
      user["Entrypoint"] = has("Entrypoint") ? container["Entrypoint"] : json(nullptr);
  }
  for (const char* key : {"Healthcheck", "OnBuild", "ArgsEscaped"})
    if (empty(key) && has(key)) user[key] = container[key];
  return user;
}

std::string image_name(const std::string& text) {
  if (text.empty()) return "";
  Reference ref = Reference::parse(text);
  if (!ref.digest.empty()) throw Error("refusing to create a tag with a digest reference");
  if (ref.tag.empty()) ref.tag = "latest";
  return ref.string();
}

// ---------------------------------------------------------------- the layer pipeline

namespace {

constexpr std::size_t kQueueBytes = 16u << 20;

// Feeds unpack_layer from a queue.
class QueueSource : public ByteSource {
 public:
  explicit QueueSource(ChunkQueue& q) : queue_(q) {}
  std::string_view next() override {
    current_ = queue_.pop();
    return current_;
  }

 private:
  ChunkQueue& queue_;
  std::string current_;
};

// gzip with zlib's fastest level, dropping to stored blocks for stretches that do not compress (random
// or already compressed file data): such data costs a copy and a CRC instead of a futile search.
class Gzip {
 public:
  explicit Gzip(std::function<void(std::string_view)> out) : out_(std::move(out)) {
    if (deflateInit2(&z_, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw Error("gzip: cannot initialise zlib");
  }
  ~Gzip() { deflateEnd(&z_); }
  Gzip(const Gzip&) = delete;
  Gzip& operator=(const Gzip&) = delete;

  void write(std::string_view data) {
    int want = stored_left_ > 0 ? Z_NO_COMPRESSION : Z_BEST_SPEED;
    if (want != level_) {
      set_level(want);
      level_ = want;
    }
    std::uint64_t before = produced_;
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z_.avail_in = static_cast<uInt>(data.size());
    run(Z_NO_FLUSH);
    if (stored_left_ > 0) {
      --stored_left_;
    } else if (data.size() >= (256u << 10) && produced_ - before > data.size() * 97 / 100) {
      stored_left_ = 16;  // try compressing again after 16 chunks
    }
  }
  void finish() { run(Z_FINISH); }

 private:
  void set_level(int level) {
    for (;;) {
      z_.next_out = reinterpret_cast<Bytef*>(buf_.data());
      z_.avail_out = static_cast<uInt>(buf_.size());
      int rc = deflateParams(&z_, level, Z_DEFAULT_STRATEGY);
      emit();
      if (rc == Z_OK) return;
      if (rc != Z_BUF_ERROR) throw Error("gzip: deflateParams failed");
    }
  }
  void run(int flush) {
    for (;;) {
      z_.next_out = reinterpret_cast<Bytef*>(buf_.data());
      z_.avail_out = static_cast<uInt>(buf_.size());
      int rc = deflate(&z_, flush);
      if (rc == Z_STREAM_ERROR) throw Error("gzip: deflate failed");
      emit();
      if (flush == Z_FINISH ? rc == Z_STREAM_END : (z_.avail_in == 0 && z_.avail_out != 0)) return;
    }
  }
  void emit() {
    std::size_t n = buf_.size() - z_.avail_out;
    produced_ += n;
    if (n) out_(std::string_view(buf_.data(), n));
  }
  z_stream z_{};
  std::function<void(std::string_view)> out_;
  std::string buf_ = std::string(1u << 20, '\0');
  int level_ = Z_BEST_SPEED;
  int stored_left_ = 0;
  std::uint64_t produced_ = 0;
};

void write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("write " + what);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Takes a layer tar as it is produced and, on two more threads, extracts it into a temporary layer
// directory and gzips it into a temporary blob, while hashing both. finish() moves them into place under
// the names their content gives; until then (and after a failure) only temporaries exist.
class LayerBuilder {
 public:
  explicit LayerBuilder(const ImageStore& store) : store_(store) {
    // Named after a random "digest" until the real one is known; the temporary marker lets GC sweep them.
    std::string placeholder = "sha256:" + random_hex(32);
    blob_temp_ = store_.blob_temp_path(placeholder);
    blob_fd_.reset(::open(blob_temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!blob_fd_) throw_errno("create " + blob_temp_.string());
    layer_temp_ = store_.new_layer_temp(placeholder);
    unpack_queue_ = std::make_unique<ChunkQueue>(kQueueBytes);
    gzip_queue_ = std::make_unique<ChunkQueue>(kQueueBytes);
    unpacker_ = std::thread([this] {
      QueueSource source(*unpack_queue_);
      try {
        unpacked_bytes_ = unpack_layer(source, layer_temp_ / "diff").bytes;
      } catch (...) {
        unpack_error_ = std::current_exception();
        unpack_queue_->abandon();
      }
    });
    compressor_ = std::thread([this] {
      try {
        Gzip gz([this](std::string_view d) {
          blob_hash_.update(d);
          blob_size_ += d.size();
          write_all(blob_fd_.get(), d, blob_temp_.string());
        });
        for (;;) {
          std::string chunk = gzip_queue_->pop();
          if (chunk.empty()) break;
          gz.write(chunk);
        }
        gz.finish();
      } catch (...) {
        gzip_error_ = std::current_exception();
        gzip_queue_->abandon();
      }
    });
  }

  ~LayerBuilder() {
    stop();
    if (!finished_) {
      try {
        blob_fd_.reset();
        ::unlink(blob_temp_.c_str());
        remove_tree(layer_temp_);
      } catch (...) {
        // Leftovers carry the temporary marker; GC removes them.
      }
    }
  }
  LayerBuilder(const LayerBuilder&) = delete;
  LayerBuilder& operator=(const LayerBuilder&) = delete;

  void write(std::string_view tar) {
    if (tar.empty()) return;
    tar_hash_.update(tar);
    // A queue that refuses the chunk belongs to a thread that failed: finish() reports why.
    unpack_queue_->push(std::string(tar));
    gzip_queue_->push(std::string(tar));
  }

  // Stores the layer on top of `parent_chain` ("" for a base layer) and returns its record.
  LayerRecord finish(const std::string& parent_chain, const std::string& media_type) {
    stop();
    for (auto* err : {&unpack_error_, &gzip_error_}) {
      if (!*err) continue;
      std::exception_ptr e = *err;
      *err = nullptr;
      std::rethrow_exception(e);
    }
    // Not fsynced, as a pulled blob and an extracted layer are not: a kill -9 leaves the temporary or the
    // whole file; only a crash of the machine could lose data, as it could a pull's.
    blob_fd_.reset();
    std::string diff_id = tar_hash_.digest();
    std::string digest = blob_hash_.digest();
    std::string chain = parent_chain.empty() ? diff_id : sha256_digest(parent_chain + " " + diff_id);
    FileLock lock = store_.lock_layer(chain);
    store_.commit_blob(blob_temp_, digest);
    store_.commit_layer(layer_temp_, chain, {{"chain_id", chain}, {"diff_id", diff_id}, {"size", unpacked_bytes_}});
    finished_ = true;
    return {chain, diff_id, digest, media_type, static_cast<std::int64_t>(blob_size_), unpacked_bytes_};
  }

 private:
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    unpack_queue_->close();
    gzip_queue_->close();
    if (unpacker_.joinable()) unpacker_.join();
    if (compressor_.joinable()) compressor_.join();
  }

  const ImageStore& store_;
  fs::path blob_temp_, layer_temp_;
  UniqueFd blob_fd_;
  std::unique_ptr<ChunkQueue> unpack_queue_, gzip_queue_;
  std::thread unpacker_, compressor_;
  std::exception_ptr unpack_error_, gzip_error_;
  Sha256 tar_hash_, blob_hash_;
  std::uint64_t unpacked_bytes_ = 0, blob_size_ = 0;
  bool stopped_ = false, finished_ = false;
};

json parse_json_blob(const ImageStore& store, const std::string& digest, const std::string& what) {
  json j = json::parse(store.read_blob(digest), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(what + " " + digest + " is not valid JSON");
  return j;
}

// Writes config and manifest blobs for `layers` and records the image under `name`.
std::string store_image(const ImageStore& store, json config, const std::vector<LayerRecord>& layers, bool docker_types,
                        const std::string& name) {
  std::string config_body = config.dump();
  std::string config_digest = sha256_digest(config_body);
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", docker_types ? media_type::docker_manifest : media_type::oci_manifest},
                   {"config",
                    {{"mediaType", docker_types ? media_type::docker_config : media_type::oci_config},
                     {"size", config_body.size()},
                     {"digest", config_digest}}},
                   {"layers", json::array()}};
  for (const auto& l : layers)
    manifest["layers"].push_back({{"mediaType", l.media_type}, {"size", l.size}, {"digest", l.digest}});
  std::string manifest_body = manifest.dump();
  store.put_blob(config_digest, config_body);
  std::string manifest_digest = sha256_digest(manifest_body);
  store.put_blob(manifest_digest, manifest_body);

  ImageRecord record;
  record.id = config_digest;
  record.manifest_digest = manifest_digest;
  record.manifest_media_type = manifest["mediaType"].get<std::string>();
  record.layers = layers;
  record.created = config.value("created", std::string());
  record.os = config.value("os", std::string());
  record.architecture = config.value("architecture", std::string());
  record.variant = config.value("variant", std::string());
  record.added = format_rfc3339(now());
  std::vector<std::string> names;
  if (!name.empty()) names.push_back(name);
  commit_image(store, record, names);
  return record.id;
}

}  // namespace

CommitResult store_new_image(const ImageStore& store, const NewImage& image) {
  auto guard = store.ingest_guard();  // GC keeps its hands off the base and the new layer meanwhile
  std::vector<LayerRecord> layers;
  bool docker_types = true;
  json config;
  if (!image.base_image_id.empty()) {
    auto base = store.get_image(image.base_image_id);
    if (!base) throw Error("No such image: " + image.base_image_id);
    config = parse_json_blob(store, base->id, "image config");
    layers = base->layers;
    docker_types = base->manifest_media_type == media_type::docker_manifest;
  } else {
    Platform platform = image.platform ? normalize(*image.platform) : Platform::host();
    config = {{"architecture", platform.architecture}, {"os", platform.os}};
    if (!platform.variant.empty()) config["variant"] = platform.variant;
  }

  CommitResult result;
  result.empty_layer = true;
  if (image.write_layer) {
    std::optional<LayerBuilder> builder(std::in_place, store);
    std::uint64_t entries = image.write_layer([&](std::string_view d) { builder->write(d); });
    result.empty_layer = entries == 0;
    if (!result.empty_layer) {
      std::string mt(docker_types ? media_type::docker_layer_gzip : media_type::oci_layer_gzip);
      layers.push_back(builder->finish(layers.empty() ? "" : layers.back().chain_id, mt));
    }
  }

  std::string created = format_rfc3339(now());
  config["config"] = image.config;
  if (!image.container_id.empty()) config["container"] = image.container_id;
  else config.erase("container");
  if (!image.container_config.is_null()) config["container_config"] = image.container_config;
  else config.erase("container_config");
  config["created"] = created;
  if (!image.author.empty()) config["author"] = image.author;
  else config.erase("author");
  if (!config.contains("rootfs") || !config["rootfs"].is_object())
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", json::array()}};
  if (!result.empty_layer) config["rootfs"]["diff_ids"].push_back(layers.back().diff_id);
  json entry = image.history.is_object() ? image.history : json::object();
  if (!entry.contains("created")) entry["created"] = created;
  if (result.empty_layer) entry["empty_layer"] = true;
  else entry.erase("empty_layer");
  if (!config.contains("history") || !config["history"].is_array()) config["history"] = json::array();
  config["history"].push_back(entry);
  result.image_id = store_image(store, config, layers, docker_types, image.name);
  return result;
}

CommitResult commit_container(const ImageStore& store, const CommitRequest& request) {
  json user = apply_changes(json::object(), request.changes);
  NewImage image;
  image.base_image_id = request.base_image_id;
  if (!store.get_image(request.base_image_id)) throw Error("No such image: " + request.base_image_id);
  image.write_layer = [&](const std::function<void(std::string_view)>& sink) { return write_layer_tar(request.layer, sink); };
  image.config = merge_config(user, request.container_config);
  image.container_id = request.container_id;
  image.container_config = request.container_config;
  image.author = request.author;
  image.name = request.name;
  std::string created_by;
  const json& cc = request.container_config;
  if (cc.contains("Cmd") && cc["Cmd"].is_array())
    for (const auto& a : cc["Cmd"]) created_by += (created_by.empty() ? "" : " ") + a.get<std::string>();
  image.history = {{"created_by", created_by}};
  if (!request.author.empty()) image.history["author"] = request.author;
  if (!request.comment.empty()) image.history["comment"] = request.comment;
  return store_new_image(store, image);
}

std::string import_image(const ImageStore& store, const ImportRequest& request) {
  json user = apply_changes(json::object(), request.changes);
  Platform platform = request.platform ? normalize(*request.platform) : Platform::host();
  auto guard = store.ingest_guard();
  LayerBuilder builder(store);
  Decompressor decompressor([&](std::string_view d) { builder.write(d); });
  request.read([&](std::string_view d) { decompressor.feed(d); });
  decompressor.finish();
  LayerRecord layer;
  try {
    layer = builder.finish("", std::string(media_type::docker_layer_gzip));
  } catch (const Error& e) {
    throw Error(std::string("invalid tar archive: ") + e.what());
  }

  std::string created = format_rfc3339(now());
  json config = {{"architecture", platform.architecture},
                 {"os", platform.os},
                 {"created", created},
                 {"config", user},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", json::array({layer.diff_id})}}},
                 {"history", json::array({{{"created", created},
                                           {"comment", request.comment.empty() ? "Imported from " + request.source
                                                                               : request.comment}}})}};
  if (!platform.variant.empty()) config["variant"] = platform.variant;
  return store_image(store, config, {layer}, true, request.name);
}

std::vector<HistoryRow> image_history(const ImageStore& store, const std::string& image_id) {
  auto record = store.get_image(image_id);
  if (!record) throw Error("No such image: " + image_id);
  json config = parse_json_blob(store, record->id, "image config");
  std::vector<HistoryRow> rows;
  json history = config.contains("history") && config["history"].is_array() ? config["history"] : json::array();
  std::size_t with_layer = 0;
  for (const auto& h : history) with_layer += !h.value("empty_layer", false);
  // Layers the history does not tell of (images made without it) are the oldest ones: a row each.
  std::size_t layer = 0;
  for (; layer + with_layer < record->layers.size(); ++layer)
    rows.push_back({"<missing>", record->created, "", static_cast<std::int64_t>(record->layers[layer].unpacked_size), ""});
  for (const auto& h : history) {
    HistoryRow row;
    row.id = "<missing>";
    row.created = h.value("created", std::string());
    row.created_by = h.value("created_by", std::string());
    row.comment = h.value("comment", std::string());
    if (!h.value("empty_layer", false) && layer < record->layers.size())
      row.size = static_cast<std::int64_t>(record->layers[layer++].unpacked_size);
    rows.push_back(std::move(row));
  }
  std::reverse(rows.begin(), rows.end());
  if (rows.empty()) rows.push_back({"", record->created, "", 0, ""});
  rows.front().id = record->id;
  return rows;
}

namespace {
// Docker's stringutils.Ellipsis: at most `width` columns, the last one "…" when cut.
std::string ellipsis(const std::string& text, std::size_t width) {
  std::vector<std::size_t> starts;  // byte offset of each code point
  for (std::size_t i = 0; i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) starts.push_back(i);
  if (starts.size() <= width || width == 0) return text;
  return text.substr(0, starts[width - 1]) + "\u2026";
}
}  // namespace

HistoryColumns history_columns(const HistoryRow& h, bool trunc, bool human, TimePoint when) {
  HistoryColumns c;
  c.id = h.id == "<missing>" || !trunc ? h.id : h.id.substr(h.id.rfind(':') + 1, 12);
  c.created_by = h.created_by;
  std::replace(c.created_by.begin(), c.created_by.end(), '\t', ' ');
  if (trunc) c.created_by = ellipsis(c.created_by, 45);
  auto t = parse_rfc3339(h.created);
  if (t) {
    // Go's time.Unix(...).Format(time.RFC3339): whole seconds.
    c.created_at = format_rfc3339(std::chrono::time_point_cast<std::chrono::seconds>(*t));
    if (auto dot = c.created_at.find('.'); dot != std::string::npos) c.created_at = c.created_at.substr(0, dot) + "Z";
  }
  c.created_since = !human ? c.created_at : t ? human_duration(when - *t) + " ago" : "N/A";
  c.size = human ? human_size(static_cast<double>(h.size)) : std::to_string(h.size);
  c.comment = h.comment;
  return c;
}

}  // namespace cppcker
