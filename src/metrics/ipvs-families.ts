/**
 * The kernel's IPVS table as Prometheus text families, rendered straight from one dump (pure: dump in,
 * text out). Written by hand rather than through prom-client metric objects because a director with
 * 10,000 real servers has ~90,000 of these series per scrape: going through prom-client's per-sample
 * label hashing and validation took about 2 s of event loop there, which would stall health checks and
 * the reconciler. Here the backends' nine families share one label text, and the text comes in chunks
 * so the caller can yield to the event loop between them.
 *
 * Labels use node_exporter's ipvs collector names and values (`local_address`, `local_port`,
 * `local_mark` as /proc/net/ip_vs prints it (`%08X`), `proto` upper case with `FWM` for fwmark services,
 * `remote_address`, `remote_port`), so a host running both can join them; `virtual_server` and
 * `real_server` join with ipvsd's health series. Series whose labels coincide (an unnamed `fwmark/7`
 * and `fwmark6/7`) are summed, as node_exporter does, never written twice.
 */
import { canonicalAddress } from '../model/address.js';
import { type DestinationState, hostPort, type ServiceKey, type ServiceState } from '../model/ipvs.js';

interface Family<T> {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly help: string;
  readonly value: (item: T) => number;
}

/** Counters carry the kernel's cumulative values; a service re-added starts at 0 (a counter reset). */
export const SERVICE_FAMILIES: readonly Family<ServiceState>[] = [
  {
    name: 'ipvsd_ipvs_service_connections_total',
    type: 'counter',
    help: 'Connections the kernel scheduled for this IPVS virtual service.',
    value: (s) => s.stats.conns,
  },
  {
    name: 'ipvsd_ipvs_service_incoming_packets_total',
    type: 'counter',
    help: 'Packets from clients to this IPVS virtual service.',
    value: (s) => s.stats.inPackets,
  },
  {
    name: 'ipvsd_ipvs_service_outgoing_packets_total',
    type: 'counter',
    help: 'Packets from real servers back to clients of this IPVS virtual service.',
    value: (s) => s.stats.outPackets,
  },
  {
    name: 'ipvsd_ipvs_service_incoming_bytes_total',
    type: 'counter',
    help: 'Bytes from clients to this IPVS virtual service.',
    value: (s) => s.stats.inBytes,
  },
  {
    name: 'ipvsd_ipvs_service_outgoing_bytes_total',
    type: 'counter',
    help: 'Bytes from real servers back to clients of this IPVS virtual service.',
    value: (s) => s.stats.outBytes,
  },
];

export const BACKEND_FAMILIES: readonly Family<DestinationState>[] = [
  {
    name: 'ipvsd_ipvs_backend_connections_active',
    type: 'gauge',
    help: 'Active (established) connections to the real server, as the kernel counts them.',
    value: (d) => d.activeConns,
  },
  {
    name: 'ipvsd_ipvs_backend_connections_inactive',
    type: 'gauge',
    help: 'Inactive connections (not established, or closing) to the real server.',
    value: (d) => d.inactiveConns,
  },
  {
    name: 'ipvsd_ipvs_backend_connections_persistent',
    type: 'gauge',
    help: 'Persistence templates pointing at the real server.',
    value: (d) => d.persistConns,
  },
  {
    name: 'ipvsd_ipvs_backend_weight',
    type: 'gauge',
    help: 'The real server weight in the kernel (0: no new connections).',
    value: (d) => d.weight,
  },
  {
    name: 'ipvsd_ipvs_backend_connections_total',
    type: 'counter',
    help: 'Connections the kernel scheduled to the real server.',
    value: (d) => d.stats.conns,
  },
  {
    name: 'ipvsd_ipvs_backend_incoming_packets_total',
    type: 'counter',
    help: 'Packets from clients forwarded to the real server.',
    value: (d) => d.stats.inPackets,
  },
  {
    name: 'ipvsd_ipvs_backend_outgoing_packets_total',
    type: 'counter',
    help: 'Packets from the real server back to clients.',
    value: (d) => d.stats.outPackets,
  },
  {
    name: 'ipvsd_ipvs_backend_incoming_bytes_total',
    type: 'counter',
    help: 'Bytes from clients forwarded to the real server.',
    value: (d) => d.stats.inBytes,
  },
  {
    name: 'ipvsd_ipvs_backend_outgoing_bytes_total',
    type: 'counter',
    help: 'Bytes from the real server back to clients.',
    value: (d) => d.stats.outBytes,
  },
];

export const SERVICE_LABEL_NAMES = ['virtual_server', 'local_address', 'local_port', 'local_mark', 'proto'];
export const BACKEND_LABEL_NAMES = [...SERVICE_LABEL_NAMES, 'real_server', 'remote_address', 'remote_port'];

/**
 * Rows (label sets) per chunk (about 50 KB of text): keeps each slice of work well under a millisecond
 * or two, and each chunk short-lived enough to die young (see check-series.ts).
 */
const ROWS_PER_CHUNK = 250;

/**
 * The families of one dump in the Prometheus text format 0.0.4, as chunks to concatenate: families
 * separated by a blank line like prom-client's, no trailing newline. Empty chunks mark points where
 * the caller may yield to the event loop while the rows are being gathered. `serviceName` maps a
 * kernel service to the config's name (`virtual_server`; empty for services the config does not name).
 */
export function* ipvsFamilyChunks(
  services: readonly ServiceState[],
  serviceName: (key: ServiceKey) => string | undefined,
): Generator<string, void, undefined> {
  const serviceRows = new Map<string, number[]>();
  const backendRows = new Map<string, number[]>();
  let gathered = 0;
  for (const service of services) {
    const svc = serviceLabelText(service.key, serviceName(service.key) ?? '');
    addRow(serviceRows, svc, SERVICE_FAMILIES, service);
    for (const dest of service.destinations) {
      const address = canonicalAddress(dest.address);
      const be =
        `${svc},real_server="${escapeLabel(hostPort(address, dest.port))}"` +
        `,remote_address="${escapeLabel(address)}",remote_port="${dest.port}"`;
      addRow(backendRows, be, BACKEND_FAMILIES, dest);
      if (++gathered % ROWS_PER_CHUNK === 0) yield '';
    }
  }
  let separator = '';
  for (const [families, rows] of [
    [SERVICE_FAMILIES, serviceRows],
    [BACKEND_FAMILIES, backendRows],
  ] as const) {
    for (const [i, family] of families.entries()) {
      let chunk = `${separator}# HELP ${family.name} ${family.help}\n# TYPE ${family.name} ${family.type}`;
      separator = '\n\n';
      let inChunk = 0;
      for (const [labels, values] of rows) {
        chunk += `\n${family.name}{${labels}} ${values[i] ?? 0}`;
        if (++inChunk === ROWS_PER_CHUNK) {
          yield chunk;
          chunk = '';
          inChunk = 0;
        }
      }
      yield chunk;
    }
  }
}

/** All of `ipvsFamilyChunks` at once. */
export function renderIpvsFamilies(
  services: readonly ServiceState[],
  serviceName: (key: ServiceKey) => string | undefined,
): string {
  let text = '';
  for (const chunk of ipvsFamilyChunks(services, serviceName)) text += chunk;
  return text;
}

function addRow<T>(
  rows: Map<string, number[]>,
  labels: string,
  families: readonly Family<T>[],
  item: T,
): void {
  const values = families.map((family) => count(family.value(item)));
  const existing = rows.get(labels);
  if (existing) {
    for (let i = 0; i < values.length; i++) existing[i] = (existing[i] ?? 0) + (values[i] ?? 0);
  } else {
    rows.set(labels, values);
  }
}

/** node_exporter's values: /proc/net/ip_vs prints `TCP  C0000201:0050` or `FWM  00000007`. */
function serviceLabelText(key: ServiceKey, virtualServer: string): string {
  const vs = `virtual_server="${escapeLabel(virtualServer)}"`;
  if (key.fwmark !== null) {
    const mark = key.fwmark.toString(16).toUpperCase().padStart(8, '0');
    return `${vs},local_address="",local_port="0",local_mark="${mark}",proto="FWM"`;
  }
  const address = escapeLabel(canonicalAddress(key.address));
  return `${vs},local_address="${address}",local_port="${key.port}",local_mark="",proto="${key.protocol.toUpperCase()}"`;
}

/** The text format's label-value escapes: backslash, double quote, line feed. */
function escapeLabel(value: string): string {
  return /[\\"\n]/.test(value)
    ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
    : value;
}

/** Kernel counts are non-negative integers; anything else (a decoder bug) shows as 0, not as NaN. */
function count(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}
