/**
 * Raw ICMP / ICMPv6 sockets (native/src/icmp_socket.cc), polled on the event loop: echo replies
 * for the ping check, or destination unreachable messages for the UDP check. The check (src/check/ping.ts) builds the requests and matches the
 * replies; this is only the typed door to the addon, which is loaded on first use.
 */
import { loadNative, type NativeIcmpSocket } from './native.js';

export type IcmpSocket = NativeIcmpSocket;

/** Throws the loader's IpvsdError without the addon, NativeErrnoError (EPERM) without CAP_NET_RAW. */
export function openIcmpSocket(
  family: 4 | 6,
  source: string | null,
  onPacket: (message: Buffer, source: string) => void,
  onError: (error: Error) => void,
  unreachable = false,
): IcmpSocket {
  return new (loadNative().IcmpSocket)(
    { family, unreachable, ...(source === null ? {} : { source }) },
    onPacket,
    onError,
  );
}
