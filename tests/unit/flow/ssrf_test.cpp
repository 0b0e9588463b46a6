// The SSRF guard's address and name classification.
#include "../support.h"

#include "flow/io.h"

namespace {
std::string ip(const char* a, flow::HttpPolicy p = {}) {
  std::string r = flow::ssrf_check_ip(a, p);
  if (r.empty()) return "allowed";
  return r.substr(0, r.find(' '));
}
}  // namespace

TEST_CASE("blocked ranges, in Thaiyyal's check order") {
  CHECK(ip("127.0.0.1") == "localhost");
  CHECK(ip("127.255.0.9") == "localhost");
  CHECK(ip("0.0.0.0") == "localhost");
  CHECK(ip("::1") == "localhost");
  CHECK(ip("::") == "localhost");
  CHECK(ip("10.1.2.3") == "private");
  CHECK(ip("172.16.0.1") == "private");
  CHECK(ip("172.31.255.255") == "private");
  CHECK(ip("172.32.0.1") == "allowed");
  CHECK(ip("192.168.1.1") == "private");
  CHECK(ip("100.64.0.1") == "private");  // CGNAT
  CHECK(ip("100.127.255.254") == "private");
  CHECK(ip("100.128.0.1") == "allowed");
  CHECK(ip("fc00::1") == "private");
  CHECK(ip("fd00::1") == "private");
  CHECK(ip("169.254.169.254") == "link-local");  // link-local is checked before metadata
  CHECK(ip("fe80::1") == "link-local");
  CHECK(ip("0.1.2.3") == "reserved");
  CHECK(ip("224.0.0.1") == "reserved");
  CHECK(ip("255.255.255.255") == "reserved");
  CHECK(ip("ff02::1") == "reserved");
  CHECK(ip("8.8.8.8") == "allowed");
  CHECK(ip("2606:4700::1111") == "allowed");
}

TEST_CASE("IPv4 embedded in IPv6 is checked as IPv4") {
  CHECK(ip("::ffff:127.0.0.1") == "localhost");
  CHECK(ip("::ffff:10.0.0.1") == "private");
  CHECK(ip("64:ff9b::10.0.0.1") == "private");  // NAT64
  CHECK(ip("64:ff9b:1::a9fe:a9fe") == "link-local");
  CHECK(ip("2002:c0a8:0101::1") == "private");                       // 6to4 of 192.168.1.1
  CHECK(ip("2001:0:4136:e378:8000:63bf:80ff:fffe") == "localhost");  // Teredo of 127.0.0.1
  CHECK(ip("::ffff:8.8.8.8") == "allowed");
}

TEST_CASE("allow switches") {
  flow::HttpPolicy p;
  p.allow_localhost = true;
  CHECK(ip("127.0.0.1", p) == "allowed");
  p.allow_private_ips = true;
  CHECK(ip("10.0.0.1", p) == "allowed");
  CHECK(ip("100.64.0.1", p) == "allowed");
  p.allow_link_local = true;
  CHECK(ip("169.254.1.1", p) == "allowed");
  CHECK(ip("169.254.169.254", p) == "cloud");
  CHECK(ip("fd00:ec2::254", p) == "cloud");
  p.allow_cloud_metadata = true;
  CHECK(ip("169.254.169.254", p) == "allowed");
  CHECK(ip("fd00:ec2::254", p) == "allowed");
}

TEST_CASE("names: allow list, localhost and metadata names") {
  flow::HttpPolicy p;
  CHECK(flow::ssrf_check_name("LOCALHOST.", p) == "localhost addresses are blocked");
  CHECK(flow::ssrf_check_name("api.localhost", p) == "localhost addresses are blocked");
  CHECK(flow::ssrf_check_name("metadata.google.internal", p).rfind("cloud metadata", 0) == 0);
  CHECK(flow::ssrf_check_name("example.com", p).empty());
  p.allowed_domains = {"Example.com"};
  CHECK(flow::ssrf_check_name("example.COM", p).empty());
  CHECK(flow::ssrf_check_name("evil.example.com", p) ==
        "domain not in allowlist: evil.example.com");
}
