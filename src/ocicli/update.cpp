// update ID: new linux.resources for a running container, from --resources FILE|- (a linux.resources JSON
// object) or from flags; applied to its cgroup and kept in its record.
#include <unistd.h>

#include <iostream>
#include <iterator>

#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::ocicli {

namespace {
struct UpdateOptions {
  std::string resources;
  std::string memory, memory_swap, memory_reservation, kernel_memory, kernel_memory_tcp;
  std::string cpu_shares, cpu_period, cpu_quota, cpu_rt_period, cpu_rt_runtime, cpuset_cpus, cpuset_mems;
  std::string pids_limit, blkio_weight, l3_cache_schema, mem_bw_schema;
};

std::uint64_t parse_unsigned(const std::string& text, const char* flag) {
  try {
    std::size_t end = 0;
    unsigned long long v = std::stoull(text, &end);
    if (end == text.size() && text[0] != '-') return v;
  } catch (const std::exception&) {
  }
  throw Error("invalid value for " + std::string(flag) + ": " + text);
}

std::int64_t parse_signed(const std::string& text, const char* flag) {
  try {
    std::size_t end = 0;
    long long v = std::stoll(text, &end);
    if (end == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw Error("invalid value for " + std::string(flag) + ": " + text);
}

// The flags as a linux.resources object holding only what was given (merged over the current resources).
nlohmann::json resources_from_flags(const UpdateOptions& o) {
  nlohmann::json r = nlohmann::json::object();
  if (!o.memory.empty()) r["memory"]["limit"] = parse_ram(o.memory);
  if (!o.memory_swap.empty()) r["memory"]["swap"] = parse_ram(o.memory_swap);
  if (!o.memory_reservation.empty()) r["memory"]["reservation"] = parse_ram(o.memory_reservation);
  if (!o.kernel_memory.empty() || !o.kernel_memory_tcp.empty())
    log(Level::warning, "kernel memory settings are ignored: the kernel no longer supports them");
  if (!o.cpu_shares.empty()) r["cpu"]["shares"] = parse_unsigned(o.cpu_shares, "--cpu-share");
  if (!o.cpu_period.empty()) r["cpu"]["period"] = parse_unsigned(o.cpu_period, "--cpu-period");
  if (!o.cpu_quota.empty()) r["cpu"]["quota"] = parse_signed(o.cpu_quota, "--cpu-quota");
  if (!o.cpu_rt_period.empty() || !o.cpu_rt_runtime.empty())
    throw Error("--cpu-rt-period and --cpu-rt-runtime are not supported by cppcker-runc");
  if (!o.l3_cache_schema.empty() || !o.mem_bw_schema.empty())
    throw Error("--l3-cache-schema and --mem-bw-schema (Intel RDT) are not supported by cppcker-runc");
  if (!o.cpuset_cpus.empty()) r["cpu"]["cpus"] = o.cpuset_cpus;
  if (!o.cpuset_mems.empty()) r["cpu"]["mems"] = o.cpuset_mems;
  if (!o.pids_limit.empty()) r["pids"]["limit"] = parse_signed(o.pids_limit, "--pids-limit");
  if (!o.blkio_weight.empty()) r["blockIO"]["weight"] = parse_unsigned(o.blkio_weight, "--blkio-weight");
  return r;
}

nlohmann::json resources_from_file(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    auto content = read_file_if_exists(path);
    if (!content) throw Error("open " + path + ": no such file or directory");
    text = *content;
  }
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (!j.is_object()) throw Error("decode resources from " + path + ": not a JSON object");
    return j;
  } catch (const nlohmann::json::exception& e) {
    throw Error("decode resources from " + path + ": " + e.what());
  }
}
}  // namespace

void register_update(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("update", "update container resource constraints");
  auto o = std::make_shared<UpdateOptions>();
  auto args = std::make_shared<std::vector<std::string>>();
  cmd->add_option("-r,--resources", o->resources, "path to the file containing the resources to update or '-' to read from the standard input");
  cmd->add_option("--blkio-weight", o->blkio_weight, "Specifies per cgroup weight, range is from 10 to 1000");
  cmd->add_option("--cpu-period", o->cpu_period, "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default");
  cmd->add_option("--cpu-quota", o->cpu_quota, "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period");
  cmd->add_option("--cpu-share,--cpu-shares", o->cpu_shares, "CPU shares (relative weight vs. other containers)");
  cmd->add_option("--cpu-rt-period", o->cpu_rt_period, "CPU realtime period to be used for hardcapping (in usecs)");
  cmd->add_option("--cpu-rt-runtime", o->cpu_rt_runtime, "CPU realtime hardcap limit (in usecs)");
  cmd->add_option("--cpuset-cpus", o->cpuset_cpus, "CPU(s) to use");
  cmd->add_option("--cpuset-mems", o->cpuset_mems, "Memory node(s) to use");
  cmd->add_option("--kernel-memory", o->kernel_memory, "(obsoleted; do not use)");
  cmd->add_option("--kernel-memory-tcp", o->kernel_memory_tcp, "(obsoleted; do not use)");
  cmd->add_option("--memory", o->memory, "Memory limit (in bytes)");
  cmd->add_option("--memory-reservation", o->memory_reservation, "Memory reservation or soft_limit (in bytes)");
  cmd->add_option("--memory-swap", o->memory_swap, "Total memory usage (memory + swap); set '-1' to enable unlimited swap");
  cmd->add_option("--pids-limit", o->pids_limit, "Maximum number of pids allowed in the container");
  cmd->add_option("--l3-cache-schema", o->l3_cache_schema, "The string of Intel RDT/CAT L3 cache schema");
  cmd->add_option("--mem-bw-schema", o->mem_bw_schema, "The string of Intel RDT/MBA memory bandwidth schema");
  cmd->add_option("container-id", *args, "the container's id");
  set_action(cmd, [&g, o, args] {
    check_args(g, "update", args->size(), 1, '=');
    nlohmann::json change = o->resources.empty() ? resources_from_flags(*o) : resources_from_file(o->resources);
    BundleStore store = g.store();
    FileLock lock = store.lock(args->front());
    BundleRecord record = store.get(args->front());
    std::string status = store.status(record);
    if (status == "stopped" || status == "creating") throw Error("container not running");
    // The given fields replace the current ones (runc's merge); the spec's parser validates the result.
    nlohmann::json config = record.config;
    nlohmann::json& current = config["linux"]["resources"];
    if (current.is_null()) current = nlohmann::json::object();
    current.merge_patch(change);
    oci::Spec spec = oci::spec_from_json(config);
    make_cgroup(record.cgroup)->update(spec.linux.resources.value_or(oci::Resources{}));
    record.config = std::move(config);
    store.save(record);
    return 0;
  });
}

}  // namespace cppcker::ocicli
