#include <gtest/gtest.h>

#include <sys/resource.h>
#include <zlib.h>
#include <zstd.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "cppcker/util/decompress.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"
#include "cppcker/util/humanize.hpp"
#include "cppcker/util/prefault.hpp"
#include "cppcker/util/sha256.hpp"
#include "cppcker/util/text.hpp"

using namespace cppcker;

TEST(ReadLines, LinesAcrossPiecesEmptyOnesAndAnUnterminatedLast) {
  // Longer than one 4 KiB piece, a line cut at a piece's end, an empty line, no final newline.
  const std::string longest(5000, 'x');
  const std::string cut = std::string(4090, 'y');
  const std::string text = "first\n" + longest + "\n" + cut + "\n\nlast";
  char path[] = "/tmp/cppcker-read-lines-XXXXXX";
  UniqueFd fd(::mkstemp(path));
  ASSERT_TRUE(fd);
  ::unlink(path);
  ASSERT_EQ(::write(fd.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ASSERT_EQ(::lseek(fd.get(), 0, SEEK_SET), 0);
  std::vector<std::string> lines;
  read_lines(fd.get(), "test file", [&](std::string_view line) { lines.emplace_back(line); });
  EXPECT_EQ(lines, (std::vector<std::string>{"first", longest, cut, "", "last"}));
}

TEST(Text, AsciiLowerLeavesOtherBytesAndJoinPutsTheSeparatorBetween) {
  EXPECT_EQ(ascii_lower("FROM Stage-1 AS Build"), "from stage-1 as build");
  // Only A-Z: UTF-8 bytes pass as they are, whatever the locale.
  EXPECT_EQ(ascii_lower("\xC3\x89T\xC3\x89"), "\xC3\x89t\xC3\x89");
  EXPECT_EQ(join_words({}), "");
  EXPECT_EQ(join_words({"sh"}), "sh");
  EXPECT_EQ(join_words({"sh", "-c", "echo hi"}), "sh -c echo hi");
  EXPECT_EQ(join_words({"", "b"}, "\n"), "\nb");  // an empty first word still gets its separator
}

TEST(HumanSize, DockerDecimalUnits) {
  EXPECT_EQ(human_size(0), "0B");
  EXPECT_EQ(human_size(512), "512B");
  EXPECT_EQ(human_size(1000), "1kB");
  EXPECT_EQ(human_size(4260000), "4.26MB");
  EXPECT_EQ(human_size(77800000), "77.8MB");
  EXPECT_EQ(human_size(123456789), "123MB");
  EXPECT_EQ(human_size(1.5e9), "1.5GB");
}

TEST(HumanDuration, DockerWording) {
  using namespace std::chrono;
  EXPECT_EQ(human_duration(milliseconds(500)), "Less than a second");
  EXPECT_EQ(human_duration(seconds(1)), "1 second");
  EXPECT_EQ(human_duration(seconds(42)), "42 seconds");
  EXPECT_EQ(human_duration(seconds(61)), "About a minute");
  EXPECT_EQ(human_duration(minutes(5)), "5 minutes");
  EXPECT_EQ(human_duration(minutes(61)), "About an hour");
  EXPECT_EQ(human_duration(hours(30)), "30 hours");
  EXPECT_EQ(human_duration(hours(24 * 5)), "5 days");
  EXPECT_EQ(human_duration(hours(24 * 21)), "3 weeks");
  EXPECT_EQ(human_duration(hours(24 * 100)), "3 months");
  EXPECT_EQ(human_duration(hours(24 * 800)), "2 years");
}

TEST(Rfc3339, RoundTripAndOffsets) {
  auto t = parse_rfc3339("2024-01-02T03:04:05.5Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_rfc3339(*t), "2024-01-02T03:04:05.5Z");
  EXPECT_EQ(format_rfc3339(*parse_rfc3339("2024-01-02T05:04:05+02:00")), "2024-01-02T03:04:05Z");
  EXPECT_FALSE(parse_rfc3339("yesterday"));
  EXPECT_FALSE(parse_rfc3339("2024-01-02T03:04:05"));
}

TEST(Sha256, KnownVectorsAndDigestValidation) {
  EXPECT_EQ(sha256_digest(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_digest("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.update("a");
  h.update("bc");
  EXPECT_EQ(h.digest(), sha256_digest("abc"));
  EXPECT_TRUE(is_valid_digest("sha256:" + std::string(64, 'f')));
  EXPECT_FALSE(is_valid_digest("sha256:" + std::string(64, 'F')));
  EXPECT_FALSE(is_valid_digest("sha256:abc"));
  EXPECT_THROW(digest_hex("md5:00"), Error);
}

namespace {
std::string gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string zstd(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3));
  return out;
}

std::string decompress_in_chunks(const std::string& in, std::size_t chunk, Compression* seen = nullptr) {
  std::string out;
  Decompressor d([&](std::string_view s) { out.append(s); });
  for (std::size_t i = 0; i < in.size(); i += chunk) d.feed(std::string_view(in).substr(i, chunk));
  d.finish();
  if (seen) *seen = d.compression();
  return out;
}

std::string sample(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 31 + i / 1000) & 0xff);
  return s;
}
}  // namespace

TEST(Decompressor, AllFormatsInAnyChunking) {
  std::string data = sample(3 << 20);  // larger than the output buffer, so flushing matters
  for (std::size_t chunk : {1u, 3u, 4096u, 1u << 20}) {
    Compression c;
    EXPECT_EQ(decompress_in_chunks(gzip(data), chunk, &c), data);
    EXPECT_EQ(c, Compression::gzip);
    EXPECT_EQ(decompress_in_chunks(zstd(data), chunk, &c), data);
    EXPECT_EQ(c, Compression::zstd);
    EXPECT_EQ(decompress_in_chunks(data, chunk, &c), data);
    EXPECT_EQ(c, Compression::none);
  }
}

TEST(Decompressor, ConcatenatedMembersAndFrames) {
  EXPECT_EQ(decompress_in_chunks(gzip("one ") + gzip("two"), 5), "one two");
  EXPECT_EQ(decompress_in_chunks(zstd("one ") + zstd("two"), 5), "one two");
}

TEST(Decompressor, TruncatedAndCorruptStreamsFail) {
  std::string data = sample(200000);
  std::string gz = gzip(data), zs = zstd(data);
  EXPECT_THROW(decompress_in_chunks(gz.substr(0, gz.size() / 2), 1000), Error);
  EXPECT_THROW(decompress_in_chunks(zs.substr(0, zs.size() / 2), 1000), Error);
  std::string bad = gz;
  bad[bad.size() - 6] ^= 0x55;  // the CRC trailer
  EXPECT_THROW(decompress_in_chunks(bad, 1000), Error);
}

// The program's code is resident after it, all of it (a big test binary, most of which no test runs).
TEST(PrefaultProgramCode, MakesTheProgramsWholeCodeResident) {
  const std::string exe = fs::read_symlink("/proc/self/exe").string();
  auto code_kb = [&exe](const char* field) {
    std::istringstream smaps(cppcker::read_file("/proc/self/smaps"));
    std::string line;
    bool in_code = false;
    long total = 0;
    while (std::getline(smaps, line)) {
      std::istringstream words(line);
      std::string first, perms, offset, device, inode, path;
      words >> first >> perms >> offset >> device >> inode >> path;
      if (first.find('-') != std::string::npos && !perms.empty() && perms.size() == 4) {
        in_code = perms == "r-xp" && path == exe;
      } else if (in_code && first == std::string(field) + ":") {
        total += std::stol(perms);
      }
    }
    return total;
  };
  ASSERT_GT(code_kb("Size"), 1024) << "no code mapping of " << exe << " found";
  ASSERT_LT(code_kb("Rss"), code_kb("Size")) << "all resident before: this test could not tell";
  cppcker::prefault_program_code();
  EXPECT_EQ(code_kb("Rss"), code_kb("Size"));
}

// The heap made at once is there for the allocations that follow: 400 kB taken and written after it
// cost no page faults (without it, malloc maps such a block fresh: ~100 faults).
TEST(PrefaultHeap, LaterAllocationsTouchNoNewPages) {
  cppcker::prefault_heap(512 * 1024);
  auto minor_faults = [] {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
  };
  const long before = minor_faults();
  auto* block = static_cast<char*>(std::malloc(400 * 1024));
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, 400 * 1024);
  asm volatile("" : : "r"(block) : "memory");  // the writes happen (the compiler may not drop them)
  const long faults = minor_faults() - before;
  std::free(block);
  EXPECT_LT(faults, 10);
}
