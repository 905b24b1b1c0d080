/**
 * The ECMP benchmark's driver, run inside the VM (bench/ecmp.sh boots it), on the topology of the
 * VM test (test/vm/ecmp-topology.ts: a router running BIRD, three directors, three real servers):
 *
 *   1. throughput: ipvsd on all three directors announcing the VIP (DR + mh on port 80, full NAT on
 *      port 8080); with 1, 2 and 3 directors announcing (the others `ipvsctl withdraw`n), REQUESTS
 *      short requests from the client at CONCURRENCY, each on a new connection: requests/s and
 *      failed requests per service;
 *   2. a director's death with N active directors: a prober (a new request every PROBE_MS, each
 *      given 1 s) and STREAMS long streams per service; d3's links go down, then ipvsd is killed
 *      (-9); failed probes and broken streams until the router has withdrawn it and the probes
 *      have run 3 s more;
 *   3. the same death in a keepalived VRRP pair on the same topology: ipvsd and BIRD stopped,
 *      keepalived on d1 (master) and d2 (backup) holding the VIP on the transit link with VRRPv2 at
 *      1 s adverts and the same DR + mh service (keepalived's LVS half), the router reaching the
 *      VIP on that link; d1's links down, then every keepalived process killed (-9).
 *
 * Only the DR service is compared in 3 (a VRRP pair cannot do full NAT: keepalived has no source
 * NAT, and the real servers' gateway is the router). Writes every figure to $IPVSD_BENCH_OUT (JSON)
 * and a summary next to it (.txt). Timing is reported, never judged.
 *
 * Env: IPVSD_BENCH_REQUESTS (300), IPVSD_BENCH_CONCURRENCY (8), IPVSD_BENCH_STREAMS (12),
 *      IPVSD_BENCH_PROBE_MS (50), IPVSD_BENCH_OUT.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNetnsLab, type SpawnedProcess } from '../test/support/netns.js';
import { IPVSCTL, IPVSD } from '../test/support/paths.js';
import { monotonicMs, sleep } from '../test/support/wait.js';
import {
  createEcmpTopology,
  DR_PORT,
  directorYaml,
  ECMP_CLIENT,
  type EcmpDirector,
  FNAT_PORT,
  linksDown,
  openStreams,
  type RequestResult,
  requests,
  type StreamTally,
  startRouting,
  startServers,
  tallyStreams,
  VIP,
  waitForNextHops,
} from '../test/vm/ecmp-topology.js';

const REQUESTS = Number(process.env.IPVSD_BENCH_REQUESTS ?? 300);
const CONCURRENCY = Number(process.env.IPVSD_BENCH_CONCURRENCY ?? 8);
const STREAMS = Number(process.env.IPVSD_BENCH_STREAMS ?? 12);
const PROBE_MS = Number(process.env.IPVSD_BENCH_PROBE_MS ?? 50);
const OUT = process.env.IPVSD_BENCH_OUT ?? '/tmp/bench-ecmp.json';
const RS = ['198.51.100.11', '198.51.100.12', '198.51.100.13'];
const STREAM_CHUNKS = 60;
const STREAM_INTERVAL_MS = 250;
const DIR = `/tmp/ipvsd-bench-ecmp-${process.pid}`;

const lab = createNetnsLab();
const log = (msg: string) => process.stdout.write(`bench-ecmp: ${msg}\n`);

function keepalivedConf(d: EcmpDirector, master: boolean): string {
  const servers = RS.map(
    (a) => `  real_server ${a} ${DR_PORT} {\n    weight 1\n    TCP_CHECK { connect_timeout 1 }\n  }`,
  ).join('\n');
  return `global_defs { router_id ${d.name} }
vrrp_instance VI_1 {
  state ${master ? 'MASTER' : 'BACKUP'}
  interface t0
  virtual_router_id 51
  priority ${master ? 150 : 100}
  advert_int 1
  virtual_ipaddress { ${VIP}/32 dev t0 }
}
virtual_server ${VIP} ${DR_PORT} {
  delay_loop 1
  lvs_sched mh
  mh-port
  lvs_method DR
  protocol TCP
${servers}
}
`;
}

interface Probe {
  stop(): Promise<RequestResult & { failedAt: number[] }>;
}

async function startProbe(
  topo: Awaited<ReturnType<typeof createEcmpTopology>>,
  port: number,
): Promise<Probe> {
  const proc: SpawnedProcess = lab.spawn(topo.client, process.execPath, [
    ECMP_CLIENT,
    'probe',
    VIP,
    String(port),
    String(PROBE_MS),
    '1000',
  ]);
  await proc.waitForOutput('ready', 60_000);
  return {
    async stop() {
      proc.child.stdin?.end();
      await proc.waitForOutput(/result \{/, 60_000);
      const line = proc
        .stdout()
        .split('\n')
        .find((l) => l.startsWith('result ')) as string;
      return JSON.parse(line.slice(7)) as RequestResult & { failedAt: number[] };
    },
  };
}

interface Death {
  readonly detectedMs: number;
  readonly probe: { ok: number; failed: number; errors: Record<string, number> };
  readonly dr: StreamTally;
  readonly fnat?: StreamTally;
}

async function main(): Promise<void> {
  mkdirSync(DIR, { recursive: true });
  const results: Record<string, unknown> = {
    requests: REQUESTS,
    concurrency: CONCURRENCY,
    streams: STREAMS,
    probeMs: PROBE_MS,
  };
  const topo = await createEcmpTopology(lab);
  await startServers(lab, topo, [DR_PORT, FNAT_PORT]);
  const routing = await startRouting(lab, topo, 'bird', { bfd: false });
  const daemons = new Map<string, SpawnedProcess>();
  const startIpvsd = async (d: EcmpDirector) => {
    const config = join(DIR, `${d.name}.yaml`);
    writeFileSync(
      config,
      directorYaml(topo, d, { controlSocket: join(DIR, `${d.name}.sock`), withdrawDelayS: 1 }),
    );
    const proc = lab.spawn(d.ns, process.execPath, [IPVSD, '--config', config]);
    await proc.waitForOutput('"msg":"ipvsd started"', 300_000);
    daemons.set(d.name, proc);
  };
  const ipvsctl = (d: EcmpDirector, args: string[]) =>
    lab.execOk(d.ns, process.execPath, [IPVSCTL, '--socket', join(DIR, `${d.name}.sock`), ...args], {
      timeoutMs: 120_000,
    });
  await Promise.all(topo.directors.map(startIpvsd));
  const all = topo.directors.map((d) => d.transit);
  await waitForNextHops(lab, topo, 'bird', all, 180_000);
  log('three directors announcing');

  // 1. throughput through 1, 2, 3 directors
  const throughput: Record<string, unknown>[] = [];
  for (const n of [1, 2, 3]) {
    for (const [i, d] of topo.directors.entries()) await ipvsctl(d, [i < n ? 'announce' : 'withdraw', VIP]);
    await waitForNextHops(lab, topo, 'bird', all.slice(0, n), 60_000);
    for (const [service, port] of [
      ['dr', DR_PORT],
      ['fnat', FNAT_PORT],
    ] as const) {
      const r = await requests(lab, topo, port, REQUESTS, CONCURRENCY);
      const row = {
        directors: n,
        service,
        ok: r.ok,
        failed: r.failed,
        ms: r.ms,
        rps: Math.round((r.ok * 1000) / r.ms),
      };
      log(JSON.stringify(row));
      throughput.push(row);
    }
  }
  results.throughput = throughput;

  // 2. a director's death, N active directors
  const dead = topo.directors[2] as EcmpDirector;
  {
    const dr = await openStreams(lab, topo, DR_PORT, STREAMS, STREAM_CHUNKS, STREAM_INTERVAL_MS);
    const fnat = await openStreams(lab, topo, FNAT_PORT, STREAMS, STREAM_CHUNKS, STREAM_INTERVAL_MS);
    const probe = await startProbe(topo, DR_PORT);
    await sleep(2000);
    const t0 = monotonicMs();
    await linksDown(lab, dead);
    daemons.get(dead.name)?.child.kill('SIGKILL');
    await waitForNextHops(lab, topo, 'bird', all.slice(0, 2), 60_000);
    const detectedMs = Math.round(monotonicMs() - t0);
    await sleep(3000);
    const p = await probe.stop();
    const death: Death = {
      detectedMs,
      probe: { ok: p.ok, failed: p.failed, errors: p.errors },
      dr: tallyStreams(dr, await dr.done(), dead.name),
      fnat: tallyStreams(fnat, await fnat.done(), dead.name),
    };
    log(`ecmp death ${JSON.stringify(death)}`);
    results.ecmpDeath = death;
  }

  // 3. the same death in a keepalived VRRP pair
  for (const d of topo.directors) {
    const proc = daemons.get(d.name);
    if (proc && proc.exitStatus() === null) await proc.kill('SIGTERM', 30_000);
    // ipvsd leaves the VIP's local route (on_stop: keep): a backup holding it would answer ARP for the VIP.
    await lab.exec(d.ns, 'ip', ['route', 'del', 'local', `${VIP}/32`, 'dev', 'lo', 'table', 'local']);
    await lab.exec(d.ns, 'ipvsadm', ['-C']);
    // ipvsd set sloppy_tcp for its DR + mh service; with keepalived the operator sets it (a flow
    // that moves to the new master arrives without SYN), as here.
    await lab.execOk(d.ns, 'sysctl', ['-qw', 'net.ipv4.vs.sloppy_tcp=1']);
  }
  await routing.stop();
  await lab.execOk(dead.ns, 'ip', ['link', 'set', 't0', 'up']);
  await lab.execOk(dead.ns, 'ip', ['link', 'set', 's0', 'up']);
  await lab.execOk(topo.router, 'ip', ['route', 'replace', `${VIP}/32`, 'dev', 't0']);
  const [master, backup] = topo.directors as [EcmpDirector, EcmpDirector];
  const keepalived = new Map<string, SpawnedProcess>();
  for (const [d, isMaster] of [
    [master, true],
    [backup, false],
  ] as const) {
    const conf = join(DIR, `keepalived-${d.name}.conf`);
    writeFileSync(conf, keepalivedConf(d, isMaster));
    const proc = lab.spawn(d.ns, '/usr/sbin/keepalived', [
      '--dont-fork',
      '--log-console',
      '--use-file',
      conf,
      '--pid',
      join(DIR, `ka-${d.name}.pid`),
      '--vrrp_pid',
      join(DIR, `ka-${d.name}-vrrp.pid`),
      '--checkers_pid',
      join(DIR, `ka-${d.name}-checkers.pid`),
    ]);
    await proc.waitForOutput('Startup complete', 60_000);
    keepalived.set(d.name, proc);
  }
  const vipOn = async (d: EcmpDirector) =>
    (await lab.execOk(d.ns, 'ip', ['-4', 'addr', 'show', 't0'])).includes(VIP);
  const until = async (what: string, f: () => Promise<boolean>) => {
    const deadline = monotonicMs() + 120_000;
    while (!(await f())) {
      if (monotonicMs() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  };
  await until('the keepalived master to hold the VIP', () => vipOn(master));
  await until('the master to serve', async () => (await requests(lab, topo, DR_PORT, 3, 1)).failed === 0);
  {
    const dr = await openStreams(lab, topo, DR_PORT, STREAMS, STREAM_CHUNKS, STREAM_INTERVAL_MS);
    const probe = await startProbe(topo, DR_PORT);
    await sleep(2000);
    const t0 = monotonicMs();
    await linksDown(lab, master);
    const pids = (await lab.exec(master.ns, 'ip', ['netns', 'pids', master.ns])).stdout;
    for (const pid of pids.split('\n').filter((p) => p.trim() !== '')) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await until('the backup to hold the VIP', () => vipOn(backup));
    const detectedMs = Math.round(monotonicMs() - t0);
    await sleep(3000);
    const p = await probe.stop();
    const death: Death = {
      detectedMs,
      probe: { ok: p.ok, failed: p.failed, errors: p.errors },
      dr: tallyStreams(dr, await dr.done(), master.name),
    };
    log(`vrrp death ${JSON.stringify(death)}`);
    results.vrrpDeath = death;
  }
  for (const proc of keepalived.values()) if (proc.exitStatus() === null) await proc.kill('SIGTERM', 10_000);

  writeFileSync(OUT, `${JSON.stringify(results, null, 1)}\n`);
  writeFileSync(OUT.replace(/\.json$/, '.txt'), summary(results));
  process.stdout.write(summary(results));
}

function summary(r: Record<string, unknown>): string {
  const lines = [`ECMP benchmark (VM, TCG): ${r.requests} requests at concurrency ${r.concurrency} per cell`];
  for (const row of (r.throughput as Record<string, unknown>[]) ?? [])
    lines.push(`  ${row.directors} director(s) ${row.service}: ${row.rps} req/s, ${row.failed} failed`);
  const death = (name: string, d: Death | undefined) => {
    if (!d) return;
    const s = (t: StreamTally) =>
      `${t.viaDeadSurvived + t.viaSurvivorsSurvived}/${t.total} streams completed (through the dead one ${t.viaDeadSurvived}/${t.viaDead}, through the others ${t.viaSurvivorsSurvived}/${t.viaSurvivors})`;
    lines.push(
      `  ${name}: gone after ${d.detectedMs} ms; probes ${d.probe.failed} failed of ${d.probe.ok + d.probe.failed}; DR ${s(d.dr)}${d.fnat ? `; full NAT ${s(d.fnat)}` : ''}`,
    );
  };
  death('ECMP, 3 directors, one dies', r.ecmpDeath as Death | undefined);
  death('keepalived VRRP pair, master dies', r.vrrpDeath as Death | undefined);
  return `${lines.join('\n')}\n`;
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench-ecmp: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => lab.cleanup());
