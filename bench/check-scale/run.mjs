#!/usr/bin/env node
/**
 * Check-scale benchmark: ipvsd's health checks and HAProxy's, side by side in the same run, against
 * the same real servers on loopback, interval 1 s. Phase 1 runs both checkers at once over the same
 * targets (default 5,000 TCP + 1,000 HTTP GET /health) and, over a fixed window after a warmup,
 * compares CPU seconds per 1,000 checks actually performed; it also reports the event-loop delay of
 * ipvsd's parent process and the memory of both. Phase 2 runs ipvsd alone with 10,000 real servers,
 * scraping its metrics endpoint, and reports its memory (bound: PSS < 200 MiB): at 1 s as asked, in
 * monitor-only mode, and at 2 s.
 *
 * ipvsd is a process tree, as the daemon is (`ipvsd` + `ipvsd: checks` + `ipvsd: vrrp`; see
 * ipvsd-checker.mjs): its CPU is utime+stime from /proc/PID/stat (all threads) summed over the
 * harness process and every descendant, and its memory is the proportional set size summed over
 * them (`Pss:` of /proc/PID/smaps_rollup: pages shared between the three node processes counted
 * once in all, unlike a sum of RSS). HAProxy is measured the same way (one process here).
 *
 * Who does what (all children of this process, all ended by it):
 *   servers.mjs        the real servers: one listening socket per real server address (127.1.x.y and
 *                      127.2.x.y, port 8080); counts accepted connections per source address.
 *   ipvsd-checker.mjs  ipvsd's parent (director + metrics + remote monitor, in-memory IPVS backend) and
 *                      its forked `ipvsd: checks` and `ipvsd: vrrp` children (this host has no IPVS, so
 *                      `ipvsd --config` cannot run here; see that file).
 *   haproxy            Debian's haproxy, `check inter 1s`, `option httpchk GET /health`, no frontend,
 *                      checks from source 127.0.0.3 so the servers can tell its checks apart.
 *
 * Checks counted: ipvsd's through its onResult listener (and cross-checked at the servers); HAProxy's
 * HTTP checks at the servers (connections from 127.0.0.3) and its TCP checks from the kernel's TCP
 * counters (they never reach accept(), see compare()), because `show stat` has no count of checks run.
 * Timing lives here and in the JSON only: nothing in the test suites depends on it (DESIGN §4).
 *
 * Usage: node bench/check-scale/run.mjs [--tcp 5000] [--http 1000] [--warmup 10] [--window 60]
 *        [--rss-servers 10000] [--rss-warmup 10] [--rss-window 20] [--rss-runs daemon:1,monitor:1,daemon:2]
 *        [--rss-scrape 10] (daemon runs: a gzip scrape of the metrics endpoint every N s of the RSS
 *        window, as Prometheus would; 0: none)
 *        [--skip-rss] [--skip-compare] [--haproxy-threads 1] [--server-procs 2]
 *        [--ipvsd-mode daemon|monitor] [--ipvsd-bind IP] [--ipvsd-node-args "--max-semi-space-size=4"]
 *        [--cpu-prof] [--out bench/results] [--project DIR]
 * ipvsd's process runs on plain node, as `ipvsd` does; --ipvsd-node-args adds flags for an experiment.
 * --project DIR measures another checkout (built) with this benchmark: its own
 * bench/check-scale/ipvsd-checker.mjs (which wires that tree's dist/ as its daemon did), started
 * with the environment and node flags on the first line of its src/bin/ipvsd.ts when that line is
 * `#!/usr/bin/env -S [NAME=VALUE ...] node [FLAGS]` (as older trees shipped them). Before/after in
 * one method: the same CPU and PSS readings for both.
 * (bench/check-scale.sh raises the fd limit, builds and installs haproxy first; results are JSON in
 * --out, not meant to be committed. bench/check-scale/profile-summary.mjs reads --cpu-prof output.)
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { connect } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import { HAPROXY_SOURCE, haproxyConfig, httpAddr, ipvsdConfig, PORT, range, tcpAddr } from './configs.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

// ---- options ---------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? def : argv[i + 1];
};
const flag = (name) => argv.includes(`--${name}`);
const num = (name, def) => Number(opt(name, def));
const o = {
  tcp: num('tcp', 5000),
  http: num('http', 1000),
  warmupS: num('warmup', 10),
  windowS: num('window', 60),
  rssServers: num('rss-servers', 10000),
  rssWarmupS: num('rss-warmup', 10),
  rssWindowS: num('rss-window', 20),
  rssScrapeS: num('rss-scrape', 10),
  // mode:interval pairs; at 1 s ipvsd may not keep up with 10,000 checks/s, so a 2 s run shows the
  // memory of a daemon that does.
  rssRuns: opt('rss-runs', 'daemon:1,monitor:1,daemon:2')
    .split(',')
    .map((r) => ({ mode: r.split(':')[0], intervalS: Number(r.split(':')[1] ?? 1) })),
  skipRss: flag('skip-rss'),
  skipCompare: flag('skip-compare'),
  haproxyThreads: num('haproxy-threads', 1),
  serverProcs: num('server-procs', 2),
  ipvsdMode: opt('ipvsd-mode', 'daemon'),
  ipvsdBind: opt('ipvsd-bind', null),
  cpuProf: flag('cpu-prof'),
  // ipvsd ships with none: node/V8 flags for what-if runs only.
  ipvsdNodeArgs: (opt('ipvsd-node-args', '') ?? '').split(' ').filter(Boolean),
  out: resolve(opt('out', join(root, 'bench/results'))),
  project: resolve(opt('project', root)),
};
// The checker of the measured tree, and how that tree's ipvsd starts node: from the launcher's
// first line (older trees), else from the systemd unit's Environment= and ExecStart= (where the
// node flags and malloc settings live now), so the daemon is measured as it is deployed.
const checkerScript = join(o.project, 'bench/check-scale/ipvsd-checker.mjs');
const shipped = (() => {
  const first = readFileSync(join(o.project, 'src/bin/ipvsd.ts'), 'utf8').split('\n', 1)[0];
  const m = /^#!\/usr\/bin\/env -S((?: [A-Z_][A-Z0-9_]*=\S*)*) node((?: --\S+)*)\s*$/.exec(first);
  if (!m) {
    let unit = '';
    try {
      unit = readFileSync(join(o.project, 'systemd/ipvsd.service'), 'utf8');
    } catch {
      return { env: {}, flags: [] };
    }
    const env = {};
    for (const [, list] of unit.matchAll(/^Environment=(.*)$/gm))
      for (const kv of list.split(' ').filter(Boolean))
        env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
    const exec = /^ExecStart=\S*node((?: --\S+)*) /m.exec(unit);
    return { env, flags: (exec?.[1] ?? '').split(' ').filter(Boolean) };
  }
  const env = Object.fromEntries(
    m[1]
      .split(' ')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  return { env, flags: m[2].split(' ').filter(Boolean) };
})();
o.ipvsdNodeArgs = [...shipped.flags, ...o.ipvsdNodeArgs];
o.ipvsdEnv = shipped.env;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const MiB = 1024 * 1024;

const work = mkdtempSync(join(tmpdir(), 'ipvsd-check-scale-'));
const children = new Set();
const t0 = Date.now();
const log = (...a) =>
  process.stderr.write(`[check-scale +${((Date.now() - t0) / 1000).toFixed(1)}s] ${a.join(' ')}\n`);

// ---- /proc readers ---------------------------------------------------------------------------
/** [user, system] CPU seconds of a process (all its threads), from /proc/PID/stat. */
function procCpu(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 14 and 15 (1-based) are utime, stime; f[0] is field 3.
  return [Number(f[11]) / CLK_TCK, Number(f[12]) / CLK_TCK];
}
const procCpuS = (pid) => procCpu(pid).reduce((a, b) => a + b, 0);

/** pid and every descendant of it (from the ppid field of /proc/N/stat). */
function treePids(root) {
  const parent = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {} // gone since readdir
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, pp] of parent) if (pp === out[i]) out.push(pid);
  return out;
}
/** What a process calls itself in ps (its process title: `ipvsd: checks`), else its command line. */
function procName(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 60);
  } catch {
    return '?';
  }
}
/**
 * CPU of a process tree: `{ user, sys, byPid: { pid: [user, sys] } }`. A process that exits between
 * two readings takes its CPU with it; run.mjs reports the children's restarts, which should be 0.
 */
function treeCpu(root) {
  const byPid = {};
  let user = 0;
  let sys = 0;
  for (const pid of treePids(root)) {
    try {
      const [u, s] = procCpu(pid);
      byPid[pid] = [u, s];
      user += u;
      sys += s;
    } catch {}
  }
  return { user, sys, byPid };
}
/** Seconds the tree's processes spent runnable but waiting for a CPU. */
const treeRunqueueWaitS = (root) =>
  treePids(root).reduce((a, pid) => {
    try {
      return a + procRunqueueWaitS(pid);
    } catch {
      return a;
    }
  }, 0);
/** Proportional set size of a process, KiB (smaps_rollup: one read for the whole address space). */
function procPssKiB(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
/** Per process of the tree: `{ total, rssTotal, byProcess: [{ pid, name, pssMiB, rssMiB }] }` (KiB totals). */
function treeMemory(root) {
  const byProcess = [];
  let total = 0;
  let rssTotal = 0;
  for (const pid of treePids(root)) {
    const pss = procPssKiB(pid);
    let rss = 0;
    try {
      rss = procStatusKiB(pid, 'VmRSS') ?? 0;
    } catch {}
    total += pss;
    rssTotal += rss;
    byProcess.push({ pid, name: procName(pid), pssMiB: r3(pss / 1024), rssMiB: r3(rss / 1024) });
  }
  return { total, rssTotal, byProcess };
}
/** Seconds the process spent runnable but waiting for a CPU (other load on the machine). */
function procRunqueueWaitS(pid) {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
}
function procStatusKiB(pid, key) {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : null;
}
/** Per-netns TCP MIB counters (Tcp: ActiveOpens, PassiveOpens, ...). */
function tcpMib() {
  const lines = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Tcp:'));
  const keys = lines[0].split(/\s+/).slice(1);
  const vals = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(keys.map((k, i) => [k, vals[i]]));
}
function systemCpu() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = line[3] + line[4];
  return { total: line.reduce((a, b) => a + b, 0), idle };
}

// ---- children ----------------------------------------------------------------------------------
function spawnNode(script, args, nodeArgs = [], env = {}) {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const waiters = [];
  child.on('message', (m) => {
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(m);
  });
  const died = new Promise((_, reject) =>
    child.once('exit', (code, sig) => reject(new Error(`${script} exited (${code ?? sig})`))),
  );
  died.catch(() => {});
  child.ask = (msg, type, timeoutMs = 120000) => {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${script}: no ${type} reply in ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    const reply = new Promise((res) => {
      waiters.push({ type, resolve: res });
      if (msg !== null) child.send(msg);
    });
    return Promise.race([reply, died, timeout]).finally(() => clearTimeout(timer));
  };
  return child;
}

async function stopChild(child, msg = 'stop', graceMs = 20000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((res) => child.once('exit', res));
  if (msg && child.connected) child.send(msg);
  else child.kill('SIGTERM');
  const grace = new AbortController();
  const inTime = await Promise.race([
    exited.then(() => true),
    sleep(graceMs, false, { signal: grace.signal }).catch(() => true),
  ]);
  grace.abort();
  if (!inTime) {
    child.kill('SIGKILL');
    await exited;
  }
}

async function cleanup() {
  for (const c of [...children]) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
  rmSync(work, { recursive: true, force: true });
}
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));
process.on('SIGTERM', () => cleanup().then(() => process.exit(143)));

function haproxyCommand(sock, text) {
  return new Promise((res, rej) => {
    const s = connect(sock);
    let out = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.end(`${text}\n`));
    s.on('data', (d) => {
      out += d;
    });
    s.on('end', () => res(out));
    s.on('error', rej);
  });
}

async function haproxyServerStates(sock) {
  const csv = await haproxyCommand(sock, 'show stat');
  const [header, ...rows] = csv.trim().split('\n');
  const cols = header.replace(/^# /, '').split(',');
  const at = (name) => cols.indexOf(name);
  const states = {};
  const checkStatus = {};
  for (const row of rows) {
    const f = row.split(',');
    const sv = f[at('svname')];
    if (sv === 'FRONTEND' || sv === 'BACKEND') continue;
    states[f[at('status')]] = (states[f[at('status')]] ?? 0) + 1;
    checkStatus[f[at('check_status')]] = (checkStatus[f[at('check_status')]] ?? 0) + 1;
  }
  return { states, checkStatus };
}

// ---- phases --------------------------------------------------------------------------------------
async function startServers(tcp, http) {
  const procs = [];
  for (let p = 0; p < o.serverProcs; p++) {
    const spec = {
      port: PORT,
      tcp: range(tcp, tcpAddr).filter((_, i) => i % o.serverProcs === p),
      http: range(http, httpAddr).filter((_, i) => i % o.serverProcs === p),
    };
    const file = join(work, `servers-${p}.json`);
    writeFileSync(file, JSON.stringify(spec));
    const child = spawnNode(join(here, 'servers.mjs'), [file]);
    procs.push(child);
  }
  await Promise.all(procs.map((c) => c.ask(null, 'ready', 60000)));
  return procs;
}

async function serverCounts(servers) {
  const sum = { tcp: {}, http: {} };
  for (const s of servers) {
    const { counts } = await s.ask('counts', 'counts');
    for (const kind of ['tcp', 'http'])
      for (const [src, n] of Object.entries(counts[kind])) sum[kind][src] = (sum[kind][src] ?? 0) + n;
  }
  return sum;
}
const fromHaproxy = (c, kind) => c[kind][HAPROXY_SOURCE] ?? 0;
const notHaproxy = (c, kind) =>
  Object.entries(c[kind]).reduce((a, [src, n]) => (src === HAPROXY_SOURCE ? a : a + n), 0);

function startIpvsd(tcp, http, tag, mode, intervalS = 1, extraNodeArgs = []) {
  const file = join(work, `ipvsd-${tag}.yaml`);
  writeFileSync(file, ipvsdConfig(tcp, http, { bindIp: o.ipvsdBind, intervalS }));
  const nodeArgs = [...o.ipvsdNodeArgs, ...extraNodeArgs];
  if (o.cpuProf)
    nodeArgs.push(
      '--cpu-prof',
      '--cpu-prof-dir',
      join(o.out, 'profiles'),
      '--cpu-prof-name',
      `ipvsd-${tag}-${stamp}.cpuprofile`,
    );
  return spawnNode(
    checkerScript,
    [file, '--mode', mode, '--log', join(work, `ipvsd-${tag}.log`)],
    nodeArgs,
    o.ipvsdEnv,
  );
}

async function startHaproxy(tcp, http) {
  const sock = join(work, 'haproxy.sock');
  const cfg = join(work, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(tcp, http, { statsSocket: sock, threads: o.haproxyThreads }));
  execFileSync('haproxy', ['-c', '-q', '-f', cfg], { stdio: 'inherit' });
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`haproxy exited (${child.exitCode})`);
    try {
      await haproxyCommand(sock, 'show info');
      return { child, sock };
    } catch {
      await sleep(100);
    }
  }
  throw new Error('haproxy did not open its stats socket');
}

function stamp_() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}
const stamp = stamp_();

/**
 * Samples the memory of the given process trees until `ms` passed: the peak of the summed RSS every
 * 0.2 s (a peak that lasts a GC cycle, the periodic IPVS resync's, must not fall between samples)
 * and of the summed PSS every second (smaps_rollup walks the page tables: dearer to read). KiB.
 */
async function watchMemory(roots, ms) {
  const rssMax = Object.fromEntries(Object.keys(roots).map((k) => [k, 0]));
  const pssMax = { ...rssMax };
  const end = Date.now() + ms;
  let nextPss = 0;
  while (Date.now() < end) {
    const pss = Date.now() >= nextPss;
    if (pss) nextPss = Date.now() + 1000;
    for (const [k, root] of Object.entries(roots)) {
      const pids = treePids(root);
      let rss = 0;
      for (const pid of pids)
        try {
          rss += procStatusKiB(pid, 'VmRSS') ?? 0;
        } catch {}
      rssMax[k] = Math.max(rssMax[k], rss);
      if (pss)
        pssMax[k] = Math.max(
          pssMax[k],
          pids.reduce((a, pid) => a + procPssKiB(pid), 0),
        );
    }
    await sleep(Math.min(200, Math.max(0, end - Date.now())));
  }
  return { rssMax, pssMax };
}

const r3 = (x) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 1000) / 1000);

async function compare(servers) {
  log(`phase 1: ipvsd (${o.ipvsdMode}) and haproxy checking ${o.tcp} tcp + ${o.http} http real servers`);
  const ipvsd = startIpvsd(o.tcp, o.http, 'compare', o.ipvsdMode);
  const hap = await startHaproxy(o.tcp, o.http);
  const ready = await ipvsd.ask(null, 'ready', 120000);
  log(`ipvsd ready with ${ready.targets} targets; haproxy pid ${hap.child.pid}; warming up ${o.warmupS} s`);
  await sleep(o.warmupS * 1000);

  // Each checker's count and CPU are read together: HAProxy's with the servers' counts and the
  // kernel's TCP counters, ipvsd's the moment its sample arrives (its event loop may answer late).
  // If ipvsd does not answer within 15 s (a stalled event loop), its checks are counted at the
  // servers instead and the run says so.
  const snap = async () => {
    const hapSide = {
      t: performance.now(),
      cpu: procCpu(hap.child.pid),
      wait: procRunqueueWaitS(hap.child.pid),
      servers: await serverCounts(servers),
      mib: tcpMib(),
      sys: systemCpu(),
      serverCpu: servers.map((s) => procCpuS(s.pid)),
    };
    const sample = await ipvsd.ask('sample', 'sample', 15000).catch(() => null);
    return {
      ...hapSide,
      ipvsd: sample,
      ipvsdT: performance.now(),
      ipvsdCpu: treeCpu(ipvsd.pid),
      ipvsdWait: treeRunqueueWaitS(ipvsd.pid),
      ipvsdServers: sample ? null : await serverCounts(servers),
    };
  };
  ipvsd.send('reset');
  const a = await snap();
  log(`measuring for ${o.windowS} s`);
  const { rssMax, pssMax } = await watchMemory(
    { ipvsd: ipvsd.pid, haproxy: hap.child.pid },
    o.windowS * 1000,
  );
  const b = await snap();
  const procNames = Object.fromEntries(treePids(ipvsd.pid).map((pid) => [pid, procName(pid)]));
  const states = await haproxyServerStates(hap.sock);
  const mem = { ipvsd: treeMemory(ipvsd.pid), haproxy: treeMemory(hap.child.pid) };
  const scrape = await scrapeMetrics(ipvsd);
  await stopChild(ipvsd);
  await stopChild(hap.child, null);

  const secs = (b.t - a.t) / 1000;
  const ipvsdSecs = (b.ipvsdT - a.ipvsdT) / 1000;
  const d = (kind, f) => f(b.servers, kind) - f(a.servers, kind);
  const stalled = a.ipvsd === null || b.ipvsd === null;
  const ipvsdAtServers = (kind) =>
    notHaproxy(b.ipvsdServers ?? b.servers, kind) - notHaproxy(a.ipvsdServers ?? a.servers, kind);
  const ipvsdChecks = stalled
    ? ipvsdAtServers('tcp') + ipvsdAtServers('http')
    : b.ipvsd.ok + b.ipvsd.fail - (a.ipvsd.ok + a.ipvsd.fail);
  const ipvsdFails = stalled ? null : b.ipvsd.fail - a.ipvsd.fail;
  // TCP checks of both checkers mostly never reach accept(): each answers the SYN-ACK with a RST (the
  // handshake's last ACK is held back with TCP_QUICKACK off), so the servers cannot count them. The
  // kernel can: every connect() is an ActiveOpen, every handshake that completes at a listener a
  // PassiveOpen, so ActiveOpens - PassiveOpens counts connects that never completed: the TCP checks
  // of both (plus failed connects, which the run reports and should be none). ipvsd counts its own
  // TCP checks; those the servers did not see are its share. Cross-check: ActiveOpens minus
  // ipvsd's probes minus HAProxy's HTTP checks.
  const dMib = (k) => b.mib[k] - a.mib[k];
  const hapHttp = d('http', fromHaproxy);
  const hapTcpSeen = d('tcp', fromHaproxy);
  const ipvsdTcpUnseen = stalled
    ? 0
    : Math.max(0, b.ipvsd.tcpResults - a.ipvsd.tcpResults - d('tcp', notHaproxy));
  const hapTcp = hapTcpSeen + dMib('ActiveOpens') - dMib('PassiveOpens') - ipvsdTcpUnseen;
  const hapChecks = hapTcp + hapHttp;
  const hapTcpCrossCheck = dMib('ActiveOpens') - ipvsdChecks - hapHttp;
  const userIpvsd = b.ipvsdCpu.user - a.ipvsdCpu.user;
  const sysIpvsd = b.ipvsdCpu.sys - a.ipvsdCpu.sys;
  // Per process of the tree (processes present at both readings), named as ps shows them.
  const cpuByProcess = Object.keys(b.ipvsdCpu.byPid)
    .filter((pid) => a.ipvsdCpu.byPid[pid])
    .map((pid) => ({
      pid: Number(pid),
      name: procNames[pid] ?? '?',
      cpuS: r3(
        b.ipvsdCpu.byPid[pid][0] +
          b.ipvsdCpu.byPid[pid][1] -
          a.ipvsdCpu.byPid[pid][0] -
          a.ipvsdCpu.byPid[pid][1],
      ),
    }));
  const [userHap, sysHap] = [0, 1].map((i) => b.cpu[i] - a.cpu[i]);
  const cpuIpvsd = userIpvsd + sysIpvsd;
  const cpuHap = userHap + sysHap;
  const per1k = (cpu, n) => (n > 0 ? (cpu / n) * 1000 : null);
  const sysBusy = 1 - (b.sys.idle - a.sys.idle) / (b.sys.total - a.sys.total);
  const ipvsdPer1k = per1k(cpuIpvsd, ipvsdChecks);
  const hapPer1k = per1k(cpuHap, hapChecks);
  return {
    windowS: r3(secs),
    targets: { tcp: o.tcp, http: o.http },
    ipvsd: {
      mode: o.ipvsdMode,
      processes: cpuByProcess.length,
      cpuByProcess,
      childRestarts: b.ipvsd?.processes?.reduce((n, p) => n + p.restarts, 0) ?? null,
      windowS: r3(ipvsdSecs),
      eventLoopStalledOver15s: stalled,
      countedBy: stalled ? 'servers (ipvsd did not answer)' : 'onResult',
      checks: ipvsdChecks,
      failed: ipvsdFails,
      healthTransitions: stalled ? null : b.ipvsd.transitions - a.ipvsd.transitions,
      failReasons: b.ipvsd?.failReasons ?? null,
      checksPerS: r3(ipvsdChecks / ipvsdSecs),
      atServers: { tcp: d('tcp', notHaproxy), http: d('http', notHaproxy) },
      meanLatencyMs: stalled
        ? null
        : r3((b.ipvsd.latencyMsSum - a.ipvsd.latencyMsSum) / Math.max(1, ipvsdChecks)),
      cpuS: r3(cpuIpvsd),
      userS: r3(userIpvsd),
      sysS: r3(sysIpvsd),
      cpuPct: r3((cpuIpvsd / ipvsdSecs) * 100),
      userSPer1kChecks: r3(per1k(userIpvsd, ipvsdChecks)),
      sysSPer1kChecks: r3(per1k(sysIpvsd, ipvsdChecks)),
      runqueueWaitPct: r3(((b.ipvsdWait - a.ipvsdWait) / ipvsdSecs) * 100),
      cpuSPer1kChecks: r3(ipvsdPer1k),
      eventLoopDelayMs: b.ipvsd
        ? Object.fromEntries(Object.entries(b.ipvsd.eld).map(([k, v]) => [k, r3(v)]))
        : { p50Ms: null, p99Ms: null, maxMs: null, meanMs: null },
      pssMiB: r3(mem.ipvsd.total / 1024),
      pssMaxMiB: r3(Math.max(pssMax.ipvsd, mem.ipvsd.total) / 1024),
      rssMiB: r3(mem.ipvsd.rssTotal / 1024),
      rssMaxMiB: r3(rssMax.ipvsd / 1024),
      memoryByProcess: mem.ipvsd.byProcess,
      heapUsedMiB: b.ipvsd ? r3(b.ipvsd.memory.heapUsed / MiB) : null,
      heapTotalMiB: b.ipvsd ? r3(b.ipvsd.memory.heapTotal / MiB) : null,
      heapSpacesMiB: b.ipvsd?.heapSpacesMiB ?? null,
      metricsScrape: { ms: r3(scrape?.ms), bytes: scrape?.bytes ?? null },
    },
    haproxy: {
      version: execFileSync('haproxy', ['-v']).toString().split('\n')[0],
      threads: o.haproxyThreads,
      checks: hapChecks,
      counted: {
        tcpFromTcpMib: hapTcp,
        tcpCrossCheck: hapTcpCrossCheck,
        tcpAcceptedAtServers: hapTcpSeen,
        httpAtServers: hapHttp,
      },
      checksPerS: r3(hapChecks / secs),
      serverStates: states.states,
      checkStatus: states.checkStatus,
      cpuS: r3(cpuHap),
      userS: r3(userHap),
      sysS: r3(sysHap),
      cpuPct: r3((cpuHap / secs) * 100),
      userSPer1kChecks: r3(per1k(userHap, hapChecks)),
      sysSPer1kChecks: r3(per1k(sysHap, hapChecks)),
      runqueueWaitPct: r3(((b.wait - a.wait) / secs) * 100),
      cpuSPer1kChecks: r3(hapPer1k),
      pssMiB: r3(mem.haproxy.total / 1024),
      pssMaxMiB: r3(Math.max(pssMax.haproxy, mem.haproxy.total) / 1024),
      rssMiB: r3(mem.haproxy.rssTotal / 1024),
      rssMaxMiB: r3(rssMax.haproxy / 1024),
    },
    ratioCpuPerCheck: ipvsdPer1k !== null && hapPer1k ? r3(ipvsdPer1k / hapPer1k) : null,
    tcpMib: Object.fromEntries(
      ['ActiveOpens', 'PassiveOpens', 'AttemptFails', 'EstabResets', 'RetransSegs'].map((k) => [k, dMib(k)]),
    ),
    servers: { cpuS: b.serverCpu.map((c, i) => r3(c - a.serverCpu[i])) },
    machine: {
      cpus: cpus().length,
      busyPct: r3(sysBusy * 100),
      loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    },
  };
}

/**
 * One scrape of ipvsd's metrics endpoint from this process, as Prometheus does it (gzip): `{ ms,
 * bytes }` (bytes of text, uncompressed), or null (no metrics in monitor mode, or a failure).
 */
async function scrapeMetrics(ipvsd) {
  const reply = await ipvsd.ask('metrics-port', 'metrics-port', 60000).catch(() => null);
  if (!reply?.port) return null;
  const t0 = performance.now();
  const bytes = await new Promise((resolve) => {
    const req = httpGet(
      { host: '127.0.0.1', port: reply.port, path: '/metrics', headers: { 'accept-encoding': 'gzip' } },
      (res) => {
        let n = 0;
        const text = res.pipe(createGunzip());
        text.on('data', (chunk) => {
          n += chunk.length;
        });
        text.on('end', () => resolve(n));
        text.on('error', () => resolve(null));
      },
    );
    req.on('error', () => resolve(null));
  });
  return bytes === null ? null : { ms: performance.now() - t0, bytes };
}

async function rssRun({ mode, intervalS }) {
  const n = o.rssServers;
  const tcp = Math.round((n * o.tcp) / (o.tcp + o.http));
  const http = n - tcp;
  log(
    `phase 2 (${mode}, every ${intervalS} s): ipvsd alone with ${tcp} tcp + ${http} http = ${n} real servers`,
  );
  // --expose-gc only lets the sample after the window force a full GC to show the live heap.
  const ipvsd = startIpvsd(tcp, http, `rss-${mode}-${intervalS}s`, mode, intervalS, ['--expose-gc']);
  const ready = await ipvsd.ask(null, 'ready', 120000);
  await sleep(o.rssWarmupS * 1000);
  ipvsd.send('reset');
  const sample = async () => {
    const s = await ipvsd.ask('sample', 'sample', 15000).catch(() => null);
    const cpu = treeCpu(ipvsd.pid);
    return { t: performance.now(), cpu: cpu.user + cpu.sys, s };
  };
  const a = await sample();
  // A daemon is scraped in real life: the RSS window includes Prometheus-like scrapes.
  const scrapes = [];
  let scraping = mode === 'daemon' && o.rssScrapeS > 0;
  const scraper = (async () => {
    while (scraping) {
      const r = await scrapeMetrics(ipvsd);
      if (r) scrapes.push({ ms: r3(r.ms), bytes: r.bytes });
      if (scraping) await sleep(o.rssScrapeS * 1000);
    }
  })();
  const { rssMax, pssMax } = await watchMemory({ ipvsd: ipvsd.pid }, o.rssWindowS * 1000);
  scraping = false;
  const b = await sample();
  const mem = treeMemory(ipvsd.pid);
  const ok = a.s !== null && b.s !== null;
  const checks = ok ? b.s.ok + b.s.fail - a.s.ok - a.s.fail : null;
  const result = {
    mode,
    intervalS,
    realServers: n,
    targets: ready.targets,
    eventLoopStalledOver15s: !ok,
    checksPerS: ok ? r3(checks / ((b.t - a.t) / 1000)) : null,
    failed: ok ? b.s.fail - a.s.fail : null,
    healthTransitions: ok ? b.s.transitions - a.s.transitions : null,
    cpuSPer1kChecks: ok ? r3(((b.cpu - a.cpu) / Math.max(1, checks)) * 1000) : null,
    eventLoopDelayMs: ok
      ? Object.fromEntries(Object.entries(b.s.eld).map(([k, v]) => [k, r3(v)]))
      : { p50Ms: null, p99Ms: null, maxMs: null, meanMs: null },
    processes: mem.byProcess.length,
    childRestarts: ok ? (b.s.processes?.reduce((n, p) => n + p.restarts, 0) ?? null) : null,
    pssMiB: r3(mem.total / 1024),
    pssMaxMiB: r3(Math.max(pssMax.ipvsd, mem.total) / 1024),
    rssMiB: r3(mem.rssTotal / 1024),
    rssMaxMiB: r3(rssMax.ipvsd / 1024),
    memoryByProcess: mem.byProcess,
    heapUsedMiB: ok ? r3(b.s.memory.heapUsed / MiB) : null,
    heapTotalMiB: ok ? r3(b.s.memory.heapTotal / MiB) : null,
    heapSpacesMiB: ok ? b.s.heapSpacesMiB : null,
    externalMiB: ok ? r3(b.s.memory.external / MiB) : null,
    scrapes,
  };
  if (ok) {
    const g = await ipvsd.ask('gc', 'gc', 15000).catch(() => null);
    if (g?.collected) {
      result.liveHeapAfterGcMiB = r3(g.memory.heapUsed / MiB);
      result.pssAfterParentGcMiB = r3(treeMemory(ipvsd.pid).total / 1024);
    }
  }
  await scraper;
  await stopChild(ipvsd);
  return result;
}

// ---- report --------------------------------------------------------------------------------------
function printTable(res) {
  const out = [];
  const c = res.compare;
  const fmt = (x, d = 3) => (x === null || x === undefined ? '-' : Number(x).toFixed(d));
  out.push(
    `ipvsd measured: ${res.options.project} (${res.commit}); node flags ${res.options.ipvsdNodeArgs.join(' ') || '(none)'}; ` +
      `environment ${
        Object.entries(res.options.ipvsdEnv)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ') || '(none added)'
      }`,
  );
  if (c) {
    out.push('');
    out.push(
      `Check scale: ${c.targets.tcp} TCP + ${c.targets.http} HTTP real servers on loopback, interval 1 s, ` +
        `window ${fmt(c.windowS, 1)} s, ${c.machine.cpus} CPUs (machine ${fmt(c.machine.busyPct, 0)}% busy, ` +
        `load ${c.machine.loadavg ?? '-'})`,
    );
    const rows = [
      [
        '',
        'ipvsd',
        `HAProxy ${c.haproxy.version.replace(/^HAProxy version (\S+).*/, '$1')}`,
        'ipvsd/HAProxy',
      ],
      ['checks/s', fmt(c.ipvsd.checksPerS, 0), fmt(c.haproxy.checksPerS, 0), ''],
      [
        'failed checks / health changes',
        `${c.ipvsd.failed} / ${c.ipvsd.healthTransitions}`,
        `${Object.entries(c.haproxy.serverStates)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ')}`,
        '',
      ],
      ['CPU % of one core', fmt(c.ipvsd.cpuPct, 1), fmt(c.haproxy.cpuPct, 1), ''],
      [
        'CPU s per 1,000 checks',
        fmt(c.ipvsd.cpuSPer1kChecks, 4),
        fmt(c.haproxy.cpuSPer1kChecks, 4),
        `${fmt(c.ratioCpuPerCheck, 2)} (bounds: TCP-only <= 1.0, mixed <= 1.2)`,
      ],
      [
        '  user / sys s per 1,000',
        `${fmt(c.ipvsd.userSPer1kChecks, 4)} / ${fmt(c.ipvsd.sysSPer1kChecks, 4)}`,
        `${fmt(c.haproxy.userSPer1kChecks, 4)} / ${fmt(c.haproxy.sysSPer1kChecks, 4)}`,
        '',
      ],
      [
        'waiting for a CPU, % of window',
        fmt(c.ipvsd.runqueueWaitPct, 1),
        fmt(c.haproxy.runqueueWaitPct, 1),
        '',
      ],
      ['processes', `${c.ipvsd.processes} (${c.ipvsd.childRestarts ?? '-'} restarts)`, '1', ''],
      [
        'PSS MiB, all processes (end / max)',
        `${fmt(c.ipvsd.pssMiB, 1)} / ${fmt(c.ipvsd.pssMaxMiB, 1)}`,
        `${fmt(c.haproxy.pssMiB, 1)} / ${fmt(c.haproxy.pssMaxMiB, 1)}`,
        '',
      ],
      [
        'RSS MiB, summed (end / max)',
        `${fmt(c.ipvsd.rssMiB, 1)} / ${fmt(c.ipvsd.rssMaxMiB, 1)}`,
        `${fmt(c.haproxy.rssMiB, 1)} / ${fmt(c.haproxy.rssMaxMiB, 1)}`,
        '',
      ],
      [
        'parent event-loop delay p50/p99/max ms',
        `${fmt(c.ipvsd.eventLoopDelayMs.p50Ms, 1)} / ${fmt(c.ipvsd.eventLoopDelayMs.p99Ms, 1)} / ${fmt(c.ipvsd.eventLoopDelayMs.maxMs, 1)}`,
        'n/a',
        '',
      ],
      ['mean check latency ms', fmt(c.ipvsd.meanLatencyMs, 2), '-', ''],
    ];
    const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) out.push(`  ${r.map((cell, i) => cell.padEnd(w[i])).join('  ')}`.trimEnd());
    out.push(
      `  checks seen at the servers: ipvsd tcp ${c.ipvsd.atServers.tcp} http ${c.ipvsd.atServers.http}; ` +
        `haproxy http ${c.haproxy.counted.httpAtServers}, tcp ${c.haproxy.counted.tcpFromTcpMib} ` +
        `(kernel TCP MIB; cross-check ${c.haproxy.counted.tcpCrossCheck})`,
    );
    if (c.ipvsd.eventLoopStalledOver15s)
      out.push(
        '  ipvsd did not answer within 15 s (event loop stalled): its checks were counted at the servers',
      );
    out.push(
      `  ipvsd CPU s by process: ${c.ipvsd.cpuByProcess.map((p) => `${p.name} ${fmt(p.cpuS, 2)}`).join('; ')}`,
    );
    out.push(
      `  ipvsd metrics scrape after the window: ${fmt(c.ipvsd.metricsScrape.ms, 0)} ms, ${c.ipvsd.metricsScrape.bytes ?? '-'} bytes`,
    );
  }
  for (const r of res.rss ?? []) {
    out.push(
      `ipvsd (${r.mode}, ${r.processes} processes, ${r.childRestarts ?? '-'} restarts) with ${r.realServers} real servers every ${r.intervalS} s: ` +
        `PSS ${fmt(r.pssMiB, 1)} MiB (max ${fmt(r.pssMaxMiB, 1)}; bound < 200), RSS summed ${fmt(r.rssMiB, 1)} (max ${fmt(r.rssMaxMiB, 1)}); ` +
        `by process: ${r.memoryByProcess.map((p) => `${p.name} ${fmt(p.pssMiB, 1)}`).join(', ')}; parent's V8 heap ${fmt(r.heapUsedMiB, 1)} used / ${fmt(r.heapTotalMiB, 1)} MiB, ${fmt(r.checksPerS, 0)} checks/s, ` +
        `${r.failed ?? '-'} failed, ${r.healthTransitions ?? '-'} health changes, ` +
        `${fmt(r.cpuSPer1kChecks, 4)} CPU s/1k checks, loop delay p99 ${fmt(r.eventLoopDelayMs.p99Ms, 1)} ms` +
        (r.scrapes?.length
          ? `; ${r.scrapes.length} metrics scrapes in the window (${r.scrapes.map((x) => `${fmt(x.ms, 0)} ms`).join(', ')}, ${fmt(r.scrapes[0].bytes / 1e6, 1)} MB of text each)`
          : '') +
        (r.liveHeapAfterGcMiB === undefined
          ? ''
          : `; after a full GC of the parent: its live heap ${fmt(r.liveHeapAfterGcMiB, 1)} MiB, PSS of all ${fmt(r.pssAfterParentGcMiB, 1)} MiB`) +
        (r.eventLoopStalledOver15s ? ' (event loop stalled > 15 s)' : ''),
    );
  }
  return out.join('\n');
}

// ---- main ----------------------------------------------------------------------------------------
try {
  mkdirSync(o.out, { recursive: true });
  const nTcp = Math.max(
    o.skipCompare ? 0 : o.tcp,
    o.skipRss ? 0 : Math.round((o.rssServers * o.tcp) / (o.tcp + o.http)),
  );
  const nHttp = Math.max(
    o.skipCompare ? 0 : o.http,
    o.skipRss ? 0 : o.rssServers - Math.round((o.rssServers * o.tcp) / (o.tcp + o.http)),
  );
  log(`starting ${nTcp} tcp + ${nHttp} http servers in ${o.serverProcs} processes`);
  const servers = await startServers(nTcp, nHttp);
  let commit = '?';
  try {
    commit = execFileSync('git', ['-C', o.project, 'rev-parse', '--short', 'HEAD']).toString().trim();
  } catch {}
  const results = { date: new Date().toISOString(), node: process.version, commit, options: o };
  if (!o.skipCompare) results.compare = await compare(servers);
  if (!o.skipRss) {
    results.rss = [];
    for (const run of o.rssRuns) results.rss.push(await rssRun(run));
  }
  for (const s of servers) await stopChild(s);
  const file = join(o.out, `check-scale-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${printTable(results)}\n\nJSON: ${file}\n`);
  if (o.cpuProf) process.stdout.write(`CPU profiles: ${join(o.out, 'profiles')}\n`);
  await cleanup();
} catch (err) {
  process.stderr.write(`check-scale failed: ${err.stack ?? err}\n`);
  await cleanup();
  process.exit(1);
}
