/**
 * The director's side of VRRP: the kernel IPVS connection-sync daemon follows the configured sync
 * group or instance, and a stop that removes the services first closes the server-side door.
 *
 * The speaker calls `onTransition` in order with its VIP work (its transition hook): on a takeover
 * before the VIPs are added and the gratuitous ARP goes out, on a demotion after the VIPs are gone
 * (DESIGN §6). Virtual services are not touched here at all: every one stays configured on every
 * director in every state, and health checks go on running on the backup (the director does that).
 *
 * Kernel work is serialised in one chain and bounded in time, so a slow or missing IPVS can delay a
 * takeover by at most `timeoutMs` and never blocks it. A transition does not even wait for the
 * kernel's reply when it need not: it plans from the daemons the follower knows it runs (no
 * listing), sends the start of the master daemon alone, and lets the VIP
 * work go on as soon as that datagram was sent inside the call, because the kernel has then
 * executed it already (sys/netlink-send.ts); the backup daemon is stopped once the start is
 * answered, i.e. after the gratuitous ARPs (IPVS runs both daemons at once). The reply is read afterwards, in the chain. Failures are logged, counted and shown in
 * the status; they never throw into the speaker. The follower remembers the state the hook last
 * delivered (not the speaker's live state), so its periodic resync can never run ahead of the
 * VIP work.
 */
import type { Config } from '../config/types.js';
import type { SyncDaemonStatus } from '../control/protocol.js';
import type { SyncDaemon, SyncDaemonSwitch } from '../ipvs/backend.js';
import type { Family } from '../model/ipvs.js';
import type { Logger } from '../sys/logger.js';
import { isErrno } from '../sys/netlink-errors.js';
import {
  desiredSyncDaemon,
  type FollowedState,
  planSyncDaemons,
  type ServerSide,
  type SyncDaemonStep,
  serverSideInterfaces,
} from './sync-daemon-plan.js';

/** The part of the IPVS backend the follower uses. */
export interface SyncDaemonKernel {
  daemons(): Promise<SyncDaemon[]>;
  startDaemon(daemon: SyncDaemon): Promise<void>;
  stopDaemon(state: SyncDaemon['state']): Promise<void>;
  /** All steps in one go (the kernel backend: one datagram); without it, one round trip each. */
  switchDaemons?(steps: readonly SyncDaemonStep[]): SyncDaemonSwitch;
}

export interface FollowedChange {
  readonly kind: 'instance' | 'group';
  readonly name: string;
  readonly previous: FollowedState;
  readonly state: FollowedState;
}

export interface VrrpFollowerDeps {
  /** The IPVS backend, opened on first use; rejects when the kernel has no IPVS. */
  readonly kernel: () => Promise<SyncDaemonKernel>;
  /** Writes net.ipv4|ipv6.conf.IFNAME.forwarding. */
  readonly setForwarding: (ifname: string, family: Family, on: boolean) => Promise<boolean>;
  /** The speaker's current state of a group or instance (for a reload that changes `follow`). */
  readonly currentState: (name: string) => FollowedState;
  readonly logger: Logger;
  /** Longest one switch may hold up the VIP work. Default 3000 ms. */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

export interface VrrpFollower {
  /** Before the speaker starts: the backup daemon, and forwarding on for the server side. */
  start(): Promise<void>;
  /** The speaker's transition hook. */
  onTransition(change: FollowedChange): Promise<void>;
  /** Re-reads the kernel and repairs (someone ran `ipvsadm --stop-daemon`). */
  resync(): Promise<void>;
  reload(config: Config): Promise<void>;
  /** First thing on a stop: with removeServices, forwarding off on the server-side interfaces. */
  prepareStop(removeServices: boolean): Promise<void>;
  /** After the speaker stopped: with removeServices no daemon stays; otherwise the backup keeps syncing. */
  finishStop(removeServices: boolean): Promise<void>;
  status(): SyncDaemonStatus | null;
}

export function createVrrpFollower(initial: Config, deps: VrrpFollowerDeps): VrrpFollower {
  const log = deps.logger;
  const timeoutMs = deps.timeoutMs ?? 3000;
  let config = initial;
  let followed: FollowedState = 'INIT';
  let stopped = false;
  let running: ('master' | 'backup')[] = [];
  /**
   * The daemons the kernel runs as far as the follower knows: read at start and by every resync,
   * then kept up to date by its own steps. null after a failed step (or before the first read):
   * the next switch reads the kernel first. A takeover's switch plans from this, not from a dump.
   */
  let known: SyncDaemon[] | null = null;
  let switches = 0;
  let errors = 0;
  let lastError: string | null = null;
  let chain: Promise<void> = Promise.resolve();

  const wanted = (): SyncDaemon | null => {
    const sync = config.director.syncDaemon;
    return sync === null || stopped ? null : desiredSyncDaemon(sync, followed);
  };

  /**
   * Brings the kernel to the wanted daemon. `read`: dump the daemons first (start, resync,
   * reload, stop); otherwise plan from what the follower knows runs (a transition), and dump only
   * when it does not know. `issued` is called as soon as the kernel has executed the steps (or
   * there are none), which can be before their replies are read: the transition hook lets the VIP
   * work go on then.
   */
  async function converge(why: string, read: boolean, issued: () => void = () => {}): Promise<void> {
    const desired = wanted();
    // Without a sync_daemon key IPVS is never opened for it (VRRP-only directors need no module).
    if (config.director.syncDaemon === null && running.length === 0) {
      issued();
      return;
    }
    const kernel = await deps.kernel();
    const before = read || known === null ? await kernel.daemons() : known;
    known = before;
    const steps = planSyncDaemons(before, desired);
    if (steps.length === 0) {
      running = before.map((d) => d.state).sort();
      issued();
      return;
    }
    // Until the steps are confirmed nothing is known for sure.
    known = null;
    const failures: string[] = [];
    let after = before.slice();
    // A takeover starts the master daemon alone, lets the VIP work go on, and stops the backup
    // daemon only once the start is answered (by then the gratuitous ARPs are out): IPVS runs both
    // at once, and stopping a kernel thread is a wait the VIPs need not sit behind. DESIGN §6's
    // order (master daemon before the VIPs) holds either way.
    const deferStop = (step: SyncDaemonStep) =>
      !read && desired?.state === 'master' && step.op === 'stop' && step.state === 'backup';
    const batches = [steps.filter((st) => !deferStop(st)), steps.filter(deferStop)].filter(
      (b) => b.length > 0,
    );
    for (const [n, batch] of batches.entries()) {
      if (kernel.switchDaemons !== undefined) {
        // One datagram, one reply to wait for.
        const { sent, done } = kernel.switchDaemons(batch);
        if (sent && n === 0) issued();
        const outcomes = await done;
        batch.forEach((step, i) => {
          const error = outcomes[i] ?? null;
          // A stop refused with ESRCH found no daemon to stop: none runs, as wanted.
          if (error === null || (step.op === 'stop' && isErrno(error, 'ESRCH')))
            after = applyStep(after, step);
          if (error !== null) failures.push(error.message);
        });
      } else {
        for (const step of batch) {
          if (step.op === 'stop') await kernel.stopDaemon(step.state);
          else await kernel.startDaemon(step.daemon);
          after = applyStep(after, step);
        }
      }
      // The VIP work goes on once the first batch is executed, whatever the rest does.
      if (n === 0) issued();
    }
    running = after.map((d) => d.state).sort();
    switches += 1;
    log.info(
      {
        why,
        follow: config.director.syncDaemon?.follow,
        followState: followed,
        running,
        interface: desired?.interface,
        syncId: desired?.syncId,
      },
      failures.length === 0 ? 'ipvs sync daemon switched' : 'ipvs sync daemon switched in part',
    );
    if (failures.length > 0) throw new Error(failures.join('; '));
    // After the steps exactly the desired daemon runs (a refused step threw): no second dump, which
    // would sit between the switch and the VIPs at a takeover.
    known = after;
  }

  /**
   * Runs `why` after whatever is in flight. The chain waits for the kernel however long it takes
   * (two switches never interleave); the caller waits at most `timeoutMs`, and no longer than
   * until the kernel has executed the steps (`read` false: a transition). Never rejects: failures
   * are logged and counted here.
   */
  function enqueue(why: string, read = true): Promise<void> {
    let issued!: () => void;
    const executed = new Promise<void>((resolve) => {
      issued = resolve;
    });
    const run = chain.then(() =>
      converge(why, read, issued).then(
        () => {
          if (lastError !== null) log.info({ why }, 'ipvs sync daemon recovered');
          lastError = null;
        },
        (error: unknown) => {
          errors += 1;
          known = null;
          const message = (error as Error)?.message ?? String(error);
          if (message !== lastError) log.error({ err: message, why }, 'ipvs sync daemon switch failed');
          lastError = message;
        },
      ),
    );
    chain = run;
    const waited = bounded(run, timeoutMs).catch(() => {
      log.warn({ why, timeoutMs }, 'ipvs sync daemon switch still in progress: going on without it');
    });
    if (read) return waited;
    return Promise.race([executed, waited]);
  }

  async function forwarding(side: ServerSide, on: boolean): Promise<void> {
    for (const { ifname, families } of side.interfaces) {
      for (const family of families) {
        try {
          if (await deps.setForwarding(ifname, family, on))
            log.info({ interface: ifname, family, forwarding: on }, 'server-side forwarding set');
        } catch (error) {
          log.error(
            { err: (error as Error).message, interface: ifname, family },
            'server-side forwarding not set',
          );
        }
      }
    }
  }

  return {
    async start() {
      // A restart after a stop that removed the services left forwarding off on the server side.
      if (config.director.ipForward) await forwarding(serverSideInterfaces(config), true);
      await enqueue('start');
    },

    onTransition(change) {
      if (change.name !== config.director.syncDaemon?.follow || stopped) return Promise.resolve();
      followed = change.state;
      return enqueue(`${change.kind} ${change.name} ${change.previous} -> ${change.state}`, false);
    },

    resync() {
      return enqueue('resync');
    },

    async reload(next) {
      const before = config.director.syncDaemon;
      config = next;
      const after = next.director.syncDaemon;
      if (after !== null && after.follow !== before?.follow) followed = deps.currentState(after.follow);
      if (next.director.ipForward) await forwarding(serverSideInterfaces(next), true);
      await enqueue('reload');
    },

    async prepareStop(removeServices) {
      if (!removeServices) return;
      const side = serverSideInterfaces(config);
      if (side.basis === 'none')
        log.warn({}, 'no VRRP instance tells the server-side interface: forwarding stays on during the stop');
      await forwarding(side, false);
    },

    async finishStop(removeServices) {
      if (!removeServices) {
        // The backup daemon keeps the connection table fresh for a restart (services stay too).
        followed = 'INIT';
        await enqueue('stop');
        return;
      }
      stopped = true;
      await enqueue('stop');
    },

    status() {
      const sync = config.director.syncDaemon;
      if (sync === null) return null;
      return {
        interface: sync.interface,
        sync_id: sync.syncId,
        follow: sync.follow,
        follow_state: followed,
        wanted: wanted()?.state ?? null,
        running,
        switches,
        errors,
        last_error: lastError,
      };
    },
  };
}

function applyStep(daemons: readonly SyncDaemon[], step: SyncDaemonStep): SyncDaemon[] {
  return step.op === 'stop'
    ? daemons.filter((d) => d.state !== step.state)
    : [...daemons.filter((d) => d.state !== step.daemon.state), step.daemon];
}

function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer from the kernel within ${ms} ms`)), ms);
    timer.unref?.();
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
