/**
 * Interoperability with keepalived (Debian's 2.2.7) as the real VRRP peer: the real `ipvsd` daemon
 * (dist/src/bin/ipvsd.js, VRRP only) in one namespace, keepalived in another, both on two bridges (a
 * client-side link eth0 and a server-side link eth1) in a third namespace acting as the switch.
 *
 * What a user would check is what the tests check:
 * - who holds each VIP: `ip -j addr` in each namespace (the oracle);
 * - what each side thinks: `ipvsctl status --json` for ipvsd, keepalived's notify script for keepalived;
 * - no split brain: once converged, the VIP is seen in exactly one namespace, sample after sample.
 *
 * Cases: v2 with PASS authentication at 1 s, and v3 at 100 ms; keepalived MASTER with ipvsd BACKUP
 * and the reverse (priority 200 against 100 decides); graceful takeover (SIGTERM: priority-0 advert)
 * and hard takeover (SIGKILL: Master_Down_Interval) in both directions, each followed by the master's
 * return and preemption; the same for a two-instance sync group (one instance per link); and an
 * authentication mismatch, where both sides becoming MASTER is the expected outcome.
 *
 * Takeover times are measured and printed at the end (never asserted: the machine is shared and
 * loaded). They run from the signal to the first `ip addr` poll that shows the VIP on the peer, so
 * they include up to one poll (≈20–50 ms here) of latency.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IpvsdDaemon, startIpvsd } from '../support/ipvsd-daemon.js';
import { type Keepalived, startKeepalived } from '../support/keepalived.js';
import { createNetnsLab, type NetnsLab } from '../support/netns.js';
import type { PeerInstance, PeerRouter } from '../support/vrrp-peer-config.js';
import { sleep, timeUntil } from '../support/wait.js';

type Side = 'ipvsd' | 'keepalived';
const other = (s: Side): Side => (s === 'ipvsd' ? 'keepalived' : 'ipvsd');

const CLIENT_VIP = '203.0.113.100';
const SERVER_VIP = '198.51.100.254';
/** Each side's own addresses on the client-side (eth0) and server-side (eth1) links. */
type Addresses = Record<Side, { readonly eth0: string; readonly eth1: string }>;
const ADDRESSES: Addresses = {
  ipvsd: { eth0: '203.0.113.2', eth1: '198.51.100.2' },
  keepalived: { eth0: '203.0.113.3', eth1: '198.51.100.3' },
};

interface Flavour {
  readonly label: string;
  readonly version: 2 | 3;
  readonly advertIntervalCs: number;
  readonly password: string | null;
}
const V2_PASS: Flavour = { label: 'v2 PASS 1s', version: 2, advertIntervalCs: 100, password: 'secret' };
const V3_FAST: Flavour = { label: 'v3 100ms', version: 3, advertIntervalCs: 10, password: null };

const HIGH = 200;
const LOW = 100;

/** Measured figures, printed after the last test of the file. */
const figures: { readonly case: string; readonly ms: number; readonly note: string }[] = [];

afterAll(() => {
  if (figures.length === 0) return;
  const width = Math.max(...figures.map((f) => f.case.length));
  const lines = figures.map((f) => `  ${f.case.padEnd(width)}  ${String(f.ms).padStart(6)} ms  ${f.note}`);
  console.log(`keepalived interop, measured (not asserted):\n${lines.join('\n')}`);
});

function singleInstance(f: Flavour, priority: number, password = f.password): PeerRouter {
  return {
    instances: [
      {
        name: 'VI_1',
        interface: 'eth0',
        vrid: 51,
        priority,
        version: f.version,
        advertIntervalCs: f.advertIntervalCs,
        password,
        vips: [`${CLIENT_VIP}/24`],
      },
    ],
    syncGroups: [],
  };
}

function syncGroup(f: Flavour, priority: number): PeerRouter {
  const common = {
    priority,
    version: f.version,
    advertIntervalCs: f.advertIntervalCs,
    password: f.password,
  } satisfies Partial<PeerInstance>;
  return {
    instances: [
      { ...common, name: 'VI_client', interface: 'eth0', vrid: 61, vips: [`${CLIENT_VIP}/24`] },
      { ...common, name: 'VI_server', interface: 'eth1', vrid: 62, vips: [`${SERVER_VIP}/24`] },
    ],
    syncGroups: [{ name: 'VG1', instances: ['VI_client', 'VI_server'] }],
  };
}

/**
 * One lab per describe block: the switch namespace with br0 (client side) and br1 (server side),
 * and one namespace per side, each with eth0 on br0 and eth1 on br1. The peers' processes come and
 * go; cleanup() ends whatever is left (keepalived's child included) and removes the namespaces.
 */
class InteropLab {
  lab!: NetnsLab;
  dir = '';
  readonly ns = {} as Record<Side, string>;
  ipvsd: IpvsdDaemon | null = null;
  keepalived: Keepalived | null = null;

  constructor(
    readonly name: string,
    readonly routers: Record<Side, PeerRouter>,
    readonly vips: readonly string[],
    readonly own: Addresses = ADDRESSES,
  ) {}

  async setUp(): Promise<void> {
    this.lab = createNetnsLab();
    this.dir = await mkdtemp(join(tmpdir(), 'ipvsd-ka-interop-'));
    const sw = await this.lab.namespace('ka-sw');
    this.ns.ipvsd = await this.lab.namespace('ka-ipvsd');
    this.ns.keepalived = await this.lab.namespace('ka-keepalived');
    for (const [link, bridge] of [
      ['eth0', 'br0'],
      ['eth1', 'br1'],
    ] as const) {
      const ports: string[] = [];
      for (const side of ['ipvsd', 'keepalived'] as const) {
        const port = `${side === 'ipvsd' ? 'i' : 'k'}${link.slice(-1)}`;
        ports.push(port);
        await this.lab.veth(
          { ns: sw, ifname: port },
          { ns: this.ns[side], ifname: link, cidr: `${this.own[side][link]}/24` },
        );
      }
      await this.lab.bridge(sw, bridge, ports);
    }
  }

  async tearDown(): Promise<void> {
    try {
      await this.lab?.cleanup();
    } finally {
      if (this.dir !== '') await rm(this.dir, { recursive: true, force: true });
    }
  }

  async start(side: Side): Promise<void> {
    const files = { dir: this.dir, tag: side };
    if (side === 'ipvsd') this.ipvsd = await startIpvsd(this.lab, this.ns.ipvsd, files, this.routers.ipvsd);
    else
      this.keepalived = await startKeepalived(this.lab, this.ns.keepalived, files, this.routers.keepalived);
  }

  /** SIGTERM; resolves with the exit once the process is gone. */
  async stop(side: Side) {
    const exit = side === 'ipvsd' ? await this.ipvsd?.stop() : await this.keepalived?.stop();
    if (side === 'ipvsd') this.ipvsd = null;
    else this.keepalived = null;
    return exit;
  }

  /** SIGKILL; resolves with performance.now() of the kill once the process is gone. */
  async crash(side: Side): Promise<number> {
    const daemon = side === 'ipvsd' ? this.ipvsd : this.keepalived;
    if (daemon === null) throw new Error(`${this.name}: ${side} is not running`);
    const killedAt = await daemon.crash();
    if (side === 'ipvsd') this.ipvsd = null;
    else this.keepalived = null;
    return killedAt;
  }

  /** Every address `ip -j addr` lists in one side's namespace (all interfaces). */
  async addresses(side: Side): Promise<Set<string>> {
    const links = await this.lab.ipJson<{ addr_info?: { local: string }[] }[]>(this.ns[side], [
      'addr',
      'show',
    ]);
    return new Set(links.flatMap((l) => (l.addr_info ?? []).map((a) => a.local)));
  }

  /** Which namespaces list `vip`. */
  async holders(vip: string): Promise<Side[]> {
    const out: Side[] = [];
    for (const side of ['ipvsd', 'keepalived'] as const)
      if ((await this.addresses(side)).has(vip)) out.push(side);
    return out;
  }

  /** `side` lists every VIP (whatever the other side lists). */
  async holdsAll(side: Side): Promise<boolean> {
    const mine = await this.addresses(side);
    return this.vips.every((vip) => mine.has(vip));
  }

  /** `side` lists every VIP and the other side none: the one picture that is not split. */
  async allHeldBy(side: Side): Promise<boolean> {
    const theirs = await this.addresses(other(side));
    return this.vips.every((vip) => !theirs.has(vip)) && (await this.holdsAll(side));
  }

  /** The state each running side reports for an instance or group (null: not running or unknown). */
  async reported(name: string): Promise<Record<Side, string | null>> {
    let ipvsdState: string | null = null;
    if (this.ipvsd !== null) {
      const { vrrp } = await this.ipvsd.status();
      ipvsdState =
        vrrp.instances.find((i) => i.name === name)?.state ??
        vrrp.sync_groups.find((g) => g.name === name)?.state ??
        null;
    }
    return { ipvsd: ipvsdState, keepalived: (await this.keepalived?.lastState(name)) ?? null };
  }

  /** Everything a failure message needs. */
  async diagnose(): Promise<string> {
    const parts: string[] = [];
    for (const vip of this.vips) parts.push(`${vip} held by [${(await this.holders(vip)).join(', ')}]`);
    if (this.ipvsd !== null) {
      parts.push(`ipvsd status: ${JSON.stringify(await this.ipvsd.status().catch((e) => String(e)))}`);
      parts.push(`ipvsd log (tail):\n${this.ipvsd.proc.stdout().split('\n').slice(-15).join('\n')}`);
    }
    if (this.keepalived !== null) {
      parts.push(`keepalived notify: ${JSON.stringify(await this.keepalived.notifications())}`);
      parts.push(`keepalived log (tail):\n${this.keepalived.log().split('\n').slice(-15).join('\n')}`);
    }
    return parts.join('\n');
  }

  /** Polls `predicate` until true; returns the ms it took. Throws with diagnostics on timeout. */
  async waitFor(what: string, predicate: () => Promise<boolean>, timeoutMs: number): Promise<number> {
    try {
      return await timeUntil(what, predicate, { timeoutMs, intervalMs: 10 });
    } catch (err) {
      throw new Error(`${this.name}: ${(err as Error).message}\n${await this.diagnose()}`);
    }
  }

  /**
   * Waits until `master` alone holds every VIP (returns the ms that took: the VIP oracle only, polled
   * with `ip` alone so the figure stays close), then until both running sides report the expected
   * states for `names` (instances and groups), then watches for `watchMs` that the VIPs stay put: no
   * split brain, no flapping. ipvsd must also have accepted every advert it received from keepalived
   * (no drop counted, whatever the reason), and as BACKUP name keepalived's address as the master.
   */
  async converge(
    master: Side,
    names: readonly string[],
    watchMs: number,
    timeoutMs = 30_000,
  ): Promise<number> {
    const expected = (side: Side) => (side === master ? 'MASTER' : 'BACKUP');
    const took = await this.waitFor(
      `${master} alone to hold ${this.vips.join(' and ')}`,
      () => this.allHeldBy(master),
      timeoutMs,
    );
    const statesMatch = async () => {
      for (const name of names) {
        const r = await this.reported(name);
        if (this.ipvsd !== null && r.ipvsd !== expected('ipvsd')) return false;
        if (this.keepalived !== null && r.keepalived !== expected('keepalived')) return false;
      }
      return true;
    };
    await this.waitFor(`the states ${master} MASTER, ${other(master)} BACKUP`, statesMatch, timeoutMs);
    const until = performance.now() + watchMs;
    while (performance.now() < until) {
      if (!(await this.allHeldBy(master))) {
        const held = await Promise.all(
          this.vips.map(async (v) => `${v}: [${(await this.holders(v)).join(', ')}]`),
        );
        throw new Error(
          `${this.name}: split or moved after convergence: ${held.join('; ')}\n${await this.diagnose()}`,
        );
      }
      await sleep(50);
    }
    expect(await statesMatch(), `${this.name}: states after the watch\n${await this.diagnose()}`).toBe(true);
    if (this.keepalived !== null) {
      // keepalived's complaints about a received advert (bad checksum, TTL, interval, address list,
      // password…) all name the fault; a peer it accepts produces none of them.
      const complaints = this.keepalived
        .log()
        .split('\n')
        .filter((line) => KEEPALIVED_COMPLAINT.test(line));
      expect(complaints, 'keepalived complained about received adverts').toEqual([]);
    }
    if (this.ipvsd !== null) {
      for (const vi of (await this.ipvsd.status()).vrrp.instances) {
        const drops = Object.entries(vi.adverts.dropped).filter(([, n]) => n > 0);
        expect(drops, `${vi.name}: adverts ipvsd dropped`).toEqual([]);
        if (master === 'keepalived' && this.keepalived !== null) {
          const link = this.routers.ipvsd.instances.find((i) => i.name === vi.name)?.interface;
          expect(vi.master_address).toBe(
            link === 'eth1' ? this.own.keepalived.eth1 : this.own.keepalived.eth0,
          );
          expect(vi.adverts.received).toBeGreaterThan(0);
        }
      }
    }
    return took;
  }
}

/** What keepalived 2.2.7 logs when it rejects or distrusts a received advert. */
const KEEPALIVED_COMPLAINT = /invalid|mismatch|not present|bogus|wrong|checksum|\bttl\b/i;

/** Enough adverts in the no-split-brain watch to catch a flap: 3 intervals, at least 1 s. */
const watchMs = (f: Flavour) => Math.max(1000, 3 * f.advertIntervalCs * 10);

function failoverCases(
  title: string,
  f: Flavour,
  master: Side,
  routerFor: (priority: number) => PeerRouter,
  vips: readonly string[],
  names: readonly string[],
): void {
  const backup = other(master);
  const t = new InteropLab(
    `${title} ${f.label}, ${master} MASTER`,
    {
      [master]: routerFor(HIGH),
      [backup]: routerFor(LOW),
    } as Record<Side, PeerRouter>,
    vips,
  );
  const record = (what: string, ms: number, note: string) =>
    figures.push({ case: `${t.name}: ${what}`, ms, note });

  describe(t.name, () => {
    beforeAll(() => t.setUp());
    afterAll(() => t.tearDown());

    it(`elects ${master} (priority ${HIGH}): it alone holds the VIPs, ${backup} is BACKUP`, async () => {
      await Promise.all([t.start(backup), t.start(master)]);
      const took = await t.converge(master, names, watchMs(f));
      record('initial election', took, 'both started → VIPs on the master alone');
    });

    it(`graceful: SIGTERM of ${master} hands the VIPs to ${backup} after its skew time`, async () => {
      const stoppedKeepalived = t.keepalived;
      const started = performance.now();
      const stopping = t.stop(master);
      await t.waitFor(`${backup} to hold every VIP`, () => t.holdsAll(backup), 15_000);
      record(
        'graceful takeover (SIGTERM)',
        Math.round(performance.now() - started),
        'SIGTERM → VIPs on peer',
      );
      const exit = await stopping;
      expect(exit, `${master} must exit by itself on SIGTERM`).toEqual({ code: 0, signal: null });
      await t.converge(backup, names, watchMs(f));
      if (master === 'keepalived') {
        // keepalived tells its notify script it stopped (ipvsd's status is gone with the process).
        // The script runs detached and may finish after keepalived has exited: poll for it.
        await t.waitFor(
          'keepalived’s STOP notifications',
          async () => {
            const stopped = new Set(
              (await stoppedKeepalived?.notifications())
                ?.filter((n) => n.state === 'STOP')
                .map((n) => n.name),
            );
            return names.every((name) => stopped.has(name));
          },
          10_000,
        );
      }
    });

    it(`${master} coming back preempts: the VIPs return to it`, async () => {
      const started = performance.now();
      await t.start(master);
      const startMs = Math.round(performance.now() - started);
      const took = await t.converge(master, names, watchMs(f));
      record('preemption after restart', startMs + took, `process start ${startMs} ms`);
    });

    it(`hard: SIGKILL of ${master}, and ${backup} takes over after Master_Down_Interval`, async () => {
      // Poll while the crash is under way: waiting for the dead processes to be reaped can take
      // longer than the takeover itself.
      const crashing = t.crash(master);
      await t.waitFor(`${backup} to hold every VIP`, () => t.holdsAll(backup), 20_000);
      const seenAt = performance.now();
      record('hard takeover (SIGKILL)', Math.round(seenAt - (await crashing)), 'SIGKILL → VIPs on peer');
      // Nobody removed the dead master's VIPs: its namespace still lists them, as a crashed box's
      // interfaces would. The live peer is the only router answering for them.
      for (const vip of vips) expect(await t.holders(vip)).toEqual(['ipvsd', 'keepalived']);
      // keepalived runs its notify script after adding the VIPs: its report may trail them.
      for (const name of names)
        await t.waitFor(
          `${backup} to report ${name} MASTER`,
          async () => (await t.reported(name))[backup] === 'MASTER',
          10_000,
        );
    });

    it(`${master} restarted after the crash removes the stale VIPs and preempts again`, async () => {
      await t.start(master);
      await t.converge(master, names, watchMs(f));
    });

    // Only keepalived watches its own VRRP interfaces so far (ipvsd's interface tracking is
    // another branch's work), so the partial failure runs with keepalived as the master.
    if (names.includes('VG1') && master === 'keepalived') {
      it('keepalived’s server-side link goes down: the whole group moves to ipvsd, and back', async () => {
        const started = performance.now();
        await t.lab.execOk(t.ns.keepalived, 'ip', ['link', 'set', 'dev', 'eth1', 'down']);
        // eth1 down: keepalived's VI_server goes FAULT, and its sync group takes VI_client with it;
        // ipvsd hears VI_client resign (or fall silent) and VI_server fall silent: both take over.
        await t.waitFor('ipvsd alone to hold both VIPs', () => t.allHeldBy('ipvsd'), 20_000);
        record(
          'group takeover (keepalived eth1 down)',
          Math.round(performance.now() - started),
          'link down → VIPs on ipvsd alone',
        );
        await t.waitFor(
          'ipvsd MASTER and keepalived FAULT',
          async () =>
            (await t.reported('VG1')).ipvsd === 'MASTER' && (await t.reported('VG1')).keepalived === 'FAULT',
          20_000,
        );
        for (const name of ['VI_client', 'VI_server']) expect((await t.reported(name)).ipvsd).toBe('MASTER');
        await t.lab.execOk(t.ns.keepalived, 'ip', ['link', 'set', 'dev', 'eth1', 'up']);
        await t.converge('keepalived', names, watchMs(f));
      });
    }
  });
}

describe.sequential('VRRP interop with keepalived', () => {
  for (const f of [V2_PASS, V3_FAST]) {
    for (const master of ['keepalived', 'ipvsd'] as const) {
      failoverCases('one instance', f, master, (p) => singleInstance(f, p), [CLIENT_VIP], ['VI_1']);
    }
  }
  for (const f of [V2_PASS, V3_FAST]) {
    for (const master of ['keepalived', 'ipvsd'] as const) {
      failoverCases(
        'sync group',
        f,
        master,
        (p) => syncGroup(f, p),
        [CLIENT_VIP, SERVER_VIP],
        ['VI_client', 'VI_server', 'VG1'],
      );
    }
  }

  // A partition makes both sides MASTER (each hears nobody: the split brain VRRP cannot avoid while
  // the link is cut); when it heals, the two masters hear each other at equal priority and RFC 5798
  // §6.4.3's tie-break must settle it the same way on both implementations: the higher primary
  // address stays MASTER, the other yields. Run once with each side holding the higher address.
  for (const winner of ['keepalived', 'ipvsd'] as const) {
    describe(`partition and heal, v3 100ms, equal priority, ${winner} has the higher address`, () => {
      const addresses: Addresses =
        winner === 'keepalived'
          ? ADDRESSES
          : {
              ipvsd: { eth0: '203.0.113.4', eth1: '198.51.100.4' },
              keepalived: ADDRESSES.keepalived,
            };
      const t = new InteropLab(
        `partition v3 100ms, ${winner} higher address`,
        { ipvsd: singleInstance(V3_FAST, LOW), keepalived: singleInstance(V3_FAST, LOW) },
        [CLIENT_VIP],
        addresses,
      );
      const sw = () => t.lab.namespaces.find((n) => n.endsWith('-ka-sw')) ?? '';
      beforeAll(() => t.setUp());
      afterAll(() => t.tearDown());

      it(`both become MASTER while cut off; after the heal ${winner} alone stays MASTER`, async () => {
        await Promise.all([t.start('ipvsd'), t.start('keepalived')]);
        await t.waitFor(
          'one side to hold the VIP',
          async () => (await t.holders(CLIENT_VIP)).length === 1,
          30_000,
        );
        // Take ipvsd's port out of the bridge: both links keep their carrier, adverts just stop.
        await t.lab.execOk(sw(), 'ip', ['link', 'set', 'dev', 'i0', 'nomaster']);
        await t.waitFor(
          'both sides MASTER with the VIP',
          async () => {
            const r = await t.reported('VI_1');
            return (
              r.ipvsd === 'MASTER' && r.keepalived === 'MASTER' && (await t.holders(CLIENT_VIP)).length === 2
            );
          },
          30_000,
        );
        await t.lab.execOk(sw(), 'ip', ['link', 'set', 'dev', 'i0', 'master', 'br0']);
        const took = await t.converge(winner, ['VI_1'], watchMs(V3_FAST));
        figures.push({ case: `${t.name}: heal`, ms: took, note: 'heal → VIP on the winner alone' });
      });
    });
  }

  describe('v2 authentication mismatch', () => {
    // keepalived is configured with another password: each side drops the other's adverts, so
    // each sees no other router and both become MASTER. That is VRRP working as specified (RFC 3768
    // §7.1: a packet that does not authenticate is discarded), not a bug: the misconfiguration is
    // visible in ipvsd's drop counter (and keepalived's log), not hidden by an election.
    const t = new InteropLab(
      'auth mismatch',
      { ipvsd: singleInstance(V2_PASS, LOW), keepalived: singleInstance(V2_PASS, HIGH, 'other') },
      [CLIENT_VIP],
    );
    beforeAll(() => t.setUp());
    afterAll(() => t.tearDown());

    it('ipvsd drops and counts keepalived’s adverts as auth_mismatch; both end up MASTER', async () => {
      await Promise.all([t.start('ipvsd'), t.start('keepalived')]);
      await t.waitFor(
        'both sides MASTER with the VIP',
        async () => {
          const r = await t.reported('VI_1');
          const h = await t.holders(CLIENT_VIP);
          return r.ipvsd === 'MASTER' && r.keepalived === 'MASTER' && h.length === 2;
        },
        30_000,
      );
      // At least one: keepalived 2.2.7 sends its first adverts as MASTER and then, seen on the wire
      // here (tcpdump in both namespaces), often stops advertising while it logs ipvsd's adverts as
      // "invalid passwd", so a larger count would measure keepalived, not ipvsd.
      await t.waitFor(
        'a dropped advert',
        async () => ((await t.ipvsd?.instance('VI_1'))?.adverts.dropped.auth_mismatch ?? 0) >= 1,
        10_000,
      );
      const vi = await t.ipvsd?.instance('VI_1');
      expect(vi).toMatchObject({ state: 'MASTER', master_address: ADDRESSES.ipvsd.eth0 });
      expect(vi?.adverts.received).toBe(0);
      const otherDrops = Object.entries(vi?.adverts.dropped ?? {}).filter(
        ([k, n]) => k !== 'auth_mismatch' && n > 0,
      );
      expect(otherDrops).toEqual([]);
      expect(await t.holders(CLIENT_VIP)).toEqual(['ipvsd', 'keepalived']);
      // keepalived, for its part, logs each of ipvsd's adverts as failing authentication.
      await t.waitFor(
        'keepalived to log the bad password',
        async () => /invalid passwd/.test(t.keepalived?.log() ?? ''),
        10_000,
      );
    });
  });
});
