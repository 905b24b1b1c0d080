// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is keepalived syntax under test, not a template
/**
 * convert against odd and hostile keepalived.conf input: messages never carry a raw control
 * character, nesting and expansion are bounded with a positioned error (never "Maximum call stack
 * size exceeded"), a problem found in the generated YAML is reported at the keepalived.conf block
 * it came from, and a seeded mutation run in keepalived's own syntax ($NAME, @ID, ~SEQ, braces,
 * quotes, includes) never throws and only prints positioned, printable lines.
 */
import { describe, expect, it } from 'vitest';
import { convertCommand } from '../../../../src/cli/convert.js';
import { hasUnsafeCharacters } from '../../../../src/errors.js';
import { rng } from '../mutator.js';
import { convertFile, memoryFs } from './helpers.js';

function run(text: string, files: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = convertCommand(
    '/k/k.conf',
    { out: (t) => out.push(t), err: (t) => err.push(t) },
    memoryFs({ '/k/k.conf': text, ...files }),
    'lb1',
  );
  return {
    code,
    out: out.join(''),
    err: err
      .join('')
      .split('\n')
      .filter((l) => l !== ''),
  };
}

describe('control characters', () => {
  it('are escaped in every message that quotes the input', () => {
    const text =
      'global_defs {\n  \x1b[31mevil 1\n  router_id "a\\x07\\nb"\n}\nvrrp_instance "V\\x1bI" {\n  state "\\x9b"\n}\n';
    const converted = convertFile('/k/k.conf', memoryFs({ '/k/k.conf': text }));
    expect(converted.messages.length).toBeGreaterThan(1);
    for (const m of converted.messages) expect(hasUnsafeCharacters(m), m).toBe(false);
    expect(converted.messages).toContain(
      '/k/k.conf:2:3: error: unknown keyword "\\x1b[31mevil" in global_defs: not converted',
    );
  });

  it('are escaped in the comments of the generated YAML', () => {
    const { code, out } = run(
      'virtual_server 203.0.113.9 80 "\\x1b]0;x" {\n  protocol TCP\n  real_server 198.51.100.1 80 {\n  }\n}\n',
    );
    expect(code).toBe(0);
    expect(hasUnsafeCharacters(out.replace(/\n/g, ''))).toBe(false);
    expect(out).toContain('\\x1b]0;x');
  });
});

describe('bounds', () => {
  it('refuses blocks nested deeper than 32 with the position of the brace, on one line or many', () => {
    for (const [text, at] of [
      ['a {\n'.repeat(100_000), '/k/k.conf:33:3'],
      ['{'.repeat(200_000), '/k/k.conf:1:1'],
      [`virtual_server 203.0.113.9 80 {${' real_server 198.51.100.1 80 {'.repeat(50_000)}`, '/k/k.conf:1:'],
    ] as const) {
      const started = Date.now();
      const { code, err } = run(text);
      expect(code).toBe(1);
      expect(
        err.some((l) => l.startsWith(at) && /nest deeper than 32|needs a keyword/.test(l)),
        err.slice(0, 5).join('\n'),
      ).toBe(true);
      expect(err.join('\n')).not.toMatch(/call stack|RangeError/);
      expect(Date.now() - started).toBeLessThan(20_000);
    }
  });

  it('bounds ~SEQ, parameter and include expansion, each at the line that asked for it', () => {
    const seq = run('global_defs {\n~SEQ(A, 1, 1000) ~SEQ(B, 1, 1000) router_id $A$B\n}\n');
    expect(seq.err).toContain(
      '/k/k.conf:2:1: error: this line makes more than 100000 lines (~SEQ or parameters); stopped',
    );
    expect(run('$X=$X$X\nrouter_id $X\n').err[0]).toMatch(
      /^\/k\/k\.conf:2:1: error: parameter substitution (does not end|makes a line longer)/,
    );
    expect(run(`include ${'{a,b}'.repeat(20)}.conf\n`).err[0]).toBe(
      '/k/k.conf:1:9: error: include "{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}…" (105 characters) makes more than 1024 patterns from its {...} lists',
    );
  });

  it('keeps the first 1000 messages and says how many more there were', () => {
    const { err } = run('~SEQ(A, 1, 5000) lvs_id $A\n');
    expect(err).toHaveLength(1002);
    expect(err[1000]).toBe(
      '/k/k.conf:1:18: error: 4000 more messages from here on are not shown (the first 1000 are above)',
    );
  });
});

describe('problems found in the generated YAML', () => {
  it('are reported at the keepalived block, never at a line of the YAML', () => {
    const { code, err } = run(
      [
        'global_defs {',
        '  router_id "a\\x01b"',
        '}',
        'virtual_server 203.0.113.9 80 {',
        '  protocol TCP',
        '  real_server 198.51.100.1 80 {',
        '    MISC_CHECK {',
        '      misc_path "/bin/\\x02x"',
        '    }',
        '  }',
        '}',
      ].join('\n'),
    );
    expect(code).toBe(1);
    expect(err).toEqual([
      '/k/k.conf:1:1: error: the conversion of global_defs does not validate: router_id must not contain control characters, got "a\\x01b"',
      '/k/k.conf:4:1: error: the conversion of virtual_server 203.0.113.9 80 does not validate: script command must not contain control characters, got "/bin/\\x02x"',
      '/k/k.conf: not converted: the converted config does not validate (2 issues above)',
    ]);
  });
});

/** Mutations in keepalived's syntax, from a seed: the same text every time. */
const SNIPPETS = [
  '$P=150',
  '$M=\\',
  '  priority 10 \\',
  '$M',
  '${P}',
  '$P',
  '@lb1 state MASTER',
  '@^lb1 state BACKUP',
  '@',
  '~SEQ(I, 1, 3) real_server 198.51.100.${I} 80 {',
  '~SEQ(I, 0)',
  '~SEQx(I, -1, 2) x',
  '~LST({A},{1})',
  '{',
  '}',
  '} }',
  '"',
  "'",
  'include /k/*.conf',
  'include {a,{b,c}',
  '\\#',
  '\x00\x1b\x7f\u202e',
  'virtual_server 203.0.113.1 80 {',
  'vrrp_instance V {',
  'real_server 198.51.100.1 80 {',
  'TCP_CHECK {',
  'url { path / digest 00 }',
];

const BASE = [
  '$PRIO=100',
  'global_defs {',
  '  router_id lb1',
  '}',
  'vrrp_instance VI_1 {',
  '  interface eth0',
  '  virtual_router_id 51',
  '  priority $PRIO',
  '  virtual_ipaddress {',
  '    ~SEQ(N, 1, 2) 203.0.113.${N}/24',
  '  }',
  '}',
  'virtual_server 203.0.113.10 80 {',
  '  protocol TCP',
  '  real_server 198.51.100.1 80 {',
  '    HTTP_GET {',
  '      url {',
  '        path /',
  '      }',
  '    }',
  '  }',
  '}',
];

function mutateKeepalived(seed: number): string {
  const rand = rng(seed);
  const lines = [...BASE];
  const n = 1 + Math.floor(rand() * 4);
  for (let k = 0; k < n; k++) {
    const where = Math.floor(rand() * (lines.length + 1));
    const what = Math.floor(rand() * 4);
    const snippet = SNIPPETS[Math.floor(rand() * SNIPPETS.length)] as string;
    if (what === 0) lines.splice(where, 0, snippet);
    else if (what === 1) lines.splice(where, 1);
    else if (what === 2) lines[where] = `${lines[where] ?? ''} ${snippet}`;
    else lines.splice(where, 0, snippet.repeat(1 + Math.floor(rand() * 200)));
  }
  return lines.join('\n');
}

describe('seeded mutations in keepalived syntax', () => {
  const CASES = Number(process.env.IPVSD_KEEPALIVED_FUZZ_CASES ?? 400);

  it(`never throw and print only positioned, printable lines (${CASES} cases)`, { timeout: 300_000 }, () => {
    const failures: string[] = [];
    const codes = new Set<number>();
    for (let i = 0; i < CASES; i++) {
      const text = mutateKeepalived(20261206 + i);
      const lineCount = text.split('\n').length;
      let result: ReturnType<typeof run>;
      try {
        result = run(text, { '/k/x.conf': 'lvs_id 1\n' });
      } catch (error) {
        failures.push(`case ${i}: threw ${(error as Error).stack}`);
        continue;
      }
      codes.add(result.code);
      for (const line of result.err) {
        const m = /^\/k\/(k|x)\.conf(?::(\d+):(\d+))?: /.exec(line);
        if (m === null) failures.push(`case ${i}: unpositioned ${JSON.stringify(line)}`);
        else if (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > lineCount))
          failures.push(`case ${i}: line ${m[2]} outside the file: ${line}`);
        if (hasUnsafeCharacters(line)) failures.push(`case ${i}: unprintable ${JSON.stringify(line)}`);
        if (/<converted>|call stack/.test(line)) failures.push(`case ${i}: ${line}`);
      }
      if (failures.length > 10) break;
    }
    expect(failures).toEqual([]);
    expect([...codes].sort()).toEqual([0, 1]);
  });
});
