/**
 * Issue 14's config failures, one test each: what `ipvsctl check` passed but the daemon refused or
 * misran, inputs that made the parser throw, hang or echo raw bytes, and files that are not files.
 * Each asserts what an operator sees: the issue at its FILE:LINE:COL, one printable line, quickly.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCommand } from '../../../src/cli/check.js';
import { convertCommand } from '../../../src/cli/convert.js';
import { MAX_CONFIG_BYTES, readConfigFile } from '../../../src/config/load.js';
import { configSchema } from '../../../src/config/schema.js';
import { formatConfigIssue } from '../../../src/errors.js';
import { FILE, issuesOf, yaml } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ipvsd-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
}

/** Every printed line is one printable line of bounded length (no raw control bytes at all). */
function expectPrintable(text: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: what must never be printed
  expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(700);
}

async function timed<T>(run: () => Promise<T> | T): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await run();
  return { result, ms: performance.now() - start };
}

const instance = (...lines: string[]) =>
  yaml(
    'vrrp_instances:',
    '  VI_1:',
    '    interface: eth0',
    '    virtual_router_id: 51',
    ...lines.map((l) => `    ${l}`),
  );

describe('issue 14: check and the daemon agree', () => {
  it('refuses an instance with more VIPs than one advert carries (300 IPv4; 78 IPv6 at v3)', () => {
    const v4 = Array.from({ length: 300 }, (_, i) => `"198.51.${100 + (i >> 8)}.${i & 255}/24"`);
    expect(issuesOf(instance(`virtual_ipaddresses: [${v4.join(', ')}]`))).toEqual([
      `${FILE}:5:26: virtual_ipaddresses lists 300 addresses; one VRRPv2 advert carries at most 255 IPv4 addresses`,
    ]);
    expect(issuesOf(instance(`virtual_ipaddresses: [${v4.slice(0, 255).join(', ')}]`))).toEqual([]);
    const v6 = (n: number) => Array.from({ length: n }, (_, i) => `"2001:db8::${i + 1}"`).join(', ');
    expect(issuesOf(instance('version: 3', `virtual_ipaddresses: [${v6(78)}]`))).toEqual([
      `${FILE}:6:26: virtual_ipaddresses lists 78 addresses; one VRRPv3 advert carries at most 77 IPv6 addresses`,
    ]);
    expect(issuesOf(instance('version: 3', `virtual_ipaddresses: [${v6(77)}]`))).toEqual([]);
  });

  it('refuses interface names the kernel refuses: over 15 bytes, "/", ":", blanks, ".", "..", control characters', () => {
    const at = (name: string) =>
      issuesOf(
        yaml(
          'vrrp_instances:',
          '  VI_1:',
          `    interface: ${name}`,
          '    virtual_router_id: 51',
          `    track_interfaces: [${name}]`,
          'director:',
          `  sync_daemon: { interface: ${name}, follow: VI_1 }`,
        ),
      );
    expect(at('eth0123456789ab')).toEqual([]); // 15 bytes
    const long = at('eth0123456789abc');
    expect(long).toHaveLength(3);
    expect(long[0]).toBe(
      `${FILE}:3:16: interface "eth0123456789abc" is longer than 15 bytes, the kernel's limit for interface names`,
    );
    for (const bad of ['"a/b"', '"eth0:1"', '"eth 0"', '"."', '".."']) {
      expect(at(bad), bad).toHaveLength(3);
      expect(at(bad)[0], bad).toMatch(/is not an interface name/);
    }
    expect(at('"eth\\e0"')[0]).toBe(
      `${FILE}:3:16: interface must not contain control characters, got "eth\\x1b0"`,
    );
  });

  it('refuses the same virtual_router_id twice on one interface for one family, at the second', () => {
    const text = (iface2: string, vip2: string) =>
      yaml(
        'vrrp_instances:',
        '  VI_1: { interface: eth0, virtual_router_id: 51, version: 3, virtual_ipaddresses: [192.0.2.1] }',
        `  VI_2: { interface: ${iface2}, virtual_router_id: 51, version: 3, virtual_ipaddresses: [${vip2}] }`,
      );
    expect(issuesOf(text('eth0', '192.0.2.2'))).toEqual([
      `${FILE}:3:47: virtual_router_id 51 on eth0 (IPv4) is already used by vrrp instance "VI_1" (at line 2)`,
    ]);
    expect(issuesOf(text('eth1', '192.0.2.2'))).toEqual([]);
    expect(issuesOf(text('eth0', '"2001:db8::1"'))).toEqual([]);
  });

  it('reports unknown keys that arrive through a << merge key, where the anchor wrote them', () => {
    expect(
      issuesOf(
        yaml(
          'vrrp_scripts:',
          '  base: &base { script: /bin/true, intervall: 2s }',
          '  chk: { <<: *base, weight: 2 }',
        ),
      ),
    ).toEqual([
      `${FILE}:2:36: unknown key "intervall" in vrrp script "base"; did you mean "interval"?`,
      `${FILE}:2:36: unknown key "intervall" in vrrp script "chk" (merged in with <<); did you mean "interval"?`,
    ]);
  });

  it('refuses a duration a node timer cannot hold (interval: 2147483648s), and every duration key has such a bound', () => {
    expect(issuesOf(yaml('vrrp_scripts:', '  chk: { script: /bin/true, interval: 2147483648s }'))).toEqual([
      `${FILE}:2:39: interval must be at most 1h, got "2147483648s"`,
    ]);
    // Every number, string and list of the schema is bounded, and no duration reaches 2^31 ms.
    const unbounded: string[] = [];
    const walk = (schema: unknown, path: string): void => {
      if (schema === null || typeof schema !== 'object') return;
      const s = schema as Record<string, unknown>;
      const types = ([] as unknown[]).concat(s.type ?? []);
      if (
        (types.includes('integer') || types.includes('number')) &&
        !types.includes('string') &&
        typeof s.maximum !== 'number'
      )
        unbounded.push(`${path}: no maximum`);
      if (typeof s.maximum === 'number' && types.includes('number') && s.maximum * 1000 >= 2 ** 31)
        unbounded.push(`${path}: duration maximum ${s.maximum}s overflows a timer`);
      if (types.includes('array') && typeof s.maxItems !== 'number') unbounded.push(`${path}: no maxItems`);
      if (
        types.includes('string') &&
        !types.includes('number') &&
        typeof s.maxLength !== 'number' &&
        typeof s.pattern !== 'string' &&
        s.format === undefined &&
        s.anyOf === undefined
      )
        unbounded.push(`${path}: no maxLength`);
      for (const [k, v] of Object.entries(s)) {
        if (k === 'properties' || k === 'additionalProperties' || k === '$defs') {
          if (v && typeof v === 'object' && 'type' in (v as object)) walk(v, `${path}.*`);
          else for (const [name, sub] of Object.entries(v as object)) walk(sub, `${path}.${name}`);
        } else if (k === 'items' || k === 'anyOf' || k === 'prefixItems') {
          for (const sub of ([] as unknown[]).concat(v)) walk(sub, `${path}[]`);
        }
      }
    };
    walk(configSchema(), '$');
    expect(unbounded).toEqual([]);
  });
});

describe('issue 14: bounded parsing', () => {
  it('resolves 3,000 and 5,000 aliases in linear time, and refuses more than 10,000 at the first one over', () => {
    const config = (n: number) => {
      const lines = ['virtual_servers:', '  - address: 192.0.2.1', '    port: 80', '    real_servers:'];
      lines.push('      - { address: 198.51.100.1, port: 8080, check: &chk { type: tcp, interval: 2s } }');
      for (let i = 1; i < n + 1; i++)
        lines.push(
          `      - { address: 198.51.${100 + (i >> 8)}.${i & 255}, port: ${8081 + (i % 5000)}, check: *chk }`,
        );
      return `${lines.join('\n')}\n`;
    };
    for (const n of [3000, 5000]) {
      const { result, ms } = await_(() => issuesOf(config(n)));
      expect(result).toEqual([]);
      expect(ms).toBeLessThan(5000);
    }
    const { result, ms } = await_(() => issuesOf(config(10_001)));
    expect(result).toEqual([`${FILE}:10006:54: more than 10000 aliases`]);
    expect(ms).toBeLessThan(5000);
  });

  it('refuses aliases that expand the tree past its bound (billion laughs), at the alias, quickly', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i <= 9; i++)
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    const { result, ms } = await_(() => issuesOf(`${lines.join('\n')}\n`));
    expect(result).toHaveLength(1);
    expect(result[0]).toMatch(/^test\.yaml:6:\d+: aliases expand the config to more than 1000000 values/);
    expect(ms).toBeLessThan(2000);
  });

  it('reports a 4,000-deep flow map and a 1,000-deep block sequence as one positioned issue, no stack overflow', () => {
    const flow = `virtual_servers: ${'{a: '.repeat(4000)}1${'}'.repeat(4000)}\n`;
    expect(issuesOf(flow)).toEqual([`${FILE}:1:270: nesting deeper than 64 levels`]);
    let block = 'virtual_servers:\n';
    for (let i = 0; i < 1000; i++) block += `${' '.repeat(2 + i * 2)}-\n`;
    block += `${' '.repeat(2002)}x\n`;
    expect(issuesOf(block)).toEqual([`${FILE}:65:129: nesting deeper than 64 levels`]);
  });

  it('prints a block-scalar key as one line, escaped', () => {
    expect(issuesOf(yaml('director:', '  ? |', '    abc', '    def', '  : 1'))).toEqual([
      `${FILE}:2:5: unknown key "abc\\ndef\\n" in director; expected one of router_id, ip_forward, ipvs, control_socket, metrics, sync_daemon, announce`,
    ]);
  });

  it('quotes at most a short excerpt of a 40 KB offending line', () => {
    expect(issuesOf(yaml('director:', `  bogus${'y'.repeat(40_000)}: 1`))).toEqual([
      `${FILE}:2:3: invalid YAML: The : indicator must be at most 1024 chars after the start of an implicit block mapping key`,
    ]);
    expect(issuesOf(yaml('director:', `  ? bogus${'y'.repeat(40_000)}`, '  : 1'))).toEqual([
      `${FILE}:2:5: unknown key "bogus${'y'.repeat(35)}…" (40005 characters) in director; expected one of router_id, ip_forward, ipvs, control_socket, metrics, sync_daemon, announce`,
    ]);
    expect(
      issuesOf(yaml('virtual_servers:', `  - { address: 192.0.2.1, port: ${'9'.repeat(40_000)}x }`)),
    ).toEqual([
      `${FILE}:2:33: port must be an integer from 1 to 65535, got "${'9'.repeat(40)}…" (40001 characters)`,
    ]);
    expect(
      issuesOf(yaml('virtual_servers:', `  - { address: 192.0.2.1, port: ${'9'.repeat(40_000)} }`)),
    ).toEqual([
      `${FILE}:2:33: port must be an integer from 1 to 65535, got ${'9'.repeat(40)}… (40000 characters)`,
    ]);
    const value = issuesOf(yaml('director:', `  router_id: ${'\\x1b'.repeat(5)}${'z'.repeat(40_000)}`));
    expect(value).toEqual([`${FILE}:2:14: router_id must be at most 255 characters, got 40020`]);
  });

  it('refuses raw control characters in the file at their position, and escapes them in messages', () => {
    expect(issuesOf('director:\n  router_id: a\u001b[31mb\n')).toEqual([
      `${FILE}:2:15: control character U+001B is not allowed in YAML (write it as an escape in a double-quoted string)`,
    ]);
    expect(issuesOf(yaml('director:', '  router_id: "a\\e[31mb"'))).toEqual([
      `${FILE}:2:14: router_id must not contain control characters, got "a\\x1b[31mb"`,
    ]);
  });

  it('stops after 1,000 issues and says how many more there were', () => {
    const lines = ['virtual_servers:'];
    for (let i = 0; i < 3000; i++) lines.push(`  - { address: 192.0.2.1, port: ${i + 1}, bogus: 1 }`);
    const issues = issuesOf(`${lines.join('\n')}\n`);
    expect(issues).toHaveLength(1001);
    expect(issues[1000]).toMatch(/stopped after 1000 issues \(2000 more not shown\)$/);
  });
});

describe('issue 14: the config path must be a regular file', () => {
  it('refuses /dev/urandom, /dev/zero and a directory at once, without reading them', async () => {
    for (const path of ['/dev/urandom', '/dev/zero', dir]) {
      const { result, ms } = await timed(() => readConfigFile(path));
      expect(result.config).toBeNull();
      expect(result.ioError).toMatch(/^a (character device|directory), not a regular file$/);
      expect(ms).toBeLessThan(500);
      const c = capture();
      expect(await checkCommand(path, c.io)).toBe(2);
      expect(c.err.join('')).toMatch(/^ipvsctl: cannot read .*, not a regular file\n$/);
    }
  });

  it('refuses a file over the size limit with a positioned issue', async () => {
    const path = file('big.yaml', Buffer.alloc(MAX_CONFIG_BYTES + 1, 0x20));
    const { result } = await timed(() => readConfigFile(path));
    expect(result.issues.map(formatConfigIssue)).toEqual([
      `${path}:1:1: the file is larger than the limit of 16777216 bytes (16777217 bytes or more)`,
    ]);
  });

  it('stops a file of millions of tiny values at the token bound, with a position, before building its tree', async () => {
    const path = file('tiny-values.yaml', `virtual_servers:\n${'- 1\n'.repeat(4_000_000)}`);
    const { result, ms } = await timed(() => readConfigFile(path));
    expect(result.issues.map(formatConfigIssue)).toEqual([
      `${path}:250001:2: the config has more than 1000000 YAML tokens (keys, values, indicators, line breaks); it stops here`,
    ]);
    expect(ms).toBeLessThan(20_000);
  });

  it('refuses bytes that are not UTF-8 at the first bad byte', async () => {
    const path = file('latin1.yaml', Buffer.from('director:\n  router_id: caf\xe9\n', 'latin1'));
    const { issues, ioError } = await readConfigFile(path);
    expect(ioError).toBeNull();
    expect(issues.map(formatConfigIssue)).toEqual([
      `${path}:2:17: the config is not UTF-8 text (invalid byte sequence here)`,
    ]);
  });

  it('converts binary input without writing a raw control byte', () => {
    let seed = 7;
    const bytes = Buffer.alloc(20_000);
    for (let i = 0; i < bytes.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      bytes[i] = seed >>> 24;
    }
    const c = capture();
    const code = convertCommand(file('binary.conf', bytes), c.io);
    expect(code).toBe(1);
    expectPrintable(c.out.join(''));
    expectPrintable(c.err.join(''));
    expect(c.err.length).toBeGreaterThan(1);
    for (const dev of ['/dev/urandom', dir]) {
      const d = capture();
      expect(convertCommand(dev, d.io)).toBe(2);
      expect(d.err.join('')).toMatch(/not a regular file\n$/);
    }
  });
});

/** Synchronous timing for the pure parser. */
function await_<T>(run: () => T): { result: T; ms: number } {
  const start = performance.now();
  const result = run();
  return { result, ms: performance.now() - start };
}

describe('message excerpts', () => {
  it('escape what a terminal would act on and cut long text, marking the cut', async () => {
    const { quote, excerpt, boundedMessage } = await import('../../../src/errors.js');
    expect(quote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(quote('\u001b[2J\u0007\u0085\u2028\u202e\ufeff')).toBe(
      '"\\x1b[2J\\x07\\x85\\u2028\\u202e\\ufeff"',
    );
    expect(quote('x'.repeat(41))).toBe(`"${'x'.repeat(40)}…" (41 characters)`);
    // A cut through a surrogate pair leaves no lone half unescaped.
    expect(quote(`${'x'.repeat(39)}😀`)).toBe(`"${'x'.repeat(39)}\\ud83d…" (41 characters)`);
    expect(excerpt('\u0000'.repeat(50))).toBe(`${'\\x00'.repeat(40)}… (50 characters)`);
    expect(boundedMessage(`a\nb${'c'.repeat(1000)}`)).toHaveLength(400);
    expect(boundedMessage('a\nb')).toBe('a\\nb');
  });
});
