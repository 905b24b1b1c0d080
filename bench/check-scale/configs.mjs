/**
 * The check-scale benchmark's real servers and the two checkers' configs for them, in one place so
 * ipvsd and HAProxy are always given the same targets: TCP real server i is 127.1.x.y:8080 and HTTP
 * real server i is 127.2.x.y:8080 (x.y = i), grouped 100 to a virtual server / backend, checked
 * every 1 s (ipvsd: `intervalS`) with a 1 s timeout, one failure to go down and one success to come back.
 */
export const PORT = 8080;
/** HAProxy checks from this source address, so the servers can tell its connections apart. */
export const HAPROXY_SOURCE = '127.0.0.3';
export const PER_VS = 100;

export const tcpAddr = (i) => `127.1.${i >> 8}.${i & 255}`;
export const httpAddr = (i) => `127.2.${i >> 8}.${i & 255}`;
export const range = (n, f) => Array.from({ length: n }, (_, i) => f(i));

function groups(n, size) {
  const out = [];
  for (let i = 0; i < n; i += size) out.push([i, Math.min(n, i + size)]);
  return out;
}

/** ipvsd YAML: `tcp` real servers with tcp checks, `http` with GET /health expecting 200. */
export function ipvsdConfig(tcp, http, { bindIp = null, intervalS = 1 } = {}) {
  const bind = bindIp ? `, bind_ip: ${bindIp}` : '';
  const lines = [
    'director:',
    '  router_id: bench',
    '  ip_forward: false',
    '  ipvs: { unmanaged: keep, resync_interval: 10s }',
    'virtual_servers:',
  ];
  let vsPort = 10000;
  const vs = (name, check, addrs) => {
    lines.push(`  - name: ${name}`, '    address: 203.0.113.10', `    port: ${vsPort++}`);
    lines.push('    protocol: tcp', '    scheduler: rr', `    check: ${check}`, '    real_servers:');
    for (const a of addrs) lines.push(`      - { address: ${a}, port: ${PORT} }`);
  };
  // warmup spreads the first checks over one interval, as HAProxy spreads its own.
  const timing = `interval: ${intervalS}s, timeout: 1s, retry: 1, rise: 1, warmup: ${intervalS}s${bind}`;
  for (const [a, b] of groups(tcp, PER_VS))
    vs(
      `tcp_${a / PER_VS}`,
      `{ type: tcp, ${timing} }`,
      range(b - a, (i) => tcpAddr(a + i)),
    );
  for (const [a, b] of groups(http, PER_VS))
    vs(
      `http_${a / PER_VS}`,
      `{ type: http, path: /health, status: [200], ${timing} }`,
      range(b - a, (i) => httpAddr(a + i)),
    );
  return `${lines.join('\n')}\n`;
}

/** haproxy.cfg: one backend per 100 servers, `check inter 1s`, httpchk for the HTTP ones. */
export function haproxyConfig(tcp, http, { statsSocket, threads = 1 }) {
  const l = [
    'global',
    // No traffic, only checks: a small maxconn keeps HAProxy's fd needs within a 20000 limit.
    '  maxconn 1000',
    `  nbthread ${threads}`,
    `  stats socket ${statsSocket} mode 600 level admin`,
    '  hard-stop-after 5s',
    'defaults',
    '  timeout connect 1s',
    '  timeout check 1s',
    '  timeout client 5s',
    '  timeout server 5s',
    `  source ${HAPROXY_SOURCE}`,
    // The same verdict rules as the ipvsd config (retry 1, rise 1), so neither does extra work.
    '  default-server check inter 1s fall 1 rise 1',
  ];
  for (const [a, b] of groups(tcp, PER_VS)) {
    l.push(`backend tcp_${a / PER_VS}`, '  mode tcp');
    for (let i = a; i < b; i++) l.push(`  server rs${i} ${tcpAddr(i)}:${PORT}`);
  }
  for (const [a, b] of groups(http, PER_VS)) {
    l.push(`backend http_${a / PER_VS}`, '  mode http', '  option httpchk GET /health');
    l.push('  http-check expect status 200');
    for (let i = a; i < b; i++) l.push(`  server rs${i} ${httpAddr(i)}:${PORT}`);
  }
  return `${l.join('\n')}\n`;
}

/**
 * keepalived.conf for the same real servers (bench/keepalived-pss.sh, in the VM: keepalived needs
 * IPVS): one virtual server per 100, NAT, TCP_CHECK / HTTP_GET /health (status 200), every
 * `intervalS`, 1 s connect timeout, one failure to go down (retry 0) and one success to come back.
 */
export function keepalivedConfig(tcp, http, { intervalS = 1 } = {}) {
  const l = ['global_defs {', '  router_id bench', '}'];
  let vsPort = 10000;
  const vs = (addrs, check) => {
    l.push(`virtual_server 203.0.113.10 ${vsPort++} {`, `  delay_loop ${intervalS}`, '  lb_algo rr');
    l.push('  lb_kind NAT', '  protocol TCP');
    for (const a of addrs) l.push(`  real_server ${a} ${PORT} {`, ...check, '  }');
    l.push('}');
  };
  const tcpCheck = ['    TCP_CHECK {', '      connect_timeout 1', '      retry 0', '    }'];
  const httpCheck = [
    '    HTTP_GET {',
    '      url {',
    '        path /health',
    '        status_code 200',
    '      }',
    '      connect_timeout 1',
    '      retry 0',
    '    }',
  ];
  for (const [a, b] of groups(tcp, PER_VS))
    vs(
      range(b - a, (i) => tcpAddr(a + i)),
      tcpCheck,
    );
  for (const [a, b] of groups(http, PER_VS))
    vs(
      range(b - a, (i) => httpAddr(a + i)),
      httpCheck,
    );
  return `${l.join('\n')}\n`;
}
