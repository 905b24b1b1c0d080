// IcmpSocket: a raw ICMP / ICMPv6 socket for echo checks (PING_CHECK), polled on Node's loop.
#pragma once

#include <napi.h>

namespace ipvsd {

void RegisterIcmpSocket(Napi::Env env, Napi::Object exports);

}  // namespace ipvsd
