// Generic netlink on libuv worker threads: genlDumpEach() (a list, then one dump per listed item)
// and GenlBatchSocket (chunks of requests); see genl_worker.cc.
#pragma once

#include <napi.h>

namespace ipvsd {

void RegisterGenlWorker(Napi::Env env, Napi::Object exports);

}  // namespace ipvsd
