/**
 * `ipvsctl apply`'s kernel side on a second thread. The command's two big costs are independent:
 * reading and validating the config (pure JavaScript) and reading the kernel table (a dump of every
 * service and destination, mostly system time in recvmsg plus decoding). On a machine with two CPUs
 * they can overlap: a worker thread opens the IPVS netlink sockets and dumps the table while the main
 * thread parses the config, so that phase costs the longer of the two instead of their sum; the main
 * thread then never loads the netlink addon at all, since the worker also sends the operations.
 *
 * The worker is an optimisation only. When it cannot start, or opening or dumping fails in it, the
 * caller gets null and does everything on the main thread as before, so every error (no IPVS module,
 * no CAP_NET_ADMIN, ...) is reported exactly as without the worker. The dump is read-only: if the
 * config turns out invalid, the worker is stopped and nothing was changed.
 *
 * The worker runs the same bundled CLI (ipvsctl's entry sees `workerData` and calls
 * runKernelWorker instead of parsing a command line). Messages: the worker posts
 * `{ready: true}` once the table is dumped (or `{ready: false}`), then answers
 * `{id, method, args}` requests with `{id, value}` or `{id, error: {code, message}}`.
 */
import { realpathSync } from 'node:fs';
import { parentPort, Worker } from 'node:worker_threads';
import { IpvsdError, type IpvsdErrorCode } from '../errors.js';
import type { IpvsBackend, OperationResult } from '../ipvs/backend.js';
import type { IpvsOperation, IpvsTimeouts, ServiceState } from '../model/ipvs.js';

/** workerData that makes ipvsctl's entry run runKernelWorker (src/bin/ipvsctl.ts checks for it). */
const KERNEL_WORKER_DATA = { ipvsctlKernelWorker: 1 } as const;

interface WireError {
  readonly code: IpvsdErrorCode | null;
  readonly message: string;
}

type Method = 'dump' | 'apply' | 'timeouts';

interface Request {
  readonly id: number;
  readonly method: Method;
  readonly operations?: readonly IpvsOperation[];
}

type Reply =
  | { readonly ready: boolean }
  | { readonly id: number; readonly value: unknown }
  | { readonly id: number; readonly error: WireError };

function toWire(err: unknown): WireError {
  return err instanceof IpvsdError
    ? { code: err.code, message: err.message }
    : { code: null, message: (err as Error)?.message ?? String(err) };
}

function fromWire(e: WireError): Error {
  return e.code === null ? new Error(e.message) : new IpvsdError(e.code, e.message);
}

/** The worker's side: open, dump, report; then serve requests until the main thread lets go. */
export async function runKernelWorker(): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  let backend: IpvsBackend;
  let dumped: ServiceState[] | null;
  try {
    const { createKernelBackend } = await import('../ipvs/kernel-backend.js');
    backend = await createKernelBackend();
    dumped = await backend.dump();
  } catch {
    port.postMessage({ ready: false } satisfies Reply);
    port.close();
    return;
  }
  port.postMessage({ ready: true } satisfies Reply);
  port.on('message', (req: Request) => {
    const run = async (): Promise<unknown> => {
      switch (req.method) {
        case 'dump': {
          // The table dumped at the start, once (the command asks once); a later ask dumps again.
          const table = dumped ?? (await backend.dump());
          dumped = null;
          return table;
        }
        case 'timeouts':
          return backend.timeouts();
        case 'apply': {
          const results = await backend.apply(req.operations ?? []);
          return results.map((r) => (r.error === null ? null : toWire(r.error)));
        }
      }
    };
    run().then(
      (value) => port.postMessage({ id: req.id, value } satisfies Reply),
      (err: unknown) => port.postMessage({ id: req.id, error: toWire(err) } satisfies Reply),
    );
  });
  // The main thread closes its end when the command is done: close the sockets and let the thread end.
  port.on('close', () => backend.close());
}

export interface KernelWorker {
  /**
   * A backend (dump, timeouts, apply) served by the worker, once its dump is done; null when the
   * worker could not open or dump (the caller then does it itself, and reports the error).
   */
  backend(): Promise<(IpvsBackend & { readonly viaWorker: true }) | null>;
  /** Stops the worker (when the command ends early, e.g. an invalid config). */
  stop(): void;
}

/**
 * Starts the worker on the running CLI's own entry file; null when that cannot be done (no entry
 * file, or threads unavailable), and the caller works without it.
 */
export function startKernelWorker(): KernelWorker | null {
  let worker: Worker;
  try {
    const entry = process.argv[1];
    if (entry === undefined) return null;
    worker = new Worker(realpathSync(entry), { workerData: KERNEL_WORKER_DATA, argv: [], stdout: false });
  } catch {
    return null;
  }
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    void worker.terminate();
  };
  const ended = (why: string) => {
    for (const w of waiting.values()) w.reject(new IpvsdError('IPVSD_ERR_NETLINK', why));
    waiting.clear();
  };
  const ready = new Promise<boolean>((resolve) => {
    worker.on('message', (msg: Reply) => {
      if ('ready' in msg) {
        resolve(msg.ready);
        return;
      }
      const w = waiting.get(msg.id);
      if (w === undefined) return;
      waiting.delete(msg.id);
      if ('error' in msg) w.reject(fromWire(msg.error));
      else w.resolve(msg.value);
    });
    worker.on('error', () => {
      resolve(false);
      ended('the kernel worker thread failed');
    });
    worker.on('exit', () => {
      resolve(false);
      ended('the kernel worker thread ended');
    });
  });
  const call = (method: Method, operations?: readonly IpvsOperation[]): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, method, operations } satisfies Request);
    });
  const unsupported = (what: string) => (): never => {
    throw new IpvsdError('IPVSD_ERR_NETLINK', `${what} is not available through the kernel worker`);
  };
  return {
    async backend() {
      if (!(await ready)) {
        stop();
        return null;
      }
      return {
        viaWorker: true,
        dump: () => call('dump') as Promise<ServiceState[]>,
        timeouts: () => call('timeouts') as Promise<IpvsTimeouts>,
        async apply(operations: readonly IpvsOperation[]): Promise<OperationResult[]> {
          if (operations.length === 0) return [];
          const errors = (await call('apply', operations)) as (WireError | null)[];
          return operations.map((operation, i) => {
            const e = errors[i] ?? null;
            return { operation, error: e === null ? null : (fromWire(e) as IpvsdError) };
          });
        },
        info: unsupported('info'),
        daemons: unsupported('daemons'),
        startDaemon: unsupported('startDaemon'),
        stopDaemon: unsupported('stopDaemon'),
        switchDaemons: unsupported('switchDaemons'),
        flush: unsupported('flush'),
        zero: unsupported('zero'),
        close: stop,
      };
    },
    stop,
  };
}
