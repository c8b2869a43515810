// The start path's rough edges, each against Docker's behaviour: arguments and environment of any size
// the kernel takes, a published port the host already uses, resource flags, errors that name what the
// user wrote, logs of a foreground container, labels and --mount. Traffic stays on loopback.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "runtime_fixture.hpp"

namespace {

// A socket on 127.0.0.1 (port 0: one the kernel picks), listening when TCP, as a host service would.
cppcker::UniqueFd host_socket(int type, int port = 0) {
  cppcker::UniqueFd s(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!s || ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return {};
  if (type == SOCK_STREAM && ::listen(s.get(), 4) != 0) return {};
  return s;
}

int port_of(const cppcker::UniqueFd& s) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

bool has_effective_capability(int cap) {
  std::istringstream in(cppcker::read_file("/proc/self/status"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("CapEff:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> cap) & 1;
  return false;
}

// Whether 127.0.0.1:port can be bound (nothing on the host holds it).
bool port_free(int type, int port) { return static_cast<bool>(host_socket(type, port)); }

}  // namespace

class RunEdgesTest : public RuntimeTest {
 protected:
  std::string only_container() const { return trim(cpk_({"ps", "-aq", "--no-trunc"}).out); }
};

TEST_F(RunEdgesTest, ArgumentsAndEnvironmentOfAnySizeTheKernelTakes) {
  // 300 KiB of arguments (each well under the kernel's 128 KiB per string).
  std::vector<std::string> args = {"--rm", "--network", "none", "img", "sh", "-c",
                                   "n=0; for a; do n=$((n + ${#a})); done; echo $# $n", "sh"};
  for (int i = 0; i < 300; ++i) args.push_back(std::string(1024, static_cast<char>('a' + i % 26)));
  auto big = run(args);
  ASSERT_EQ(big.exit_code, 0) << big.err;
  EXPECT_EQ(big.out, "300 307200\n");

  // 20,000 -e values.
  std::vector<std::string> env_args = {"--rm", "--network", "none"};
  for (int i = 0; i < 20000; ++i) env_args.insert(env_args.end(), {"-e", "V" + std::to_string(i) + "=" + std::to_string(i)});
  env_args.insert(env_args.end(), {"img", "sh", "-c", "env | grep -c '^V[0-9]*='; echo $V19999"});
  auto env = run(env_args);
  ASSERT_EQ(env.exit_code, 0) << env.err;
  EXPECT_EQ(env.out, "20000\n19999\n");

  // exec takes as much.
  std::string id = trim(run({"-d", "--network", "none", "img", "sleep", "30"}).out);
  ASSERT_EQ(id.size(), 64u);
  std::vector<std::string> exec_args = {"exec", id, "sh", "-c", "n=0; for a; do n=$((n + ${#a})); done; echo $# $n", "sh"};
  for (int i = 0; i < 300; ++i) exec_args.push_back(std::string(1024, 'x'));
  auto exec = cpk_(exec_args);
  ASSERT_EQ(exec.exit_code, 0) << exec.err;
  EXPECT_EQ(exec.out, "300 307200\n");
}

TEST_F(RunEdgesTest, PublishedPortTheHostUsesIsRefusedBeforeTheStart) {
  cppcker::UniqueFd listener = host_socket(SOCK_STREAM);
  ASSERT_TRUE(listener);
  const int port = port_of(listener);
  for (const std::string& spec : {"127.0.0.1:" + std::to_string(port) + ":80", std::to_string(port) + ":80"}) {
    auto r = run({"-d", "-p", spec, "img", "sleep", "30"});
    EXPECT_EQ(r.exit_code, 125) << spec << ": " << r.err;
    const std::string ip = spec.rfind("127.", 0) == 0 ? "127.0.0.1" : "0.0.0.0";
    EXPECT_NE(r.err.find("driver failed programming external connectivity on endpoint "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("Error starting userland proxy: listen tcp4 " + ip + ":" + std::to_string(port) +
                         ": bind: address already in use"),
              std::string::npos)
        << r.err;
    // As Docker: the container stays created, with the error; no port rule, no address kept.
    std::string id = only_container();
    ASSERT_EQ(id.size(), 64u) << id;
    auto state = inspect(id)["State"];
    EXPECT_EQ(state["Status"], "created");
    EXPECT_NE(state["Error"].get<std::string>().find("address already in use"), std::string::npos) << state.dump();
    EXPECT_TRUE(record(id)["state"]["net"].is_null()) << record(id)["state"].dump();
    EXPECT_EQ(cpk_({"rm", id}).exit_code, 0);
  }

  // UDP as well.
  cppcker::UniqueFd udp = host_socket(SOCK_DGRAM);
  ASSERT_TRUE(udp);
  const int udp_port = port_of(udp);
  auto r = run({"-d", "-p", "127.0.0.1:" + std::to_string(udp_port) + ":53/udp", "img", "sleep", "30"});
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_NE(r.err.find("listen udp4 127.0.0.1:" + std::to_string(udp_port) + ": bind: address already in use"), std::string::npos)
      << r.err;
  cpk_({"rm", only_container()});

  // Once the host's service is gone, the container gets the port, holds it while it runs (nothing on the
  // host can take it) and frees it when it is removed.
  listener.reset();
  ASSERT_TRUE(port_free(SOCK_STREAM, port));
  auto ok = run({"-d", "-p", "127.0.0.1:" + std::to_string(port) + ":80", "img", "sleep", "30"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  std::string id = trim(ok.out);
  EXPECT_FALSE(port_free(SOCK_STREAM, port)) << "the running container's port could be taken by a host process";
  EXPECT_EQ(cpk_({"rm", "-f", id}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return port_free(SOCK_STREAM, port); })) << "the port stayed taken after rm -f";
}

TEST_F(RunEdgesTest, ResourceFlagsAsDocker) {
  auto negative = run({"--cpu-shares", "-1", "img", "true"});
  EXPECT_EQ(negative.exit_code, 125);
  EXPECT_NE(negative.err.find("shares: invalid argument"), std::string::npos) << negative.err;
  const std::string online = cppcker::read_file("/sys/devices/system/cpu/online");
  auto cpuset = run({"--cpuset-cpus", "99", "img", "true"});
  EXPECT_EQ(cpuset.exit_code, 125);
  EXPECT_NE(cpuset.err.find("Requested CPUs are not available - requested 99, available: " + trim(online)), std::string::npos)
      << cpuset.err;
  auto expose = run({"--expose", "xyz", "img", "true"});
  EXPECT_EQ(expose.exit_code, 125);
  EXPECT_NE(expose.err.find("invalid range format for --expose: xyz, error: strconv.ParseUint: parsing \"xyz\": invalid syntax"),
            std::string::npos)
      << expose.err;
  EXPECT_EQ(cpk_({"ps", "-aq"}).out, "") << "a refused run left a container";

  // 0 is "no limit" for -m and --cpus; --cpu-shares 0 the default.
  auto zero = run({"--name", "zero", "--network", "none", "-m", "0", "--cpus", "0", "--cpu-shares", "0",
                   "--expose", "8000-8001/udp", "--expose", "90", "-p", "127.0.0.1::70", "img",
                   "true"});
  ASSERT_EQ(zero.exit_code, 0) << zero.err;
  auto limits = record(only_container())["spec"]["limits"];
  EXPECT_FALSE(limits.contains("Memory")) << limits.dump();
  EXPECT_FALSE(limits.contains("NanoCpus")) << limits.dump();
  EXPECT_FALSE(limits.contains("CpuShares")) << limits.dump();
  // Config.ExposedPorts: --expose's (a range a port at a time) and the -p container ports.
  EXPECT_EQ(record(only_container())["spec"]["exposed_ports"],
            nlohmann::json({"70/tcp", "8000/udp", "8001/udp", "90/tcp"}));
}

TEST_F(RunEdgesTest, UsageErrorsExit125AndNameWhatTheUserWrote) {
  auto upper = run({"NotLower", "true"});
  EXPECT_EQ(upper.exit_code, 125) << upper.err;
  EXPECT_NE(upper.err.find("invalid reference format"), std::string::npos) << upper.err;
  auto empty = run({"", "true"});
  EXPECT_EQ(empty.exit_code, 125) << empty.err;
  EXPECT_NE(empty.err.find("invalid reference format"), std::string::npos) << empty.err;
  auto signal = run({"--stop-signal", "NOPE", "img", "true"});
  EXPECT_EQ(signal.exit_code, 125);
  EXPECT_NE(signal.err.find("Invalid signal: NOPE"), std::string::npos) << signal.err;
  EXPECT_EQ(cpk_({"ps", "-aq"}).out, "");

  // A working directory that is a file: Docker's words (it makes the directory before the start).
  auto file = run({"--rm", "--network", "none", "-w", "/etc/passwd", "img", "true"});
  EXPECT_EQ(file.exit_code, 125);
  EXPECT_NE(file.err.find("Cannot mkdir: /etc/passwd is not a directory"), std::string::npos) << file.err;
  EXPECT_EQ(file.err.find("config.json"), std::string::npos) << file.err;

  std::string id = trim(run({"-d", "--network", "none", "img", "sleep", "30"}).out);
  ASSERT_EQ(id.size(), 64u);
  auto relative = cpk_({"exec", "-w", "rel", id, "true"});
  EXPECT_EQ(relative.exit_code, 125);
  EXPECT_NE(relative.err.find("the working directory 'rel' is invalid, it needs to be an absolute path"), std::string::npos)
      << relative.err;
  auto exec_file = cpk_({"exec", "-w", "/etc/passwd", id, "true"});
  EXPECT_EQ(exec_file.exit_code, 126);
  EXPECT_NE(exec_file.err.find("\"/etc/passwd\""), std::string::npos) << exec_file.err;
  EXPECT_NE(exec_file.err.find("not a directory"), std::string::npos) << exec_file.err;
  EXPECT_EQ(exec_file.err.find("config.json"), std::string::npos) << exec_file.err;
}

TEST_F(RunEdgesTest, ForegroundContainerHasLogs) {
  auto r = run({"--name", "fg", "--network", "none", "img", "sh", "-c", "echo hi; echo oops >&2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  auto logs = cpk_({"logs", "fg"});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_EQ(logs.out, "hi\n");
  EXPECT_EQ(logs.err, "oops\n");
}

TEST_F(RunEdgesTest, LabelsFromFlagsFilesAndTheImage) {
  load_image("labelled:1", {{"Cmd", {"true"}}, {"Labels", {{"from.image", "yes"}, {"shared", "image"}}}});
  const fs::path file = tmp_.path / "labels";
  std::ofstream(file) << "# labels\n\nfrom.file=1\nshared=file\nbare\n";
  auto r = run({"--network", "none", "-l", "shared=flag", "--label", "x=a=b", "--label-file", file.string(), "labelled:1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json expected = {{"from.image", "yes"}, {"from.file", "1"}, {"bare", ""}, {"shared", "flag"}, {"x", "a=b"}};
  EXPECT_EQ(record(only_container())["spec"]["labels"], expected);
  cpk_({"rm", only_container()});
  auto missing = run({"--label-file", (tmp_.path / "nosuch").string(), "img", "true"});
  EXPECT_EQ(missing.exit_code, 125);
  EXPECT_NE(missing.err.find("no such file or directory"), std::string::npos) << missing.err;
  EXPECT_EQ(cpk_({"ps", "-aq"}).out, "");
}

TEST_F(RunEdgesTest, MountFlagOfEachType) {
  const fs::path host_dir = tmp_.path / "shared";
  fs::create_directories(host_dir);
  std::ofstream(host_dir / "hello") << "from host\n";
  auto bind = run({"--rm", "--network", "none", "--mount",
                   "type=bind,source=" + host_dir.string() + ",target=/data,readonly,bind-propagation=rprivate", "img", "sh",
                   "-c", "cat /data/hello; touch /data/x 2>/dev/null && echo writable || echo read-only"});
  ASSERT_EQ(bind.exit_code, 0) << bind.err;
  EXPECT_EQ(bind.out, "from host\nread-only\n");

  auto volume = run({"--rm", "--network", "none", "--mount", "source=edgevol,target=/v", "img", "sh", "-c", "echo kept > /v/f"});
  ASSERT_EQ(volume.exit_code, 0) << volume.err;
  auto again = run({"--rm", "--network", "none", "--mount", "type=volume,src=edgevol,dst=/w,volume-nocopy", "img", "cat", "/w/f"});
  EXPECT_EQ(again.out, "kept\n") << again.err;
  EXPECT_EQ(cpk_({"volume", "rm", "edgevol"}).exit_code, 0);

  auto tmpfs = run({"--rm", "--network", "none", "--mount", "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770", "img", "sh",
                    "-c", "grep ' /t ' /proc/mounts; stat -c %a /t"});
  ASSERT_EQ(tmpfs.exit_code, 0) << tmpfs.err;
  EXPECT_NE(tmpfs.out.find("tmpfs /t tmpfs"), std::string::npos) << tmpfs.out;
  EXPECT_NE(tmpfs.out.find("size=1024k"), std::string::npos) << tmpfs.out;
  EXPECT_NE(tmpfs.out.find("\n1770\n"), std::string::npos) << tmpfs.out;

  // Refused before anything is made, with Docker's words; a missing bind source is not created.
  for (const auto& [value, error] : std::vector<std::pair<std::string, std::string>>{
           {"type=bind,source=" + (tmp_.path / "nosuch").string() + ",target=/x",
            "invalid mount config for type \"bind\": bind source path does not exist: " + (tmp_.path / "nosuch").string()},
           {"type=tmpfs,target=/x,volume-nocopy", "cannot mix 'volume-*' options with mount type 'tmpfs'"},
           {"src=/a", "target is required"}}) {
    auto r = run({"--mount", value, "img", "true"});
    EXPECT_EQ(r.exit_code, 125) << value;
    EXPECT_NE(r.err.find(error), std::string::npos) << value << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(tmp_.path / "nosuch"));
  EXPECT_EQ(cpk_({"ps", "-aq"}).out, "");
  EXPECT_EQ(cpk_({"volume", "ls", "-q"}).out, "");
}

TEST_F(RunEdgesTest, UlimitAboveTheHardLimitIsRefusedClearly) {
  rlimit current{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &current), 0);
  ASSERT_NE(current.rlim_max, RLIM_INFINITY);
  auto lower = run({"--rm", "--network", "none", "--ulimit", "nofile=512:1024", "img", "sh", "-c", "ulimit -n; ulimit -Hn"});
  ASSERT_EQ(lower.exit_code, 0) << lower.err;
  EXPECT_EQ(lower.out, "512\n1024\n");
  // Raising the hard limit needs CAP_SYS_RESOURCE (config.cpp checks it before anything is made); whether
  // this process has it decides the outcome.
  const bool can_raise = has_effective_capability(24);  // CAP_SYS_RESOURCE
  const std::string above = std::to_string(current.rlim_max + 1);
  auto raise = run({"--rm", "--network", "none", "--ulimit", "nofile=1024:" + above, "img", "true"});
  if (can_raise) {
    EXPECT_EQ(raise.exit_code, 0) << raise.err;
  } else {
    EXPECT_EQ(raise.exit_code, 125);
    EXPECT_NE(raise.err.find("ulimit nofile=1024:" + above + ": the hard limit " + above + " is above this host's " +
                             std::to_string(current.rlim_max)),
              std::string::npos)
        << raise.err;
    EXPECT_EQ(cpk_({"ps", "-aq"}).out, "") << "a refused --ulimit left a container";
    EXPECT_NE(raise.err.find("CAP_SYS_RESOURCE"), std::string::npos) << raise.err;
  }
}
