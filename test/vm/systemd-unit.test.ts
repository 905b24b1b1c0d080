/**
 * systemd/ipvsd.service under a real systemd (the host's systemd 252 as PID 1 of a PID namespace
 * inside the VM guest, as in a container): the sandbox lets Node run and write net sysctls but not
 * others, the service holds exactly CAP_NET_ADMIN and CAP_NET_RAW, and Type=notify works end to
 * end through the native sd_notify — READY=1 ends the start job, WATCHDOG=1 keeps it alive past
 * WatchdogSec, RELOADING=1 shows as "reloading" until READY=1 (and `systemctl reload` waits for
 * it), a missed watchdog gets it restarted, STOPPING=1 and exit 0 end it cleanly. The program is a stand-in (test/vm/systemd/fake-ipvsd.mjs)
 * with the unit's other settings untouched. Runs in the VM because systemd as PID 1 needs a kernel
 * whose cgroups it can own.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../support/paths.js';

const OUT = '/run/ipvsd-unit-test';
const UNIT_DIR = '/run/systemd/system';
const FIXTURES = join(PROJECT_ROOT, 'test/vm/systemd');

let consoleLog = '';
let exitCode: number | null = null;

function shown(step: string): Record<string, string> {
  const file = join(OUT, `${step}.txt`);
  if (!existsSync(file)) throw new Error(`no ${step}.txt; systemd's console:\n${consoleLog}`);
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

beforeAll(async () => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  mkdirSync(UNIT_DIR, { recursive: true });
  let unit = readFileSync(join(PROJECT_ROOT, 'systemd/ipvsd.service'), 'utf8').replace(
    /^ExecStart=.*$/m,
    `ExecStart=${process.execPath} ${join(FIXTURES, 'fake-ipvsd.mjs')}`,
  );
  // ProtectHome=yes hides /root and /home: a checkout there (some CI) must stay visible.
  if (/^\/(root|home|run\/user)\//.test(PROJECT_ROOT))
    unit = unit.replace(/^ProtectHome=yes$/m, 'ProtectHome=no');
  writeFileSync(join(UNIT_DIR, 'ipvsd.service'), unit);
  writeFileSync(
    join(UNIT_DIR, 'ipvsd-unit-test.service'),
    `[Unit]\nDefaultDependencies=no\n[Service]\nType=oneshot\nEnvironment=OUT=${OUT}\nExecStart=/bin/bash ${join(FIXTURES, 'driver.sh')}\n`,
  );

  // systemd refuses to be PID 1 without its own cgroup2 mount; `container=` tells it to skip what
  // only a real boot does. --kill-child: if the test dies, systemd dies with it. The guest's root
  // file system is read-only, so /var/lib gets a tmpfs in this mount namespace: StateDirectory=
  // must be able to create /var/lib/ipvsd, as on a real host.
  const child = spawn(
    'unshare',
    [
      '--pid',
      '--fork',
      '--mount',
      '--mount-proc',
      '--kill-child',
      'env',
      '-i',
      'container=ipvsd-unit-test',
      'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
      '/bin/bash',
      '-c',
      'mount -t cgroup2 none /sys/fs/cgroup && mount -t tmpfs -o mode=0755 tmpfs /var/lib && exec /lib/systemd/systemd --unit=ipvsd-unit-test.service --show-status=no --log-level=warning',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout.on('data', (chunk) => {
    consoleLog += String(chunk);
  });
  child.stderr.on('data', (chunk) => {
    consoleLog += String(chunk);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 280_000);
  exitCode = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  clearTimeout(timer);
}, 300_000);

afterAll(() => {
  rmSync(join(UNIT_DIR, 'ipvsd.service'), { force: true });
  rmSync(join(UNIT_DIR, 'ipvsd-unit-test.service'), { force: true });
  rmSync(OUT, { recursive: true, force: true });
});

describe('systemd/ipvsd.service under systemd as PID 1', () => {
  it('ran the whole scenario and systemd exited cleanly', () => {
    expect(existsSync(join(OUT, 'done')), consoleLog).toBe(true);
    expect(exitCode, consoleLog).toBe(0);
  });

  it('starts as Type=notify: READY=1 ends the start job', () => {
    expect(
      readFileSync(join(OUT, 'start.rc'), 'utf8').trim(),
      readFileSync(join(OUT, 'start.log'), 'utf8'),
    ).toBe('0');
    expect(shown('started')).toMatchObject({
      ActiveState: 'active',
      SubState: 'running',
      StatusText: 'fake ipvsd up',
      WatchdogUSec: '10s',
    });
  });

  it('sandboxes the process: two capabilities, seccomp, /proc/sys read-only but for net', () => {
    const probe = JSON.parse(readFileSync(join(OUT, 'probe.json'), 'utf8'));
    // CAP_NET_ADMIN (12) and CAP_NET_RAW (13), nothing else, in every set.
    expect(probe).toMatchObject({
      CapEff: '0000000000003000',
      CapBnd: '0000000000003000',
      CapAmb: '0000000000003000',
      NoNewPrivs: '1',
      Seccomp: '2',
      jit: true,
      readyError: null,
      watchdogIntervalMs: 5000,
    });
    expect(probe.ip_forward).toEqual({ ok: true, value: '1' });
    expect(probe.conf_forwarding.ok).toBe(true);
    expect(probe.vm_sysctl).toMatchObject({ ok: false, code: 'EROFS' });
    expect(probe.etc).toMatchObject({ ok: false, code: 'EROFS' });
    expect(probe.script).toEqual({ ok: true, value: 'script ran' });
    // A script killed at its timeout takes its setsid'ed and double-forked descendants along.
    expect(probe.bounded_child).toEqual({ ok: true, value: { end: 'timeout', survivors: [] } });
    // RuntimeDirectoryMode=0700 and UMask=0077.
    expect(probe.control_socket).toEqual({ ok: true, value: ['700', '700'] });
    // StateDirectory=ipvsd: drains are saved in /var/lib/ipvsd (0700) through the real drain store.
    expect(probe.stateDirectory).toBe('/var/lib/ipvsd');
    expect(probe.drains).toEqual({
      ok: true,
      value: [{ virtual_server: 'web', real_server: '198.51.100.11:8080' }],
    });
    expect(probe.state_mode).toEqual({ ok: true, value: '700' });
  });

  it('stays up past WatchdogSec while it pings', () => {
    expect(shown('watchdog')).toMatchObject({ ActiveState: 'active', NRestarts: '0' });
  });

  it('shows RELOADING=1 as reloading until READY=1, and `systemctl reload` waits for it', () => {
    expect(Number(readFileSync(join(OUT, 'reload-ms.txt'), 'utf8'))).toBeGreaterThanOrEqual(5900);
    expect(shown('reloading')).toMatchObject({ ActiveState: 'reloading', StatusText: 'reloading' });
    expect(shown('reloaded')).toMatchObject({
      ActiveState: 'active',
      StatusText: 'reloaded',
      NRestarts: '0',
    });
  });

  it('is restarted when the pings stop', () => {
    expect(shown('restarted')).toMatchObject({
      ActiveState: 'active',
      StatusText: 'fake ipvsd up',
      NRestarts: '1',
    });
  });

  it('stops cleanly on SIGTERM', () => {
    expect(shown('stopped')).toMatchObject({ ActiveState: 'inactive', Result: 'success' });
  });
});
