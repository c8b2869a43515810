// The everyday commands on the real kernel: rename, wait, top, pause/unpause, create + start [-a],
// stats, the prune commands and system df. Each test removes what it made (the fixture checks).
#include <sys/stat.h>

#include <algorithm>
#include <sstream>

#include "runtime_fixture.hpp"

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

class EverydayTest : public RuntimeTest {
 protected:
  ts::CommandResult create(std::vector<std::string> args) const {
    args.insert(args.begin(), {"create", "--cgroup-parent", parent_});
    return cpk_(args);
  }
  // A detached container without a network (quicker, and nothing of the bridge's is needed here).
  std::string run_detached(std::vector<std::string> args) {
    args.insert(args.begin(), {"-d", "--network", "none"});
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return trim(r.out);
  }
  // The cppcker command with `input` on its stdin.
  ts::CommandResult with_input(const std::string& input, const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"/bin/sh", "-c", "printf '%s' \"$CPPCKER_INPUT\" | \"$0\" \"$@\""};
    for (const auto& a : cpk_.argv(args)) argv.push_back(a);
    return ts::run(argv, {"CPPCKER_INPUT=" + input});
  }
  std::string status_of(const std::string& name) {
    auto r = cpk_({"ps", "-a", "--filter", "name=^" + name + "$", "--format", "{{.Status}}"});
    return trim(r.out);
  }
  fs::path upper(const std::string& id) const { return cpk_.root / "containers" / id / "upper"; }
  std::string counter(const std::string& id) const {
    return trim(cppcker::read_file_if_exists(upper(id) / "tmp/counter").value_or(""));
  }
  std::vector<std::string> ids(const std::vector<std::string>& args) const {
    return lines_of(cpk_(args).out);
  }
};

// A relative --root names the same directory in every stage of a start (the overlay's options, the
// child's new root): it was once handed on relative and the mount failed.
TEST_F(EverydayTest, ARelativeRootWorksFromItsWorkingDirectory) {
  std::vector<std::string> argv = cpk_.argv({"run", "--rm", "--network", "none", "--cgroup-parent", parent_, "img", "echo",
                                             "relative-ok"});
  ASSERT_EQ(argv[1], "--root");
  argv[2] = cpk_.root.filename().string();
  std::vector<std::string> sh = {"/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", cpk_.root.parent_path().string()};
  sh.insert(sh.end(), argv.begin(), argv.end());
  auto r = ts::run(sh);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(trim(r.out), "relative-ok");
}

TEST_F(EverydayTest, RenameChangesTheNameAndRefusesATakenOrInvalidOne) {
  const std::string one = run_detached({"--name", "one", "img", "sleep", "1000"});
  auto made = create({"--name", "two", "--network", "none", "img", "true"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto r = cpk_({"rename", "one", "three"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(trim(cpk_({"inspect", "--format", "{{.Name}}", one}).out), "/three");
  EXPECT_NE(status_of("three"), "");
  r = cpk_({"rename", "three", "two"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "Error: Conflict. The container name \"/two\" is already in use by container \"" +
                                  trim(made.out) + "\"")) << r.err;
  r = cpk_({"rename", "three", "no good"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "Invalid container name (no good)")) << r.err;
  r = cpk_({"rename", "nosuch", "four"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: No such container: nosuch\n");
  r = cpk_({"rename", "three"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "\"cppcker rename\" requires exactly 2 arguments.")) << r.err;
  EXPECT_EQ(trim(cpk_({"inspect", "--format", "{{.Name}}", one}).out), "/three");
}

TEST_F(EverydayTest, WaitBlocksUntilTheEndAndPrintsTheExitCode) {
  const std::string id = run_detached({"img", "sh", "-c", "sleep 1; exit 3"});
  const auto start = std::chrono::steady_clock::now();
  auto r = cpk_({"wait", id});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "3\n");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));  // it did wait
  EXPECT_TRUE(contains(cpk_({"ps", "-a", "--filter", "id=" + id, "--format", "{{.Status}}"}).out, "Exited (3)"));
  // Already ended: at once; an unknown one is an error line, the others still answered.
  r = cpk_({"wait", id, "nosuch", id});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "3\n3\n");
  EXPECT_EQ(r.err, "Error: No such container: nosuch\n");
}

TEST_F(EverydayTest, TopShowsTheContainersProcessesOnly) {
  const std::string id = run_detached({"img", "sh", "-c", "sleep 1001 & sleep 1002; true"});
  ASSERT_TRUE(eventually([&] { return contains(cpk_({"top", id}).out, "sleep 1002"); }));
  auto r = cpk_({"top", id});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto rows = lines_of(r.out);
  ASSERT_GE(rows.size(), 4u) << r.out;
  EXPECT_EQ(rows[0].rfind("UID", 0), 0u) << rows[0];
  EXPECT_TRUE(contains(rows[0], "PID")) << rows[0];
  EXPECT_TRUE(contains(rows[0], "CMD")) << rows[0];
  // sh, and both sleeps: nothing of the host's.
  EXPECT_EQ(rows.size(), 4u) << r.out;
  EXPECT_TRUE(contains(r.out, "sleep 1001"));
  EXPECT_TRUE(contains(r.out, "sh -c sleep 1001 & sleep 1002; true")) << r.out;
  EXPECT_FALSE(contains(r.out, "gtest")) << r.out;
  // ps options after the container.
  r = cpk_({"top", id, "-o", "pid,comm"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  rows = lines_of(r.out);
  ASSERT_EQ(rows.size(), 4u) << r.out;
  EXPECT_TRUE(contains(rows[0], "COMMAND")) << rows[0];
  r = cpk_({"top", id, "-o", "comm"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "Couldn't find PID field in ps output")) << r.err;
  cpk_({"kill", id});
  cpk_({"wait", id});
  r = cpk_({"top", id});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: Container " + id + " is not running\n");
}

TEST_F(EverydayTest, PauseFreezesTheProcessesAndUnpauseResumesThem) {
  const std::string id =
      run_detached({"img", "sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.05; done"});
  ASSERT_TRUE(eventually([&] { return !counter(id).empty(); }));
  auto r = cpk_({"pause", id});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, id + "\n");
  EXPECT_TRUE(contains(cpk_({"ps", "--filter", "id=" + id, "--format", "{{.Status}}"}).out, "(Paused)"));
  auto state = inspect(id)["State"];
  EXPECT_EQ(state["Status"], "paused");
  EXPECT_EQ(state["Paused"], true);
  EXPECT_EQ(state["Running"], true);
  EXPECT_EQ(trim(cpk_({"ps", "-q", "--no-trunc", "--filter", "status=paused"}).out), id);
  const std::string frozen_at = counter(id);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(counter(id), frozen_at) << "a paused process made progress";
  r = cpk_({"pause", id});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: Container " + id + " is already paused\n");
  r = cpk_({"exec", id, "true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(contains(r.err, "is paused, unpause the container before exec")) << r.err;
  r = cpk_({"unpause", id});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(eventually([&] { return counter(id) != frozen_at; })) << "no progress after unpause";
  EXPECT_EQ(inspect(id)["State"]["Status"], "running");
  r = cpk_({"unpause", id});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: Container " + id + " is not paused\n");
  cpk_({"kill", id});
  cpk_({"wait", id});
  r = cpk_({"pause", id});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: Container " + id + " is not running\n");
}

TEST_F(EverydayTest, APausedContainerCanBeKilledStoppedAndForceRemoved) {
  const std::string killed = run_detached({"img", "sleep", "1000"});
  const std::string stopped = run_detached({"img", "sleep", "1000"});
  const std::string removed = run_detached({"img", "sleep", "1000"});
  for (const auto& id : {killed, stopped, removed}) ASSERT_EQ(cpk_({"pause", id}).exit_code, 0);
  auto r = cpk_({"kill", killed});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = cpk_({"wait", killed});
  EXPECT_EQ(r.out, "137\n");
  EXPECT_FALSE(inspect(killed)["State"]["Paused"].get<bool>());
  r = cpk_({"stop", "-t", "1", stopped});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(inspect(stopped)["State"]["Status"], "exited");
  r = cpk_({"rm", "-f", removed});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(cpk_.root / "containers" / removed));
}

TEST_F(EverydayTest, CreateMakesAContainerThatStartRunsLater) {
  auto r = create({"--name", "later", "--network", "none", "img", "sh", "-c", "echo ran; exit 0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id = trim(r.out);
  EXPECT_EQ(id.size(), 64u) << r.out;
  EXPECT_EQ(status_of("later"), "Created");
  EXPECT_EQ(inspect(id)["State"]["Status"], "created");
  EXPECT_EQ(cpk_({"logs", id}).out, "");  // nothing ran
  r = cpk_({"start", "later"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "later\n");
  EXPECT_EQ(cpk_({"wait", id}).out, "0\n");
  EXPECT_EQ(cpk_({"logs", id}).out, "ran\n");
  // run's checks, shared: a bad flag value is refused before anything is made.
  r = create({"--memory", "1k", "img"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_TRUE(contains(r.err, "Minimum memory limit allowed is 6MB")) << r.err;
  r = cpk_({"create"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "\"cppcker create\" requires at least 1 argument.")) << r.err;
  EXPECT_EQ(ids({"ps", "-aq"}).size(), 1u);
}

TEST_F(EverydayTest, StartAttachedRelaysOutputAndStdinAndReturnsTheExitCode) {
  auto r = create({"--network", "none", "img", "sh", "-c", "echo out; echo err >&2; exit 5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id = trim(r.out);
  r = cpk_({"start", "-a", id});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(inspect(id)["State"]["ExitCode"], 5);
  // Again: a stopped container starts attached too.
  r = cpk_({"start", "-a", id});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(r.out, "out\n");

  r = create({"-i", "--network", "none", "img", "sh", "-c", "read line; echo got $line; exit 2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string reader = trim(r.out);
  r = with_input("hello\n", {"start", "-a", "-i", reader});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.out, "got hello\n");
  // Without -i the container reads end of input, not ours.
  r = with_input("hello\n", {"start", "-a", reader});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.out, "got\n");
  r = cpk_({"start", "-a", id, reader});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "you cannot start and attach multiple containers at once")) << r.err;
}

TEST_F(EverydayTest, StatsNoStreamShowsDockersColumnsAndTheMemoryLimit) {
  const std::string id = run_detached({"--memory", "64m", "--name", "limited", "img", "sleep", "1000"});
  const std::string other = run_detached({"img", "sleep", "1000"});
  auto r = cpk_({"stats", "--no-stream"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto rows = lines_of(r.out);
  ASSERT_EQ(rows.size(), 3u) << r.out;
  std::regex header("CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS");
  EXPECT_TRUE(std::regex_match(rows[0], header)) << rows[0];
  std::string row = contains(rows[1], "limited") ? rows[1] : rows[2];
  EXPECT_EQ(row.rfind(id.substr(0, 12), 0), 0u) << row;
  EXPECT_TRUE(std::regex_search(row, std::regex(R"(limited +[0-9.]+% +[0-9.]+[KMG]?i?B / 64MiB +[0-9.]+% +[0-9.]+k?B / [0-9.]+k?B +.* +1$)")))
      << row;
  r = cpk_({"stats", "--no-stream", "--no-trunc", "--format", "{{.ID}} {{.MemUsage}} {{.PIDs}}", "limited"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_match(trim(r.out), std::regex(id + R"( [0-9.]+[KMG]?i?B / 64MiB 1)"))) << r.out;
  r = cpk_({"stats", "--no-stream", "nosuch"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: No such container: nosuch\n");
  (void)other;
}

TEST_F(EverydayTest, PruneRemovesOnlyWhatNoContainerUses) {
  // Images: img (a running container's), other (a stopped one's), spare (nobody's), and a dangling one
  // (its tag moved on to another image).
  load_image("other:latest", nlohmann::json{{"Cmd", {"sh"}}, {"Env", {"OTHER=1"}}});
  load_image("spare:latest", nlohmann::json{{"Cmd", {"sh"}}, {"Env", {"SPARE=1"}}});
  load_image("moving:latest", nlohmann::json{{"Cmd", {"sh"}}, {"Env", {"MOVING=1"}}});
  const std::string dangling = trim(cpk_({"images", "-q", "--no-trunc", "moving"}).out);
  load_image("moving:latest", nlohmann::json{{"Cmd", {"sh"}}, {"Env", {"MOVING=2"}}});
  const std::string running = run_detached({"-v", "keep1:/data", "img", "sleep", "1000"});
  const std::string stopped = run_detached({"-v", "keep2:/data", "other", "true"});
  cpk_({"wait", stopped});
  // An anonymous volume nobody uses any more: its container went without -v.
  const std::string gone = run_detached({"-v", "/anon", "img", "true"});
  cpk_({"wait", gone});
  const std::string anonymous = trim(cpk_({"inspect", "--format", "{{range .Mounts}}{{.Name}}{{end}}", gone}).out);
  ASSERT_EQ(anonymous.size(), 64u) << anonymous;
  ASSERT_EQ(cpk_({"rm", gone}).exit_code, 0);
  ASSERT_EQ(cpk_({"volume", "create", "spare"}).exit_code, 0);
  const auto images_before = ids({"images", "-q"});

  // Refused at the prompt: nothing goes.
  for (const auto& command : std::vector<std::vector<std::string>>{
           {"image", "prune", "-a"}, {"container", "prune"}, {"volume", "prune"}, {"system", "prune"}}) {
    auto r = with_input("n\n", command);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "WARNING! This will remove")) << r.out;
    EXPECT_TRUE(contains(r.out, "Are you sure you want to continue? [y/N] ")) << r.out;
    EXPECT_FALSE(contains(r.out, "Total reclaimed space")) << r.out;
  }
  EXPECT_EQ(ids({"images", "-q"}), images_before);
  EXPECT_EQ(ids({"ps", "-aq"}).size(), 2u);
  EXPECT_EQ(ids({"volume", "ls", "-q"}).size(), 4u);

  // Dangling images only; then everything unused.
  auto r = cpk_({"image", "prune", "-f"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(r.out).front(), "Deleted Images:");
  EXPECT_TRUE(contains(r.out, "deleted: " + dangling)) << r.out;
  EXPECT_FALSE(contains(r.out, "untagged:")) << r.out;
  EXPECT_TRUE(contains(r.out, "\nTotal reclaimed space: ")) << r.out;
  r = with_input("y\n", {"image", "prune", "-a"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "untagged: spare:latest\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "untagged: moving:latest\n")) << r.out;
  EXPECT_FALSE(contains(r.out, "untagged: img:latest")) << r.out;
  EXPECT_FALSE(contains(r.out, "untagged: other:latest")) << r.out;
  auto left = ids({"images", "--format", "{{.Repository}}"});
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"img", "other"}));

  // Volumes: anonymous unused ones; with -a the named unused ones too; those containers name stay.
  r = cpk_({"volume", "prune", "-f"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Deleted Volumes:\n" + anonymous + "\n\nTotal reclaimed space: 0B\n");
  r = cpk_({"volume", "prune", "-f", "-a"});
  EXPECT_EQ(r.out, "Deleted Volumes:\nspare\n\nTotal reclaimed space: 0B\n");
  EXPECT_EQ(trim(cpk_({"volume", "ls", "-q"}).out), "keep1\nkeep2");

  // Containers: the stopped one; then its image can go.
  r = cpk_({"container", "prune", "-f", "--filter", "until=2000-01-01T00:00:00Z"});
  EXPECT_EQ(r.out, "Total reclaimed space: 0B\n");  // created after that: kept
  r = cpk_({"container", "prune", "-f", "--filter", "bogus=1"});
  EXPECT_EQ(r.exit_code, 1);
  r = cpk_({"container", "prune", "-f"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Deleted Containers:\n" + stopped + "\n\nTotal reclaimed space: ")) << r.out;
  EXPECT_EQ(ids({"ps", "-aq", "--no-trunc"}), std::vector<std::string>{running});
  r = cpk_({"system", "prune", "-f", "-a", "--volumes"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "untagged: other:latest\n")) << r.out;
  EXPECT_EQ(trim(cpk_({"images", "--format", "{{.Repository}}"}).out), "img");
  EXPECT_EQ(trim(cpk_({"volume", "ls", "-q"}).out), "keep1\nkeep2");  // keep2: named, not anonymous
  EXPECT_EQ(ids({"ps", "-aq", "--no-trunc"}), std::vector<std::string>{running});
  EXPECT_TRUE(fs::exists(cpk_.root / "volumes" / "keep1"));
}

TEST_F(EverydayTest, SystemDfAgreesWithImagesContainersAndVolumes) {
  load_image("other:latest", nlohmann::json{{"Cmd", {"sh"}}, {"Env", {"OTHER=1"}}});
  const std::string running = run_detached({"-v", "data:/data", "img", "sh", "-c", "echo 12345 > /data/f; sleep 1000"});
  const std::string stopped = run_detached({"img", "sh", "-c", "head -c 5000 /bin/busybox > /big"});
  cpk_({"wait", stopped});
  ASSERT_TRUE(eventually([&] { return fs::exists(cpk_.root / "volumes/data/_data/f"); }));
  cpk_({"volume", "create", "idle"});
  auto r = cpk_({"system", "df"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rows = lines_of(r.out);
  ASSERT_EQ(rows.size(), 5u) << r.out;
  EXPECT_TRUE(std::regex_match(rows[0], std::regex("TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE"))) << rows[0];
  // Two images sharing their one layer: the layer counts once, and the used image holds it.
  EXPECT_TRUE(std::regex_match(rows[1], std::regex("Images +2 +1 +[0-9.]+[kMG]?B +0B \\(0%\\)"))) << rows[1];
  EXPECT_TRUE(std::regex_match(rows[2], std::regex("Containers +2 +1 +5kB +5kB \\(100%\\)"))) << rows[2];
  EXPECT_TRUE(std::regex_match(rows[3], std::regex("Local Volumes +2 +1 +6B +0B \\(0%\\)"))) << rows[3];
  EXPECT_TRUE(std::regex_match(rows[4], std::regex("Build Cache +0 +0 +0B +0B"))) << rows[4];
  r = cpk_({"system", "df", "--format", "{{.Type}}={{.TotalCount}}"});
  EXPECT_EQ(r.out, "Images=2\nContainers=2\nLocal Volumes=2\nBuild Cache=0\n");
  r = cpk_({"system", "df", "-v"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Images space usage:")) << r.out;
  EXPECT_TRUE(contains(r.out, "Local Volumes space usage:")) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\ndata +1 +6B\n"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\nidle +0 +0B\n"))) << r.out;
  (void)running;
}
