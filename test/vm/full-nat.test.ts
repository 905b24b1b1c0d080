/**
 * Full NAT (`virtual_servers[].full_nat`) on the VM's real kernel: IPVS masquerade plus ipvsd's
 * nftables source NAT. The NAT site of test/vm/nat-topology.ts, except that the real servers have
 * NO route back through the director (their default route is deleted): a reply can reach the
 * client only when the director rewrote the request's source to its own server-side address
 * 198.51.100.2, which is on the real servers' link. So every answered request shows the rewrite,
 * and the real servers say whom they saw (`/peer` answers `NAME/PEER-ADDRESS`).
 *
 * In order, with one daemon: all requests answered, every real server sees 198.51.100.2,
 * `net.ipv4.vs.conntrack` is 1; the table deleted behind ipvsd is back at the next resync and
 * requests keep being answered; a reload without full_nat removes the table and then a request
 * goes unanswered (the rewrite is what made the site work); a reload with it restores both;
 * SIGTERM with `on_stop: remove` removes the services, then the table. Timings are printed, never
 * asserted.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsLab, type SpawnedProcess } from '../support/netns.js';
import { IPVSCTL, IPVSD } from '../support/paths.js';
import { waitFor } from '../support/wait.js';
import {
  createNatTopology,
  httpRequests,
  logEntries,
  type NatTopology,
  startServer,
  VIP,
  waitForLog,
} from './nat-topology.js';

const lab = createNetnsLab();
const DIR = `/tmp/ipvsd-vm-full-nat-${process.pid}`;
const CONFIG = join(DIR, 'ipvsd.yaml');
const SOCKET = join(DIR, 'control.sock');
/** The director's own address on the real servers' link: the source they see. */
const FULL_NAT = '198.51.100.2';
const PEER_URL = `http://${VIP}/peer`;
const REQUESTS = 30;

function configYaml(fullNat: boolean): string {
  return `director:
  control_socket: ${SOCKET}
  metrics: { listen: "127.0.0.1:9469" }
  ipvs: { resync_interval: 2s, on_stop: remove }
virtual_servers:
  - name: web
    address: ${VIP}
    port: 80
    scheduler: rr
${fullNat ? `    full_nat: ${FULL_NAT}\n` : ''}    check: { type: tcp, interval: 1s, timeout: 3s }
    real_servers:
      - { address: 198.51.100.11, port: 8080 }
      - { address: 198.51.100.12, port: 8080 }
      - { address: 198.51.100.13, port: 8080 }
`;
}

let topo: NatTopology;
let ipvsd: SpawnedProcess;
const figures: string[] = [];

const nftTable = async (): Promise<string | null> => {
  const r = await lab.exec(topo.director, 'nft', ['list', 'table', 'inet', 'ipvsd']);
  return r.code === 0 ? r.stdout : null;
};

interface NatStatus {
  table: string;
  rules: number;
  errors: number;
  drift_repairs: number;
  last_error: string | null;
  sources: { address: string; local: boolean | null }[];
}

async function natStatus(): Promise<NatStatus | undefined> {
  const r = await lab.exec(
    topo.director,
    process.execPath,
    [IPVSCTL, '--socket', SOCKET, 'status', '--json'],
    {
      timeoutMs: 300_000,
    },
  );
  if (r.code !== 0) throw new Error(`ipvsctl status exited ${r.code}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { nat?: NatStatus }).nat;
}

async function reload(fullNat: boolean): Promise<void> {
  writeFileSync(CONFIG, configYaml(fullNat));
  const since = logEntries(ipvsd).length;
  ipvsd.child.kill('SIGHUP');
  const { entry } = await waitForLog(
    ipvsd,
    (e) => e.msg === 'config reloaded' || e.msg.startsWith('reload refused') || e.msg === 'reload failed',
    { after: since, timeoutMs: 120_000, what: 'the reload verdict' },
  );
  expect(entry.msg, JSON.stringify(entry)).toBe('config reloaded');
}

/** Every request answered, every real server seen, each saw the director's full_nat address. */
async function expectAllAnsweredFromFullNat(what: string): Promise<void> {
  const started = Date.now();
  const tally = await httpRequests(lab, topo.client, PEER_URL, REQUESTS);
  figures.push(`${what}: ${REQUESTS} requests in ${Date.now() - started} ms`);
  expect(tally.failures, what).toEqual([]);
  expect(tally.counts).toEqual({
    [`rs1/${FULL_NAT}`]: REQUESTS / 3,
    [`rs2/${FULL_NAT}`]: REQUESTS / 3,
    [`rs3/${FULL_NAT}`]: REQUESTS / 3,
  });
}

beforeAll(async () => {
  mkdirSync(DIR, { recursive: true });
  topo = await createNatTopology(lab);
  // The point of full NAT: the real servers need no route back through the director.
  for (const rs of topo.realServers) {
    await lab.execOk(rs.ns, 'ip', ['route', 'del', 'default']);
    expect(await lab.execOk(rs.ns, 'ip', ['route', 'show', 'default'])).toBe('');
  }
  await lab.addAddress(topo.director, 'br0', `${FULL_NAT}/24`);
  await Promise.all(topo.realServers.map((rs) => startServer(lab, rs, 'http', 8080)));
  writeFileSync(CONFIG, configYaml(true));
  ipvsd = lab.spawn(topo.director, process.execPath, [IPVSD, '--config', CONFIG]);
  await waitForLog(ipvsd, (e) => e.msg === 'ipvsd started', { timeoutMs: 180_000, what: '"ipvsd started"' });
}, 300_000);

afterAll(async () => {
  try {
    await lab.cleanup();
  } finally {
    rmSync(DIR, { recursive: true, force: true });
    if (figures.length) console.log(`full NAT VM figures:\n  ${figures.join('\n  ')}`);
  }
});

describe('full NAT through ipvsd (kernel IPVS + nftables)', () => {
  it('answers every request; the real servers see the director, not the client', async () => {
    expect(await nftTable()).toContain(`snat ip to ${FULL_NAT}`);
    const conntrack = await lab.execOk(topo.director, 'cat', ['/proc/sys/net/ipv4/vs/conntrack']);
    expect(conntrack.trim()).toBe('1');
    await expectAllAnsweredFromFullNat('full NAT');
    expect(await natStatus()).toMatchObject({
      table: 'present',
      rules: 1,
      errors: 0,
      sources: [{ address: FULL_NAT, local: true }],
    });
    const metrics = await lab.execOk(topo.director, 'curl', ['-sS', 'http://127.0.0.1:9469/metrics']);
    expect(metrics).toContain('ipvsd_nat_rules 1');
    expect(metrics).toContain(`ipvsd_nat_source_address_local{address="${FULL_NAT}"} 1`);
  });

  it('writes the table again after someone deletes it, at the next resync', async () => {
    await lab.execOk(topo.director, 'nft', ['delete', 'table', 'inet', 'ipvsd']);
    const deletedAt = Date.now();
    await waitFor(
      'the table back',
      async () => (await nftTable())?.includes(`snat ip to ${FULL_NAT}`) ?? false,
      {
        timeoutMs: 60_000,
        intervalMs: 200,
      },
    );
    figures.push(`table deleted → written again: ${Date.now() - deletedAt} ms (resync interval 2 s)`);
    expect(await natStatus()).toMatchObject({ drift_repairs: 1, errors: 0 });
    expect(logEntries(ipvsd).some((e) => e.msg === 'nat table had changed behind ipvsd: written again')).toBe(
      true,
    );
    await expectAllAnsweredFromFullNat('after the repair');
  });

  it('without full_nat the table goes, and the real servers cannot answer', async () => {
    await reload(false);
    expect(await nftTable()).toBeNull();
    const tally = await httpRequests(lab, topo.client, PEER_URL, 1);
    // The request reaches a real server with the client's address as its source; it has no route back.
    expect(tally.failures).toHaveLength(1);
    await reload(true);
    expect(await nftTable()).toContain(`snat ip to ${FULL_NAT}`);
    await expectAllAnsweredFromFullNat('full_nat reloaded in');
  });

  it('SIGTERM with on_stop remove takes the services, then the table', async () => {
    const exit = await ipvsd.kill('SIGTERM', 60_000);
    expect(exit.code).toBe(0);
    const removed = logEntries(ipvsd).map((e) => e.msg);
    expect(removed.indexOf('ipvs services removed on stop')).toBeGreaterThan(-1);
    expect(removed.indexOf('nat table removed')).toBeGreaterThan(
      removed.indexOf('ipvs services removed on stop'),
    );
    expect(await nftTable()).toBeNull();
    expect((await lab.execOk(topo.director, 'ipvsadm', ['-Ln'])).includes(VIP)).toBe(false);
  });
});
