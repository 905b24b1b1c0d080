/**
 * The built `ipvsctl convert` (dist/, as `npm test` builds it first): YAML on stdout that the built
 * `ipvsctl check` accepts, dropped keywords on stderr, and the exit codes of `ipvsctl check`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, ROOT } from './helpers.js';

const BIN = join(ROOT, 'dist/src/bin/ipvsctl.js');
const tmp = mkdtempSync(join(tmpdir(), 'ipvsd-convert-'));

function ipvsctl(...args: string[]) {
  const run = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first`);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('ipvsctl convert (built binary)', () => {
  it('prints YAML that ipvsctl check accepts, and the dropped keywords on stderr; exit 0', () => {
    const run = ipvsctl('convert', fixture('lvs-nat-pair.conf'));
    expect(run.status).toBe(0);
    expect(run.stdout.startsWith('# Converted from ')).toBe(true);
    expect(run.stderr).toContain(
      `${fixture('lvs-nat-pair.conf')}:10:4: warning: "smtp_server" in global_defs is dropped`,
    );
    expect(run.stderr).toContain('converted with 4 warnings');
    const out = join(tmp, 'ipvsd.yaml');
    writeFileSync(out, run.stdout);
    const check = ipvsctl('check', out);
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    expect(check.stdout).toBe(`${out}: valid (2 virtual servers, 5 real servers)\n`);
  });

  it('prints nothing on stdout and every reason on stderr when it refuses; exit 1', () => {
    const file = fixture('refused.conf');
    const run = ipvsctl('convert', file);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines[1]).toBe(
      `${file}:26:17: error: lb_kind TUN options are not supported: ipvsd tunnels with plain IPIP`,
    );
    expect(lines.at(-1)).toBe(`${file}: not converted: 3 errors, 2 warnings`);
  });

  it('exits 2 when the file cannot be read or no file is given', () => {
    const missing = ipvsctl('convert', join(tmp, 'nope.conf'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`ipvsctl: cannot read ${join(tmp, 'nope.conf')}: ENOENT`);
    expect(ipvsctl('convert').status).toBe(2);
  });
});
