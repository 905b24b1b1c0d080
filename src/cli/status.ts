/**
 * `ipvsctl status [--json]`: what the running daemon sees. `--json` prints the daemon's StatusResult
 * unchanged (the contract of DESIGN §5); the text is for a person at a terminal: one table of real
 * servers per virtual server, VRRP when there is any, and the last reconcile.
 */
import type {
  NatStatus,
  ProcessStatus,
  RealServerStatus,
  StatusResult,
  VirtualServerStatus,
} from '../control/protocol.js';
import { hostPort } from '../model/ipvs.js';
import { askDaemon, type ControlCall } from './daemon.js';
import { type CliOutput, EXIT_OK, EXIT_USAGE } from './output.js';

export interface StatusOptions {
  readonly json: boolean;
}

/** Daemon-supplied text (a check's reason) on one line, whatever it contains. */
function oneLine(text: string): string {
  return text.replace(/\p{Cc}+/gu, ' ').trim();
}

/** Left-aligned columns two spaces apart; the last column is not padded. */
export function formatColumns(rows: readonly (readonly string[])[], indent = '  '): string[] {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
  );
}

export function formatLatency(ms: number): string {
  return ms < 10 ? `${Math.round(ms * 10) / 10} ms` : `${Math.round(ms)} ms`;
}

/** The service the way the CLI's VS argument spells it: `tcp/203.0.113.100:80`, `fwmark/7`. */
export function virtualServerKey(vs: VirtualServerStatus): string {
  if (vs.fwmark !== null) return `fwmark/${vs.fwmark}`;
  return `${vs.protocol ?? '?'}/${hostPort(vs.address ?? '?', vs.port ?? 0)}`;
}

function lastCheck(rs: RealServerStatus): string {
  const c = rs.last_check;
  if (c === null) return 'not checked yet';
  const reason = oneLine(c.reason);
  return `${c.ok ? 'ok' : 'failed'} ${formatLatency(c.latency_ms)}${reason === '' ? '' : `: ${reason}`}`;
}

function virtualServerLines(vs: VirtualServerStatus): string[] {
  const key = virtualServerKey(vs);
  const title = vs.name === key ? key : `${vs.name} (${key})`;
  const q = vs.quorum;
  const quorum = `quorum ${q.required}, live weight ${q.live_weight}${q.met ? '' : ' (QUORUM LOST)'}`;
  const lines = [`virtual server ${title}  scheduler ${vs.scheduler}  ${quorum}`];
  if (vs.members !== undefined && vs.members.length > 0) {
    const members = vs.members.map((m) => {
      const text = virtualServerKey({ ...vs, ...m });
      return m.in_kernel ? text : `${text} (not in the kernel)`;
    });
    lines.push(`  ${vs.group ? `group ${vs.group}` : 'services'}: ${members.join(', ')}`);
  }
  if (vs.sorry_server_active)
    lines.push('  sorry server active: it replaces the real servers until quorum returns');
  if (vs.real_servers.length === 0) {
    lines.push('  no real servers');
    return lines;
  }
  const rows = [['REAL SERVER', 'HEALTH', 'WEIGHT', 'KERNEL', 'DRAINED', 'LAST CHECK']];
  for (const rs of vs.real_servers)
    rows.push([
      hostPort(rs.address, rs.port),
      rs.health,
      // A file check's number moved it: the weight in force, then the configured one.
      rs.effective_weight === undefined || rs.effective_weight === rs.weight
        ? String(rs.weight)
        : `${rs.effective_weight} (${rs.weight} configured)`,
      rs.kernel_weight === null ? '-' : String(rs.kernel_weight),
      rs.drained ? 'yes' : 'no',
      lastCheck(rs),
    ]);
  lines.push(...formatColumns(rows));
  return lines;
}

/** Non-zero drop reasons: `3 (bad_ttl 2, auth_mismatch 1)`; `0` when none. */
function droppedText(dropped: Readonly<Record<string, number>> | undefined): string {
  const nonZero = Object.entries(dropped ?? {}).filter(([, n]) => n > 0);
  const sum = nonZero.reduce((a, [, n]) => a + n, 0);
  return nonZero.length === 0 ? '0' : `${sum} (${nonZero.map(([r, n]) => `${r} ${n}`).join(', ')})`;
}

function vrrpLines(vrrp: StatusResult['vrrp']): string[] {
  const lines: string[] = [];
  const { instances, sync_groups: groups } = vrrp;
  if (instances.length > 0) {
    lines.push('', 'vrrp instances');
    lines.push(
      ...formatColumns([
        ['NAME', 'STATE', 'PRIORITY', 'MASTER', 'TRANSITIONS', 'SENT', 'RECEIVED', 'DROPPED'],
        ...instances.map((i) => [
          i.name,
          i.state,
          String(i.priority),
          i.master_address ?? '-',
          i.transitions === undefined ? '-' : String(i.transitions),
          i.adverts ? String(i.adverts.sent) : '-',
          i.adverts ? String(i.adverts.received) : '-',
          i.adverts ? droppedText(i.adverts.dropped) : '-',
        ]),
      ]),
    );
  }
  if (groups.length > 0) {
    lines.push('', 'vrrp sync groups');
    lines.push(
      ...formatColumns([
        ['NAME', 'STATE', 'TRANSITIONS', 'MEMBERS'],
        ...groups.map((g) => [
          g.name,
          g.state,
          g.transitions === undefined ? '-' : String(g.transitions),
          (g.members ?? []).join(', '),
        ]),
      ]),
    );
  }
  const d = vrrp.sync_daemon;
  if (d) {
    const running = d.running.length === 0 ? 'none running' : `${d.running.join(' and ')} running`;
    const wanted = d.wanted !== null && !d.running.includes(d.wanted) ? ` (${d.wanted} wanted)` : '';
    lines.push(
      '',
      `ipvs sync daemon: ${running}${wanted} on ${d.interface}, sync id ${d.sync_id}; follows ${d.follow} (${d.follow_state})`,
    );
    if (d.last_error !== null) lines.push(`  last error: ${oneLine(d.last_error)}`);
  }
  return lines;
}

/** The daemon and its children: pid (or down), restarts, when each started and last restarted. */
function processLines(processes: readonly ProcessStatus[] | undefined): string[] {
  if (processes === undefined || processes.length === 0) return [];
  const rows = [['PROCESS', 'PID', 'RESTARTS', 'STARTED', 'LAST RESTART']];
  for (const p of processes)
    rows.push([
      p.name,
      p.pid === null ? 'down' : String(p.pid),
      String(p.restarts),
      p.started_at ?? '-',
      p.last_restart ?? 'never',
    ]);
  return ['', 'processes', ...formatColumns(rows)];
}

/** Full NAT's table, when there is something to say about it. */
function natLines(nat: NatStatus | undefined): string[] {
  if (nat === undefined || (nat.rules === 0 && nat.errors === 0 && nat.table !== 'present')) return [];
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const lines = [
    '',
    `full NAT: nftables table inet ipvsd ${nat.table}, ${plural(nat.rules, 'rule')}, ${plural(nat.errors, 'error')}, ${plural(nat.drift_repairs, 'drift repair')}`,
  ];
  if (nat.last_error !== null) lines.push(`  last error: ${oneLine(nat.last_error)}`);
  for (const s of nat.sources)
    if (s.local === false) lines.push(`  full_nat ${s.address} is not an address of this director`);
  return lines;
}

/** Announced VIPs (issue 15): whether the routers are told, since when, and why. */
function announcementLines(announcements: StatusResult['announcements']): string[] {
  if (announcements === undefined || announcements.length === 0) return [];
  const rows = [['VIP', 'ANNOUNCED', 'SINCE', 'REASON']];
  for (const a of announcements)
    rows.push([a.address, a.announced ? 'yes' : 'no', a.since ?? '-', oneLine(a.reason)]);
  return ['', 'announcements', ...formatColumns(rows)];
}

export function formatStatusText(status: StatusResult): string {
  const lines = [`config ${status.config.file}, loaded ${status.config.loaded_at}`];
  const r = status.last_reconcile;
  if (r === null) lines.push('last reconcile: none yet');
  else {
    const errors =
      r.errors.length === 0 ? 'no errors' : `${r.errors.length} error${r.errors.length === 1 ? '' : 's'}`;
    lines.push(
      `last reconcile ${r.at}: ${r.operations} operation${r.operations === 1 ? '' : 's'}, ${errors}`,
    );
    for (const e of r.errors) lines.push(`  ${oneLine(e)}`);
  }

  lines.push(...processLines(status.processes));
  lines.push(...vrrpLines(status.vrrp));
  lines.push(...natLines(status.nat));
  lines.push(...announcementLines(status.announcements));

  if (status.virtual_servers.length === 0) lines.push('', 'no virtual servers');
  for (const vs of status.virtual_servers) lines.push('', ...virtualServerLines(vs));
  return `${lines.join('\n')}\n`;
}

/** Enough of the shape for the text formatter not to trip over a daemon of another version. */
export function isStatusResult(value: unknown): value is StatusResult {
  const v = value as Partial<StatusResult> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    Array.isArray(v.virtual_servers) &&
    v.virtual_servers.every(
      (vs) => Array.isArray(vs?.real_servers) && typeof vs.quorum === 'object' && vs.quorum !== null,
    ) &&
    typeof v.vrrp === 'object' &&
    v.vrrp !== null &&
    Array.isArray(v.vrrp.instances) &&
    Array.isArray(v.vrrp.sync_groups) &&
    typeof v.config === 'object' &&
    v.config !== null &&
    (v.last_reconcile === null ||
      (typeof v.last_reconcile === 'object' && Array.isArray(v.last_reconcile.errors)))
  );
}

export async function statusCommand(
  options: StatusOptions,
  call: ControlCall,
  io: CliOutput,
): Promise<number> {
  const answer = await askDaemon(call, { cmd: 'status' }, io);
  if ('exit' in answer) return answer.exit;
  if (options.json) {
    io.out(`${JSON.stringify(answer.result)}\n`);
    return EXIT_OK;
  }
  if (!isStatusResult(answer.result)) {
    io.err('ipvsctl: malformed status response from ipvsd (try --json)\n');
    return EXIT_USAGE;
  }
  io.out(formatStatusText(answer.result));
  return EXIT_OK;
}
