/**
 * A rehearsal of the VRRP takeover at daemon start, so that the first real one does not pay for
 * compiling its own code. V8 compiles a function the first time it runs; a backup never runs the
 * master's side (state changes to MASTER, the adverts it then sends, the sync daemon switch, the
 * VIPs' rtnetlink batch, the gratuitous ARPs, the log lines of all that) until its first takeover,
 * and under qemu TCG that compiling made the steps from the master-down timer to the first
 * gratuitous ARP take 190–560 ms instead of about 40 (2–3 ms more on a host). (The flag `--no-flush-bytecode` in the daemon's node flags
 * keeps the compiled code for the life of the process: by default V8 drops the bytecode of
 * functions that have not run for a few collections.)
 *
 * The rehearsal runs the very code of the takeover — a second speaker (vrrp/speaker.ts) and sync
 * daemon follower (./vrrp-follower.ts), built from the same factories and the same config — but
 * wired to stand-ins that reach nothing outside the process: sockets that drop the adverts, an
 * address batch and an IPVS backend over sys/silent-netlink.ts (every request acknowledged, none
 * sent), gratuitous ARPs encoded by sys/garp.ts and handed to a native stand-in that discards
 * them, a link monitor that says every link is up, timers on a clock of its own, log lines to a
 * sink, no notify or tracked scripts. The scratch speaker shares no state with the real one; the
 * rehearsal changes nothing in the kernel or on the wire, runs before the real speaker starts and
 * suspends the takeover trace while it runs. test/unit/director/takeover-warm-up.test.ts proves that.
 */
import type { Config } from '../config/types.js';
import { createSilentKernelBackend } from '../ipvs/kernel-backend.js';
import { createAddressBatch } from '../sys/address-batch.js';
import { announceAddress } from '../sys/garp.js';
import { createLogger } from '../sys/logger.js';
import type { InterfaceAddress } from '../sys/rtnetlink.js';
import { createSilentNetlink, type SilentNetlink } from '../sys/silent-netlink.js';
import { suspendTrace } from '../sys/takeover-trace.js';
import { openVrrpSocket } from '../sys/vrrp-socket.js';
import { createVrrpSpeaker, DEFAULT_GARP } from '../vrrp/speaker.js';
import { createVrrpFollower } from './vrrp-follower.js';

export interface TakeoverWarmUpReport {
  /** Wall time of the rehearsal (ms). */
  readonly ms: number;
  /** Adverts the scratch speaker "sent" (dropped). */
  readonly adverts: number;
  /** Gratuitous ARPs / NAs encoded (discarded). */
  readonly announcements: number;
  /** rtnetlink requests (VIP adds) acknowledged by the stand-in. */
  readonly addressRequests: number;
  /** IPVS requests (sync daemon switches and listings) acknowledged by the stand-in. */
  readonly ipvsRequests: number;
}

/** Bounds on the rehearsal's loops, should something in it never settle. */
const MAX_TURNS = 200;
const MAX_TIMERS = 1000;

/**
 * Runs one takeover (and the stop after it) of every VRRP instance in `config` on stand-ins.
 * Resolves with what was rehearsed; null when there is nothing to rehearse. Rejects only on a bug
 * in the rehearsal itself; the caller logs that and goes on.
 */
export async function warmUpTakeover(config: Config): Promise<TakeoverWarmUpReport | null> {
  if (config.vrrpInstances.length === 0) return null;
  const started = performance.now();
  // The same instances and groups, without what would run a process.
  const scratch: Config = {
    ...config,
    vrrpInstances: config.vrrpInstances.map((i) => ({
      ...i,
      trackScripts: [],
      notify: { master: null, backup: null, fault: null },
    })),
    vrrpScripts: [],
  };
  const sink = createLogger({ destination: { write: () => true } as unknown as NodeJS.WritableStream });

  let clock = 0;
  let nextHandle = 0;
  const timers = new Map<number, { at: number; run: () => void }>();
  /** Fires the earliest scratch timer, moving the scratch clock to its deadline; false if none. */
  const fireNext = (): boolean => {
    let first: [number, { at: number; run: () => void }] | undefined;
    for (const entry of timers) if (first === undefined || entry[1].at < first[1].at) first = entry;
    if (first === undefined) return false;
    timers.delete(first[0]);
    clock = Math.max(clock, first[1].at);
    first[1].run();
    return true;
  };
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

  let adverts = 0;
  let announcements = 0;
  /** The native VRRP socket's stand-in: sys/vrrp-socket.ts's wrapper runs, the datagram goes nowhere. */
  class DiscardingVrrpSocket {
    readonly ifindex = 1;
    send(): void {
      adverts += 1;
    }
    receivePending(): void {}
    close(): void {}
  }
  const addressNetlink: SilentNetlink[] = [];
  const ipvsNetlink: SilentNetlink[] = [];
  const opened = (into: SilentNetlink[]) => () => {
    const raw = createSilentNetlink();
    into.push(raw);
    return raw;
  };
  const batch = createAddressBatch({ openRaw: opened(addressNetlink) });
  const ipvs = createSilentKernelBackend(opened(ipvsNetlink));
  const discard = { sendGratuitousArp: () => undefined, sendUnsolicitedNa: () => undefined };

  const follower = createVrrpFollower(scratch, {
    kernel: async () => ipvs,
    setForwarding: async () => false,
    currentState: () => 'INIT',
    logger: sink,
  });
  const speaker = createVrrpSpeaker(scratch, {
    logger: sink,
    now: () => clock,
    setTimeout: (run, ms) => {
      nextHandle += 1;
      timers.set(nextHandle, { at: clock + ms, run });
      return nextHandle;
    },
    clearTimeout: (handle) => {
      timers.delete(handle as number);
    },
    openSocket: (options) => openVrrpSocket(options, { native: { VrrpSocket: DiscardingVrrpSocket } }),
    rtnetlink: {
      ensureAddress: async () => false,
      ensureNoAddress: async () => false,
      listAddresses: async (ifname) => standInAddresses(ifname ?? ''),
      addAddressesAtOnce: (addresses) => batch.add(addresses),
      close: () => undefined,
    },
    links: {
      watch: async (ifname) => ({ ifname, ifindex: 1, up: true }),
      unwatch: () => undefined,
      onChange: () => () => undefined,
      close: () => undefined,
    },
    announce: (ifname, address) => {
      announcements += 1;
      return announceAddress(ifname, address, {}, { native: discard });
    },
    runNotify: () => undefined,
    runScript: async () => ({ ok: true, reason: null }),
    transitionHook: (change) => follower.onTransition(change),
  });

  suspendTrace(true);
  try {
    await follower.start();
    await speaker.start();
    // The timers in deadline order until every instance is master (a group's members become
    // master together, when the last member's master-down timer fires).
    const allMaster = () => speaker.status().instances.every((i) => i.state === 'MASTER');
    for (let n = 0; n < MAX_TIMERS && !allMaster() && fireNext(); n++);
    // Until every VIP's first burst and then its second are out (a group's waits for the sync
    // daemon switch; the second is a timer), adverts going on meanwhile.
    const vips = config.vrrpInstances.reduce((n, i) => n + i.virtualIpaddresses.length, 0);
    const bursts = vips * (DEFAULT_GARP.count + DEFAULT_GARP.repeatCount);
    for (let t = 0; t < MAX_TURNS && announcements < vips * DEFAULT_GARP.count; t++) await turn();
    for (let n = 0; n < MAX_TIMERS && announcements < bursts && fireNext(); n++);
    await speaker.stop();
    await follower.finishStop(false);
  } finally {
    suspendTrace(false);
    batch.close();
    ipvs.close();
  }
  return {
    ms: Math.round((performance.now() - started) * 10) / 10,
    adverts,
    announcements,
    addressRequests: requests(addressNetlink),
    ipvsRequests: requests(ipvsNetlink),
  };
}

const requests = (sockets: readonly SilentNetlink[]) => sockets.reduce((sum, raw) => sum + raw.requests(), 0);

/**
 * Addresses for the scratch speaker's interfaces: an instance needs one to send adverts from.
 * Two of each family from the documentation ranges, so one is left whichever VIP equals the other.
 */
function standInAddresses(ifname: string): InterfaceAddress[] {
  const base = { ifname, ifindex: 1, secondary: false, tentative: false, dadFailed: false };
  return [
    { ...base, family: 'inet', address: '192.0.2.1', prefixLength: 24, scope: 0 },
    { ...base, family: 'inet', address: '192.0.2.2', prefixLength: 24, scope: 0 },
    { ...base, family: 'inet6', address: 'fe80::1', prefixLength: 64, scope: 253 },
    { ...base, family: 'inet6', address: 'fe80::2', prefixLength: 64, scope: 253 },
  ];
}
