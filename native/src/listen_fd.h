#pragma once

#include <napi.h>

namespace ipvsd {

// exports.listenSocket({path} | {address, port}, backlog): number   (a listening descriptor)
// exports.dupFd(fd): number, exports.closeFd(fd): void
void RegisterListenFd(Napi::Env env, Napi::Object exports);

}  // namespace ipvsd
