import { describe, expect, it } from 'vitest';
import { configOf, issuesOf, yaml } from './helpers.js';

/** One tcp/80 service with the given service-level and real-server-level check lines. */
function service(vsCheck: string | null, rsCheck: string | null): string {
  return yaml(
    'virtual_servers:',
    '  - address: 192.0.2.1',
    '    port: 80',
    ...(vsCheck === null ? [] : [`    check: ${vsCheck}`]),
    '    real_servers:',
    `      - address: 198.51.100.1`,
    ...(rsCheck === null ? [] : [`        check: ${rsCheck}`]),
  );
}

const checkOf = (vsCheck: string | null, rsCheck: string | null) =>
  configOf(service(vsCheck, rsCheck)).virtualServers[0]?.realServers[0]?.check;

describe('check defaults', () => {
  it('a TCP service without any check block gets a tcp check of the real server', () => {
    expect(checkOf(null, null)).toEqual({
      type: 'tcp',
      intervalMs: 2000,
      timeoutMs: 1000,
      retry: 1,
      delayBeforeRetryMs: 1000,
      rise: 1,
      warmupMs: 0,
      initialState: 'up',
      connectIp: '198.51.100.1',
      connectPort: 80,
      bindIp: null,
      source: { line: 5, col: 9 },
    });
  });

  it('timeout defaults to the interval when that is shorter than 1s', () => {
    expect(checkOf('{ interval: 300ms }', null)).toMatchObject({ intervalMs: 300, timeoutMs: 300 });
    expect(checkOf('{ interval: 5s }', null)).toMatchObject({ intervalMs: 5000, timeoutMs: 1000 });
  });

  it('http defaults', () => {
    expect(checkOf('{ type: http }', null)).toMatchObject({
      type: 'http',
      path: '/',
      status: [{ min: 200, max: 200 }],
      digest: null,
      host: null,
      sni: null,
      verifyTls: false,
    });
  });
});

describe('check values', () => {
  it('reads every key', () => {
    const check = checkOf(
      '{ type: https, interval: 0.5s, timeout: 250ms, retry: 3, delay_before_retry: 2s, rise: 2, warmup: 1m, initial_state: down, ' +
        'connect_ip: 198.51.100.50, connect_port: 8443, bind_ip: 198.51.100.254, path: /health?full=1, ' +
        'status: [200, "300-399", 401], digest: 0123456789ABCDEF0123456789abcdef, host: www.example, ' +
        'sni: tls.example, verify_tls: true }',
      null,
    );
    expect(check).toEqual({
      type: 'https',
      intervalMs: 500,
      timeoutMs: 250,
      retry: 3,
      delayBeforeRetryMs: 2000,
      rise: 2,
      warmupMs: 60_000,
      initialState: 'down',
      connectIp: '198.51.100.50',
      connectPort: 8443,
      bindIp: '198.51.100.254',
      path: '/health?full=1',
      status: [
        { min: 200, max: 200 },
        { min: 300, max: 399 },
        { min: 401, max: 401 },
      ],
      digest: '0123456789abcdef0123456789abcdef',
      host: 'www.example',
      sni: 'tls.example',
      verifyTls: true,
      source: { line: 4, col: 12 },
    });
  });

  it('takes a script as a path or an argv list', () => {
    expect(checkOf('{ type: script, script: /usr/bin/chk }', null)).toMatchObject({
      type: 'script',
      argv: ['/usr/bin/chk'],
    });
    expect(checkOf('{ type: script, script: [/usr/bin/chk, -p, 80] }', null)).toMatchObject({
      argv: ['/usr/bin/chk', '-p', '80'],
    });
  });

  it('reports bad values at the value', () => {
    const text = service(
      '{ type: script, script: "/bin/chk --fast", retry: 0, rise: 1.5 }',
      '{ type: http, status: [99, "300-200"], path: health, digest: xyz }',
    );
    expect(issuesOf(text)).toEqual([
      'test.yaml:4:36: script must be an absolute path; give arguments as a list like [/path/to/cmd, arg]',
      'test.yaml:4:62: retry must be an integer from 1 to 1000, got 0',
      'test.yaml:4:71: rise must be an integer from 1 to 1000, got 1.5',
      'test.yaml:7:39: status must be HTTP status codes (100-599) or ranges like "200-299", got 99',
      'test.yaml:7:43: status must be HTTP status codes (100-599) or ranges like "200-299", got "300-200"',
      'test.yaml:7:61: path must start with "/" and contain no blanks, got "health"',
      'test.yaml:7:77: digest must be 32 hex digits (an MD5 sum), got "xyz"',
    ]);
  });
});

describe('check merging', () => {
  it('overrides the service check key by key', () => {
    expect(
      checkOf('{ type: http, path: /a, interval: 3s, retry: 4 }', '{ path: /b, retry: 2 }'),
    ).toMatchObject({
      type: 'http',
      path: '/b',
      intervalMs: 3000,
      retry: 2,
      source: { line: 7, col: 16 },
    });
  });

  it('keeps only the inherited keys that fit a changed type', () => {
    const check = checkOf('{ type: http, path: /a, interval: 3s }', '{ type: tcp }');
    expect(check).toMatchObject({ type: 'tcp', intervalMs: 3000 });
    expect(check).not.toHaveProperty('path');
    expect(checkOf('{ type: http, path: /a }', '{ type: https, sni: x.example }')).toMatchObject({
      type: 'https',
      path: '/a',
      sni: 'x.example',
    });
    expect(checkOf('{ type: http }', '{ type: none }')).toEqual({
      type: 'none',
      source: { line: 7, col: 16 },
    });
  });

  it('reports keys that do not fit the effective type, at the key', () => {
    expect(issuesOf(service('{ type: http }', '{ type: tcp, path: /x }'))).toEqual([
      'test.yaml:7:29: key "path" is not valid for tcp checks; it is for http and https checks',
    ]);
    expect(issuesOf(service(null, '{ sni: x.example }'))).toEqual([
      'test.yaml:6:18: key "sni" is not valid for tcp checks; it is for https checks',
    ]);
    expect(issuesOf(service('{ type: http, verify_tls: true }', null))).toEqual([
      'test.yaml:4:26: key "verify_tls" is not valid for http checks; it is for https checks',
    ]);
    expect(issuesOf(service('{ type: none, interval: 1s }', null))).toEqual([
      'test.yaml:4:26: key "interval" is not valid for none checks; it is for tcp, http, https, script, dns, udp, ping, smtp and file checks',
    ]);
    expect(issuesOf(service('{ type: script, script: /bin/x, connect_port: 80 }', null))).toEqual([
      'test.yaml:4:44: key "connect_port" is not valid for script checks; it is for tcp, http, https, dns, udp and smtp checks',
    ]);
  });

  it('requires a script for script checks, inherited or own', () => {
    expect(issuesOf(service('{ type: script }', null))).toEqual([
      'test.yaml:4:12: script check is missing required key "script"',
    ]);
    expect(issuesOf(service(null, '{ type: script }'))).toEqual([
      'test.yaml:6:16: script check is missing required key "script"',
    ]);
    expect(checkOf('{ type: script, script: /bin/a }', '{ interval: 9s }')).toMatchObject({
      type: 'script',
      argv: ['/bin/a'],
      intervalMs: 9000,
    });
  });

  it('reports an unknown check type once and no follow-up fit errors', () => {
    expect(issuesOf(service('{ type: htp, path: /x }', null))).toEqual([
      'test.yaml:4:20: type "htp" is not one of tcp, http, https, script, dns, udp, ping, smtp, file, none',
    ]);
  });
});
