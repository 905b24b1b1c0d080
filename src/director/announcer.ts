/**
 * The announcer: this director's "I can serve this VIP" as kernel state, for a routing daemon (BIRD,
 * FRR) to announce over BGP. It joins the pure decision (./announce-state.ts) with what the daemon
 * knows (the config, every decision's quorum, the reconciler's outcome, faults, the operator's
 * withdrawals) and makes the kernel match (../sys/announce-routes.ts: one host route per announced VIP
 * in ipvsd's table, each VIP of the config a `local` route on the announce interface).
 *
 * Withdrawal comes first: the director awaits `decided()` before it changes the IPVS table, so a
 * VIP whose quorum is gone leaves the routers before its services change; `stop()` withdraws every
 * VIP and waits `withdraw_delay` (routers converge, open connections drain) before the daemon's
 * normal stop order runs. Runs never overlap; requests during a run coalesce into one more run.
 * A periodic resync re-reads the table and repairs drift, as the IPVS reconciler does.
 */
import type { Config, VirtualServerConfig } from '../config/types.js';
import type { AnnouncementStatus, AnnounceResult } from '../control/protocol.js';
import { IpvsdError } from '../errors.js';
import { addressFamily, canonicalAddress } from '../model/address.js';
import type { AnnounceKernel } from '../sys/announce-routes.js';
import type { Logger } from '../sys/logger.js';
import {
  type AnnouncedService,
  type AnnounceInputs,
  type Announcement,
  createAnnounceState,
} from './announce-state.js';
import type { VirtualServerDecision } from './desired-state.js';
import { NO_WITHDRAWALS, type Withdrawals, type WithdrawStore } from './withdraw-store.js';

export interface AnnouncerDeps {
  readonly kernel: AnnounceKernel;
  readonly store: WithdrawStore;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface Announcer {
  /** Restores the saved withdrawals, makes the VIPs local, syncs the table (nothing announced yet). */
  start(): Promise<void>;
  reload(config: Config): Promise<void>;
  /** Every decision of the director, before it touches the IPVS table. */
  decided(virtualServers: readonly VirtualServerDecision[]): Promise<void>;
  /** Every reconcile outcome: null when the kernel table matches, else why not. */
  reconciled(problem: string | null): void;
  /** A fault that keeps this director from serving (null: none); `source` names who reports it. */
  setFault(source: string, reason: string | null): void;
  withdraw(address: string | null): Promise<AnnounceResult>;
  announce(address: string | null): Promise<AnnounceResult>;
  status(): AnnouncementStatus[];
  /** Re-reads the table and the local routes and repairs any difference. */
  resync(): Promise<void>;
  /** Withdraws every VIP, then waits until `withdraw_delay` has passed since the last was announced. */
  stop(): Promise<void>;
  /** After the services are gone: with `removeServices`, the VIPs' local routes go too. */
  finishStop(removeServices: boolean): Promise<void>;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function announcedServices(config: Config): VirtualServerConfig[] {
  return config.virtualServers.filter((vs) => vs.announce && vs.key.address !== null);
}

/**
 * Whether the config needs `net.ipv4.vs.sloppy_tcp=1`: an announced virtual server that forwards
 * with `dr` or `tun` through a hashing scheduler (`mh`, `sh`). Every director builds the same
 * hash table for it, so a flow the routers' ECMP moves to another director reaches the same real
 * server, but it arrives there mid-connection (no SYN) and IPVS schedules a TCP packet without SYN
 * only with sloppy_tcp. Nowhere else: a moved flow of any other service reaches a real server that
 * does not know it (another scheduler's choice, or a full-NAT source it never saw) and is reset
 * either way, and the setting is for the whole network namespace.
 */
export function needsSloppyTcp(config: Config): boolean {
  return config.virtualServers.some(
    (vs) =>
      vs.announce &&
      (vs.forwarding === 'dr' || vs.forwarding === 'tun') &&
      (vs.scheduler === 'mh' || vs.scheduler === 'sh'),
  );
}

function addressesOf(config: Config): string[] {
  return [...new Set(announcedServices(config).map((vs) => vs.key.address as string))];
}

export function createAnnouncer(initial: Config, deps: AnnouncerDeps): Announcer {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? realSleep;
  const log = deps.logger;
  const state = createAnnounceState();
  let config = initial;
  let running = true;
  let withdrawals: Withdrawals = NO_WITHDRAWALS;
  let quorum = new Map<string, AnnouncedService['quorum']>();
  let notReconciled: string | null = 'no reconcile yet';
  /** VIPs a reload added: announced only after the reconcile that puts their services in the kernel. */
  let newAddresses = new Set<string>();
  const faults = new Map<string, string>();
  /** Per VIP, why its route is not as decided (the kernel refused, another's route is there). */
  let routeErrors = new Map<string, string>();
  /** VIPs that left the config: their local routes go once their announce routes are gone. */
  let leaving: string[] = [];
  /** Per VIP, why it could not be made local at the last try: not announced while so. */
  let localErrors = new Map<string, string>();
  /** VIPs already local without ipvsd (an address of the host), already logged. */
  let alreadyLocal = new Set<string>();
  let resyncTimer: NodeJS.Timeout | null = null;
  /** VIPs announced after the last run, and when each announced one was last withdrawn (for stop's wait). */
  let wasAnnounced = new Set<string>();
  const withdrawnAt = new Map<string, number>();

  function inputs(): AnnounceInputs {
    const services = announcedServices(config).map(
      (vs): AnnouncedService => ({
        name: vs.name,
        address: vs.key.address as string,
        quorum: quorum.get(vs.name) ?? { met: false, liveWeight: 0, required: vs.quorum },
      }),
    );
    return {
      running,
      fault: faults.size === 0 ? null : [...faults.values()].join(', '),
      notReconciled,
      pending: newAddresses,
      services,
      withdrawnAll: withdrawals.all,
      withdrawn: new Set(withdrawals.addresses),
    };
  }

  function logChange(a: Announcement): void {
    const fields = { address: a.address, reason: a.reason };
    if (a.announced) log.info(fields, 'vip announced');
    else log.warn(fields, 'vip withdrawn');
  }

  /** What the table was last made equal to, without an error: an event run that wants the same skips the kernel. */
  let synced: { key: string; table: number; protocol: number } | null = null;

  async function runOnce(full: boolean): Promise<void> {
    const t = now();
    const update = state.update(inputs(), t);
    for (const a of update.changed) logChange(a);
    const announcedNow = new Set(update.announcements.filter((a) => a.announced).map((a) => a.address));
    for (const address of wasAnnounced) if (!announcedNow.has(address)) withdrawnAt.set(address, t);
    wasAnnounced = announcedNow;
    for (const address of update.removed) {
      log.info({ address }, 'vip no longer announced: not in the config');
      leaving.push(address);
    }
    const settings = config.director.announce;
    // A VIP that is not local would draw traffic IPVS never sees: it waits until it is.
    const wanted = update.announcements
      .filter((a) => a.announced && !localErrors.has(a.address))
      .map((a) => a.address);
    // A health change that moves no VIP costs no route dump; drift waits for the periodic resync.
    const key = [...wanted].sort().join(' ');
    if (
      !full &&
      leaving.length === 0 &&
      synced?.key === key &&
      synced.table === settings.table &&
      synced.protocol === settings.protocol
    )
      return;
    const result = await deps.kernel.syncRoutes(settings, wanted);
    synced = result.errors.size === 0 ? { key, table: settings.table, protocol: settings.protocol } : null;
    const errors = new Map<string, string>();
    const tableError = result.errors.get('');
    for (const a of update.announcements) {
      const notLocal = localErrors.get(a.address);
      const error =
        result.errors.get(a.address) ??
        tableError ??
        (notLocal === undefined ? undefined : `the VIP is not local: ${notLocal}`);
      if (error !== undefined && a.announced) errors.set(a.address, error);
    }
    for (const [address, error] of errors)
      if (routeErrors.get(address) !== error) log.error({ address, err: error }, 'vip route not installed');
    for (const address of routeErrors.keys())
      if (!errors.has(address) && wanted.includes(address)) log.info({ address }, 'vip route installed');
    routeErrors = errors;
    if (tableError !== undefined && wanted.length === 0)
      log.error({ err: tableError }, 'announce table not readable');
    if (full || leaving.length > 0) {
      leaving = [];
      await syncLocal(true);
    }
  }
  let pending = false;
  let pendingFull = false;
  let runningRun: Promise<void> | null = null;
  /** `full`: read the kernel table even when nothing seems to have changed (start, resync). */
  function schedule(full = false): Promise<void> {
    pending = true;
    pendingFull ||= full;
    runningRun ??= (async () => {
      while (pending) {
        const thisFull = pendingFull;
        pending = false;
        pendingFull = false;
        try {
          await runOnce(thisFull);
        } catch (err) {
          log.error({ err: (err as Error).message }, 'announce sync failed');
        }
      }
      runningRun = null;
    })();
    return runningRun;
  }

  /**
   * Makes every VIP of the config local (announced or not); `removeOthers`: ipvsd's local routes to
   * VIPs no longer in the config go. Logs what changed and each error once.
   */
  async function syncLocal(removeOthers: boolean, vips = addressesOf(config)): Promise<void> {
    const result = await deps.kernel.syncLocalRoutes(config.director.announce, vips, removeOthers);
    const tableError = result.errors.get('');
    const errors = new Map<string, string>();
    for (const address of vips) {
      const error = result.errors.get(address) ?? tableError;
      if (error !== undefined) errors.set(address, error);
    }
    for (const [address, err] of errors)
      if (localErrors.get(address) !== err) log.error({ address, err }, 'vip local route not installed');
    localErrors = errors;
    for (const address of result.added) log.info({ address }, 'vip local route installed');
    for (const address of result.removed) log.info({ address }, 'vip local route removed');
    const local = new Set(result.alreadyLocal);
    for (const address of local)
      if (!alreadyLocal.has(address))
        // Left alone: ipvsd cannot tell an address an earlier ipvsd added from the operator's own.
        log.warn(
          { address, interface: config.director.announce.interface },
          'vip already local without ipvsd (an address of this host, or a local route of another protocol): left alone; an earlier ipvsd kept announced VIPs as addresses on the announce interface, and FRR does not announce a VIP that is an address: remove it with `ip address del`',
        );
    alreadyLocal = local;
  }

  function armResync(): void {
    if (resyncTimer) clearInterval(resyncTimer);
    resyncTimer = setInterval(() => void resync(), config.director.ipvs.resyncIntervalMs);
    resyncTimer.unref();
  }

  async function resync(): Promise<void> {
    if (!running) return;
    await schedule(true);
  }

  function status(): AnnouncementStatus[] {
    return state.current().map((a) => {
      const error = routeErrors.get(a.address);
      return {
        address: a.address,
        announced: a.announced && error === undefined,
        reason: error === undefined ? a.reason : `route not installed: ${error}`,
        since: new Date(a.since).toISOString(),
      };
    });
  }

  /** Saves the withdrawals; a problem comes back as a sentence for the operator. */
  async function save(): Promise<string | undefined> {
    if (deps.store.file === null)
      return 'not kept across a restart of ipvsd: it has no state directory (--state-dir, or StateDirectory= in its systemd unit)';
    try {
      await deps.store.save(withdrawals);
      return undefined;
    } catch (err) {
      log.error({ err: (err as Error).message }, 'withdrawals not saved');
      return `${(err as Error).message}: the withdrawal holds until ipvsd restarts`;
    }
  }

  function vipArgument(address: string, verb: string): string {
    const canonical = addressFamily(address) === null ? null : canonicalAddress(address);
    const known = addressesOf(config);
    if (canonical === null)
      throw new IpvsdError('IPVSD_ERR_USAGE', `${verb}: ${JSON.stringify(address)} is not an IP address`);
    if (!known.includes(canonical) && !(verb === 'announce' && withdrawals.addresses.includes(canonical)))
      throw new IpvsdError(
        'IPVSD_ERR_NOT_FOUND',
        `${verb}: no virtual server with announce: true on ${canonical} in the running config (${known.length === 0 ? 'none is announced' : `announced: ${known.join(', ')}`})`,
      );
    return canonical;
  }

  async function change(
    address: string | null,
    withdraw: boolean,
    next: Withdrawals,
    warningIfAll?: string,
  ): Promise<AnnounceResult> {
    withdrawals = next;
    // Saved before the kernel changes: a crash in between must not forget a withdrawal in force.
    const saveWarning = await save();
    log.info(
      { address: address ?? 'all' },
      withdraw ? 'withdrawal by operator' : 'withdrawal lifted by operator',
    );
    await schedule();
    const warning = [warningIfAll, saveWarning].filter((w) => w !== undefined).join('; ');
    return { address, withdrawn: withdraw, announcements: status(), ...(warning !== '' && { warning }) };
  }

  return {
    async start() {
      try {
        withdrawals = await deps.store.load();
        if (withdrawals.all || withdrawals.addresses.length > 0)
          log.info({ file: deps.store.file, ...withdrawals }, 'withdrawals restored');
      } catch (err) {
        // Unreadable: the safe side is to announce nothing until the operator says so.
        withdrawals = { all: true, addresses: [] };
        log.error(
          { err: (err as Error).message },
          'saved withdrawals unreadable: every VIP stays withdrawn until `ipvsctl announce`',
        );
      }
      await syncLocal(false);
      await schedule(true);
      armResync();
    },

    async reload(next) {
      const before = new Set(addressesOf(config));
      config = next;
      for (const address of addressesOf(next)) if (!before.has(address)) newAddresses.add(address);
      await syncLocal(false);
      // No run here: the director's decision on the new config comes next (decided()), with the
      // quorum of any new service; a run now would judge new services without one.
      armResync();
    },

    async decided(virtualServers) {
      quorum = new Map(
        virtualServers.map((d) => [
          d.name,
          { met: d.quorumMet, liveWeight: d.liveWeight, required: d.requiredWeight },
        ]),
      );
      if (announcedServices(config).length > 0 || state.current().length > 0) await schedule();
    },

    reconciled(problem) {
      const cleared = problem === null && newAddresses.size > 0;
      if (cleared) newAddresses = new Set();
      if (problem === notReconciled && !cleared) return;
      notReconciled = problem;
      void schedule();
    },

    setFault(source, reason) {
      if ((faults.get(source) ?? null) === reason) return;
      if (reason === null) faults.delete(source);
      else faults.set(source, reason);
      void schedule();
    },

    async withdraw(address) {
      if (address === null) return change(null, true, { ...withdrawals, all: true });
      const vip = vipArgument(address, 'withdraw');
      const addresses = [...new Set([...withdrawals.addresses, vip])].sort();
      return change(vip, true, { ...withdrawals, addresses });
    },

    async announce(address) {
      if (address === null) return change(null, false, NO_WITHDRAWALS);
      const vip = vipArgument(address, 'announce');
      return change(
        vip,
        false,
        { ...withdrawals, addresses: withdrawals.addresses.filter((a) => a !== vip) },
        withdrawals.all
          ? 'the node as a whole stays withdrawn: `ipvsctl announce` without an address lifts that'
          : undefined,
      );
    },

    status,
    resync,

    async stop() {
      running = false;
      if (resyncTimer) clearInterval(resyncTimer);
      await schedule(true);
      const delay = config.director.announce.withdrawDelayMs;
      const t = now();
      // Only VIPs that were announced need the routers to converge; one withdrawn long ago has.
      const waitMs = Math.max(0, ...[...withdrawnAt.values()].map((at) => at + delay - t));
      if (waitMs > 0) {
        log.info({ waitMs, vips: withdrawnAt.size }, 'vips withdrawn: waiting before the stop');
        await sleep(waitMs);
      }
    },

    async finishStop(removeServices) {
      if (!removeServices) return;
      await syncLocal(true, []);
    },
  };
}
