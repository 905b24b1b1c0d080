/** The HTTP check's one request builder and its status rules (src/check/http.ts), without sockets. */
import { describe, expect, it } from 'vitest';
import { formatStatusRanges, httpRequestBytes, statusMatches } from '../../../src/check/http.js';
import { httpCheck } from './fixtures.js';

describe('HTTP check request', () => {
  it('is one GET with Host ip:port by default, closing the connection', () => {
    expect(httpRequestBytes(httpCheck()).toString('latin1')).toBe(
      'GET /health HTTP/1.1\r\nHost: 198.51.100.11:80\r\nUser-Agent: ipvsd-check\r\n' +
        'Accept: */*\r\nConnection: close\r\n\r\n',
    );
  });

  it('brackets an IPv6 address in the default Host, and sends a configured Host as it is', () => {
    const v6 = httpCheck({ connectIp: '2001:db8::11', connectPort: 8080, path: '/a?b=c' });
    expect(httpRequestBytes(v6).toString('latin1')).toMatch(
      /^GET \/a\?b=c HTTP\/1\.1\r\nHost: \[2001:db8::11\]:8080\r\n/,
    );
    const named = httpCheck({ host: 'www.example.com', type: 'https' });
    expect(httpRequestBytes(named).toString('latin1')).toContain('\r\nHost: www.example.com\r\n');
  });

  it('is made once per check object, and afresh for the object a reload brings', () => {
    const check = httpCheck();
    expect(httpRequestBytes(check)).toBe(httpRequestBytes(check));
    const reloaded = { ...check, path: '/ready' };
    expect(httpRequestBytes(reloaded).toString('latin1')).toMatch(/^GET \/ready /);
  });
});

describe('HTTP check status ranges', () => {
  const ranges = [
    { min: 200, max: 299 },
    { min: 302, max: 302 },
  ];

  it('matches a status inside any range, bounds included', () => {
    expect([199, 200, 250, 299, 300, 302, 303].map((s) => statusMatches(s, ranges))).toEqual([
      false,
      true,
      true,
      true,
      false,
      true,
      false,
    ]);
  });

  it('names the ranges as the config wrote them', () => {
    expect(formatStatusRanges(ranges)).toBe('200-299 or 302');
    expect(formatStatusRanges([{ min: 200, max: 200 }])).toBe('200');
  });
});
