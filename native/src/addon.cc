// ipvsd's native addon: the few socket operations Node cannot do itself. Each feature lives in
// its own file with a Register*() function that adds its exports; this file only calls them.
// Only src/sys/native.ts loads the addon (DESIGN §3).
//
// Planned next to sd_notify (issue 4): vrrp_socket.cc (raw IPPROTO_VRRP 112 sockets for IPv4 and
// IPv6, bound to an interface, multicast membership, TTL/hop limit 255, receive through a libuv
// poll handle) and garp.cc (gratuitous ARP / unsolicited neighbour advertisement over AF_PACKET).
#include <napi.h>

#include "sd_notify.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ipvsd::RegisterSdNotify(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(ipvsd_native, Init)
