/**
 * Two whole ipvsd daemons (dist/, VRRP only: this kernel has no IPVS) in two namespaces joined by a
 * veth. The operator's view is the oracle: `ipvsctl failover` and `ipvsctl status --json` over
 * each daemon's control socket, /metrics over HTTP inside the namespace, `ip addr` for the VIP.
 * One daemon also has `director.sync_daemon`: without IPVS it must still run VRRP and report why
 * the sync daemon is not running.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusResult } from '../../src/control/protocol.js';
import { IPVSCTL, IPVSD, ipvsctlStatus } from '../support/ipvsd-daemon.js';
import { createNetnsLab, type NetnsLab, namespacePair, type SpawnedProcess } from '../support/netns.js';
import { timeUntil } from '../support/wait.js';

const A4 = '192.0.2.61';
const B4 = '192.0.2.62';
const VIP = '192.0.2.160';

function config(dir: string, node: string, priority: number, syncDaemon: boolean): string {
  return `
director:
  router_id: ${node}
  control_socket: ${dir}/${node}.sock
  metrics: { listen: "127.0.0.1:9469" }
${syncDaemon ? '  sync_daemon: { interface: dfo0, sync_id: 61, follow: VI_1 }\n' : ''}
vrrp_instances:
  VI_1:
    state: backup
    interface: dfo0
    virtual_router_id: 61
    priority: ${priority}
    advert_int: 0.2s
    version: 3
    virtual_ipaddresses: ["${VIP}/24"]
`;
}

describe('ipvsctl failover and the VRRP status between two ipvsd daemons', () => {
  let lab: NetnsLab;
  let dir: string;
  let nsA: string;
  let nsB: string;
  let ipvsdA: SpawnedProcess;
  let ipvsdB: SpawnedProcess;

  const ctl = (ns: string, node: string, args: string[]) =>
    lab.runNode(ns, IPVSCTL, ['--socket', join(dir, `${node}.sock`), ...args]);

  const status = (ns: string, node: string): Promise<StatusResult> =>
    ipvsctlStatus(lab, ns, join(dir, `${node}.sock`));

  const stateOf = async (ns: string, node: string) => (await status(ns, node)).vrrp.instances[0]?.state;

  const waitFor = (what: string, predicate: () => Promise<boolean>, timeoutMs = 20_000) =>
    timeUntil(what, predicate, { timeoutMs, intervalMs: 100 });

  const hasVip = async (ns: string) => (await lab.ipAddresses(ns, 'dfo0')).some((x) => x.local === VIP);

  beforeAll(async () => {
    lab = createNetnsLab();
    dir = await lab.tempDir('ipvsd-dfollow-');
    [nsA, nsB] = await namespacePair(lab, 'dfollow', 'dfo0', A4, B4);
    await writeFile(join(dir, 'a.yaml'), config(dir, 'a', 200, false));
    await writeFile(join(dir, 'b.yaml'), config(dir, 'b', 100, true));
    ipvsdA = lab.spawn(nsA, process.execPath, [IPVSD, '--config', join(dir, 'a.yaml')]);
    ipvsdB = lab.spawn(nsB, process.execPath, [IPVSD, '--config', join(dir, 'b.yaml')]);
    await ipvsdA.waitForOutput('ipvsd started', 30_000);
    await ipvsdB.waitForOutput('ipvsd started', 30_000);
  }, 90_000);

  afterAll(() => lab?.cleanup());

  it('elects a, refuses failover on the backup and for unknown names, hands over on the master', async () => {
    await waitFor('a MASTER, b BACKUP', async () => {
      return (await stateOf(nsA, 'a')) === 'MASTER' && (await stateOf(nsB, 'b')) === 'BACKUP';
    });
    expect(await hasVip(nsA)).toBe(true);

    const onBackup = await ctl(nsB, 'b', ['failover', 'VI_1']);
    expect({ code: onBackup.code, stderr: onBackup.stderr }).toEqual({
      code: 1,
      stderr:
        'ipvsctl: VI_1 is BACKUP, not MASTER: there is nothing to hand over (run failover on the master)\n',
    });
    const unknown = await ctl(nsA, 'a', ['failover', 'VG_nope']);
    expect({ code: unknown.code, stderr: unknown.stderr }).toEqual({
      code: 1,
      stderr: 'ipvsctl: no VRRP instance or sync group named "VG_nope" (known: VI_1)\n',
    });
    expect(await stateOf(nsA, 'a')).toBe('MASTER');

    const handover = await ctl(nsA, 'a', ['failover', 'VI_1']);
    expect(handover.stderr).toBe('');
    expect(handover.stdout).toBe('instance VI_1: MASTER -> BACKUP (priority 0 sent: the peer takes over)\n');
    expect(handover.code).toBe(0);
    await waitFor(
      'b MASTER with the VIP',
      async () => (await stateOf(nsB, 'b')) === 'MASTER' && (await hasVip(nsB)),
    );
    expect(await stateOf(nsA, 'a')).toBe('BACKUP');
    expect(await hasVip(nsA)).toBe(false);
  }, 60_000);

  it('status --json has the vrrp section with counters, master address and the sync daemon', async () => {
    // Let a hear a few of b's adverts as master.
    await waitFor('a hears b as master', async () => {
      const i = (await status(nsA, 'a')).vrrp.instances[0];
      return i?.master_address === B4 && (i.adverts?.received ?? 0) >= 3;
    });
    const a = await status(nsA, 'a');
    const instance = a.vrrp.instances[0];
    expect(instance).toMatchObject({
      name: 'VI_1',
      state: 'BACKUP',
      priority: 200,
      master_address: B4,
      transitions: 3,
      transitions_by_state: { MASTER: 1, BACKUP: 2, FAULT: 0, INIT: 0 },
    });
    expect(instance?.adverts?.sent).toBeGreaterThan(0);
    expect(instance?.adverts?.dropped).toMatchObject({ bad_ttl: 0 });
    expect(Date.parse(instance?.last_transition ?? '')).not.toBeNaN();
    expect(a.vrrp.sync_groups).toEqual([]);
    expect(a.vrrp.sync_daemon).toBeNull();

    const b = await status(nsB, 'b');
    expect(b.vrrp.instances[0]).toMatchObject({ state: 'MASTER', priority: 100, master_address: B4 });
    expect(b.vrrp.sync_daemon).toMatchObject({
      interface: 'dfo0',
      sync_id: 61,
      follow: 'VI_1',
      follow_state: 'MASTER',
      wanted: 'master',
      running: [],
    });
    expect(b.vrrp.sync_daemon?.last_error).toContain('the kernel has no IPVS');

    const text = await ctl(nsB, 'b', ['status']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/vrrp instances\n {2}NAME +STATE +PRIORITY +MASTER/);
    expect(text.stdout).toMatch(/ {2}VI_1 +MASTER +100 +192\.0\.2\.62 /);
    expect(text.stdout).toContain(
      'ipvs sync daemon: none running (master wanted) on dfo0, sync id 61; follows VI_1 (MASTER)',
    );
    expect(text.stdout).toContain('last error: the kernel has no IPVS');
  }, 60_000);

  it('/metrics has the ipvsd_vrrp_* series', async () => {
    const r = await lab.exec(nsA, 'curl', ['-sS', '--max-time', '10', 'http://127.0.0.1:9469/metrics']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ipvsd_vrrp_instance_state{instance="VI_1",state="BACKUP"} 1');
    expect(r.stdout).toContain('ipvsd_vrrp_instance_state{instance="VI_1",state="MASTER"} 0');
    expect(r.stdout).toContain('ipvsd_vrrp_instance_priority{instance="VI_1"} 200');
    expect(r.stdout).toContain(`ipvsd_vrrp_instance_master_info{instance="VI_1",master_address="${B4}"} 1`);
    expect(r.stdout).toContain('ipvsd_vrrp_instance_transitions_total{instance="VI_1",to_state="MASTER"} 1');
    expect(r.stdout).toMatch(/ipvsd_vrrp_instance_adverts_sent_total\{instance="VI_1"\} [1-9]/);
    expect(r.stdout).toMatch(/ipvsd_vrrp_instance_adverts_received_total\{instance="VI_1"\} [1-9]/);
    expect(r.stdout).toContain(
      'ipvsd_vrrp_instance_adverts_dropped_total{instance="VI_1",reason="bad_ttl"} 0',
    );
    const b = await lab.exec(nsB, 'curl', ['-sS', '--max-time', '10', 'http://127.0.0.1:9469/metrics']);
    expect(b.stdout).toContain('ipvsd_vrrp_sync_daemon_wanted{state="master"} 1');
    expect(b.stdout).toContain('ipvsd_vrrp_sync_daemon_running{state="master"} 0');
    expect(b.stdout).toMatch(/ipvsd_vrrp_sync_daemon_errors_total [1-9]/);
  }, 30_000);

  it('a reload (ipvsctl reload) applies a VRRP change in place', async () => {
    await writeFile(
      join(dir, 'b.yaml'),
      config(dir, 'b', 100, true).replace('priority: 100', 'priority: 150'),
    );
    const r = await ctl(nsB, 'b', ['reload']);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
      code: 0,
      stdout: 'reloaded\n',
      stderr: '',
    });
    const b = await status(nsB, 'b');
    expect(b.vrrp.instances[0]).toMatchObject({ name: 'VI_1', state: 'MASTER', priority: 150 });
    expect(await hasVip(nsB)).toBe(true);
  }, 30_000);

  it('both stop cleanly on SIGTERM; the master removes its VIP', async () => {
    expect(await ipvsdB.kill('SIGTERM', 10_000)).toEqual({ code: 0, signal: null });
    expect(await hasVip(nsB)).toBe(false);
    expect(await ipvsdA.kill('SIGTERM', 10_000)).toEqual({ code: 0, signal: null });
  }, 30_000);
});
