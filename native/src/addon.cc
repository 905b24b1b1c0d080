// ipvsd's native addon: the few socket operations Node cannot do itself. Each feature lives in
// its own file with a Register*() function that adds its exports; this file only calls them.
// Only src/sys/native.ts loads the addon (DESIGN §3).
//
// - sd_notify.cc: systemd notifications over AF_UNIX SOCK_DGRAM.
// - vrrp_socket.cc: raw IPPROTO_VRRP (112) sockets for IPv4 and IPv6, bound to an interface,
//   joined to the VRRP group, TTL/hop limit 255, receiving through a libuv poll handle.
// - garp.cc: gratuitous ARP (AF_PACKET) and unsolicited neighbour advertisements (raw ICMPv6).
// - tcp_connect.cc: TCP connect health checks in batches on one private epoll set.
// - listen_fd.cc: listening sockets whose accepting can pause without losing the backlog.
// - subreaper.cc: child subreaper and reaping, for killing every descendant of a script.
// - icmp_socket.cc: raw ICMP / ICMPv6 sockets for the ping check.
#include <napi.h>

#include "garp.h"
#include "icmp_socket.h"
#include "listen_fd.h"
#include "sd_notify.h"
#include "subreaper.h"
#include "tcp_connect.h"
#include "vrrp_socket.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ipvsd::RegisterSdNotify(env, exports);
  ipvsd::RegisterVrrpSocket(env, exports);
  ipvsd::RegisterGarp(env, exports);
  ipvsd::RegisterTcpConnector(env, exports);
  ipvsd::RegisterListenFd(env, exports);
  ipvsd::RegisterSubreaper(env, exports);
  ipvsd::RegisterIcmpSocket(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(ipvsd_native, Init)
