import { describe, expect, it } from 'vitest';
import { configOf, issuesOf, yaml } from './helpers.js';

describe('YAML syntax errors', () => {
  it('are reported with their position', () => {
    expect(issuesOf('virtual_servers: [1, 2')).toEqual([
      'test.yaml:1:23: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    expect(issuesOf(yaml('director:', '  router_id: lb1', ' ip_forward: true'))).toEqual([
      'test.yaml:3:1: invalid YAML: All mapping items must start at the same column',
    ]);
    expect(issuesOf(yaml('director:', '\trouter_id: lb1'))[0]).toBe(
      'test.yaml:2:1: invalid YAML: Tabs are not allowed as indentation',
    );
  });

  it('stop validation (the tree after a syntax error is guesswork)', () => {
    const issues = issuesOf(yaml('director: { router_id: "lb1 }', 'bogus: 1'));
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.every((i) => i.includes(': invalid YAML: '))).toBe(true);
  });

  it('refuses an empty file and a document that is not a map', () => {
    expect(issuesOf('')).toEqual([
      'test.yaml:1:1: the config is empty; expected a map with director, virtual_servers, ...',
    ]);
    expect(issuesOf('# only a comment\n')).toHaveLength(1);
    expect(issuesOf('- 1\n')).toEqual(['test.yaml:1:1: the config must be a map, got a list']);
  });

  it('accepts an empty map: everything has a default', () => {
    expect(configOf('{}\n').virtualServers).toEqual([]);
  });
});

describe('unknown keys', () => {
  it('are reported at the key with a suggestion when one is close', () => {
    expect(
      issuesOf(yaml('virtual_servers:', '  - address: 192.0.2.1', '    port: 80', '    schedular: wrr')),
    ).toEqual(['test.yaml:4:5: unknown key "schedular" in virtual server; did you mean "scheduler"?']);
    expect(issuesOf(yaml('virtualServers: []'))).toEqual([
      'test.yaml:1:1: unknown key "virtualServers" in config; did you mean "virtual_servers"?',
    ]);
  });

  it('list what was expected when nothing is close', () => {
    expect(issuesOf(yaml('director:', '  color: blue'))).toEqual([
      'test.yaml:2:3: unknown key "color" in director; expected one of router_id, ip_forward, ipvs, control_socket, metrics, sync_daemon, announce',
    ]);
  });

  it('are all reported, in every section', () => {
    const text = yaml(
      'director:',
      '  ipvs: { unmanged: keep, timeouts: { tcp_fn: 1s } }',
      'virtual_servers:',
      '  - address: 192.0.2.1',
      '    port: 80',
      '    persistence: { timeot: 10s }',
      '    real_servers:',
      '      - { adress: 198.51.100.1 }',
    );
    expect(issuesOf(text)).toEqual([
      'test.yaml:2:11: unknown key "unmanged" in director.ipvs; did you mean "unmanaged"?',
      'test.yaml:2:39: unknown key "tcp_fn" in director.ipvs.timeouts; did you mean "tcp_fin"?',
      'test.yaml:6:20: unknown key "timeot" in persistence; did you mean "timeout"?',
      'test.yaml:8:9: real server is missing required key "address"',
      'test.yaml:8:11: unknown key "adress" in real server; did you mean "address"?',
    ]);
  });
});

describe('duplicate keys, aliases and merge keys', () => {
  it('reports a duplicate key at the second one', () => {
    expect(issuesOf(yaml('director:', '  router_id: a', '  router_id: b'))).toEqual([
      'test.yaml:3:3: duplicate key "router_id" in director (first at line 2)',
    ]);
  });

  it('follows aliases, and reports a bad aliased value once, where its anchor is', () => {
    const text = yaml(
      'virtual_servers:',
      '  - address: 192.0.2.1',
      '    port: 80',
      '    check: &web { type: http, path: /ok }',
      '  - address: 192.0.2.2',
      '    port: 80',
      '    check: *web',
      '    real_servers: [{ address: 198.51.100.1 }]',
    );
    const config = configOf(text);
    expect(config.virtualServers[1]?.realServers[0]?.check).toMatchObject({ type: 'http', path: '/ok' });
    expect(issuesOf(text.replace('/ok', 'ok'))).toEqual([
      'test.yaml:4:37: path must start with "/" and contain no blanks, got "ok"',
    ]);
  });

  it('takes << merge keys, where own keys win', () => {
    const text = yaml(
      'virtual_servers:',
      '  - &base',
      '    address: 192.0.2.1',
      '    port: 80',
      '    scheduler: rr',
      '  - <<: *base',
      '    port: 81',
    );
    const [a, b] = configOf(text).virtualServers;
    expect(a?.key).toMatchObject({ address: '192.0.2.1', port: 80 });
    expect(b?.key).toMatchObject({ address: '192.0.2.1', port: 81 });
    expect(b?.scheduler).toBe('rr');
  });

  it('refuses an alias that contains itself', () => {
    expect(issuesOf(yaml('director: &d', '  ipvs: *d'))).toEqual([
      'test.yaml:2:3: director.ipvs refers to a map that contains it (through an alias)',
    ]);
  });
});

describe('value shapes', () => {
  it('says what was expected and what was found', () => {
    const text = yaml(
      'director:',
      '  router_id: [a]',
      '  ip_forward:',
      '  control_socket: run/ctl.sock',
      '  metrics: 9469',
      '  ipvs: { resync_interval: 0 }',
      'virtual_servers: {}',
    );
    expect(issuesOf(text)).toEqual([
      'test.yaml:2:14: router_id must be a non-empty string, got a list',
      'test.yaml:3:14: ip_forward must be true or false, got nothing',
      'test.yaml:4:19: control_socket must be an absolute path, got "run/ctl.sock"',
      'test.yaml:5:12: metrics must be a map, got 9469',
      'test.yaml:6:28: resync_interval must be longer than 0s, got 0',
      'test.yaml:7:18: virtual_servers must be a list, got a map',
    ]);
  });

  it('accepts [IPv6]:port and host names for the metrics listener', () => {
    const listen = (v: string) =>
      configOf(yaml('director:', `  metrics: { listen: "${v}" }`)).director.metrics.listen;
    expect(listen('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(listen('localhost:9469')).toEqual({ host: 'localhost', port: 9469 });
    expect(issuesOf(yaml('director:', '  metrics: { listen: "1.2.3.4:0" }'))).toHaveLength(1);
  });
});
