#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "cppcker/image/catalog.hpp"
#include "cppcker/image/manifest.hpp"
#include "cppcker/storage/store.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"
#include "cppcker/util/sha256.hpp"

using namespace cppcker;

namespace {

struct StoreFixture : ::testing::Test {
  fs::path root = fs::temp_directory_path() / ("cppcker-store-" + random_hex(6));
  ImageStore store{root};
  ~StoreFixture() override { remove_tree(root); }

  // An image record with `n` layers whose content is made up (no extraction needed for bookkeeping).
  ImageRecord add_image(const std::string& seed, const std::vector<std::string>& diff_contents,
                        const std::vector<std::string>& names) {
    std::vector<std::string> diff_ids;
    for (const auto& c : diff_contents) diff_ids.push_back(sha256_digest(c));
    auto chains = chain_ids(diff_ids);
    std::string config = R"({"seed":")" + seed + "\"}";
    std::string manifest = R"({"manifest":")" + seed + "\"}";
    ImageRecord r;
    r.id = sha256_digest(config);
    r.manifest_digest = sha256_digest(manifest);
    store.put_blob(r.id, config);
    store.put_blob(r.manifest_digest, manifest);
    for (std::size_t i = 0; i < chains.size(); ++i) {
      std::string blob = "blob-" + diff_contents[i];
      std::string digest = sha256_digest(blob);
      store.put_blob(digest, blob);
      if (!store.has_layer(chains[i])) {
        fs::path temp = store.new_layer_temp(chains[i]);
        write_file_atomic(temp / "diff/file", diff_contents[i]);
        store.commit_layer(temp, chains[i], {{"size", diff_contents[i].size()}});
      }
      r.layers.push_back({chains[i], diff_ids[i], digest, "x", static_cast<std::int64_t>(blob.size()), diff_contents[i].size()});
    }
    auto lock = store.lock_metadata();
    store.put_image(r);
    auto refs = store.refs();
    for (const auto& n : names) refs[Reference::parse(n).string()] = r.id;
    store.write_refs(refs);
    return r;
  }

  std::size_t count(const char* sub) {
    std::size_t n = 0;
    for (auto& e : fs::directory_iterator(root / sub)) n += e.path().filename() != ".locks";
    return n;
  }
};

}  // namespace

TEST_F(StoreFixture, BlobsAreCheckedAgainstTheirDigest) {
  EXPECT_THROW(store.put_blob(sha256_digest("a"), "b"), Error);
  EXPECT_FALSE(store.has_blob(sha256_digest("a")));
  store.put_blob(sha256_digest("a"), "a");
  EXPECT_EQ(store.read_blob(sha256_digest("a")), "a");
  EXPECT_THROW(store.read_blob(sha256_digest("missing")), Error);
}

TEST_F(StoreFixture, RecordsRoundTripAndSizesAddUp) {
  auto r = add_image("one", {"aaaa", "bb"}, {"one:latest"});
  auto back = store.get_image(r.id);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->to_json(), r.to_json());
  EXPECT_EQ(back->size(), 6u);
  EXPECT_EQ(store.list_images().size(), 1u);
  EXPECT_FALSE(store.get_image(sha256_digest("nope")));
}

TEST_F(StoreFixture, ResolveByReferenceIdAndPrefix) {
  auto a = add_image("a", {"x"}, {"alpha:1"});
  auto b = add_image("b", {"y"}, {"beta"});
  EXPECT_EQ(store.resolve_image("alpha:1"), a.id);
  EXPECT_EQ(store.resolve_image("docker.io/library/beta:latest"), b.id);
  EXPECT_EQ(store.resolve_image("beta"), b.id);
  EXPECT_EQ(store.resolve_image(a.id), a.id);
  EXPECT_EQ(store.resolve_image(a.id.substr(7, 12)), a.id);
  EXPECT_EQ(store.resolve_image(a.id.substr(0, 20)), a.id);  // sha256:<prefix>
  EXPECT_THROW(store.resolve_image("alpha:2"), Error);
  try {
    store.resolve_image("gamma");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "No such image: gamma");
  }
  // Find a one-character prefix both IDs share, if any, to check ambiguity.
  for (char c : std::string("0123456789abcdef")) {
    if (a.id[7] == c && b.id[7] == c) {
      EXPECT_THROW(store.resolve_image(std::string(1, c)), Error);
    }
  }
}

TEST_F(StoreFixture, FindImageTellsMissingFromAmbiguous) {
  auto a = add_image("a", {"x"}, {"alpha:1"});
  EXPECT_EQ(store.find_image("alpha:1"), a.id);
  EXPECT_EQ(store.find_image(a.id.substr(7, 12)), a.id);
  // Missing is no error: `run` and `build` pull then.
  EXPECT_EQ(store.find_image("alpha:2"), std::nullopt);
  EXPECT_EQ(store.find_image(sha256_digest("nope")), std::nullopt);
  EXPECT_EQ(store.find_image("0123abc"), std::nullopt);
  // Seventeen images: two IDs share their first hex digit, and that one-digit prefix is ambiguous, an
  // Error (a pull would not be what the user meant).
  std::map<char, int> first_digits;
  first_digits[a.id[7]]++;
  for (int i = 0; i < 16; ++i) first_digits[add_image("m" + std::to_string(i), {"z" + std::to_string(i)}, {}).id[7]]++;
  auto shared = std::find_if(first_digits.begin(), first_digits.end(), [](const auto& d) { return d.second > 1; });
  ASSERT_NE(shared, first_digits.end());
  EXPECT_THROW(store.find_image(std::string(1, shared->first)), Error);
}

TEST_F(StoreFixture, NamesByImageSplitsTagsAndDigests) {
  auto a = add_image("a", {"x"}, {"alpha:1", "alpha:2", "other/alpha@" + sha256_digest("m")});
  auto names = names_by_image(store.refs());
  EXPECT_EQ(names[a.id].tags.size(), 2u);
  ASSERT_EQ(names[a.id].digests.size(), 1u);
  EXPECT_EQ(names[a.id].digests[0].familiar_string(), "other/alpha@" + sha256_digest("m"));
}

TEST_F(StoreFixture, GarbageCollectionKeepsSharedContentAndSweepsTemporaries) {
  auto one = add_image("one", {"base", "top1"}, {"one"});
  auto two = add_image("two", {"base", "top2"}, {"two"});
  EXPECT_EQ(count("layers"), 3u);  // the base layer is stored once
  // Leftovers of a killed process.
  fs::create_directories(root / "layers" / (digest_hex(one.layers[0].chain_id) + ".tmp-dead"));
  write_file_atomic(root / "blobs/sha256/abc.tmp-dead", "x");
  fs::create_directories(root / "tmp/load-dead");

  EXPECT_TRUE(store.collect_garbage().empty());
  EXPECT_EQ(count("layers"), 3u);
  EXPECT_EQ(count("tmp"), 0u);
  EXPECT_FALSE(fs::exists(root / "blobs/sha256/abc.tmp-dead"));

  auto events = remove_image(store, "one", false);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0].what, "one:latest");
  EXPECT_EQ(events[1].what, one.id);
  EXPECT_EQ(count("layers"), 2u);  // only one's top layer went
  EXPECT_TRUE(store.has_layer(two.layers[0].chain_id));
  EXPECT_FALSE(store.has_blob(one.id));
  EXPECT_TRUE(store.has_blob(two.layers[0].digest));

  remove_image(store, "two", false);
  EXPECT_EQ(count("layers"), 0u);
  EXPECT_EQ(count("blobs/sha256"), 0u);
  EXPECT_EQ(count("images"), 0u);
}

TEST_F(StoreFixture, RemovingOneOfSeveralTagsOnlyUntags) {
  auto a = add_image("a", {"x"}, {"alpha:1", "alpha:2"});
  auto events = remove_image(store, "alpha:1", false);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, RemovalEvent::Kind::untagged);
  EXPECT_TRUE(store.get_image(a.id));
  EXPECT_THROW(remove_image(store, "alpha:1", false), Error);
}

TEST_F(StoreFixture, CommitLayerLosingARaceKeepsTheWinner) {
  std::string chain = sha256_digest("race");
  fs::path first = store.new_layer_temp(chain);
  fs::path second = store.new_layer_temp(chain);
  write_file_atomic(first / "diff/f", "first");
  write_file_atomic(second / "diff/f", "second");
  store.commit_layer(first, chain, {{"size", 5}});
  store.commit_layer(second, chain, {{"size", 6}});
  EXPECT_EQ(read_file(store.layer_diff_dir(chain) / "f"), "first");
  EXPECT_FALSE(fs::exists(second));
}

TEST_F(StoreFixture, CorruptRefsFileIsReportedNotIgnored) {
  write_file_atomic(root / "repositories.json", "{not json");
  EXPECT_THROW(store.refs(), Error);
}

// rmi while containers use the image (Docker 20.10's rules): an extra tag always just goes; the last name
// needs force for a stopped user and cannot go at all for a running one.
TEST_F(StoreFixture, RmiOfAnExtraTagUntagsWhileAContainerRuns) {
  auto a = add_image("a", {"x"}, {"alpha:1", "alpha:extra"});
  ImageUsers running = [&](const std::string& id) {
    return id == a.id ? std::vector<ImageUser>{{std::string(64, 'c'), true}} : std::vector<ImageUser>{};
  };
  auto events = remove_image(store, "alpha:extra", false, running);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, RemovalEvent::Kind::untagged);
  EXPECT_EQ(events[0].what, "alpha:extra");
  EXPECT_EQ(store.refs().count("docker.io/library/alpha:extra"), 0u);
  EXPECT_TRUE(store.get_image(a.id));

  // With -f, the same for another extra tag.
  tag_image(store, "alpha:1", "alpha:more");
  events = remove_image(store, "alpha:more", true, running);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].what, "alpha:more");

  // The last tag: refused, with and without force, and the tag stays.
  try {
    remove_image(store, "alpha:1", true, running);
    FAIL() << "the last tag of a running container's image went";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "conflict: unable to delete " + a.id.substr(7, 12) +
                                         " (cannot be forced) - image is being used by running container cccccccccccc");
  }
  EXPECT_THROW(remove_image(store, "alpha:1", false, running), Error);
  EXPECT_THROW(remove_image(store, a.id, true, running), Error);
  EXPECT_EQ(store.refs().count("docker.io/library/alpha:1"), 1u);
  EXPECT_TRUE(store.get_image(a.id));
}

TEST_F(StoreFixture, RmiOfTheLastTagOfAStoppedContainersImageNeedsForce) {
  auto a = add_image("a", {"x"}, {"alpha:1"});
  ImageUsers stopped = [&](const std::string&) { return std::vector<ImageUser>{{std::string(64, 'd'), false}}; };
  try {
    remove_image(store, "alpha:1", false, stopped);
    FAIL() << "removed without force";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(must force) - container dddddddddddd is using its referenced image"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(remove_image(store, a.id, false, stopped), Error);
  auto events = remove_image(store, "alpha:1", true, stopped);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, RemovalEvent::Kind::untagged);
  EXPECT_TRUE(store.get_image(a.id));  // kept for its container
}
