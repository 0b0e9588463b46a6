// tunneld's configuration and key files are regular files: a FIFO, a directory or a device is
// refused without being opened for reading (tunnel::read_regular_file, tunnel::load_config).
#include "../support.h"

#include <sys/stat.h>

#include <fstream>

#include "tunnel/config.h"

namespace {

const char* kKey = "YNqHwpcAmVz0lVKwL8SxGm4PfY7Ax+Y0qQlR3mIU23Y=";

std::string write(const testing::TempDir& d, const std::string& name, const std::string& text) {
  std::string p = d.path + "/" + name;
  std::ofstream(p) << text;
  return p;
}

}  // namespace

TEST_CASE("read_regular_file refuses what is not a regular file, without blocking",
          "[tunneld][config]") {
  testing::TempDir d;
  std::string fifo = d.path + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // No writer ever opens the FIFO: a blocking open or read would hang this test.
  for (const std::string& p : {fifo, d.path, std::string("/dev/null")}) {
    INFO(p);
    auto r = tunnel::read_regular_file(p, 4096);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == core::Errc::noinput);
    CHECK(r.error().message == p + ": not a regular file");
  }
  auto missing = tunnel::read_regular_file(d.path + "/none", 4096);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == core::Errc::noinput);
  CHECK(missing.error().message == d.path + "/none: No such file or directory");

  auto ok = tunnel::read_regular_file(write(d, "a", "hello\n"), 4096);
  REQUIRE(ok);
  CHECK(*ok == "hello\n");
  auto big = tunnel::read_regular_file(write(d, "b", std::string(5000, 'x')), 4096);
  REQUIRE_FALSE(big);
  CHECK(big.error().code == core::Errc::data);
}

TEST_CASE("load_config: a FIFO config or key file is 66, a bad key file 65, at its line",
          "[tunneld][config]") {
  testing::TempDir d;
  std::string fifo = d.path + "/tunneld.toml";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto c = tunnel::load_config(fifo, d.path);
  REQUIRE_FALSE(c);
  CHECK(c.error().code == core::Errc::noinput);
  CHECK(c.error().message == fifo + ": not a regular file");

  std::string key = d.path + "/site.key";
  REQUIRE(::mkfifo(key.c_str(), 0600) == 0);
  std::string head =
      std::string("[site]\nname = \"s\"\nedge = \"e:1\"\nedge_public_key = \"") + kKey + "\"\n";
  auto k =
      tunnel::load_config(write(d, "a.toml", head + "private_key_file = \"site.key\"\n"), d.path);
  REQUIRE_FALSE(k);
  CHECK(k.error().code == core::Errc::noinput);
  CHECK(k.error().message.find("a.toml:5:") != std::string::npos);
  CHECK(k.error().message.find(key + ": not a regular file") != std::string::npos);

  write(d, "bad.key", "not a key\n");
  auto bad =
      tunnel::load_config(write(d, "b.toml", head + "private_key_file = \"bad.key\"\n"), d.path);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == core::Errc::data);
  CHECK(bad.error().message.find("b.toml:5:") != std::string::npos);

  // A key problem that is not the first one leaves the code of the first: 78.
  auto both = tunnel::load_config(
      write(d, "c.toml", "threads = \"x\"\n" + head + "private_key_file = \"site.key\"\n"), d.path);
  REQUIRE_FALSE(both);
  CHECK(both.error().code == core::Errc::config);
}
