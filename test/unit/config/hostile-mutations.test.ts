/**
 * The config half of the hostile-input suite (issue 14 item 7): thousands of seeded mutations of the
 * example configs. For every case, `ipvsctl check` and the daemon (whose start and reload read the
 * config through readConfigFile, as the structural test below pins) reach the same verdict with the
 * same issues, nothing throws, every message is one printable positioned line of bounded length, and
 * each case takes bounded time. A config that passes is one the daemon can run: every VRRP instance
 * encodes an advert to each of its destinations (the check the VRRP speaker makes at start), its
 * interfaces are names the kernel takes, no two instances share interface, VRID and family, and no
 * duration overflows a timer.
 *
 * Repeatable: IPVSD_CONFIG_FUZZ_SEED and IPVSD_CONFIG_FUZZ_CASES choose the run (defaults below).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCommand } from '../../../src/cli/check.js';
import { convertCommand } from '../../../src/cli/convert.js';
import { readConfigFile } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { formatConfigIssue } from '../../../src/errors.js';
import { advertProblem } from '../../../src/vrrp/codec.js';
import { instanceFamily, ownAdvert } from '../../../src/vrrp/instance.js';
import { VRRP_MCAST_GROUP4, VRRP_MCAST_GROUP6 } from '../../../src/vrrp/packet.js';
import { mutate } from './mutator.js';

const SEED = Number(process.env.IPVSD_CONFIG_FUZZ_SEED ?? 20261206);
const CASES = Number(process.env.IPVSD_CONFIG_FUZZ_CASES ?? 2000);
/** Per case, both readers together; generous because the test machine may be loaded. */
const MAX_CASE_MS = 10_000;
const MAX_LINE_CHARS = 700;

const root = join(import.meta.dirname, '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'ipvsd-mutations-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bases = readdirSync(join(root, 'config'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => ({ name: f, text: readFileSync(join(root, 'config', f), 'utf8') }));

/** The kernel's dev_valid_name() (net/core/dev.c), plus no control characters. */
function devValidName(name: string): boolean {
  return (
    name !== '' &&
    Buffer.byteLength(name) < 16 &&
    name !== '.' &&
    name !== '..' &&
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refused characters
    !/[/:\s\u0000-\u001f\u007f-\u009f]/.test(name)
  );
}

/** Why the daemon would refuse or misrun a config that passed validation; empty when it would not. */
function daemonRefusals(config: Config): string[] {
  const problems: string[] = [];
  const links = new Set<string>();
  for (const instance of config.vrrpInstances) {
    const family = instanceFamily(instance);
    const src = instance.unicastSrcIp ?? (family === 'inet' ? '192.0.2.254' : 'fe80::1');
    const group = family === 'inet' ? VRRP_MCAST_GROUP4 : VRRP_MCAST_GROUP6;
    for (const dst of [group, ...instance.unicastPeers]) {
      const problem = advertProblem(ownAdvert(instance, instance.priority), {
        srcAddress: src,
        dstAddress: dst,
      });
      if (problem !== null) problems.push(`${instance.name} → ${dst}: ${problem}`);
    }
    for (const name of [instance.interface, ...instance.trackInterfaces])
      if (!devValidName(name)) problems.push(`${instance.name}: interface ${JSON.stringify(name)}`);
    const link = `${instance.interface}|${family}|${instance.virtualRouterId}`;
    if (links.has(link)) problems.push(`${instance.name}: VRID shared on ${link}`);
    links.add(link);
  }
  const sync = config.director.syncDaemon;
  if (sync !== null && !devValidName(sync.interface))
    problems.push(`sync_daemon interface ${sync.interface}`);
  const walk = (value: unknown, path: string): void => {
    if (value === null || typeof value !== 'object') return;
    for (const [key, v] of Object.entries(value)) {
      if (/Ms$/.test(key) && typeof v === 'number' && !(v >= 0 && v < 2 ** 31 - 1))
        problems.push(`${path}.${key} = ${v} overflows a timer`);
      walk(v, `${path}.${key}`);
    }
  };
  walk(config, 'config');
  return problems;
}

function printable(text: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: what must never be printed
  return !/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(text);
}

describe('seeded config mutations: check and the daemon agree, and the output stays bounded', () => {
  it(`runs ${CASES} cases (seed ${SEED})`, { timeout: 600_000 }, async () => {
    const failures: string[] = [];
    let worst = { ms: 0, name: '' };
    let valid = 0;
    let maxRss = 0;
    const verdicts = new Map<number, number>();
    for (let i = 0; i < CASES; i++) {
      const { name, content } = mutate(bases, SEED, i);
      const path = join(dir, `case-${i % 16}.yaml`);
      writeFileSync(path, content);
      const fail = (why: string) => failures.push(`${name}: ${why}`);
      const out: string[] = [];
      const err: string[] = [];
      const start = performance.now();
      let daemon: Awaited<ReturnType<typeof readConfigFile>>;
      let code: number;
      try {
        daemon = await readConfigFile(path);
        code = await checkCommand(path, { out: (t) => out.push(t), err: (t) => err.push(t) });
      } catch (error) {
        fail(`threw ${(error as Error).stack}`);
        continue;
      }
      const ms = performance.now() - start;
      if (ms > worst.ms) worst = { ms, name };
      maxRss = Math.max(maxRss, process.memoryUsage().rss);
      if (ms > MAX_CASE_MS) fail(`took ${ms.toFixed(0)} ms`);
      verdicts.set(code, (verdicts.get(code) ?? 0) + 1);

      const expected = daemon.ioError !== null ? 2 : daemon.config !== null ? 0 : 1;
      if (code !== expected) fail(`check exited ${code}, the daemon's reader says ${expected}`);
      if (daemon.config !== null && daemon.issues.length > 0) fail('a config with issues');
      const errLines = err.join('').split('\n').slice(0, -1);
      if (code === 1) {
        const issueLines = daemon.issues.map(formatConfigIssue);
        if (JSON.stringify(errLines.slice(0, -1)) !== JSON.stringify(issueLines))
          fail(`check printed other issues than the daemon's reader: ${errLines.slice(0, 3).join(' | ')}`);
        if (issueLines.length === 0 || issueLines.length > 1001) fail(`${issueLines.length} issues`);
        for (const line of issueLines)
          if (!line.startsWith(`${path}:`) || !/^:\d+:\d+: \S/.test(line.slice(path.length)))
            fail(`issue without a position: ${line.slice(0, 200)}`);
      }
      for (const line of [...errLines, ...out.join('').split('\n')]) {
        if (!printable(line)) fail(`unprintable output: ${JSON.stringify(line.slice(0, 200))}`);
        if (line.length > MAX_LINE_CHARS) fail(`a line of ${line.length} characters`);
      }
      if (daemon.config !== null) {
        valid += 1;
        for (const problem of daemonRefusals(daemon.config))
          fail(`passed check but the daemon refuses: ${problem}`);
      }
      if (failures.length > 20) break;
    }
    // For the closing note: how the run went (not asserted beyond the bounds above).
    console.log(
      `config mutations: ${CASES} cases, seed ${SEED}, verdicts ${JSON.stringify(Object.fromEntries(verdicts))}, ` +
        `${valid} valid, worst ${worst.ms.toFixed(0)} ms (${worst.name}), max RSS ${(maxRss / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(failures).toEqual([]);
    // The mutations must reach both verdicts, or the run proves nothing.
    expect(verdicts.get(0) ?? 0).toBeGreaterThan(CASES / 20);
    expect(verdicts.get(1) ?? 0).toBeGreaterThan(CASES / 4);
  });

  it('is repeatable: a seed and an index give the same bytes', () => {
    for (const i of [0, 1, 77, 1999]) expect(mutate(bases, SEED, i)).toEqual(mutate(bases, SEED, i));
    expect(mutate(bases, SEED, 5)).not.toEqual(mutate(bases, SEED + 1, 5));
  });
});

describe('seeded keepalived.conf mutations: convert never throws and never prints a raw control byte', () => {
  const fixtures = join(root, 'test', 'unit', 'config', 'keepalived', 'fixtures');
  const sources = readdirSync(fixtures)
    .filter((f) => f.endsWith('.conf'))
    .map((f) => ({ name: f, text: readFileSync(join(fixtures, f), 'utf8') }));
  const cases = Math.ceil(CASES / 4);

  it(`runs ${cases} cases (seed ${SEED})`, { timeout: 600_000 }, async () => {
    const failures: string[] = [];
    const codes = new Map<number, number>();
    for (let i = 0; i < cases; i++) {
      const { name, content } = mutate(sources, SEED, i);
      const path = join(dir, `keepalived-${i % 16}.conf`);
      writeFileSync(path, content);
      const out: string[] = [];
      const err: string[] = [];
      let code: number;
      try {
        code = convertCommand(path, { out: (t) => out.push(t), err: (t) => err.push(t) });
      } catch (error) {
        failures.push(`${name}: threw ${(error as Error).stack}`);
        continue;
      }
      codes.set(code, (codes.get(code) ?? 0) + 1);
      // stdout is YAML: its strings may hold escapes, never the raw bytes.
      for (const line of [...err.join('').split('\n'), ...out.join('').split('\n')]) {
        if (!printable(line))
          failures.push(`${name}: unprintable output ${JSON.stringify(line.slice(0, 200))}`);
        if (line.length > MAX_LINE_CHARS && !out.join('').includes(line))
          failures.push(`${name}: a message of ${line.length} characters`);
      }
      if (failures.length > 20) break;
    }
    expect(failures).toEqual([]);
    expect(codes.get(0) ?? 0).toBeGreaterThan(0);
    expect(codes.get(1) ?? 0).toBeGreaterThan(0);
  });
});

describe('one reader for check, start and reload', () => {
  it('the daemon reads its config (start and reload) through readConfigFile and nothing else', () => {
    const source = readFileSync(join(root, 'src', 'bin', 'ipvsd.ts'), 'utf8');
    expect(source).toMatch(/import \{ readConfigFile \} from '\.\.\/config\/load\.js';/);
    expect(source).not.toMatch(/\bparseConfig\b|\breadFile(Sync)?\(/);
    const body = /async function readConfig\(file: string\)[\s\S]*?\n}\n/.exec(source)?.[0] ?? '';
    expect(body).toMatch(/await readConfigFile\(file\)/);
    // Start and reload both call it.
    expect(source.match(/await readConfig\(file\)/g)).toHaveLength(2);
    const cli = readFileSync(join(root, 'src', 'cli', 'load.ts'), 'utf8');
    expect(cli).toMatch(/from '\.\.\/config\/load\.js'/);
    expect(cli).not.toMatch(/\bparseConfig\b|\breadFile(Sync)?\(/);
  });
});
