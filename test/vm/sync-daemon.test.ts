/**
 * The IPVS connection-sync daemon follows VRRP, on the VM's real kernel: two ipvsd directors in two
 * namespaces joined by a veth (VRRP and sync on the same link, a default route each so the sync
 * multicast can go out). `ipvsadm -L --daemon` in each namespace is the oracle: the VRRP master runs
 * the master daemon only, the backup the backup daemon only, and `ipvsctl failover` swaps them. A
 * stop with the default `on_stop: keep` leaves the backup daemon running for a restart. The full
 * NAT pair with traffic is test/vm's failover suite; this one stays small.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsLab, type SpawnedProcess } from '../support/netns.js';
import { IPVSD } from '../support/paths.js';
import { waitFor } from '../support/wait.js';
import { ipvsctl } from './ipvs-lab.js';

const lab = createNetnsLab();
const DIR = `/tmp/ipvsd-vm-syncd-${process.pid}`;
const A4 = '192.0.2.71';
const B4 = '192.0.2.72';

function config(node: string, priority: number): string {
  return `
director:
  router_id: ${node}
  control_socket: ${DIR}/${node}.sock
  metrics: { listen: "127.0.0.1:9469" }
  sync_daemon: { interface: dsy0, sync_id: 62, follow: VI_1 }
vrrp_instances:
  VI_1:
    state: backup
    interface: dsy0
    virtual_router_id: 62
    priority: ${priority}
    advert_int: 1s
    virtual_ipaddresses: ["192.0.2.170/24"]
`;
}

/** The daemons `ipvsadm -L --daemon` lists in `ns`, as `state:interface:syncid`. */
async function daemons(ns: string): Promise<string[]> {
  const out = await lab.execOk(ns, 'ipvsadm', ['-L', '--daemon']);
  return out
    .split('\n')
    .map((line) => /^(master|backup) sync daemon \(mcast=(\S+), syncid=(\d+)/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]}:${m[2]}:${m[3]}`)
    .sort();
}

describe('the IPVS sync daemon follows VRRP', () => {
  let nsA: string;
  let nsB: string;
  let ipvsdA: SpawnedProcess;
  let ipvsdB: SpawnedProcess;

  const until = (what: string, ns: string, expected: string[]) =>
    waitFor(
      what,
      async () => {
        const now = await daemons(ns);
        return JSON.stringify(now) === JSON.stringify(expected) ? now : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );

  beforeAll(async () => {
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    writeFileSync(join(DIR, 'a.yaml'), config('a', 200));
    writeFileSync(join(DIR, 'b.yaml'), config('b', 100));
    nsA = await lab.namespace('syncd-a');
    nsB = await lab.namespace('syncd-b');
    await lab.veth(
      { ns: nsA, ifname: 'dsy0', cidr: `${A4}/24` },
      { ns: nsB, ifname: 'dsy0', cidr: `${B4}/24` },
    );
    await lab.addRoute(nsA, 'default', { via: B4 });
    await lab.addRoute(nsB, 'default', { via: A4 });
    ipvsdA = lab.spawn(nsA, process.execPath, [IPVSD, '--config', join(DIR, 'a.yaml')]);
    ipvsdB = lab.spawn(nsB, process.execPath, [IPVSD, '--config', join(DIR, 'b.yaml')]);
    await ipvsdA.waitForOutput('ipvsd started', 300_000);
    await ipvsdB.waitForOutput('ipvsd started', 300_000);
  });

  afterAll(async () => {
    await lab.cleanup();
    rmSync(DIR, { recursive: true, force: true });
  });

  it('master daemon on the VRRP master, backup daemon on the backup', async () => {
    await until('the master daemon on a', nsA, ['master:dsy0:62']);
    await until('the backup daemon on b', nsB, ['backup:dsy0:62']);
    const status = JSON.parse(
      (await ipvsctl(lab, nsA, ['--socket', join(DIR, 'a.sock'), 'status', '--json'])).stdout,
    );
    expect(status.vrrp.instances[0]).toMatchObject({ name: 'VI_1', state: 'MASTER' });
    expect(status.vrrp.sync_daemon).toMatchObject({
      follow: 'VI_1',
      follow_state: 'MASTER',
      wanted: 'master',
      running: ['master'],
      last_error: null,
    });
  });

  it('ipvsctl failover swaps them', async () => {
    const r = await ipvsctl(lab, nsA, ['--socket', join(DIR, 'a.sock'), 'failover', 'VI_1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await until('the master daemon on b', nsB, ['master:dsy0:62']);
    await until('the backup daemon on a', nsA, ['backup:dsy0:62']);
  });

  it('a stop with on_stop: keep leaves the backup daemon (a restart keeps syncing)', async () => {
    expect(await ipvsdB.kill('SIGTERM', 60_000)).toEqual({ code: 0, signal: null });
    expect(await daemons(nsB)).toEqual(['backup:dsy0:62']);
    expect(await ipvsdA.kill('SIGTERM', 60_000)).toEqual({ code: 0, signal: null });
    expect(await daemons(nsA)).toEqual(['backup:dsy0:62']);
  });
});
