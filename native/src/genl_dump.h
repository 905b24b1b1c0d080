// genlDumpEach(): a two-level generic netlink dump (a list, then one dump per listed item) run on a
// libuv worker thread; see genl_dump.cc.
#pragma once

#include <napi.h>

namespace ipvsd {

void RegisterGenlDump(Napi::Env env, Napi::Object exports);

}  // namespace ipvsd
