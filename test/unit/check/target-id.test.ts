import { describe, expect, it } from 'vitest';
import { checkTargetId } from '../../../src/check/target-id.js';
import { httpCheck, noCheck, scriptCheck, tcpCheck } from './fixtures.js';

describe('checkTargetId', () => {
  it('is readable and deterministic', () => {
    expect(checkTargetId(tcpCheck())).toMatch(/^tcp\/198\.51\.100\.11:8080#[0-9a-f]{12}$/);
    expect(checkTargetId(httpCheck())).toMatch(/^http\/198\.51\.100\.11:80\/health#[0-9a-f]{12}$/);
    expect(checkTargetId(httpCheck({ type: 'https', connectIp: '2001:db8::1', connectPort: 443 }))).toMatch(
      /^https\/\[2001:db8::1\]:443\/health#[0-9a-f]{12}$/,
    );
    expect(checkTargetId(scriptCheck())).toMatch(/^script\/\/usr\/local\/bin\/chk#[0-9a-f]{12}$/);
    expect(checkTargetId(noCheck)).toBe('none');
    expect(checkTargetId(tcpCheck())).toBe(checkTargetId(tcpCheck()));
  });

  it('ignores where the check was written, so a reload that moves lines keeps the state', () => {
    expect(checkTargetId(tcpCheck({ source: { line: 40, col: 7 } }))).toBe(checkTargetId(tcpCheck()));
    expect(checkTargetId(httpCheck({ source: { line: 9, col: 3 } }))).toBe(checkTargetId(httpCheck()));
  });

  it('ignores what only matters before the first probe (warmup, initial state)', () => {
    expect(checkTargetId(tcpCheck({ warmupMs: 5000 }))).toBe(checkTargetId(tcpCheck()));
    expect(checkTargetId(tcpCheck({ initialState: 'down' }))).toBe(
      checkTargetId(tcpCheck({ initialState: 'up' })),
    );
  });

  it('spells equal values the same way', () => {
    expect(checkTargetId(tcpCheck({ connectIp: '2001:DB8:0::1' }))).toBe(
      checkTargetId(tcpCheck({ connectIp: '2001:db8::1' })),
    );
    const a = httpCheck({
      status: [
        { min: 200, max: 299 },
        { min: 302, max: 302 },
      ],
    });
    const b = httpCheck({
      status: [
        { min: 302, max: 302 },
        { min: 200, max: 299 },
      ],
    });
    expect(checkTargetId(a)).toBe(checkTargetId(b));
    // SNI and verification mean nothing to plain HTTP.
    expect(checkTargetId(httpCheck({ sni: 'www.example.com', verifyTls: true }))).toBe(
      checkTargetId(httpCheck()),
    );
  });

  it('differs for every parameter that changes the probing or the verdict', () => {
    const base = checkTargetId(httpCheck({ type: 'https' }));
    const variants = [
      httpCheck({ type: 'http' }),
      httpCheck({ type: 'https', connectIp: '198.51.100.12' }),
      httpCheck({ type: 'https', connectPort: 8443 }),
      httpCheck({ type: 'https', bindIp: '192.0.2.1' }),
      httpCheck({ type: 'https', path: '/' }),
      httpCheck({ type: 'https', status: [{ min: 200, max: 299 }] }),
      httpCheck({ type: 'https', digest: '0123456789abcdef0123456789abcdef' }),
      httpCheck({ type: 'https', host: 'www.example.com' }),
      httpCheck({ type: 'https', sni: 'www.example.com' }),
      httpCheck({ type: 'https', verifyTls: true }),
      httpCheck({ type: 'https', intervalMs: 2000 }),
      httpCheck({ type: 'https', timeoutMs: 900 }),
      httpCheck({ type: 'https', retry: 1 }),
      httpCheck({ type: 'https', delayBeforeRetryMs: 0 }),
      httpCheck({ type: 'https', rise: 1 }),
    ].map(checkTargetId);
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
    expect(checkTargetId(scriptCheck({ argv: ['/usr/local/bin/chk', 'api'] }))).not.toBe(
      checkTargetId(scriptCheck()),
    );
    // argv is not split or joined: ["a b"] and ["a", "b"] are different commands.
    expect(checkTargetId(scriptCheck({ argv: ['/bin/chk', 'a b'] }))).not.toBe(
      checkTargetId(scriptCheck({ argv: ['/bin/chk', 'a', 'b'] })),
    );
    expect(checkTargetId(tcpCheck({ connectPort: 8081 }))).not.toBe(checkTargetId(tcpCheck()));
  });
});
