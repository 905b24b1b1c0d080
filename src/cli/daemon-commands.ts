/**
 * `ipvsctl reload`, `ipvsctl drain VS RS`, `ipvsctl undrain VS RS`, `ipvsctl failover NAME`,
 * `ipvsctl withdraw [ADDRESS]`, `ipvsctl announce [ADDRESS]`: the daemon resolves the names.
 */
import type { AnnounceResult, DrainResult, FailoverResult, ReloadResult } from '../control/protocol.js';
import { askDaemon, type ControlCall } from './daemon.js';
import { type CliOutput, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './output.js';

function malformed(io: CliOutput, cmd: string): number {
  io.err(`ipvsctl: malformed ${cmd} response from ipvsd\n`);
  return EXIT_USAGE;
}

/** Exit 0 when the daemon took the new config, 1 (with every error) when it refused it. */
export async function reloadCommand(call: ControlCall, io: CliOutput): Promise<number> {
  const answer = await askDaemon(call, { cmd: 'reload' }, io);
  if ('exit' in answer) return answer.exit;
  const result = answer.result as Partial<ReloadResult> | null;
  if (typeof result?.reloaded !== 'boolean') return malformed(io, 'reload');
  const errors = Array.isArray(result.errors) ? result.errors.map(String) : [];
  if (result.reloaded) {
    io.out('reloaded\n');
    return EXIT_OK;
  }
  io.err('ipvsctl: reload refused; the running config stays:\n');
  for (const e of errors) io.err(`${e}\n`);
  return EXIT_FAILED;
}

export async function drainCommand(
  cmd: 'drain' | 'undrain',
  vs: string,
  rs: string,
  call: ControlCall,
  io: CliOutput,
): Promise<number> {
  const answer = await askDaemon(call, { cmd, vs, rs }, io);
  if ('exit' in answer) return answer.exit;
  const result = answer.result as Partial<DrainResult> | null;
  if (typeof result?.drained !== 'boolean') return malformed(io, cmd);
  const where = `${result.rs ?? rs} in ${result.vs ?? vs}`;
  io.out(result.drained ? `drained ${where} (weight 0 until undrain)\n` : `undrained ${where}\n`);
  if (typeof result.warning === 'string') io.err(`ipvsctl: warning: ${result.warning}\n`);
  return EXIT_OK;
}

/**
 * Exit 0 when the MASTER instance or group handed over (a priority-0 advert went out, it is BACKUP
 * now), 1 when the daemon refused (unknown name, not MASTER, no VRRP), 2 when there is no daemon.
 */
export async function failoverCommand(name: string, call: ControlCall, io: CliOutput): Promise<number> {
  const answer = await askDaemon(call, { cmd: 'failover', name }, io);
  if ('exit' in answer) return answer.exit;
  const result = answer.result as Partial<FailoverResult> | null;
  if (typeof result?.state !== 'string') return malformed(io, 'failover');
  const what = result.kind === 'sync_group' ? 'sync group' : 'instance';
  io.out(
    `${what} ${result.name ?? name}: ${result.previous ?? 'MASTER'} -> ${result.state} (priority 0 sent: the peer takes over)\n`,
  );
  return EXIT_OK;
}

/**
 * Exit 0 when the daemon took the withdrawal (or lifted it) and prints every announced VIP's state
 * after it; 1 when the daemon refused (an address no announced virtual server has), 2 without a daemon.
 */
export async function announceCommand(
  cmd: 'withdraw' | 'announce',
  address: string | undefined,
  call: ControlCall,
  io: CliOutput,
): Promise<number> {
  const answer = await askDaemon(call, address === undefined ? { cmd } : { cmd, address }, io);
  if ('exit' in answer) return answer.exit;
  const result = answer.result as Partial<AnnounceResult> | null;
  if (typeof result?.withdrawn !== 'boolean' || !Array.isArray(result.announcements))
    return malformed(io, cmd);
  const what = result.address ?? 'every VIP of this director';
  io.out(
    result.withdrawn
      ? `withdrew ${what} (kept withdrawn through reloads and restarts until announce)\n`
      : `lifted the withdrawal of ${what}\n`,
  );
  for (const a of result.announcements)
    io.out(`  ${a.address}  ${a.announced ? 'announced' : 'withdrawn'}  ${a.reason}\n`);
  if (typeof result.warning === 'string') io.err(`ipvsctl: warning: ${result.warning}\n`);
  return EXIT_OK;
}
