/**
 * A big reload on the master moves no VIP (issue 14: "a valid reload stalls VRRP" — a 44 KB config
 * with 3,000 YAML aliases passed `check`, and its reload blocked the event loop for about 5 s, so
 * the master's adverts stopped for longer than the backup's master-down interval). Now the parent
 * parses the config and the adverts leave from `ipvsd: vrrp`, whose event loop does nothing else;
 * aliases are resolved in one pass. Two daemons (dist/, VRRP only, VRRPv3 at 200 ms) in two
 * namespaces; a is MASTER. While a reloads a config with 3,000 aliases (1,000 untracked
 * vrrp_scripts, which never run), tcpdump in b's namespace times a's adverts on the wire: their
 * gaps stay far below b's master-down interval (≈ 720 ms) and neither daemon changes state.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureAdverts, gapsMs, IPVSCTL, IPVSD, ipvsctlStatus } from '../support/ipvsd-daemon.js';
import { createNetnsLab, type NetnsLab, namespacePair } from '../support/netns.js';
import { sleep, waitFor } from '../support/wait.js';

const A4 = '192.0.2.81';
const B4 = '192.0.2.82';
const VIP = '192.0.2.180';
const ADVERT_MS = 200;
const SCRIPTS = 1000;

function config(dir: string, node: string, priority: number, aliases: boolean): string {
  // Three aliases per script: 3,000 in all, as in the config that stalled VRRP.
  const scripts = aliases
    ? `vrrp_scripts:\n  s0: { script: &cmd [/bin/true], interval: &every 1h, timeout: &within 1s }\n${Array.from(
        { length: SCRIPTS },
        (_, i) => `  s${i + 1}: { script: *cmd, interval: *every, timeout: *within }\n`,
      ).join('')}`
    : '';
  return `
director:
  router_id: ${node}
  control_socket: ${dir}/${node}.sock
  metrics: { listen: "127.0.0.1:9469" }
${scripts}vrrp_instances:
  VI_1:
    state: backup
    interface: rel0
    virtual_router_id: 81
    priority: ${priority}
    advert_int: ${ADVERT_MS}ms
    version: 3
    virtual_ipaddresses: ["${VIP}/24"]
`;
}

describe('a reload of a config with 3,000 aliases on the master', () => {
  let lab: NetnsLab;
  let dir: string;
  let nsA: string;
  let nsB: string;

  const ctl = (ns: string, node: string, args: string[]) =>
    lab.runNode(ns, IPVSCTL, ['--socket', join(dir, `${node}.sock`), ...args], { timeoutMs: 60_000 });

  const instance = async (ns: string, node: string) =>
    (await ipvsctlStatus(lab, ns, join(dir, `${node}.sock`), { timeoutMs: 60_000 })).vrrp.instances[0];

  beforeAll(async () => {
    lab = createNetnsLab();
    dir = await lab.tempDir('ipvsd-reload-');
    [nsA, nsB] = await namespacePair(lab, 'reload', 'rel0', A4, B4);
    await writeFile(join(dir, 'a.yaml'), config(dir, 'a', 200, false));
    await writeFile(join(dir, 'b.yaml'), config(dir, 'b', 100, false));
    const a = lab.spawn(nsA, process.execPath, [IPVSD, '--config', join(dir, 'a.yaml')]);
    const b = lab.spawn(nsB, process.execPath, [IPVSD, '--config', join(dir, 'b.yaml')]);
    await a.waitForOutput('ipvsd started', 60_000);
    await b.waitForOutput('ipvsd started', 60_000);
  }, 120_000);

  afterAll(() => lab?.cleanup());

  it('keeps the adverts on time and moves nothing', async () => {
    await waitFor(
      'a MASTER, b BACKUP',
      async () =>
        (await instance(nsA, 'a'))?.state === 'MASTER' && (await instance(nsB, 'b'))?.state === 'BACKUP',
      { timeoutMs: 30_000 },
    );
    const before = [await instance(nsA, 'a'), await instance(nsB, 'b')];

    // The file `check` passes, and the daemon's reload takes.
    await writeFile(join(dir, 'a.yaml'), config(dir, 'a', 200, true));
    const check = await ctl(nsA, 'a', ['check', join(dir, 'a.yaml')]);
    expect(check.code, check.stdout + check.stderr).toBe(0);

    const tcpdump = captureAdverts(lab, nsB, 'rel0');
    await sleep(1000);
    const started = Date.now() / 1000;
    const reload = await ctl(nsA, 'a', ['reload']);
    // Adverts on both sides of the reload.
    await sleep(1000);
    const ended = Date.now() / 1000;
    await tcpdump.stop();
    expect(reload.code, reload.stdout + reload.stderr).toBe(0);

    const times = tcpdump.times(A4, started, ended);
    expect(times.length).toBeGreaterThan(4);
    const maxGapMs = Math.max(...gapsMs(times));
    console.log(
      JSON.stringify({
        reloadSpanS: Math.round((ended - started) * 10) / 10,
        adverts: times.length,
        maxGapMs,
      }),
    );

    const after = [await instance(nsA, 'a'), await instance(nsB, 'b')];
    expect(after[0]?.state).toBe('MASTER');
    expect(after[1]?.state).toBe('BACKUP');
    expect(after[0]?.transitions).toBe(before[0]?.transitions);
    expect(after[1]?.transitions).toBe(before[1]?.transitions);
    // b's master-down interval is 3 × 200 ms plus its skew (≈ 120 ms).
    expect(maxGapMs).toBeLessThan(ADVERT_MS * 3);
  }, 120_000);
});
