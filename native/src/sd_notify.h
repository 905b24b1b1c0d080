#pragma once

#include <napi.h>

namespace ipvsd {

// exports.sdNotify(socketPath: string, message: string): void
void RegisterSdNotify(Napi::Env env, Napi::Object exports);

}  // namespace ipvsd
