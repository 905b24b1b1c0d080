#pragma once

#include <napi.h>

namespace ipvsd {

// exports.sendGratuitousArp(ifname: string, address: string): void
// exports.sendUnsolicitedNa(ifname: string, address: string, router: boolean,
//                           source?: string): void
void RegisterGarp(Napi::Env env, Napi::Object exports);

}  // namespace ipvsd
