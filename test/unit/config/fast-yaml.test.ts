/**
 * The fast YAML path must build exactly the tree the yaml library builds (node kinds, scalar values,
 * type, source, format and start offsets) whenever it accepts a text, and give up on everything else.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMap, isScalar, isSeq, type Node, parseDocument } from 'yaml';
import { parseFast } from '../../../src/config/fast-yaml.js';

/** A comparable picture of a tree: every node with its kind, start offset and scalar details. */
function shape(node: unknown): unknown {
  if (node === null || node === undefined) return null;
  const n = node as Node;
  const at = n.range?.[0];
  if (isScalar(n)) {
    const value = typeof n.value === 'number' && Number.isNaN(n.value) ? 'NaN!' : n.value;
    return { scalar: value, type: n.type, source: n.source, format: n.format ?? null, at };
  }
  if (isMap(n))
    return {
      map: n.items.map((p) => [shape(p.key), shape(p.value)]),
      flow: n.flow === true,
      at,
    };
  if (isSeq(n)) return { seq: n.items.map(shape), flow: n.flow === true, at };
  return { other: String(node) };
}

/** The library's tree, or null when it reports errors. */
function reference(text: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false });
  return doc.errors.length > 0 ? null : shape(doc.contents);
}

/** Fast path accepted `text` and agrees with the library. */
function expectSame(text: string): void {
  const fast = parseFast(text);
  expect(fast, `fast path gave up on:\n${text}`).not.toBeNull();
  expect(shape(fast?.contents)).toEqual(reference(text));
}

const repo = join(import.meta.dirname, '../../..');

describe('fast YAML path', () => {
  it('reads the config fixtures and the shipped config exactly as the yaml library does', () => {
    for (const file of [
      'test/unit/config/fixtures/full.yaml',
      'test/unit/config/fixtures/many-errors.yaml',
      'config/single-director.yaml',
    ]) {
      const text = readFileSync(join(repo, file), 'utf8');
      const fast = parseFast(text);
      if (fast !== null) expect(shape(fast.contents), file).toEqual(reference(text));
    }
    // The shipped example is plain block YAML: it must not fall back.
    expectSame(readFileSync(join(repo, 'config/single-director.yaml'), 'utf8'));
  });

  it("reads the benchmark's 1,000-service table exactly as the yaml library does", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipvsd-fast-yaml-'));
    try {
      execFileSync(process.execPath, [join(repo, 'bench/gen-table.mjs'), dir, '--services', '200']);
      expectSame(readFileSync(join(dir, 'table.yaml'), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('accepts block maps, lists, flow collections, quoted and typed scalars, comments', () => {
    const cases = [
      'a: 1\n',
      'a: 1',
      '# head\n\na: 1 # trailing\n  # indented comment\nb: two words  \n',
      'a:\n  b:\n    c: x\n  d: y\n',
      'a:\n- 1\n- 2\nb: 3\n',
      'a:\n  - x: 1\n    y: 2\n  -   z: 3\n      w: 4\n  - plain\n',
      '- a\n- b\n',
      '-\n  a: 1\n- b: 2\n',
      "a: { x: 1, y: \"two\", z: 'it''s' }\n",
      'a: {x: 1,y: 2}\n',
      'a: {}\nb: []\nc: [ 1, two, "3", [4, 5], { k: v } ]\n',
      'a: 192.0.2.1\nb: 2001:db8::1\nc: { v6: 2001:db8::1, v4: 192.0.2.1 }\nd: [fe80::1]\n',
      'a: true\nb: False\nc: null\nd: ~\ne: NULL\nf: yes\ng: off\n',
      'a: 0x1F\nb: 0o17\nc: 017\nd: -12\ne: +3\nf: 1.5\ng: .5\nh: 1e3\ni: -.inf\nj: .nan\nk: 1_000\n',
      'a: 60s\nb: 1m30s\nc: /usr/bin/check --flag=1\nd: http://198.51.100.1:8080/health?x=1#frag\n',
      'a: x#y\nb: "a # not a comment"\nc: \'\'\nd: ""\n',
      'a: -x\nb: -1\nc: [-1, -x]\n',
      'null: 1\ntrue: 2\nkey_with-dash: 3\n',
      '  a: 1\n  b: 2\n',
      'a: [x]   # comment\nb: "q"  # comment\n',
      'a: ünïcödé ✓\nb: "😀"\n',
    ];
    for (const text of cases) expectSame(text);
  });

  it('gives up on everything outside its subset (the library handles those)', () => {
    const cases = [
      '',
      '# only a comment\n',
      '---\na: 1\n',
      '%YAML 1.2\n---\na: 1\n',
      'a: &x 1\nb: *x\n',
      'a: !!str 1\n',
      '<<: { a: 1 }\n',
      'a: |\n  text\n',
      'a: >\n  text\n',
      'a: one\n  two\n',
      'a: "multi\n  line"\n',
      'a: "esc\\n"\n',
      '"a": 1\n',
      '1: one\n',
      'a b: 1\n',
      'a:\n',
      'a:\nb: 1\n',
      '- \n',
      '- - x\n',
      'a: b: c\n',
      'a:\tb\n',
      'a: 1\r\nb: 2\r\n',
      'a: {x: 1,}\n',
      'a: {x: 1\n  , y: 2}\n',
      'a: [1, 2\n  ]\n',
      'a: {x}\n',
      'a: { x: 1 } extra\n',
      'a: "q"extra\n',
      'a: 1\n b: 2\n',
      'a:\n    b: 1\n  c: 2\n',
      '? a\n: b\n',
      'just a scalar\n',
      'a: [a: 1]\n',
      '\ufeffa: 1\n',
    ];
    for (const text of cases) expect(parseFast(text), JSON.stringify(text)).toBeNull();
  });

  it('agrees with the yaml library on every generated document it accepts', () => {
    // Lines built from config-like pieces and YAML's trouble makers, at random indentation.
    const good = fc.constantFrom(
      'a',
      'port',
      'real_servers',
      'x-y',
      'true',
      'null',
      '1',
      '0x1f',
      '1.5',
      '.inf',
      '~',
      '192.0.2.1',
      '2001:db8::1',
      '-1',
      'a:b',
      'x#y',
      '"q"',
      "'s'",
      "'it''s'",
      '{ k: v }',
      '[1, fe80::1]',
      '{}',
    );
    const trouble = fc.constantFrom(
      '-',
      ':',
      '#',
      '"e\\n"',
      '&a',
      '*a',
      '!t',
      '|',
      '>',
      '{',
      '}',
      '[',
      ']',
      ',',
      '?',
      '@',
      '%',
      '`',
      '',
      ' ',
    );
    const word = fc.oneof({ arbitrary: good, weight: 6 }, { arbitrary: trouble, weight: 1 });
    const line = fc.tuple(
      fc.constantFrom(0, 0, 2, 2, 4, 4, 6, 1, 3),
      fc.constantFrom('', '- ', '- - ', 'key: ', 'k2:', 'key:  ', '-'),
      fc.array(word, { maxLength: 3 }),
      fc.constantFrom('', ' # c', '#c', '  '),
    );
    const doc = fc
      .array(line, { minLength: 1, maxLength: 8 })
      .map((lines) =>
        lines.map(([indent, lead, words, tail]) => `${' '.repeat(indent)}${lead}${words.join(' ')}${tail}`),
      )
      .map((lines) => `${lines.join('\n')}\n`);
    let accepted = 0;
    fc.assert(
      fc.property(doc, (text) => {
        const fast = parseFast(text);
        if (fast === null) return;
        accepted++;
        expect(shape(fast.contents), text).toEqual(reference(text));
      }),
      { numRuns: 10_000 },
    );
    // The generator must exercise the accepting side too, or this test could not fail.
    expect(accepted).toBeGreaterThan(50);
  }, 60_000);

  it('agrees with the yaml library on generated nested documents in mixed styles', () => {
    type Tree = string | { map: [string, Tree][] } | { seq: Tree[] };
    const scalar = fc.constantFrom(
      'x',
      'two words',
      '8080',
      '-3',
      'true',
      '~',
      '1.5',
      '"q"',
      "'s'",
      '2001:db8::1',
    );
    const key = fc.constantFrom('a', 'b_c', 'real-servers', 'null', 'True');
    const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
      tree: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        scalar,
        fc.record({ map: fc.array(fc.tuple(key, tie('tree')), { minLength: 1, maxLength: 3 }) }),
        fc.record({ seq: fc.array(tie('tree'), { minLength: 1, maxLength: 3 }) }),
      ),
    }));
    // Style knobs: indentation step, flow for small collections, lists at the key's indentation,
    // comment lines between entries.
    const style = fc.record({
      step: fc.integer({ min: 1, max: 4 }),
      flow: fc.boolean(),
      sameIndentSeq: fc.boolean(),
      comments: fc.boolean(),
    });
    type Style = { step: number; flow: boolean; sameIndentSeq: boolean; comments: boolean };
    const isLeafy = (t: Tree): boolean =>
      typeof t === 'string' ||
      ('map' in t
        ? t.map.every(([, v]) => typeof v === 'string')
        : t.seq.every((v) => typeof v === 'string'));
    const flow = (t: Tree): string =>
      typeof t === 'string'
        ? t
        : 'map' in t
          ? `{ ${t.map.map(([k, v]) => `${k}: ${flow(v)}`).join(', ')} }`
          : `[${t.seq.map(flow).join(', ')}]`;
    /** Lines of `t` as a block at `indent`. */
    const block = (t: Exclude<Tree, string>, indent: number, st: Style): string[] => {
      const pad = ' '.repeat(indent);
      const out: string[] = [];
      const entries = 'map' in t ? t.map : t.seq.map((v) => [null, v] as const);
      for (const [k, v] of entries) {
        if (st.comments) out.push(`${pad}# between`);
        const lead = k === null ? `${pad}- ` : `${pad}${k}:`;
        if (typeof v === 'string' || (st.flow && isLeafy(v))) {
          out.push(`${lead}${k === null ? '' : ' '}${flow(v)}`);
        } else if (k === null && 'map' in v) {
          // A map in a list item starts on the dash's line.
          const inner = block(v, indent + 2, st);
          out.push(
            `${pad}- ${(inner[st.comments ? 1 : 0] as string).trimStart()}`,
            ...inner.slice(st.comments ? 2 : 1),
          );
        } else {
          const deeper = k !== null && 'seq' in v && st.sameIndentSeq ? indent : indent + st.step;
          out.push(lead.trimEnd(), ...block(v, deeper, st));
        }
      }
      return out;
    };
    let accepted = 0;
    fc.assert(
      fc.property(tree, style, (t, st) => {
        if (typeof t === 'string') return;
        const text = `${block(t, 0, st).join('\n')}\n`;
        const fast = parseFast(text);
        if (fast === null) return;
        accepted++;
        expect(shape(fast.contents), text).toEqual(reference(text));
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(500);
  }, 60_000);
});
