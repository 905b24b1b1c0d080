/**
 * A listening socket that serves at most `maxConnections` clients at once and leaves the rest
 * waiting in the kernel's backlog, so that clients can never take the descriptors VRRP, the
 * checks and the scripts need. Node cannot do this alone: past `server.maxConnections` it accepts
 * and closes (the client sees a reset, and a flood still costs an accept per connection), and
 * closing a listener resets every connection in its backlog. So the socket is made by the addon
 * (native/src/listen_fd.cc) and kept open here; a Node server listens on a dup of it while there
 * is room, and is closed when the cap is reached — which closes only the dup: the kernel keeps
 * queueing connections (up to `backlog`, then it refuses them) until a slot frees and a new
 * Node server listens on a new dup.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { loadNative } from './native.js';

export type ListenEndpoint =
  | { readonly path: string }
  /** `address` is numeric (IPv4, or IPv6 with an optional %scope): resolve names first. */
  | { readonly address: string; readonly port: number };

export interface CappedListenerOptions {
  readonly endpoint: ListenEndpoint;
  /** Connections open at once; the next ones wait in the backlog until one closes. */
  readonly maxConnections: number;
  /** The kernel's queue of connections not yet accepted (capped by net.core.somaxconn). Default 511. */
  readonly backlog?: number;
  readonly allowHalfOpen?: boolean;
  /** A new connection. A throw destroys the socket. */
  readonly onConnection: (socket: Socket) => void;
  /** Accept errors and the like: reported, never thrown. */
  readonly onError?: (error: Error) => void;
}

export interface CappedListener {
  /** For a TCP endpoint, the bound address and port (port 0 resolved); null for a Unix path. */
  readonly address: { readonly host: string; readonly port: number } | null;
  /** Connections open now. */
  readonly connections: number;
  /** True while the cap is reached and new connections wait in the backlog. */
  readonly paused: boolean;
  /**
   * Stops listening (connections still in the backlog are reset) and destroys open connections.
   * Idempotent. Does not unlink a Unix socket's file.
   */
  close(): void;
}

/** After a failed resume (EMFILE on the dup), try again this much later. */
const RESUME_RETRY_MS = 1000;

/** Binds and listens now; throws NativeErrnoError (EADDRINUSE, EACCES, …) when it cannot. */
export function openCappedListener(options: CappedListenerOptions): CappedListener {
  const native = loadNative();
  const backlog = options.backlog ?? 511;
  const max = Math.max(1, options.maxConnections);
  let fd: number | null = native.listenSocket(options.endpoint, backlog);
  const sockets = new Set<Socket>();
  let accepting: Server | null = null;
  let retry: NodeJS.Timeout | null = null;
  let address: { host: string; port: number } | null = null;

  const report = (error: Error): void => {
    try {
      options.onError?.(error);
    } catch {
      // A reporter must not break the listener.
    }
  };

  function onConnection(socket: Socket): void {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      resume();
    });
    // Stop before the next accept: libuv accepts in a loop while the listener is readable.
    if (sockets.size >= max) pause();
    try {
      options.onConnection(socket);
    } catch (error) {
      report(error as Error);
      socket.destroy();
    }
  }

  function pause(): void {
    const server = accepting;
    accepting = null;
    server?.close();
  }

  function retryLater(): void {
    if (retry !== null || fd === null) return;
    retry = setTimeout(() => {
      retry = null;
      resume();
    }, RESUME_RETRY_MS);
    retry.unref();
  }

  function resume(): void {
    if (fd === null || accepting !== null || retry !== null || sockets.size >= max) return;
    let dup: number;
    try {
      dup = native.dupFd(fd);
    } catch (error) {
      report(error as Error);
      retryLater();
      return;
    }
    const server = createServer({ allowHalfOpen: options.allowHalfOpen ?? false }, onConnection);
    server.on('error', (error) => {
      report(error);
      // A listen that failed (Node closed the dup): try again later rather than never accept.
      if (accepting === server && !server.listening) {
        accepting = null;
        retryLater();
      }
    });
    server.listen({ fd: dup, backlog });
    accepting = server;
    if (address === null && !('path' in options.endpoint)) {
      const bound = server.address();
      if (bound !== null && typeof bound !== 'string') address = { host: bound.address, port: bound.port };
    }
  }

  resume();

  return {
    get address() {
      return address;
    },
    get connections() {
      return sockets.size;
    },
    get paused() {
      return fd !== null && accepting === null;
    },
    close() {
      if (fd === null) return;
      if (retry !== null) clearTimeout(retry);
      retry = null;
      const listening = fd;
      fd = null;
      pause();
      native.closeFd(listening);
      for (const socket of sockets) socket.destroy();
    },
  };
}
