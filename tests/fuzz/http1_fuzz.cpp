// Fuzz target: netbench's HTTP/1.x parser (responses from any server, requests to serve),
// with messages back to back as on a keep-alive connection.
#include <cstdint>
#include <string>

#include "bench/http1.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  for (auto kind : {bench::Http1Parser::Kind::response, bench::Http1Parser::Kind::request}) {
    bench::Http1Parser parser(kind, 4096);
    std::string body;
    parser.set_body_sink(&body);
    size_t off = 0;
    while (off < size) {
      size_t used = 0;
      auto st = parser.feed(p + off, size - off, &used);
      off += used;
      if (st != bench::Http1Parser::Status::done || used == 0) break;
      parser.reset();
    }
    (void)parser.eof();
  }
  return 0;
}
