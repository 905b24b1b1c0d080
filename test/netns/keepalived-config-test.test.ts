/**
 * keepalived itself as the oracle for the checker snippets `convert` is tested with: `keepalived
 * -t` (config test: parse, report, exit) accepts test/unit/config/keepalived/fixtures/checkers.conf
 * without a complaint, and complains about exactly the snippets convert refuses for the same
 * reason (an unknown DNS type, min_reply_length > max_reply_length). In the netns tier because the
 * unit tier runs no system tools; it needs no namespace.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEEPALIVED } from '../support/keepalived.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipvsd-kconf-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What `keepalived -t` prints about a config (it logs to stderr with -l -D), and its exit code. */
function configTest(file: string): { code: number; output: string } {
  try {
    const out = execFileSync(KEEPALIVED, ['-t', '-l', '-D', '-f', file, '-p', join(dir, 'k.pid')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: 0, output: out };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, output: `${e.stdout}${e.stderr}` };
  }
}

const complaints = (output: string) => output.split('\n').filter((l) => /^\(.*Line \d+\)/.test(l));

describe('keepalived -t on the converter fixtures', () => {
  it('accepts checkers.conf without a complaint', () => {
    const r = configTest('test/unit/config/keepalived/fixtures/checkers.conf');
    expect(complaints(r.output)).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('complains where convert refuses: an unknown DNS type, min_reply_length > max_reply_length', () => {
    const file = join(dir, 'bad.conf');
    writeFileSync(
      file,
      [
        'virtual_server 192.0.2.10 53 {',
        '    protocol UDP',
        '    real_server 198.51.100.1 53 {',
        '        DNS_CHECK {',
        '            type SPF',
        '        }',
        '        UDP_CHECK {',
        '            require_reply 00',
        '            min_reply_length 9',
        '            max_reply_length 3',
        '        }',
        '    }',
        '}',
        '',
      ].join('\n'),
    );
    const lines = complaints(configTest(file).output).map((l) => l.replace(/^\([^:]*: /, '('));
    expect(lines).toEqual([
      '(Line 5) Unknown DNS check type SPF - ignoring',
      '(Line 11) UDP_CHECK min_reply length 9 > max_reply_length 3 - will always fail',
    ]);
  });
});
