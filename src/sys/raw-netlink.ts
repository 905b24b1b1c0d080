/**
 * The part of node-netlink's RawNetlinkSocket that sys/address-batch.ts and sys/genl-socket.ts
 * use, so that their socket can be injected (tests pass an in-memory one).
 */
export interface RawNetlinkLike {
  address(): { port: number };
  send(msg: Buffer, options: object, callback?: (err?: { errno?: number; message: string }) => void): void;
  on(event: 'message', listener: (buf: Buffer) => void): unknown;
  on(event: 'error', listener: (err: { errno?: number }) => void): unknown;
  ref(): void;
  unref(): void;
  close(): void;
}

/** Opens a raw netlink socket (the real one: `new RawNetlinkSocket(protocol, options)`). */
export type OpenRawNetlink = (
  protocol: number,
  options: { recvBufferSize: number; sendBufferSize: number },
) => RawNetlinkLike;
