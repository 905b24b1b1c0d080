/**
 * Whether a send on one of node-netlink's raw sockets reached the kernel inside the call.
 *
 * node-netlink's native send (src/binding.cc, Socket::Send) calls sendmsg(2) at once when its
 * socket has nothing queued: no earlier send waiting to go out and no completed one whose callback
 * has not run yet (those run from a zero-delay libuv timer, or when the socket polls writable).
 * Otherwise it queues the message and sends it from that timer. A message to a kernel netlink
 * family is handed to the family in the sender's own context (netlink_unicast_kernel): when
 * sendmsg returns, the kernel has executed every request in the datagram, in order. So a send made
 * while this socket has no send in flight has taken effect by the time `send` returns, and the
 * caller may act on that (the VRRP takeover sends the gratuitous ARP right after the VIPs' send).
 *
 * "In flight" ends one macrotask after the callback ran (setImmediate), because node-netlink
 * runs callbacks in a loop that also defers sends made from inside them (microtasks included).
 * The one case this cannot see is sendmsg failing with ENOBUFS on a failed allocation, which
 * node-netlink retries later; its caller then sees the request's reply late, never a wrong one.
 */
export interface RawSend {
  send(msg: Buffer, options: object, callback: (err?: { errno?: number; message: string }) => void): void;
}

export interface TrackedSend {
  /**
   * Sends `buf`; `callback` as node-netlink's. Returns true when sendmsg ran inside this call,
   * false when node-netlink queued the message behind an earlier one.
   */
  send(buf: Buffer, callback: (err?: { errno?: number; message: string }) => void): boolean;
}

export function trackSends(raw: RawSend): TrackedSend {
  let inFlight = 0;
  return {
    send(buf, callback) {
      const now = inFlight === 0;
      inFlight += 1;
      raw.send(buf, {}, (err) => {
        setImmediate(() => {
          inFlight -= 1;
        });
        callback(err);
      });
      return now;
    },
  };
}

export interface RawEvents {
  on(event: 'message', listener: (buf: Buffer) => void): unknown;
  on(event: 'error', listener: (err: { errno?: number }) => void): unknown;
}

/**
 * Wires a raw socket's datagrams and errors to handlers that must never throw into node-netlink: a
 * synchronous throw inside one of its listeners aborts the whole process (DESIGN §7), so each is
 * guarded and a throw counts as a dropped datagram instead.
 */
export function listenGuarded(
  raw: RawEvents,
  onDatagram: (buf: Buffer) => void,
  onError: (errno: number) => void,
  countDrop: () => void,
): void {
  raw.on('message', (buf: Buffer) => {
    try {
      onDatagram(buf);
    } catch {
      countDrop();
    }
  });
  raw.on('error', (err: { errno?: number }) => {
    try {
      onError(Math.abs(err.errno ?? 0));
    } catch {
      countDrop();
    }
  });
}
