// --format, --filter and inspect -f as a Docker user's scripts use them, against real containers.
#include "runtime_fixture.hpp"

namespace {

class FormatTest : public RuntimeTest {};

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST_F(FormatTest, PsTemplatesFiltersAndInspectTemplates) {
  std::string web = trim(run({"-d", "--name", "web", "img", "sleep", "100"}).out);
  ASSERT_EQ(web.size(), 64u);
  ASSERT_EQ(run({"--name", "done", "img", "true"}).exit_code, 0);
  ASSERT_EQ(run({"--name", "fail", "img", "sh", "-c", "exit 3"}).exit_code, 3);

  // Templates: one line per container, newest first.
  EXPECT_EQ(cpk_({"ps", "--format", "{{.Names}}"}).out, "web\n");
  EXPECT_EQ(cpk_({"ps", "-a", "--format", "{{.Names}} {{.State}}"}).out, "fail exited\ndone exited\nweb running\n");
  EXPECT_EQ(cpk_({"ps", "-a", "--format", "{{.ID}}", "--filter", "name=^web$"}).out, web.substr(0, 12) + "\n");
  EXPECT_EQ(cpk_({"ps", "-a", "--no-trunc", "--format", "{{.ID}}", "-f", "id=" + web.substr(0, 6)}).out, web + "\n");
  // Any status filter shows stopped containers without -a; values of one key are alternatives.
  EXPECT_EQ(cpk_({"ps", "--filter", "status=exited", "--format", "{{.Names}}"}).out, "fail\ndone\n");
  EXPECT_EQ(cpk_({"ps", "-f", "status=exited", "-f", "status=running", "--format", "{{.Names}}"}).out,
            "fail\ndone\nweb\n");
  EXPECT_EQ(cpk_({"ps", "-a", "--filter", "exited=3", "--format", "{{.Names}}"}).out, "fail\n");
  EXPECT_EQ(cpk_({"ps", "-a", "--filter", "ancestor=img", "-f", "name=o", "--format", "{{.Names}}"}).out, "done\n");
  EXPECT_EQ(cpk_({"ps", "-a", "--filter", "before=done", "--format", "{{.Names}}"}).out, "web\n");
  EXPECT_EQ(cpk_({"ps", "-a", "--filter", "since=done", "--format", "{{.Names}}"}).out, "fail\n");
  EXPECT_EQ(cpk_({"ps", "-a", "--filter", "health=none", "-f", "status=running", "--format", "{{.Names}}"}).out, "web\n");
  EXPECT_EQ(cpk_({"ps", "-n", "2", "--format", "{{.Names}}"}).out, "fail\ndone\n");
  EXPECT_EQ(cpk_({"ps", "-l", "--format", "{{.Names}}"}).out, "fail\n");

  // table TEMPLATE: Docker's headers, cells laid out as its tabwriter does.
  EXPECT_EQ(cpk_({"ps", "--format", "table {{.Names}}\\t{{.State}}"}).out, "NAMES     STATE\nweb       running\n");
  auto table = lines(cpk_({"ps", "-a"}).out);
  ASSERT_EQ(table.size(), 4u);
  EXPECT_EQ(table[0].rfind("CONTAINER ID   IMAGE", 0), 0u) << table[0];
  EXPECT_NE(table[3].find("web"), std::string::npos);

  // json: one object per line, every column a string.
  auto json = lines(cpk_({"ps", "--format", "json"}).out);
  ASSERT_EQ(json.size(), 1u);
  auto row = nlohmann::json::parse(json[0]);
  for (const char* key : {"Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks",
                          "Ports", "RunningFor", "Size", "State", "Status"})
    EXPECT_TRUE(row.contains(key) && row[key].is_string()) << key << " in " << json[0];
  EXPECT_EQ(row["Networks"], "bridge");
  EXPECT_EQ(cpk_({"ps", "--format", "{{json .Names}} {{.Label \"none\"}}|"}).out, "\"web\" |\n");

  // Errors: Docker's words, exit 1 (Docker's client: not a usage error).
  auto bad_filter = cpk_({"ps", "--filter", "color=red"});
  EXPECT_EQ(bad_filter.exit_code, 1);
  EXPECT_NE(bad_filter.err.find("invalid filter 'color'"), std::string::npos) << bad_filter.err;
  auto bad_status = cpk_({"ps", "--filter", "status=sleepy"});
  EXPECT_EQ(bad_status.exit_code, 1);
  auto bad_template = cpk_({"ps", "--format", "{{.Names"});
  EXPECT_EQ(bad_template.exit_code, 1);
  EXPECT_NE(bad_template.err.find("template: :1: unclosed action"), std::string::npos) << bad_template.err;
  EXPECT_EQ(bad_template.out, "");

  // inspect -f: the template's output and a newline per object.
  EXPECT_EQ(cpk_({"inspect", "-f", "{{.State.Status}} {{.Name}} {{.State.ExitCode}}", "fail"}).out, "exited /fail 3\n");
  EXPECT_EQ(cpk_({"inspect", "--format", "{{json .Config.Labels}} {{.HostConfig.RestartPolicy.Name}} {{.RestartCount}}", "web"}).out,
            "{} no 0\n");
  EXPECT_EQ(cpk_({"inspect", "-f", "{{.Nope}}", "web"}).out, "<no value>\n");
  EXPECT_EQ(cpk_({"inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "web"}).out,
            inspect("web")["NetworkSettings"]["IPAddress"].get<std::string>() + "\n");
  auto pid = cpk_({"inspect", "-f", "{{.State.Pid}}", "web", "nosuch"});
  EXPECT_EQ(pid.exit_code, 1);
  EXPECT_EQ(pid.out, std::to_string(inspect("web")["State"]["Pid"].get<int>()) + "\n");
  EXPECT_NE(pid.err.find("Error: No such object: nosuch"), std::string::npos) << pid.err;
  auto image_id = cpk_({"inspect", "--type", "image", "-f", "{{.Id}}", "img"});
  EXPECT_EQ(image_id.out.rfind("sha256:", 0), 0u) << image_id.out;
  EXPECT_EQ(cpk_({"inspect", "--type", "container", "img"}).exit_code, 1);
  auto exec_error = cpk_({"inspect", "-f", "{{.Name.Deeper}}", "web"});
  EXPECT_EQ(exec_error.exit_code, 1);
  EXPECT_NE(exec_error.err.find("can't evaluate field Deeper in type string"), std::string::npos) << exec_error.err;
}

// The container inspect object: Docker 20.10's keys with Docker's JSON types.
TEST_F(FormatTest, ContainerInspectHasDockersFieldsAndTypes) {
  std::string id = trim(run({"-d", "-p", "127.0.0.1::80", "-v", "data:/data", "--tmpfs", "/scratch", "img", "sleep", "100"}).out);
  ASSERT_EQ(id.size(), 64u);
  auto j = inspect(id);
  using T = nlohmann::json::value_t;
  auto type_of = [](const nlohmann::json& v) {
    if (v.is_number_integer()) return T::number_integer;  // unsigned or signed: Go's int either way
    return v.type();
  };
  const std::vector<std::pair<std::string, T>> expected = {
      {"/Id", T::string}, {"/Created", T::string}, {"/Path", T::string}, {"/Args", T::array},
      {"/State/Status", T::string}, {"/State/Running", T::boolean}, {"/State/Paused", T::boolean},
      {"/State/Restarting", T::boolean}, {"/State/OOMKilled", T::boolean}, {"/State/Dead", T::boolean},
      {"/State/Pid", T::number_integer}, {"/State/ExitCode", T::number_integer}, {"/State/Error", T::string},
      {"/State/StartedAt", T::string}, {"/State/FinishedAt", T::string}, {"/Image", T::string},
      {"/ResolvConfPath", T::string}, {"/HostnamePath", T::string}, {"/HostsPath", T::string}, {"/LogPath", T::string},
      {"/Name", T::string}, {"/RestartCount", T::number_integer}, {"/Driver", T::string}, {"/Platform", T::string},
      {"/MountLabel", T::string}, {"/ProcessLabel", T::string}, {"/AppArmorProfile", T::string}, {"/ExecIDs", T::null},
      {"/HostConfig/Binds", T::array}, {"/HostConfig/NetworkMode", T::string}, {"/HostConfig/PortBindings", T::object},
      {"/HostConfig/RestartPolicy/Name", T::string}, {"/HostConfig/RestartPolicy/MaximumRetryCount", T::number_integer},
      {"/HostConfig/AutoRemove", T::boolean}, {"/HostConfig/Dns", T::array}, {"/HostConfig/Privileged", T::boolean},
      {"/HostConfig/PublishAllPorts", T::boolean}, {"/HostConfig/ReadonlyRootfs", T::boolean},
      {"/HostConfig/UsernsMode", T::string}, {"/HostConfig/ShmSize", T::number_integer},
      {"/HostConfig/Memory", T::number_integer}, {"/HostConfig/NanoCpus", T::number_integer},
      {"/HostConfig/CpuShares", T::number_integer}, {"/HostConfig/CpusetCpus", T::string},
      {"/HostConfig/Ulimits", T::array}, {"/HostConfig/Devices", T::array}, {"/HostConfig/MaskedPaths", T::array},
      {"/HostConfig/ReadonlyPaths", T::array}, {"/HostConfig/LogConfig/Type", T::string},
      {"/HostConfig/LogConfig/Config", T::object}, {"/HostConfig/Init", T::boolean}, {"/HostConfig/Tmpfs", T::object},
      {"/GraphDriver/Name", T::string}, {"/GraphDriver/Data/UpperDir", T::string}, {"/Mounts", T::array},
      {"/Mounts/0/Type", T::string}, {"/Mounts/0/Name", T::string}, {"/Mounts/0/Source", T::string},
      {"/Mounts/0/Destination", T::string}, {"/Mounts/0/Driver", T::string}, {"/Mounts/0/RW", T::boolean},
      {"/Config/Hostname", T::string}, {"/Config/Domainname", T::string}, {"/Config/User", T::string},
      {"/Config/AttachStdin", T::boolean}, {"/Config/AttachStdout", T::boolean}, {"/Config/ExposedPorts", T::object},
      {"/Config/Tty", T::boolean}, {"/Config/OpenStdin", T::boolean}, {"/Config/StdinOnce", T::boolean},
      {"/Config/Env", T::array}, {"/Config/Cmd", T::array}, {"/Config/Image", T::string},
      {"/Config/WorkingDir", T::string}, {"/Config/Labels", T::object}, {"/Config/StopSignal", T::string},
      {"/Config/StopTimeout", T::number_integer}, {"/NetworkSettings/Ports", T::object},
      {"/NetworkSettings/IPAddress", T::string}, {"/NetworkSettings/IPPrefixLen", T::number_integer},
      {"/NetworkSettings/Networks/bridge/IPAddress", T::string},
      {"/NetworkSettings/Networks/bridge/Gateway", T::string},
      {"/NetworkSettings/Networks/bridge/MacAddress", T::string},
      {"/NetworkSettings/Networks/bridge/NetworkID", T::string},
      {"/NetworkSettings/Networks/bridge/EndpointID", T::string},
      {"/NetworkSettings/Networks/bridge/IPPrefixLen", T::number_integer},
  };
  for (const auto& [path, type] : expected) {
    nlohmann::json::json_pointer p(path);
    ASSERT_TRUE(j.contains(p)) << path;
    EXPECT_EQ(type_of(j[p]), type) << path << " = " << j[p].dump();
  }
  EXPECT_EQ(j["Driver"], "overlay2");
  EXPECT_EQ(j["HostConfig"]["Binds"], nlohmann::json({"data:/data"}));
  EXPECT_EQ(j["HostConfig"]["Tmpfs"], nlohmann::json({{"/scratch", ""}}));
  EXPECT_EQ(j["Mounts"].size(), 1u) << "--tmpfs is not a mount point in Docker's list";
  EXPECT_TRUE(j["Config"]["ExposedPorts"].contains("80/tcp"));
  EXPECT_FALSE(j["State"].contains("Health")) << "no health check, no Health";
  EXPECT_EQ(j["Name"], "/" + j["Name"].get<std::string>().substr(1));
}

TEST_F(FormatTest, ImagesVolumesAndNetworksFormatsAndFilters) {
  load_image("labelled:1", nlohmann::json{{"Cmd", {"sh"}}, {"Labels", {{"tier", "web"}, {"team", "a"}}}});
  EXPECT_EQ(cpk_({"images", "--filter", "label=tier=web", "--format", "{{.Repository}}:{{.Tag}} {{.Label \"team\"}}"}).out,
            "labelled:1 a\n");
  EXPECT_EQ(cpk_({"images", "--filter", "label=tier=db", "-q"}).out, "");
  EXPECT_EQ(cpk_({"images", "--filter", "reference=lab*", "--format", "{{.Repository}}"}).out, "labelled\n");
  EXPECT_EQ(cpk_({"images", "--filter", "reference=img:latest", "--format", "{{.Repository}}"}).out, "img\n");
  EXPECT_EQ(cpk_({"images", "--filter", "dangling=true", "-q"}).out, "");
  EXPECT_EQ(cpk_({"images", "--format", "table {{.Repository}}\\t{{.Tag}}", "-f", "reference=img"}).out,
            "REPOSITORY   TAG\nimg          latest\n");
  auto bad = cpk_({"images", "--filter", "status=x"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("invalid filter 'status'"), std::string::npos) << bad.err;
  auto bad_bool = cpk_({"images", "--filter", "dangling=maybe"});
  EXPECT_EQ(bad_bool.exit_code, 1);
  auto image = nlohmann::json::parse(lines(cpk_({"images", "--format", "json", "-f", "reference=labelled"}).out).at(0));
  EXPECT_EQ(image["Repository"], "labelled");
  EXPECT_EQ(cpk_({"inspect", "-f", "{{index .Config.Labels \"tier\"}}", "labelled:1"}).out, "web\n");

  ASSERT_EQ(cpk_({"volume", "create", "v1"}).exit_code, 0);
  ASSERT_EQ(cpk_({"volume", "create", "v2"}).exit_code, 0);
  std::string user = trim(run({"-d", "-v", "v2:/data", "img", "sleep", "100"}).out);
  ASSERT_EQ(user.size(), 64u);
  EXPECT_EQ(cpk_({"volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"}).out, "v1 local local\nv2 local local\n");
  EXPECT_EQ(cpk_({"volume", "ls", "-q", "--filter", "dangling=true"}).out, "v1\n");
  EXPECT_EQ(cpk_({"volume", "ls", "-q", "--filter", "dangling=false"}).out, "v2\n");
  EXPECT_EQ(cpk_({"volume", "ls", "-q", "--filter", "name=2"}).out, "v2\n");
  EXPECT_EQ(cpk_({"volume", "ls", "--format", "table {{.Name}}", "-f", "name=v1"}).out, "VOLUME NAME\nv1\n");
  EXPECT_EQ(cpk_({"volume", "inspect", "-f", "{{.Name}} {{.Mountpoint}}", "v1"}).out,
            "v1 " + (cpk_.root / "volumes/v1/_data").string() + "\n");
  EXPECT_EQ(cpk_({"volume", "ls", "-f", "bogus=1"}).exit_code, 1);
  EXPECT_EQ(cpk_({"ps", "-f", "volume=v2", "-q", "--no-trunc"}).out, user + "\n");
  cpk_({"rm", "-f", user});
  EXPECT_EQ(cpk_({"volume", "rm", "v1", "v2"}).exit_code, 0);

  ASSERT_EQ(cpk_({"network", "create", "--subnet", "10.215.7.0/24", "fmtnet"}).exit_code, 0);
  EXPECT_EQ(cpk_({"network", "ls", "--filter", "name=fmtnet", "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.IPv6}}"}).out,
            "fmtnet bridge local false\n");
  EXPECT_EQ(cpk_({"network", "ls", "--filter", "type=custom", "--format", "{{.Name}}"}).out, "fmtnet\n");
  EXPECT_EQ(cpk_({"network", "ls", "--filter", "driver=macvlan", "-q"}).out, "");
  auto bad_type = cpk_({"network", "ls", "--filter", "type=other"});
  EXPECT_EQ(bad_type.exit_code, 1);
  EXPECT_EQ(cpk_({"network", "inspect", "-f", "{{.Name}} {{.Driver}} {{range .IPAM.Config}}{{.Subnet}}{{end}}", "fmtnet"}).out,
            "fmtnet bridge 10.215.7.0/24\n");
  EXPECT_EQ(cpk_({"inspect", "--type", "network", "-f", "{{.Name}}", "fmtnet"}).out, "fmtnet\n");
  EXPECT_EQ(cpk_({"network", "rm", "fmtnet"}).exit_code, 0);
}

}  // namespace
