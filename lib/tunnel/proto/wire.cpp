#include "tunnel/proto/wire.h"

namespace tunnel::proto {

const char* to_string(Fault f) {
  switch (f) {
    case Fault::none:
      return "ok";
    case Fault::malformed:
      return "malformed message";
    case Fault::oversized:
      return "oversized message";
    case Fault::bad_mac:
      return "bad MAC";
    case Fault::bad_key:
      return "bad public key";
    case Fault::unknown_key:
      return "unknown key";
    case Fault::replay:
      return "replayed or stale handshake";
    case Fault::refused:
      return "refused";
    case Fault::protocol:
      return "protocol violation";
    case Fault::flow_control:
      return "flow-control violation";
    case Fault::rekey_overdue:
      return "peer did not rekey in time";
    case Fault::timeout:
      return "timeout";
    case Fault::peer_closed:
      return "closed by peer";
    case Fault::local_closed:
      return "closed";
    case Fault::nonce_exhausted:
      return "nonce exhausted";
  }
  return "unknown fault";
}

const char* to_string(ResetCode c) {
  switch (c) {
    case ResetCode::cancel:
      return "cancel";
    case ResetCode::refused:
      return "refused";
    case ResetCode::connect_failed:
      return "connect failed";
    case ResetCode::unreachable:
      return "unreachable";
    case ResetCode::target_reset:
      return "target reset";
    case ResetCode::stream_limit:
      return "stream limit";
    case ResetCode::internal:
      return "internal error";
  }
  return "unknown";
}

const char* to_string(CloseCode c) {
  switch (c) {
    case CloseCode::normal:
      return "normal";
    case CloseCode::protocol_error:
      return "protocol error";
    case CloseCode::going_away:
      return "going away";
    case CloseCode::replaced:
      return "replaced";
    case CloseCode::idle_timeout:
      return "idle timeout";
    case CloseCode::internal:
      return "internal error";
    case CloseCode::flow_control:
      return "flow-control error";
    case CloseCode::duplicate:
      return "another process with this key is connected";
  }
  return "unknown";
}

const char* to_string(FrameType t) {
  switch (t) {
    case FrameType::open:
      return "OPEN";
    case FrameType::data:
      return "DATA";
    case FrameType::window:
      return "WINDOW";
    case FrameType::fin:
      return "FIN";
    case FrameType::rst:
      return "RST";
    case FrameType::dgram:
      return "DGRAM";
    case FrameType::ping:
      return "PING";
    case FrameType::pong:
      return "PONG";
    case FrameType::close:
      return "CLOSE";
    case FrameType::key_update:
      return "KEY_UPDATE";
    case FrameType::open_ack:
      return "OPEN_ACK";
  }
  return "UNKNOWN";
}

core::Error fault_error(Fault f, std::string_view detail) {
  core::Errc code = core::Errc::data;
  switch (f) {
    case Fault::unknown_key:
    case Fault::replay:
    case Fault::refused:
      code = core::Errc::noperm;
      break;
    case Fault::timeout:
      code = core::Errc::tempfail;
      break;
    case Fault::peer_closed:
    case Fault::local_closed:
      code = core::Errc::unavailable;
      break;
    default:
      break;
  }
  std::string m = std::string("tunnel: ") + to_string(f);
  if (!detail.empty()) m += ": " + std::string(detail);
  return core::Error(code, std::move(m));
}

Tai64n tai64n_from_unix(int64_t unix_seconds, uint32_t nanos) {
  return Tai64n{uint64_t{0x400000000000000a} + uint64_t(unix_seconds), nanos};
}

Tai64n tai64n_from(std::chrono::system_clock::time_point wall) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wall.time_since_epoch()).count();
  int64_t s = ns / 1000000000;
  int64_t r = ns % 1000000000;
  if (r < 0) {
    r += 1000000000;
    --s;
  }
  return tai64n_from_unix(s, uint32_t(r));
}

}  // namespace tunnel::proto
