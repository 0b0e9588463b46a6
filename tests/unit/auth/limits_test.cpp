#include "auth/limits.h"
#include "../support.h"

using namespace auth;

TEST_CASE("limit keys: IPv4 address, IPv6 /64, per resource", "[auth]") {
  REQUIRE(limit_key(*parse_ip("192.0.2.1"), 7) == "192.0.2.1|7");
  REQUIRE(limit_key(*parse_ip("2001:db8:1:2:3:4:5:6"), 7) == "2001:db8:1:2::/64|7");
  REQUIRE(limit_key(*parse_ip("2001:db8:1:2:ffff::1"), 7) ==
          limit_key(*parse_ip("2001:db8:1:2::9"), 7));
  REQUIRE(limit_key(*parse_ip("192.0.2.1"), 8) != limit_key(*parse_ip("192.0.2.1"), 7));
}

TEST_CASE("backoff: free failures, then doubling waits, then lockout", "[auth]") {
  Backoff b;  // 3 free, 1 s doubling to 5 min, lockout at 10 for 15 min, forget after 1 h
  const std::string k = "192.0.2.1|7";
  int64_t t = 1'000'000;
  REQUIRE(b.failure(k, t) == 0);
  REQUIRE(b.failure(k, t) == 0);
  REQUIRE(b.failure(k, t) == 0);
  REQUIRE(b.wait_ms(k, t) == 0);
  REQUIRE(b.failure(k, t) == 1000);
  REQUIRE(b.wait_ms(k, t + 400) == 600);
  REQUIRE(b.wait_ms(k, t + 1000) == 0);
  t += 1000;
  REQUIRE(b.failure(k, t) == 2000);
  t += 2000;
  REQUIRE(b.failure(k, t) == 4000);
  t += 4000;
  REQUIRE(b.failure(k, t) == 8000);
  t += 8000;
  REQUIRE(b.failure(k, t) == 16000);
  t += 16000;
  REQUIRE(b.failure(k, t) == 32000);
  REQUIRE(b.failures(k, t) == 9);
  t += 32000;
  REQUIRE(b.failure(k, t) == 15 * 60000);  // the 10th failure locks out
  REQUIRE(b.wait_ms(k, t + 14 * 60000) == 60000);
  REQUIRE(retry_after_seconds(b.wait_ms(k, t + 1)) == 900);
  // Another key and another resource are unaffected.
  REQUIRE(b.wait_ms("192.0.2.2|7", t) == 0);
  // Failures of no named credential are cleared by time only; long silence forgets.
  b.success(k);
  b.success(k, "password");
  REQUIRE(b.failures(k, t) == 10);
  REQUIRE(b.wait_ms(k, t) > 0);
  t += 3600 * 1000;
  for (int i = 0; i < 5; i++) b.failure(k, t);
  REQUIRE(b.failures(k, t) == 5);
  REQUIRE(b.failures(k, t + 3600 * 1000) == 0);
  REQUIRE(b.failure(k, t + 3600 * 1000) == 0);  // counting starts over
}

TEST_CASE("backoff: a success takes away only its own credential's failures", "[auth]") {
  Backoff b;
  const std::string k = "192.0.2.1|7";
  int64_t t = 1'000'000;
  // Three guesses at the admin's password, then the attacker's own key works.
  for (int i = 0; i < 3; i++) b.failure(k, t, "user:admin@x.test");
  b.success(k, "basic:mykey");
  REQUIRE(b.failures(k, t) == 3);
  REQUIRE(b.failure(k, t, "user:admin@x.test") == 1000);  // the 4th guess still waits
  // A typo of one's own, then the right password: only that typo is forgiven.
  b.failure(k, t, "password");
  REQUIRE(b.failures(k, t) == 5);
  b.success(k, "password");
  REQUIRE(b.failures(k, t) == 4);
  REQUIRE(b.wait_ms(k, t) > 0);  // a running wait stays
  // When every failure was the succeeding credential's, the key is gone.
  const std::string k2 = "192.0.2.9|7";
  b.failure(k2, t, "pin");
  b.failure(k2, t, "pin");
  b.success(k2, "pin");
  REQUIRE(b.failures(k2, t) == 0);
  REQUIRE(b.size() == 1);
  // Restored state (after a restart) counts, and no credential can clear it.
  Backoff r;
  r.restore(k, 10, t, t + 15 * 60000);
  REQUIRE(r.wait_ms(k, t + 1000) == 15 * 60000 - 1000);
  r.success(k, "basic:mykey");
  REQUIRE(r.failures(k, t) == 10);
}

TEST_CASE("backoff: waits are capped and memory is bounded", "[auth]") {
  BackoffConfig c;
  c.lockout_failures = 1000;
  c.max_wait_ms = 10000;
  c.max_entries = 100;
  Backoff b(c);
  for (int i = 0; i < 50; i++) b.failure("k", 0);
  REQUIRE(b.wait_ms("k", 0) == 10000);
  for (int i = 0; i < 1000; i++) b.failure("ip" + std::to_string(i), 5);
  REQUIRE(b.size() <= 100);
}

TEST_CASE("token bucket: burst, steady rate, Retry-After", "[auth]") {
  RateLimiter r(2, 5);  // 2 per second, burst 5
  int64_t t = 0;
  for (int i = 0; i < 5; i++) REQUIRE(r.take("a", t) == 0);
  REQUIRE(r.take("a", t) == 1);  // needs 0.5 s for the next token: Retry-After 1
  REQUIRE(r.take("b", t) == 0);  // keys are independent
  REQUIRE(r.take("a", t + 499) == 1);
  REQUIRE(r.take("a", t + 500) == 0);
  REQUIRE(r.take("a", t + 500) == 1);
  // Refill caps at the burst.
  REQUIRE(r.take("a", t + 100000) == 0);
  for (int i = 0; i < 4; i++) REQUIRE(r.take("a", t + 100000) == 0);
  REQUIRE(r.take("a", t + 100000) == 1);
  // A slow rate gives a longer Retry-After.
  RateLimiter slow(0.1, 1);
  REQUIRE(slow.take("a", 0) == 0);
  REQUIRE(slow.take("a", 0) == 10);
  REQUIRE(slow.take("a", 2500) == 8);  // 7.5 s left, rounded up
  // Rate 0: unlimited.
  RateLimiter off(0, 0);
  for (int i = 0; i < 100; i++) REQUIRE(off.take("a", 0) == 0);
  // Bounded memory.
  RateLimiter many(1, 1, 50);
  for (int i = 0; i < 500; i++) many.take(std::to_string(i), i);
  REQUIRE(many.size() <= 50);
}
