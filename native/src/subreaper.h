#pragma once

#include <napi.h>

namespace ipvsd {

// exports.setChildSubreaper(): void, exports.reapChild(pid): boolean
void RegisterSubreaper(Napi::Env env, Napi::Object exports);

}  // namespace ipvsd
