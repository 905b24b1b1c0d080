/**
 * A seeded config mutator for the hostile-input suite: from a seed and an example config, the same
 * bytes every time. Mutations are what a careless operator or an attacker writes: lines deleted,
 * duplicated or swapped, values replaced by extremes, control characters, aliases and merge keys,
 * deep nesting, huge values, long lists, truncation and binary garbage.
 */

/** mulberry32: small, fast, and the same sequence on every platform for a seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const int = (rand: Rand, n: number) => Math.floor(rand() * n);
const pick = <T>(rand: Rand, items: readonly T[]): T => items[int(rand, items.length)] as T;

const EXTREMES: readonly string[] = [
  '0',
  '-1',
  '1',
  '255',
  '256',
  '65535',
  '65536',
  '2147483647',
  '2147483648',
  '4294967296',
  '9007199254740993',
  '1e400',
  '-.inf',
  '.nan',
  '0.5',
  '""',
  "''",
  '~',
  'null',
  'true',
  '[]',
  '{}',
  '0s',
  '0.0001s',
  '2147483648s',
  '576h',
  '577h',
  '3600001ms',
  '1h',
  '"eth0123456789abc"',
  'eth0123456789ab',
  '"a/b"',
  '"."',
  '".."',
  '"eth 0"',
  '"eth0:1"',
  '"\\e[31mred"',
  '"\\u202e"',
  '"\\x00"',
  '/bin/true',
  '[/bin/true, --x]',
  '"/bin/true arg"',
  `"/${'a'.repeat(5000)}"`,
  '"2001:db8::1"',
  '"2001:db8::1/64"',
  '192.0.2.300',
  '"fe80::1%eth0"',
  '198.51.100.1',
  '*undefined_anchor',
  '!!binary AAAA',
  '!custom x',
  '&lonely x',
  '? x',
  '|\n  block\n  scalar',
  '{ type: script }',
  '{ type: http, status: [99, "300-200"] }',
  '[192.0.2.1, "2001:db8::2"]',
];

/** A value whose line the mutator can change: `key: value` or `- value`. */
const VALUE_LINE = /^(\s*(?:- )?(?:[\w<]+:\s+|- ))(\S.*)$/;

function lines(text: string): string[] {
  return text.split('\n');
}

function valueLines(ls: readonly string[]): number[] {
  const out: number[] = [];
  ls.forEach((l, i) => {
    if (VALUE_LINE.test(l) && !l.trimStart().startsWith('#')) out.push(i);
  });
  return out;
}

function setValue(ls: string[], i: number, value: string): void {
  const match = VALUE_LINE.exec(ls[i] ?? '');
  if (match !== null) ls[i] = `${match[1]}${value}`;
}

function ips(n: number, v6: boolean): string {
  const items = Array.from({ length: n }, (_, i) =>
    v6 ? `"2001:db8::${(i + 1).toString(16)}"` : `"198.51.${100 + (i >> 8)}.${i & 255}/24"`,
  );
  return `[${items.join(', ')}]`;
}

function nested(rand: Rand): string {
  const n = pick(rand, [3, 63, 64, 65, 200, 5000]);
  return rand() < 0.5 ? `${'['.repeat(n)}${']'.repeat(n)}` : `${'{a: '.repeat(n)}1${'}'.repeat(n)}`;
}

function laughs(levels: number): string {
  const out = ['lol0: &l0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < levels; i++)
    out.push(
      `lol${i}: &l${i} [${Array(10)
        .fill(`*l${i - 1}`)
        .join(', ')}]`,
    );
  return out.join('\n');
}

/** Copies a named entry (`  VI_1:` and what is indented under it) under a new name: same VRID. */
function duplicateEntry(ls: string[], rand: Rand): void {
  const starts = ls.flatMap((l, i) => (/^ {2}\w+:\s*$/.test(l) ? [i] : []));
  if (starts.length === 0) return;
  const start = pick(rand, starts);
  let end = start + 1;
  while (end < ls.length && (/^ {3,}/.test(ls[end] ?? '') || (ls[end] ?? '').trim() === '')) end++;
  const block = ls.slice(start, end);
  block[0] = (block[0] ?? '').replace(/^( {2}\w+):/, '$1_dup:');
  ls.splice(end, 0, ...block);
}

export type Mutation = (text: string, rand: Rand) => string | Buffer;

export const MUTATIONS: Readonly<Record<string, Mutation>> = {
  deleteLine: (text, rand) => {
    const ls = lines(text);
    ls.splice(int(rand, ls.length), 1);
    return ls.join('\n');
  },
  duplicateLine: (text, rand) => {
    const ls = lines(text);
    const i = int(rand, ls.length);
    ls.splice(i, 0, ls[i] ?? '');
    return ls.join('\n');
  },
  swapLines: (text, rand) => {
    const ls = lines(text);
    const i = int(rand, ls.length);
    const j = int(rand, ls.length);
    [ls[i], ls[j]] = [ls[j] ?? '', ls[i] ?? ''];
    return ls.join('\n');
  },
  extremeValue: (text, rand) => {
    const ls = lines(text);
    const candidates = valueLines(ls);
    if (candidates.length > 0) setValue(ls, pick(rand, candidates), pick(rand, EXTREMES));
    return ls.join('\n');
  },
  controlChar: (text, rand) => {
    const at = int(rand, text.length + 1);
    const c = pick(rand, [
      '\u0000',
      '\u0007',
      '\u001b[2J',
      '\u007f',
      '\u0085',
      '\u009b',
      '\u2028',
      '\u202e',
      '\ufeff',
      '\t',
      '\r',
    ]);
    return text.slice(0, at) + c + text.slice(at);
  },
  alias: (text, rand) => {
    const ls = lines(text);
    const candidates = valueLines(ls);
    if (candidates.length < 2) return text;
    const a = pick(rand, candidates);
    const b = pick(rand, candidates);
    const match = VALUE_LINE.exec(ls[a] ?? '');
    if (match !== null && !(match[2] ?? '').startsWith('&')) ls[a] = `${match[1]}&m ${match[2]}`;
    setValue(ls, b, rand() < 0.8 ? '*m' : '*nowhere');
    return ls.join('\n');
  },
  mergeKey: (text, rand) => {
    const ls = lines(text);
    const openers = ls.flatMap((l, i) => (/^\s*[\w-]+:\s*$/.test(l) ? [i] : []));
    if (openers.length === 0) return text;
    const i = pick(rand, openers);
    const indent = ' '.repeat((ls[i] ?? '').length - (ls[i] ?? '').trimStart().length + 2);
    const source = pick(rand, [
      '{ bogus_merged: 1 }',
      '{ interval: 2147483648s, rise: 0 }',
      '*m',
      '[*m, { also_bogus: 2 }]',
      '{ interface: "eth0123456789abc" }',
      'not-a-map',
    ]);
    ls.splice(i + 1, 0, `${indent}<<: ${source}`);
    if (source.includes('*m')) {
      const openerMatch = /^(\s*[\w-]+:)\s*$/.exec(ls[openers[0] ?? 0] ?? '');
      if (openerMatch !== null && rand() < 0.7) ls[openers[0] ?? 0] = `${openerMatch[1]} &m`;
    }
    return ls.join('\n');
  },
  deepNesting: (text, rand) => {
    const ls = lines(text);
    const candidates = valueLines(ls);
    if (candidates.length > 0) setValue(ls, pick(rand, candidates), nested(rand));
    return ls.join('\n');
  },
  deepBlockSequence: (text, rand) => {
    const depth = pick(rand, [10, 64, 65, 1000]);
    let out = 'virtual_servers:\n';
    for (let i = 0; i < depth; i++) out += `${' '.repeat(2 + i * 2)}-\n`;
    return `${text}\n${out}${' '.repeat(2 + depth * 2)}x\n`;
  },
  hugeValue: (text, rand) => {
    const ls = lines(text);
    const candidates = valueLines(ls);
    const n = pick(rand, [300, 40_000, 200_000]);
    const value = pick(rand, ['x', '9', 'a b ', '\\e']).repeat(n);
    if (candidates.length > 0) setValue(ls, pick(rand, candidates), rand() < 0.5 ? value : `"${value}"`);
    return ls.join('\n');
  },
  longList: (text, rand) => {
    const ls = lines(text);
    const i = ls.findIndex((l) => /virtual_ipaddresses:/.test(l));
    const n = pick(rand, [1, 77, 78, 255, 256, 300]);
    const list = ips(n, rand() < 0.3);
    if (i >= 0) setValue(ls, i, list);
    else
      return `${text}\nvrrp_instances:\n  VI_big: { interface: eth9, virtual_router_id: 9, version: 3, virtual_ipaddresses: ${list} }\n`;
    return ls.join('\n');
  },
  duplicateEntry: (text, rand) => {
    const ls = lines(text);
    duplicateEntry(ls, rand);
    return ls.join('\n');
  },
  truncate: (text, rand) => text.slice(0, int(rand, text.length + 1)),
  indent: (text, rand) => {
    const ls = lines(text);
    const i = int(rand, ls.length);
    ls[i] =
      pick(rand, [' ', '\t', '  '.repeat(20)]) + (rand() < 0.5 ? (ls[i] ?? '') : (ls[i] ?? '').trimStart());
    return ls.join('\n');
  },
  binary: (text, rand) => {
    const bytes = Buffer.from(text, 'utf8');
    const at = int(rand, bytes.length + 1);
    const junk = Buffer.alloc(1 + int(rand, 64));
    for (let i = 0; i < junk.length; i++) junk[i] = int(rand, 256);
    return Buffer.concat([
      bytes.subarray(0, at),
      junk,
      bytes.subarray(Math.min(bytes.length, at + junk.length)),
    ]);
  },
  laughs: (text, rand) => `${laughs(pick(rand, [3, 7, 9]))}\n${text}`,
  manyAliases: (text, rand) => {
    const n = pick(rand, [100, 3000, 10_001]);
    const ls = ['vrrp_scripts:', '  s0: &s { script: /bin/true }'];
    for (let i = 1; i < n; i++) ls.push(`  s${i}: *s`);
    return rand() < 0.5 ? `${text}\n${ls.join('\n')}\n` : `${ls.join('\n')}\n${text}`;
  },
};

/** The costly ones (large texts) less often, so a run of thousands stays short. */
const COSTLY = new Set(['manyAliases', 'hugeValue', 'deepBlockSequence', 'laughs', 'deepNesting']);
const NAMES = Object.keys(MUTATIONS).flatMap(
  (name) => Array(COSTLY.has(name) ? 1 : 4).fill(name) as string[],
);

/** Case `index` of a run with `seed`: a base text and 1 to 3 mutations, named for the report. */
export function mutate(
  bases: readonly { name: string; text: string }[],
  seed: number,
  index: number,
): { name: string; content: string | Buffer } {
  const rand = rng((seed * 1_000_003 + index) >>> 0);
  const base = pick(rand, bases);
  let content: string | Buffer = base.text;
  const applied: string[] = [];
  const count = 1 + int(rand, 3);
  for (let i = 0; i < count; i++) {
    const name = pick(rand, NAMES);
    const mutation = MUTATIONS[name] as Mutation;
    const text = typeof content === 'string' ? content : content.toString('latin1');
    content = mutation(text, rand);
    applied.push(name);
  }
  return { name: `${base.name} #${index}: ${applied.join(' + ')}`, content };
}
