/**
 * The daemon's three processes (src/proc), with the real daemon (dist/, VRRP only: this kernel has
 * no IPVS) in two namespaces: `ps` shows `ipvsd: checks` and `ipvsd: vrrp` under `ipvsd`; a
 * child killed with SIGKILL, or stopped with SIGSTOP (a hang), is restarted and counted in
 * `ipvsctl status --json` and /metrics; a dead or hung checks child never moves VRRP; a SIGTERM of
 * the daemon takes its children with it. The operator's tools are the oracles: ps, ipvsctl, curl,
 * ip addr.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessStatus, StatusResult } from '../../src/control/protocol.js';
import { daemonChild, daemonChildren, IPVSD, ipvsctlStatus, scrapedValue } from '../support/ipvsd-daemon.js';
import { createNetnsLab, type NetnsLab, namespacePair, run, type SpawnedProcess } from '../support/netns.js';
import { waitFor as waitUntil } from '../support/wait.js';

const A4 = '192.0.2.71';
const B4 = '192.0.2.72';
const VIP = '192.0.2.170';

function config(dir: string, node: string, priority: number): string {
  return `
director:
  router_id: ${node}
  control_socket: ${dir}/${node}.sock
  ip_forward: false
  metrics: { listen: "127.0.0.1:9469" }
vrrp_instances:
  VI_1:
    state: backup
    interface: dps0
    virtual_router_id: 71
    priority: ${priority}
    advert_int: 1s
    version: 2
    virtual_ipaddresses: ["${VIP}/24"]
`;
}

describe('ipvsd supervises its checks and vrrp processes', () => {
  let lab: NetnsLab;
  let dir: string;
  let nsA: string;
  let nsB: string;
  let ipvsdA: SpawnedProcess;
  let ipvsdB: SpawnedProcess;

  const status = (ns: string, node: string): Promise<StatusResult> =>
    ipvsctlStatus(lab, ns, join(dir, `${node}.sock`));
  const processOf = async (name: string): Promise<ProcessStatus | undefined> =>
    (await status(nsA, 'a')).processes?.find((p) => p.name === name);
  const vrrpA = async () => (await status(nsA, 'a')).vrrp.instances[0];

  const childPid = (title: string): Promise<number | undefined> => daemonChild(ipvsdA.pid, title);

  const waitFor = (what: string, predicate: () => Promise<boolean>): Promise<boolean> =>
    waitUntil(what, predicate, { timeoutMs: 20_000 });

  const metric = (ns: string, series: string): Promise<number | undefined> => scrapedValue(lab, ns, series);

  const hasVip = async (ns: string) => (await lab.ipAddresses(ns, 'dps0')).some((x) => x.local === VIP);

  beforeAll(async () => {
    lab = createNetnsLab();
    dir = await lab.tempDir('ipvsd-procs-');
    [nsA, nsB] = await namespacePair(lab, 'procs', 'dps0', A4, B4);
    await writeFile(join(dir, 'a.yaml'), config(dir, 'a', 200));
    await writeFile(join(dir, 'b.yaml'), config(dir, 'b', 100));
    ipvsdA = lab.spawn(nsA, process.execPath, [IPVSD, '--config', join(dir, 'a.yaml')]);
    ipvsdB = lab.spawn(nsB, process.execPath, [IPVSD, '--config', join(dir, 'b.yaml')]);
    await ipvsdA.waitForOutput('ipvsd started', 30_000);
    await ipvsdB.waitForOutput('ipvsd started', 30_000);
    await waitFor(
      'a MASTER with the VIP',
      async () => (await vrrpA())?.state === 'MASTER' && (await hasVip(nsA)),
    );
  }, 90_000);

  afterAll(() => lab?.cleanup());

  it('ps shows ipvsd with its two children, each named; status lists all three', async () => {
    const titles = [...(await daemonChildren(ipvsdA.pid)).values()].sort();
    expect(titles).toEqual(['ipvsd: checks', 'ipvsd: vrrp']);
    const processes = (await status(nsA, 'a')).processes ?? [];
    expect(processes.map((p) => [p.name, p.restarts, p.last_restart])).toEqual([
      ['ipvsd', 0, null],
      ['checks', 0, null],
      ['vrrp', 0, null],
    ]);
    expect(processes[0]?.pid).toBe(ipvsdA.pid);
    expect(processes[1]?.pid).toBe(await childPid('ipvsd: checks'));
    expect(processes[2]?.pid).toBe(await childPid('ipvsd: vrrp'));
    expect(await metric(nsA, 'ipvsd_process_restarts_total{process="vrrp"}')).toBe(0);
  });

  it('kill -9 of the checks child: restarted and counted, VRRP untouched', async () => {
    const before = await vrrpA();
    const old = await childPid('ipvsd: checks');
    expect(old).toBeDefined();
    process.kill(old as number, 'SIGKILL');
    await waitFor('a new checks child', async () => {
      const pid = await childPid('ipvsd: checks');
      return pid !== undefined && pid !== old;
    });
    const checks = await processOf('checks');
    expect(checks?.restarts).toBe(1);
    expect(checks?.last_restart).not.toBeNull();
    expect(await metric(nsA, 'ipvsd_process_restarts_total{process="checks"}')).toBe(1);
    const after = await vrrpA();
    expect(after?.state).toBe('MASTER');
    expect(after?.transitions).toBe(before?.transitions);
    expect(await hasVip(nsA)).toBe(true);
  }, 60_000);

  it('SIGSTOP of the checks child: found hung within 4 s, killed, restarted; VRRP untouched', async () => {
    const before = await vrrpA();
    const stopped = await childPid('ipvsd: checks');
    process.kill(stopped as number, 'SIGSTOP');
    const stoppedAt = Date.now();
    await ipvsdA.waitForOutput(
      /"process":"checks","childPid":\d+,"silentMs":\d+,"busy":false,"msg":"process hung: killed"/,
      15_000,
    );
    expect(Date.now() - stoppedAt).toBeLessThan(6000);
    await waitFor('a new checks child', async () => {
      const pid = await childPid('ipvsd: checks');
      return pid !== undefined && pid !== stopped;
    });
    expect((await processOf('checks'))?.restarts).toBe(2);
    const after = await vrrpA();
    expect(after?.state).toBe('MASTER');
    expect(after?.transitions).toBe(before?.transitions);
    expect((await status(nsB, 'b')).vrrp.instances[0]?.state).toBe('BACKUP');
  }, 60_000);

  it('kill -9 of the vrrp child: restarted, counted, a MASTER with the VIP again', async () => {
    const old = await childPid('ipvsd: vrrp');
    process.kill(old as number, 'SIGKILL');
    const killedAt = Date.now();
    await waitFor('a new vrrp child', async () => {
      const pid = await childPid('ipvsd: vrrp');
      return pid !== undefined && pid !== old;
    });
    await waitFor(
      'a MASTER again with the VIP',
      async () => (await vrrpA())?.state === 'MASTER' && (await hasVip(nsA)),
    );
    const backAfterMs = Date.now() - killedAt;
    const vrrp = await processOf('vrrp');
    expect(vrrp?.restarts).toBe(1);
    expect(vrrp?.pid).toBe(await childPid('ipvsd: vrrp'));
    expect(await metric(nsA, 'ipvsd_process_restarts_total{process="vrrp"}')).toBe(1);
    expect(await metric(nsA, 'ipvsd_process_up{process="vrrp"}')).toBe(1);
    // What the peer saw (timing-dependent, so reported, not asserted: with 1 s adverts a child back
    // within b's master-down interval keeps b in BACKUP).
    const b = (await status(nsB, 'b')).vrrp.instances[0];
    console.info(
      `vrrp child back as MASTER ${backAfterMs} ms after kill -9; b's transitions: ${b?.transitions}`,
    );
    expect(b?.state).toBe('BACKUP');
  }, 60_000);

  it('SIGTERM of the daemon ends its children too and removes the VIP', async () => {
    const kids = [...(await daemonChildren(ipvsdA.pid)).keys()];
    expect(kids).toHaveLength(2);
    const exit = await ipvsdA.kill('SIGTERM', 15_000);
    expect(exit.code).toBe(0);
    await waitFor('no children left', async () => {
      const alive = await Promise.all(kids.map((pid) => run('kill', ['-0', String(pid)])));
      return alive.every((r) => r.code !== 0);
    });
    expect(await hasVip(nsA)).toBe(false);
  }, 60_000);
});
