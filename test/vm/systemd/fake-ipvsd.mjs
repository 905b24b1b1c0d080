// Stands in for ipvsd under systemd/ipvsd.service (test/vm/systemd-unit.test.ts) until the daemon
// exists: it probes what the sandbox lets it do, writes that to $RUNTIME_DIRECTORY/probe.json, and
// speaks sd_notify through the real src/sys/sd-notify.ts (compiled) and the native addon.
// SIGHUP: RELOADING=1, READY=1 three seconds later. SIGUSR1: stop the watchdog pings.
// SIGTERM: STOPPING=1, exit 0.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { createDrainStore } from '../../../dist/src/director/drain-store.js';
import { runBoundedChild } from '../../../dist/src/sys/child-process.js';
import { createSdNotify } from '../../../dist/src/sys/sd-notify.js';

const runtime = process.env.RUNTIME_DIRECTORY ?? '/run/ipvsd';
const probe = {};
const attempt = (name, fn) => {
  try {
    probe[name] = { ok: true, value: fn() };
  } catch (error) {
    probe[name] = { ok: false, code: error.code, message: error.message };
  }
};

const status = readFileSync('/proc/self/status', 'utf8');
for (const line of status.split('\n')) {
  const [key, value] = line.split(/:\s+/);
  if (/^(Uid|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp)$/.test(key)) probe[key] = value;
}
attempt('ip_forward', () => {
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  return readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
});
attempt('conf_forwarding', () => writeFileSync('/proc/sys/net/ipv4/conf/lo/forwarding', '0'));
attempt('vm_sysctl', () => writeFileSync('/proc/sys/vm/swappiness', '60'));
attempt('etc', () => writeFileSync('/etc/ipvsd-unit-test', 'x'));
attempt('script', () => execFileSync('/bin/sh', ['-c', 'echo script ran']).toString().trim());
// StateDirectory=: the real drain store saves and reads back in $STATE_DIRECTORY although
// ProtectSystem=strict makes the rest of /var read-only.
probe.stateDirectory = process.env.STATE_DIRECTORY ?? null;
try {
  const store = createDrainStore(probe.stateDirectory);
  await store.save([{ virtual_server: 'web', real_server: '198.51.100.11:8080' }]);
  probe.drains = { ok: true, value: await store.load() };
} catch (error) {
  probe.drains = { ok: false, message: error.message };
}
attempt('state_mode', () =>
  execFileSync('stat', ['-c', '%a', probe.stateDirectory ?? '/var/lib/ipvsd'])
    .toString()
    .trim(),
);
// Bounded children under the unit's sandbox (seccomp filter, two capabilities): a script killed
// at its timeout takes along a setsid'ed child and a double-forked daemon (child subreaper and
// the /proc sweep of src/sys/child-process.ts).
try {
  const pidFiles = [`${runtime}/escapee-1.pid`, `${runtime}/escapee-2.pid`];
  const outcome = await runBoundedChild({
    argv: [
      '/bin/sh',
      '-c',
      `setsid sleep 3031 & echo $! > ${pidFiles[0]}; setsid -f sh -c 'echo $$ > ${pidFiles[1]}; exec sleep 3032'; sleep 3033`,
    ],
    timeoutMs: 3000,
  });
  const survivors = pidFiles
    .map((f) => Number(readFileSync(f, 'utf8')))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
        return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
      } catch {
        return false;
      }
    });
  probe.bounded_child = { ok: true, value: { end: outcome.end, survivors } };
} catch (error) {
  probe.bounded_child = { ok: false, message: error.message };
}
let sum = 0;
for (let i = 0; i < 1e6; i++) sum += Math.sqrt(i); // V8 compiles this loop: JIT works
probe.jit = sum > 0;

const notify = createSdNotify();
probe.watchdogIntervalMs = notify.watchdogIntervalMs ?? null;
let stopWatchdog = notify.startWatchdog();

const server = net.createServer().listen(`${runtime}/control.sock`, () => {
  attempt('control_socket', () =>
    execFileSync('stat', ['-c', '%a', runtime, `${runtime}/control.sock`])
      .toString()
      .split('\n')
      .slice(0, 2),
  );
  probe.readyError = notify.ready('fake ipvsd up')?.message ?? null;
  writeFileSync(`${runtime}/probe.json`, JSON.stringify(probe));
});

process.on('SIGHUP', () => {
  notify.reloading('reloading');
  setTimeout(() => notify.ready('reloaded'), 6000);
});
process.on('SIGUSR1', () => {
  stopWatchdog();
  stopWatchdog = () => {};
  notify.status('watchdog stopped');
});
process.on('SIGTERM', () => {
  notify.stopping('stopping');
  server.close();
  setTimeout(() => process.exit(0), 100);
});
