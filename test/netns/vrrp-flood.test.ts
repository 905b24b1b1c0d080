/**
 * A flood of valid lower-priority adverts from a peer namespace against a whole ipvsd master
 * (dist/, VRRP only: this kernel has no IPVS). The master answers such an advert with its own,
 * but at most once per advert interval (src/vrrp/state-machine.ts; keepalived answers every one,
 * see test/unit/vrrp/answer-rate-limit.test.ts). Oracles: a second, independent raw socket in the
 * peer namespace that counts the master's adverts on the wire with the kernel's receive times,
 * `ipvsctl status --json` for the state, `ip addr` for the VIP, and /metrics for
 * ipvsd_vrrp_socket_drops_total, which must count what the kernel dropped on the master's socket
 * once the flood overruns it (made certain by stopping the daemon for a moment during a flood).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonChild, IPVSD, ipvsctlStatus, scrapedValue } from '../support/ipvsd-daemon.js';
import {
  createNetnsLab,
  type NetnsLab,
  type NodeAgent,
  namespacePair,
  type SpawnedProcess,
} from '../support/netns.js';
import { advertBytes } from '../support/vrrp-advert.js';
import { sleep, waitFor } from '../support/wait.js';

const SOCKET_DRIVER = 'test/netns/drivers/vrrp-socket.mjs';
const A4 = '198.51.100.71';
const B4 = '198.51.100.72';
const VIP = '198.51.100.170';
const VRID = 71;
const INTERVAL_MS = 1000;
const FLOOD_MS = 5000;

function config(dir: string): string {
  return `
director:
  router_id: flood-a
  control_socket: ${dir}/a.sock
  metrics: { listen: "127.0.0.1:9469" }
vrrp_instances:
  VI_1:
    state: master
    interface: fl0
    virtual_router_id: ${VRID}
    priority: 200
    advert_int: 1s
    version: 2
    virtual_ipaddresses: ["${VIP}/24"]
`;
}

/** A valid v2 advert from B4 for our VRID and VIP, at a lower priority than the master's 200. */
function lowerPriorityAdvert(): string {
  const bytes = advertBytes(B4, {
    version: 2,
    vrid: VRID,
    priority: 100,
    advertIntervalCs: 100,
    addresses: [VIP],
  });
  return Buffer.from(bytes).toString('hex');
}

interface Packet {
  readonly payload: string;
  readonly source: string;
}
interface Stamp {
  readonly receivedAt: number | null;
  readonly readAt: number;
}

describe('a flood of lower-priority adverts against an ipvsd master', () => {
  let lab: NetnsLab;
  let dir: string;
  let nsA: string;
  let nsB: string;
  let ipvsd: SpawnedProcess;
  let flooder: NodeAgent;
  let watcher: NodeAgent;

  const instance = async () => (await ipvsctlStatus(lab, nsA, join(dir, 'a.sock'))).vrrp.instances[0];
  const hasVip = async () => (await lab.ipAddresses(nsA, 'fl0')).some((x) => x.local === VIP);

  const socketDrops = (): Promise<number | undefined> =>
    scrapedValue(lab, nsA, 'ipvsd_vrrp_socket_drops_total{interface="fl0",family="inet"}');

  /** The master's adverts the watcher saw since the last call, with their kernel receive times. */
  async function masterAdverts(): Promise<number[]> {
    const packets = await watcher.call<Packet[]>('takePackets', 'watch');
    const stamps = await watcher.call<Stamp[]>('takeStamps', 'watch');
    return packets.flatMap((p, i) =>
      p.source === A4 && p.payload.slice(2, 4) === VRID.toString(16)
        ? [stamps[i]?.receivedAt ?? stamps[i]?.readAt ?? 0]
        : [],
    );
  }

  beforeAll(async () => {
    lab = createNetnsLab();
    dir = await lab.tempDir('ipvsd-flood-');
    [nsA, nsB] = await namespacePair(lab, 'flood', 'fl0', A4, B4);
    await writeFile(join(dir, 'a.yaml'), config(dir));
    ipvsd = lab.spawn(nsA, process.execPath, [IPVSD, '--config', join(dir, 'a.yaml')]);
    await ipvsd.waitForOutput('ipvsd started', 30_000);
    // Two processes in the peer namespace: the flooder blocks its own event loop while it sends,
    // so the adverts on the wire are counted by another one. Multicast loop is off on both
    // sockets, so the watcher hears the master only, not the flood.
    flooder = await lab.nodeAgent(nsB, SOCKET_DRIVER);
    watcher = await lab.nodeAgent(nsB, SOCKET_DRIVER);
    await flooder.call('open', 'flood', { family: 'inet', ifname: 'fl0' });
    await watcher.call('open', 'watch', { family: 'inet', ifname: 'fl0' });
  }, 90_000);

  afterAll(() => lab?.cleanup());

  it('answers at most once per advert interval, keeps its cadence and stays master', async () => {
    await waitFor('ipvsd MASTER', async () => (await instance())?.state === 'MASTER', { timeoutMs: 20_000 });
    expect(await hasVip()).toBe(true);
    // A quiet interval, to see the cadence before the flood.
    await sleep(2500);
    const before = await instance();
    const quiet = await masterAdverts();
    expect(quiet.length).toBeGreaterThanOrEqual(2);

    const advert = lowerPriorityAdvert();
    let sent = 0;
    const floodStart = Date.now();
    while (Date.now() - floodStart < FLOOD_MS) {
      sent += (await flooder.call<{ sent: number }>('flood', 'flood', advert, 5000)).sent;
    }
    const floodMs = Date.now() - floodStart;
    await sleep(300);
    const during = await masterAdverts();
    const after = await instance();

    const gaps = during.slice(1).map((t, i) => t - (during[i] ?? t));
    console.info(
      `flood: ${sent} lower-priority adverts in ${floodMs} ms; the master sent ${during.length} adverts ` +
        `(largest gap ${Math.round(Math.max(0, ...gaps))} ms); its status: ${after?.adverts.sent} sent, ` +
        `${after?.adverts.received} received since start`,
    );
    expect(sent).toBeGreaterThan(10_000);
    // One periodic advert per interval plus at most one answer per interval (with a round
    // interval of slack at each end). Unlimited, it would answer every advert it read.
    const intervals = Math.ceil((floodMs + 300) / INTERVAL_MS);
    expect(during.length).toBeGreaterThanOrEqual(intervals - 1);
    expect(during.length).toBeLessThanOrEqual(2 * (intervals + 1));
    // The answers did not displace the periodic adverts: no gap a backup would notice.
    expect(Math.max(...gaps)).toBeLessThan(1.5 * INTERVAL_MS);
    // And it read the flood (so it had the chance to answer each): received grew.
    expect((after?.adverts.received ?? 0) - (before?.adverts.received ?? 0)).toBeGreaterThan(INTERVAL_MS);
    expect(after?.state).toBe('MASTER');
    expect(after?.transitions).toBe(before?.transitions);
    expect(await hasVip()).toBe(true);
  });

  it('counts the kernel drops on its socket in ipvsd_vrrp_socket_drops_total', async () => {
    const initial = await socketDrops();
    expect(initial).toBeDefined();
    // Make the overrun certain: nothing reads the socket while a flood arrives. The socket is
    // the vrrp process's (`ipvsd: vrrp`), so that is the one to stop.
    const vrrpPid = await daemonChild(ipvsd.pid, 'ipvsd: vrrp');
    expect(vrrpPid).toBeDefined();
    process.kill(vrrpPid as number, 'SIGSTOP');
    let sent = 0;
    try {
      sent = (await flooder.call<{ sent: number }>('flood', 'flood', lowerPriorityAdvert(), 5000)).sent;
    } finally {
      process.kill(vrrpPid as number, 'SIGCONT');
    }
    expect(sent).toBeGreaterThan(1000);
    // The kernel reports the count with each packet queued after the drops: a few more.
    await sleep(200);
    await flooder.call('flood', 'flood', lowerPriorityAdvert(), 10);
    // The vrrp process pushes its counters to the parent once a second: poll the scrape.
    const drops = await waitFor(
      'the drop count to grow',
      async () => {
        const now = await socketDrops();
        return now !== undefined && now > (initial ?? 0) ? now : undefined;
      },
      { timeoutMs: 5000, intervalMs: 250 },
    ).catch(() => socketDrops());
    console.info(`drops: ${initial} before, ${drops} after ${sent} adverts sent to a stopped daemon`);
    expect(drops).toBeGreaterThan(initial ?? 0);
    expect((await instance())?.state).toBe('MASTER');
    expect(await hasVip()).toBe(true);
    await masterAdverts();
  });
});
