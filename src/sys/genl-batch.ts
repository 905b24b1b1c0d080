/**
 * Requests in chunks through the native GenlBatchSocket (native/src/genl_worker.cc): the kernel
 * executes a chunk on a worker thread while the next chunk is encoded here. For a one-shot batch
 * of thousands of requests (`ipvsctl apply`); the daemon's socket (./genl-socket.ts) does the same
 * framing on the event loop, where its small diffs belong.
 *
 * Outcomes as ./genl-socket.ts reports them: each request's errno (0: done). A failure of the
 * chunk itself (a send, a timeout, replies lost to ENOBUFS) leaves every request of it unknown, so
 * each reports that errno; the chunks after it still go.
 */
import { constants } from 'node:os';
import type { GenlRequest } from './genl-socket.js';
import { fromNativeErrnoError, isNativeErrnoError, loadNative } from './native.js';
import { NLM_F_REQUEST, writeGenlChunk } from './nlattr.js';

export interface GenlBatchSender {
  readonly familyId: number;
  readonly familyVersion: number;
  /**
   * Sends `encode(item)` for each item, in order, and resolves with each one's errno (0: the
   * kernel did it). Items are encoded a chunk at a time, the next while the kernel runs the last.
   * Never rejects (a throwing `encode` aside).
   */
  send<T>(items: readonly T[], encode: (item: T) => GenlRequest): Promise<number[]>;
  close(): void;
}

const { EIO } = constants.errno;

/**
 * Opens a socket for the generic netlink family `familyName` (resolved at once, one blocking round
 * trip). Throws NetlinkError (errno ENOENT: no such family; EPERM: no CAP_NET_ADMIN…).
 */
export function openGenlBatchSender(
  familyName: string,
  options: { batchSize?: number; timeoutMs?: number } = {},
): GenlBatchSender {
  const batchSize = options.batchSize ?? 256;
  const native = loadNative();
  let sock: InstanceType<typeof native.GenlBatchSocket>;
  try {
    sock = new native.GenlBatchSocket(familyName, options.timeoutMs ?? 15_000);
  } catch (err) {
    throw fromNativeErrnoError(err);
  }
  let seq = 1;
  return {
    familyId: sock.familyId,
    familyVersion: sock.familyVersion,
    async send(items, encode) {
      const errnos = new Array<number>(items.length).fill(0);
      let inFlight: Promise<void> | null = null;
      for (let start = 0; start < items.length; start += batchSize) {
        const chunk = items.slice(start, start + batchSize).map(encode);
        const first = seq;
        seq += chunk.length;
        // Encoded while the previous chunk is in the kernel.
        const buf = writeGenlChunk(
          chunk,
          { type: sock.familyId, version: sock.familyVersion, pid: 0, flags: NLM_F_REQUEST },
          (i) => first + i,
        );
        if (inFlight) await inFlight;
        inFlight = sock.send(buf, first + chunk.length - 1).then(
          (pairs) => {
            for (let i = 0; i + 1 < pairs.length; i += 2) {
              const at = (pairs[i] as number) - first;
              if (at >= 0 && at < chunk.length) errnos[start + at] = pairs[i + 1] as number;
            }
          },
          (err: unknown) => {
            const errno = isNativeErrnoError(err) ? err.errno : EIO;
            errnos.fill(errno, start, start + chunk.length);
          },
        );
      }
      if (inFlight) await inFlight;
      return errnos;
    },
    close: () => sock.close(),
  };
}
