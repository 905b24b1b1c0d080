/**
 * VRRP as the parent sees it when the speaker runs in `ipvsd: vrrp`: the last snapshot the child
 * pushed (status and metrics read it and never wait for the child), its transitions as they come,
 * and its orders as requests with replies, bounded in time so that a dead or hung child can delay
 * a stop or a failover but never block it.
 *
 * When the child (re)starts (its 'ready'), it gets the running config. After a crash, instances the
 * last snapshot showed as MASTER are started with `state: master`, so a child back before the
 * peer's master-down timer resumes its adverts after the short initial wait instead of a full
 * master-down interval. While the child is down the last snapshot is shown with every instance and
 * group in INIT: nothing speaks VRRP for them then.
 */
import type { Config } from '../config/types.js';
import type { SyncDaemonStatus, VrrpState } from '../control/protocol.js';
import type { VrrpControl } from '../director/vrrp-view.js';
import { IpvsdError, type IpvsdErrorCode } from '../errors.js';
import type { VrrpSpeakerStatus, VrrpStateChange } from '../vrrp/speaker.js';
import type { FromVrrp, ToVrrp, VrrpRequest, VrrpSnapshot } from './protocol.js';

export interface RemoteVrrpDeps {
  readonly send: (message: ToVrrp) => boolean;
  readonly logger: { error(fields: object, msg: string): void; info(fields: object, msg: string): void };
  /** Longest a request waits for its reply. Default 15 s. */
  readonly requestTimeoutMs?: number;
}

export interface RemoteVrrp extends VrrpControl {
  syncDaemon(): SyncDaemonStatus | null;
  /** A message from the child. */
  receive(message: unknown): void;
  /** The child went away: pending requests fail, the status shows INIT. */
  childDown(): void;
  /** Resolves when the next child to start has started its speaker (the reply to its 'start'). */
  started(): Promise<void>;
  reload(config: Config): Promise<void>;
  /** The stop steps (DESIGN §6): each logs its failure and resolves. */
  prepareStop(removeServices: boolean): Promise<void>;
  stopSpeaker(): Promise<void>;
  finishStop(removeServices: boolean): Promise<void>;
}

const EMPTY: VrrpSpeakerStatus = { instances: [], sync_groups: [] };

/** The config to start a restarted child with: last masters start as master. Pure. */
export function resumeConfig(config: Config, last: VrrpSpeakerStatus | null): Config {
  if (last === null) return config;
  const masters = new Set(last.instances.filter((i) => i.state === 'MASTER').map((i) => i.name));
  if (masters.size === 0) return config;
  return {
    ...config,
    vrrpInstances: config.vrrpInstances.map((i) => (masters.has(i.name) ? { ...i, state: 'master' } : i)),
  };
}

export function createRemoteVrrp(initial: Config, deps: RemoteVrrpDeps): RemoteVrrp {
  const timeoutMs = deps.requestTimeoutMs ?? 15_000;
  let config = initial;
  let snapshot: VrrpSnapshot | null = null;
  let up = false;
  let hasRun = false;
  let nextId = 1;
  const pending = new Map<
    number,
    { resolve: (r: Extract<FromVrrp, { t: 'reply' }>) => void; reject: (e: Error) => void }
  >();
  const listeners = new Set<(change: VrrpStateChange) => void>();
  let startWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  function request(req: VrrpRequest): Promise<Extract<FromVrrp, { t: 'reply' }>> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      if (!deps.send({ t: 'req', id, req })) {
        reject(
          new IpvsdError('IPVSD_ERR_INTERNAL', 'the vrrp process is not running (it is being restarted)'),
        );
        return;
      }
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(
          new IpvsdError(
            'IPVSD_ERR_INTERNAL',
            `the vrrp process did not answer ${req.op} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      timer.unref();
      pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  const checked = async (req: VrrpRequest): Promise<Extract<FromVrrp, { t: 'reply' }>> => {
    const reply = await request(req);
    if (!reply.ok)
      throw new IpvsdError(
        (reply.error?.code ?? 'IPVSD_ERR_INTERNAL') as IpvsdErrorCode,
        reply.error?.message ?? `vrrp ${req.op} failed`,
      );
    return reply;
  };

  const step = (what: string, req: VrrpRequest): Promise<void> =>
    checked(req).then(
      () => undefined,
      (err: unknown) =>
        deps.logger.error({ err: (err as Error).message, step: what }, 'vrrp stop step failed'),
    );

  function onReady(): void {
    const restart = hasRun;
    hasRun = true;
    up = true;
    const startConfig = restart ? resumeConfig(config, snapshot?.speaker ?? null) : config;
    checked({ op: 'start', config: startConfig }).then(
      () => {
        const waiters = startWaiters;
        startWaiters = [];
        for (const w of waiters) w.resolve();
      },
      (err: Error) => {
        const waiters = startWaiters;
        startWaiters = [];
        for (const w of waiters) w.reject(err);
      },
    );
  }

  const inInit = (s: VrrpSpeakerStatus): VrrpSpeakerStatus => ({
    instances: s.instances.map((i) => ({ ...i, state: 'INIT' as VrrpState })),
    sync_groups: s.sync_groups.map((g) => ({ ...g, state: 'INIT' as VrrpState })),
  });

  return {
    status: () => (snapshot === null ? EMPTY : up ? snapshot.speaker : inInit(snapshot.speaker)),
    syncDaemon: () => snapshot?.syncDaemon ?? null,
    async failover(name) {
      const reply = await checked({ op: 'failover', name });
      return reply.state ?? 'INIT';
    },
    onStateChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    receive(raw) {
      const message = raw as FromVrrp;
      switch (message?.t) {
        case 'ready':
          onReady();
          return;
        case 'snapshot':
          snapshot = message.snapshot;
          return;
        case 'change':
          for (const l of listeners) {
            try {
              l(message.change);
            } catch (err) {
              deps.logger.error({ err: (err as Error).message }, 'vrrp change listener failed');
            }
          }
          return;
        case 'reply': {
          const p = pending.get(message.id);
          pending.delete(message.id);
          p?.resolve(message);
          return;
        }
        default:
          return;
      }
    },
    childDown() {
      up = false;
      const gone = new IpvsdError('IPVSD_ERR_INTERNAL', 'the vrrp process exited before it answered');
      for (const p of pending.values()) p.reject(gone);
      pending.clear();
    },
    started: () => new Promise((resolve, reject) => startWaiters.push({ resolve, reject })),
    async reload(next) {
      config = next;
      // A child being restarted gets this config when it starts.
      if (up) await checked({ op: 'reload', config: next });
    },
    prepareStop: (removeServices) => step('prepare-stop', { op: 'prepare-stop', removeServices }),
    stopSpeaker: () => step('stop-speaker', { op: 'stop-speaker' }),
    finishStop: (removeServices) => step('finish-stop', { op: 'finish-stop', removeServices }),
  };
}
