/**
 * `npm run demo`: a NAT director pair doing its job, narrated. Runs where the kernel has IPVS (the
 * VM tier's guest, or a host with ip_vs; demo/run.sh decides) as root.
 *
 * It builds the two-director topology of test/support/nat-pair.ts (client; lb1 and lb2 with a sync group
 * of the client-side and the server-side VIP and kernel connection sync; three real servers answering
 * HTTP), starts ipvsd on both directors with the example configs config/nat-director-pair-{a,b}.yaml,
 * sends a request through the VIP every 50 ms (each on a new connection) and prints a live table
 * every two seconds: requests answered per real server, failed requests, who holds the VIPs. Then:
 *   1. a real server dies: ipvsd takes it out, traffic keeps flowing to the other two;
 *   2. the master director dies (its links go down, ipvsd is killed): the VIPs move to lb2; the gap
 *      is measured from the prober's requests; a long streamed HTTP response opened before survives;
 *   3. both come back: the real server rejoins, lb1 takes the VIPs back (preemption).
 * It ends with a summary and exits 0 when every step did what it should (1 otherwise), and removes
 * everything it made. With --keep it leaves the site running, prints how to poke at it, and serves
 * `npm run demo:exec` (demo/exec.sh) through a request directory until it is interrupted.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ProbeAttempt as Attempt,
  CLIENT_ADDRESS,
  CLIENT_VIP,
  createNatPair,
  type DirectorNode,
  type NatPair,
  PAIR_SERVER,
  PROBER,
  REAL_SERVER_PORT,
  type RealServerHost,
  SERVER_VIP,
  SERVICE_PORT,
  STREAM_CLIENT,
} from '../test/support/nat-pair.js';
import { createNetnsLab, type SpawnedProcess } from '../test/support/netns.js';
import { IPVSCTL } from '../test/support/paths.js';
import { monotonicMs } from '../test/support/wait.js';

const keep = process.argv.includes('--keep');
const PROBE_INTERVAL_MS = 50;
const PROBE_TIMEOUT_MS = 2000;
const TICK_MS = 2000;
const STREAM_CHUNKS = 150; // one line every 200 ms: 30 s, long enough to span the director failover
const STREAM_INTERVAL_MS = 200;
/** The repository root: the demo runs compiled, from dist/demo/. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CONFIGS = ['config/nat-director-pair-a.yaml', 'config/nat-director-pair-b.yaml'] as const;

interface StreamResult {
  readonly ok: boolean;
  readonly server: string | null;
  readonly bytes: number;
  readonly expectedBytes: number;
  readonly maxStallMs: number;
  readonly lastDataAt: number;
  readonly closedAt: number;
  readonly error: string | null;
}

const started = monotonicMs();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const clock = () => `${((monotonicMs() - started) / 1000).toFixed(1).padStart(6)}s`;
const say = (msg: string) => process.stdout.write(`${clock()}  ${msg}\n`);
const heading = (msg: string) => process.stdout.write(`\n${clock()}  == ${msg}\n`);

/** Lines a process prints, as they arrive. */
function collectLines(proc: SpawnedProcess): string[] {
  const lines: string[] = [];
  let partial = '';
  proc.child.stdout?.on('data', (chunk: Buffer | string) => {
    partial += chunk.toString();
    let nl = partial.indexOf('\n');
    while (nl !== -1) {
      lines.push(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
    }
  });
  return lines;
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
) {
  const deadline = monotonicMs() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (monotonicMs() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(100);
  }
}

/** The example config for a director, with paths made private to this run (two daemons share /run). */
function directorConfig(node: DirectorNode, file: string): string {
  const text = readFileSync(resolve(ROOT, file), 'utf8');
  if (!/^\s*control_socket:/m.test(text)) throw new Error(`${file}: expected a director.control_socket line`);
  return text.replace(/^(\s*control_socket:).*$/m, `$1 ${node.controlSocket}`);
}

/**
 * The sync group's state as the director's running ipvsd last logged it ("starting" before its
 * first transition). The log holds earlier runs too: only this process's lines (pino's pid) count.
 */
function groupState(pair: NatPair, node: DirectorNode): string {
  const pid = node.daemon?.pid;
  const lines = pair.logLines(node);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] as { line: string }).line;
    if (!line.includes('"msg":"sync group state changed"') || !line.includes(`"pid":${pid},`)) continue;
    const to = /"to":"([A-Z]+)"/.exec(line)?.[1];
    if (to) return to;
  }
  return 'starting';
}

/** What each director says about itself, for a step that went wrong. */
async function explain(pair: NatPair): Promise<void> {
  for (const node of pair.directors) {
    if (node.daemon === null || node.daemon.exitStatus() !== null) {
      say(`${node.name}: ipvsd is not running`);
      continue;
    }
    const r = await pair.ipvsctl(node, ['status']);
    say(`${node.name}: ipvsctl status (exit ${r.code}):`);
    for (const line of `${r.stdout}${r.stderr}`.trimEnd().split('\n')) say(`    ${line}`);
    for (const { line } of pair
      .logLines(node)
      .filter((l) => /state changed|fault|sync daemon/i.test(l.line))
      .slice(-8))
      say(`    log: ${line.slice(0, 300)}`);
  }
}

/** The live table: requests per real server, failures and VIP holders since the last row. */
function createTable(pair: NatPair, attempts: () => Attempt[]) {
  const names = pair.realServers.map((rs) => rs.name);
  let from = 0;
  const header = () =>
    process.stdout.write(
      `${''.padStart(8)}  ${names.map((n) => n.padStart(5)).join('')}${'failed'.padStart(8)}   ` +
        `${'lb1 (VG1)'.padEnd(12)}${'lb2 (VG1)'.padEnd(12)}\n`,
    );
  const holder = async (node: DirectorNode) => {
    if (node.daemon === null || node.daemon.exitStatus() !== null) return 'down';
    const state = groupState(pair, node);
    const v = await pair.vips(node);
    // The VIPs are the truth the clients see; a MASTER without them (or the reverse) is shown as such.
    if (v.client !== v.server) return `${state}/split`;
    if ((state === 'MASTER') !== v.client) return `${state}${v.client ? '+vip' : '-vip'}`;
    return state;
  };
  const row = async () => {
    const all = attempts();
    const slice = all.slice(from);
    from = all.length;
    const counts = names.map((n) => slice.filter((a) => a.ok && a.rs === n).length);
    const failed = slice.filter((a) => !a.ok).length;
    const [s1, s2] = await Promise.all([holder(pair.lb1), holder(pair.lb2)]);
    process.stdout.write(
      `${clock()}  ${counts.map((c) => String(c).padStart(5)).join('')}${String(failed).padStart(8)}   ` +
        `${s1.padEnd(12)}${s2.padEnd(12)}\n`,
    );
  };
  return { header, row };
}

/** Prints table rows every TICK_MS while `body` runs. */
async function withTable<T>(table: ReturnType<typeof createTable>, body: () => Promise<T>): Promise<T> {
  let running = true;
  const ticker = (async () => {
    while (running) {
      await sleep(TICK_MS);
      if (running) await table.row();
    }
  })();
  try {
    return await body();
  } finally {
    running = false;
    await ticker;
  }
}

function startRealServer(pair: NatPair, rs: RealServerHost): SpawnedProcess {
  return pair.lab.spawn(rs.ns, process.execPath, [PAIR_SERVER, rs.name, `${rs.address}:${REAL_SERVER_PORT}`]);
}

/** `--keep`: runs commands that demo/exec.sh drops into the request directory, in the named namespace. */
async function serveExecRequests(pair: NatPair, dir: string): Promise<never> {
  const nsOf = new Map<string, string>([
    ['client', pair.client],
    ['lb1', pair.lb1.ns],
    ['lb2', pair.lb2.ns],
    ...pair.realServers.map((rs) => [rs.name, rs.ns] as [string, string]),
  ]);
  for (;;) {
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.req'))) {
      const path = join(dir, name);
      let reply: { code: number; stdout: string; stderr: string };
      try {
        const { node, argv } = JSON.parse(readFileSync(path, 'utf8')) as { node: string; argv: string[] };
        const ns = nsOf.get(node);
        if (ns === undefined || argv.length === 0)
          reply = {
            code: 2,
            stdout: '',
            stderr: `unknown node ${node} (known: ${[...nsOf.keys()].join(', ')})\n`,
          };
        else {
          const director = pair.directors.find((d) => d.ns === ns);
          // ipvsctl is the built CLI, pointed at this director's control socket.
          const command =
            argv[0] === 'ipvsctl'
              ? [
                  process.execPath,
                  IPVSCTL,
                  ...(director ? ['--socket', director.controlSocket] : []),
                  ...argv.slice(1),
                ]
              : argv;
          const [cmd, ...args] = command;
          const r = await pair.lab.exec(ns, cmd as string, args);
          reply = { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
        }
      } catch (err) {
        reply = { code: 2, stdout: '', stderr: `${(err as Error).message}\n` };
      }
      rmSync(path, { force: true });
      // Written aside, then renamed: exec.mjs never reads half a reply.
      writeFileSync(`${path.slice(0, -4)}.tmp`, JSON.stringify(reply));
      renameSync(`${path.slice(0, -4)}.tmp`, `${path.slice(0, -4)}.res`);
    }
    await sleep(200);
  }
}

async function main(): Promise<number> {
  const checks: { what: string; ok: boolean; detail: string }[] = [];
  const check = (what: string, ok: boolean, detail: string) => {
    checks.push({ what, ok, detail });
    say(`${ok ? 'ok  ' : 'FAIL'} ${what}: ${detail}`);
  };

  heading('building the site: a client, two directors (lb1, lb2), three real servers');
  const lab = createNetnsLab();
  const pair = await createNatPair(lab, { vrrpVersion: 2, advertIntervalMs: 1000, tag: 'demo' });
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await pair.cleanup();
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
  process.on('SIGTERM', () => void cleanup().then(() => process.exit(143)));
  try {
    say(
      `client ${pair.client.split('-').pop()} → VIP ${CLIENT_VIP}:${SERVICE_PORT} (VRRP instance VI_client on eth0)`,
    );
    say(
      `real servers ${pair.realServers.map((rs) => `${rs.name}=${rs.address}:${REAL_SERVER_PORT}`).join(' ')}`,
    );
    say(
      `their default gateway: the server-side VIP ${SERVER_VIP} (VI_server on eth1); both VIPs are sync group VG1`,
    );
    for (const [i, node] of pair.directors.entries()) {
      writeFileSync(node.ipvsdConfig, directorConfig(node, CONFIGS[i] as string));
      say(`${node.name}: ipvsd --config ${CONFIGS[i]}`);
    }
    await pair.startRealServers();
    say('real servers answering HTTP');
    heading('starting ipvsd on both directors');
    // Both at once (each start is mostly node loading); lb1 has the higher priority and wins.
    await Promise.all([pair.startDirector(pair.lb2, 'ipvsd'), pair.startDirector(pair.lb1, 'ipvsd')]);
    await pair.waitForMaster(pair.lb1);
    say('lb1 is MASTER of VG1 (both VIPs), lb2 is BACKUP; connection sync follows VG1');

    const prober = lab.spawn(pair.client, process.execPath, [
      PROBER,
      CLIENT_VIP,
      String(SERVICE_PORT),
      String(PROBE_INTERVAL_MS),
      String(PROBE_TIMEOUT_MS),
    ]);
    const probeLines = collectLines(prober);
    await prober.waitForOutput('ready', 60_000);
    const attempts = () => probeLines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Attempt);
    const table = createTable(pair, attempts);

    heading(
      `traffic: the client sends GET / through the VIP every ${PROBE_INTERVAL_MS} ms, a new connection each`,
    );
    table.header();
    await withTable(table, () => sleep(3 * TICK_MS));

    // 1. A real server dies.
    const victim = pair.realServers[1] as RealServerHost;
    heading(`${victim.name} dies (its HTTP server is killed)`);
    await lab.exec(victim.ns, 'pkill', ['-KILL', '-f', `pair-server.mjs ${victim.name} `]);
    const killedAt = monotonicMs();
    table.header();
    const removedAfterMs = await withTable(table, () =>
      waitFor(
        `ipvsd to take ${victim.name} out`,
        async () => {
          const r = await pair.ipvsadm(pair.lb1, ['-Ln']);
          return r.stdout.includes(`${victim.address}:${REAL_SERVER_PORT}`)
            ? undefined
            : monotonicMs() - killedAt;
        },
        60_000,
      ),
    );
    await withTable(table, () => sleep(2 * TICK_MS));
    const afterRemoval = attempts().filter((a) => a.s > killedAt + removedAfterMs);
    check(
      `${victim.name} taken out`,
      afterRemoval.length > 0 && afterRemoval.every((a) => a.rs !== victim.name),
      `removed from lb1's IPVS table ${(removedAfterMs / 1000).toFixed(1)} s after it died; ` +
        `${afterRemoval.filter((a) => !a.ok).length} of ${afterRemoval.length} requests failed since`,
    );

    // 2. The master director dies, with a long-lived connection open through it.
    const stream = lab.spawn(pair.client, process.execPath, [
      STREAM_CLIENT,
      CLIENT_VIP,
      String(SERVICE_PORT),
      String(STREAM_CHUNKS),
      String(STREAM_INTERVAL_MS),
    ]);
    const streamLines = collectLines(stream);
    await stream.waitForOutput(/connected \d+/, 30_000);
    const streamSource = `${CLIENT_ADDRESS}:${/connected (\d+)/.exec(stream.stdout())?.[1]}`;
    say(
      `a long-lived connection: a streamed response, one line every ${STREAM_INTERVAL_MS} ms for ${
        (STREAM_CHUNKS * STREAM_INTERVAL_MS) / 1000
      } s`,
    );
    // The kernel's sync daemon sends a connection to the backup in batches (up to ~2 s late); a
    // connection the backup never heard of cannot survive, so the crash waits for it, as an operator
    // would check with `ipvsadm -Lnc` on lb2.
    const openedAt = monotonicMs();
    await waitFor(
      `lb2 to receive the connection from ${streamSource} through connection sync`,
      async () =>
        (await pair.connections(pair.lb2)).find(
          (c) => c.source === streamSource && c.state === 'ESTABLISHED',
        ),
      30_000,
    );
    say(`lb2 holds it too (ipvsadm -Lnc), synced ${Math.round(monotonicMs() - openedAt)} ms after it opened`);

    heading('lb1, the master director, dies: its links go down and ipvsd is killed (kill -9)');
    // From when the links were surely down: requests started before may still have gone through lb1.
    const t0 = (await pair.crash(pair.lb1)).done;
    table.header();
    const first = await withTable(table, () =>
      waitFor(
        'the first successful request through lb2',
        () => attempts().find((a) => a.ok && a.s >= t0),
        120_000,
      ),
    );
    await pair.waitForMaster(pair.lb2);
    const gapMs = first.e - t0;
    const failedInGap = attempts().filter((a) => !a.ok && a.e >= t0 && a.s <= first.e).length;
    check(
      'VIPs moved to lb2',
      true,
      `gap ${Math.round(gapMs)} ms from lb1's death to the first request answered through lb2 ` +
        `(${failedInGap} requests failed meanwhile)`,
    );
    await withTable(table, () => sleep(2 * TICK_MS));

    say('waiting for the long-lived stream to finish');
    const streamResult = await withTable(table, () =>
      waitFor(
        'the stream to end',
        () => {
          const line = streamLines.find((l) => l.startsWith('result '));
          return line ? (JSON.parse(line.slice(7)) as StreamResult) : undefined;
        },
        STREAM_CHUNKS * STREAM_INTERVAL_MS + 120_000,
      ),
    );
    check(
      'long-lived connection survived the failover',
      streamResult.ok,
      `${streamResult.bytes} of ${streamResult.expectedBytes} bytes from ${streamResult.server}, ` +
        `longest stall ${Math.round(streamResult.maxStallMs)} ms${streamResult.error ? `, error ${streamResult.error}` : ''}` +
        (streamResult.ok
          ? ''
          : `; last data ${Math.round(streamResult.lastDataAt - t0)} ms and end of the connection ` +
            `${Math.round(streamResult.closedAt - t0)} ms after lb1's death`),
    );

    // 3. Both come back.
    heading(
      `both come back: ${victim.name} restarts; lb1 reboots (links up, ipvsd started) and takes the VIPs back`,
    );
    const victimProc = startRealServer(pair, victim);
    await victimProc.waitForOutput(`listening ${victim.name}`, 60_000);
    const backAt = monotonicMs();
    table.header();
    await withTable(table, async () => {
      await pair.recover(pair.lb1);
      await pair.waitForMaster(pair.lb1);
    });
    const masterAgainAt = monotonicMs();
    say('lb1 is MASTER again');
    const rejoined = await withTable(table, () =>
      waitFor(
        `${victim.name} to answer again`,
        () => attempts().find((a) => a.ok && a.rs === victim.name && a.s > backAt),
        60_000,
      ),
    );
    await withTable(table, () => sleep(2 * TICK_MS));
    check(
      `${victim.name} back in rotation`,
      true,
      `answering again ${((rejoined.e - backAt) / 1000).toFixed(1)} s after it restarted`,
    );
    // Once lb1 holds the VIPs again and rs2 answers. (The handover itself, a preemption, may cost
    // the requests in flight: shown in the table, not judged here.)
    const tail = attempts().filter((a) => a.s > Math.max(masterAgainAt, rejoined.e) + 1000);
    const answered = tail.filter((a) => a.ok).length;
    check(
      'traffic through lb1 again',
      tail.length > 0 && answered === tail.length,
      `${answered} of ${tail.length} requests answered since`,
    );

    // Summary.
    const all = attempts();
    heading('summary');
    say(
      `requests: ${all.length} sent, ${all.filter((a) => a.ok).length} answered, ${all.filter((a) => !a.ok).length} failed`,
    );
    for (const rs of pair.realServers)
      say(`  ${rs.name}: ${all.filter((a) => a.ok && a.rs === rs.name).length} answered`);
    say(`takeover gap (lb1 dead → first answer through lb2): ${Math.round(gapMs)} ms`);
    say(
      `long-lived stream: ${streamResult.ok ? 'completed' : 'BROKEN'}, longest stall ${Math.round(streamResult.maxStallMs)} ms`,
    );
    const failedChecks = checks.filter((c) => !c.ok);
    say(
      failedChecks.length === 0 ? 'every step did what it should' : `${failedChecks.length} step(s) failed`,
    );

    if (keep) {
      const dir = join(process.env.IPVSD_VM_SHARE ?? '/run', 'ipvsd-demo');
      mkdirSync(dir, { recursive: true });
      for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true });
      writeFileSync(join(dir, 'ready'), `${process.pid}\n`);
      heading('--keep: the site stays up; from another terminal on this machine, try');
      say('  npm run demo:exec -- lb1 ipvsctl status');
      say('  npm run demo:exec -- lb2 ipvsctl status --json');
      say(`  npm run demo:exec -- client curl -s http://${CLIENT_VIP}/`);
      say('  npm run demo:exec -- lb1 curl -s http://127.0.0.1:9469/metrics');
      say('  npm run demo:exec -- lb1 ipvsadm -Ln --stats');
      say('  npm run demo:exec -- lb1 ipvsctl failover VG1');
      say('(nodes: client lb1 lb2 rs1 rs2 rs3). Ctrl-C here stops the demo and removes everything.');
      prober.child.stdin?.end();
      await serveExecRequests(pair, dir);
    }
    prober.child.stdin?.end();
    return failedChecks.length === 0 ? 0 : 1;
  } catch (err) {
    say(`FAIL ${(err as Error).message}`);
    await explain(pair).catch(() => undefined);
    return 1;
  } finally {
    if (!keep) {
      say('cleaning up');
      await cleanup();
    }
  }
}

process.exitCode = await main();
