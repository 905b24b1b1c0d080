#pragma once

#include <napi.h>

namespace ipvsd {

// exports.VrrpSocket: class VrrpSocket {
//   constructor(options: { family: 4 | 6, ifname: string, hopLimit: number },
//               onPacket: (payload: Buffer, source: string, destination: string, ttl: number,
//                          ifindex: number) => void,
//               onError: (error: Error) => void)
//   readonly ifindex: number
//   send(payload: Uint8Array, destination: string, source?: string): void
//   close(): void
// }
void RegisterVrrpSocket(Napi::Env env, Napi::Object exports);

}  // namespace ipvsd
