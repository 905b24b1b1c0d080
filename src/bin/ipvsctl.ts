#!/usr/bin/env node
/** ipvsctl: the operator's CLI. Composition root only: argv, wiring, exit codes. */
import { Command, CommanderError } from 'commander';
import type { ControlCall } from '../cli/daemon.js';
import { EXIT_FAILED, EXIT_USAGE, processOutput } from '../cli/output.js';
import { DEFAULT_CONTROL_SOCKET } from '../control/protocol.js';
import { IpvsdError } from '../errors.js';
import { VERSION } from '../version.js';

// Each command's modules are imported when that command runs: `ipvsctl apply` then never loads the
// daemon client, and vice versa. Startup is a large part of a short command on a slow machine.
// `apply` and `list` use the daemon's own IPVS backend.
const kernelBackend = async () => (await import('../ipvs/kernel-backend.js')).createKernelBackend();

/**
 * The daemon to ask: `--socket` when given (before or after the subcommand), else the
 * `director.control_socket` of the daemon's config when `--config` names it, else the default.
 */
async function daemon(command: Command): Promise<ControlCall> {
  const { socketControlCall } = await import('../cli/daemon.js');
  const opts = command.optsWithGlobals<{ socket: string; config?: string }>();
  const explicit = sourceOf(command, 'socket') === 'cli';
  if (explicit || !opts.config) return socketControlCall(opts.socket);
  const file = opts.config;
  return async (request, timeoutMs) => {
    const { readConfigFile } = await import('../cli/load.js');
    const config = await readConfigFile(file, processOutput);
    if (typeof config === 'number')
      throw new IpvsdError('IPVSD_ERR_CONFIG_INVALID', `cannot take the control socket from ${file}`);
    return socketControlCall(config.director.controlSocket)(request, timeoutMs);
  };
}

/** Where an option's value came from, looking up through the parent commands (global options). */
function sourceOf(command: Command, option: string): string | undefined {
  for (let c: Command | null = command; c; c = c.parent) {
    const source = c.getOptionValueSource(option);
    if (source !== undefined && c.options.some((o) => o.attributeName() === option)) return source;
  }
  return undefined;
}

function program(): Command {
  const cmd = new Command('ipvsctl')
    .description('Operate ipvsd and the kernel IPVS table')
    .version(VERSION)
    .option('--socket <path>', 'control socket of the daemon', DEFAULT_CONTROL_SOCKET)
    .option('--config <file>', "the daemon's config: its director.control_socket is the default socket")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  cmd
    .command('check')
    .description('validate a config file; print every error as FILE:LINE:COL: message')
    .argument('<file>')
    .action(async (file: string) => {
      const { checkCommand } = await import('../cli/check.js');
      process.exitCode = await checkCommand(file, processOutput);
    });

  cmd
    .command('apply')
    .description("make the kernel IPVS table match the config's virtual servers (no checks, no VRRP)")
    .argument('<file>')
    .option('--dry-run', 'show the operations without making them', false)
    .option('--json', 'print {"operations": [...]}', false)
    .action(async (file: string, opts: { dryRun: boolean; json: boolean }) => {
      const { applyCommand } = await import('../cli/apply.js');
      process.exitCode = await applyCommand(file, opts, kernelBackend, processOutput);
    });

  cmd
    .command('list')
    .description('show the kernel IPVS table, like ipvsadm -Ln')
    .option('--json', 'print {"services": [...]}', false)
    .option('--stats', 'include counters', false)
    .action(async (opts: { json: boolean; stats: boolean }) => {
      const { listCommand } = await import('../cli/list.js');
      process.exitCode = await listCommand(opts, kernelBackend, processOutput);
    });

  cmd
    .command('status')
    .description(
      'show the running daemon: virtual and real servers with health and weights, VRRP, last reconcile',
    )
    .option('--json', "print the daemon's status as JSON", false)
    .action(async (opts: { json: boolean }, command: Command) => {
      const { statusCommand } = await import('../cli/status.js');
      process.exitCode = await statusCommand(opts, await daemon(command), processOutput);
    });

  cmd
    .command('reload')
    .description('make the daemon re-read its config; a config that does not validate is refused')
    .action(async (_opts: unknown, command: Command) => {
      const { reloadCommand } = await import('../cli/daemon-commands.js');
      process.exitCode = await reloadCommand(await daemon(command), processOutput);
    });

  for (const [name, description] of [
    ['drain', "set a real server's weight to 0 and keep it there (through reloads) until undrain"],
    ['undrain', 'give a drained real server its configured weight back'],
  ] as const) {
    cmd
      .command(name)
      .description(description)
      .argument('<vs>', 'virtual server: its name, tcp/203.0.113.100:80 or fwmark/7')
      .argument('<rs>', 'real server: 198.51.100.11:8080 or [2001:db8::1]:80')
      .action(async (vs: string, rs: string, _opts: unknown, command: Command) => {
        const { drainCommand } = await import('../cli/daemon-commands.js');
        process.exitCode = await drainCommand(name, vs, rs, await daemon(command), processOutput);
      });
  }

  for (const [name, description] of [
    [
      'withdraw',
      'stop announcing a VIP (or, without an address, every VIP of this director) to the routers; kept through reloads and restarts until announce',
    ],
    ['announce', 'lift a withdrawal: the VIP is announced again while this director can serve it'],
  ] as const) {
    cmd
      .command(name)
      .description(description)
      .argument('[address]', 'a VIP of a virtual server with announce: true (default: the whole node)')
      .action(async (address: string | undefined, _opts: unknown, command: Command) => {
        const { announceCommand } = await import('../cli/daemon-commands.js');
        process.exitCode = await announceCommand(name, address, await daemon(command), processOutput);
      });
  }

  cmd
    .command('convert')
    .description(
      'convert a keepalived.conf (with its includes) to ipvsd YAML on stdout; dropped keywords on stderr',
    )
    .argument('<keepalived.conf>')
    .action(async (file: string) => {
      const { convertCommand } = await import('../cli/convert.js');
      process.exitCode = convertCommand(file, processOutput);
    });

  cmd
    .command('failover')
    .description(
      'hand a MASTER VRRP instance or sync group over to its peer (priority-0 advert, then BACKUP)',
    )
    .argument('<name>', 'a vrrp_instances or vrrp_sync_groups name')
    .action(async (name: string, _opts: unknown, command: Command) => {
      const { failoverCommand } = await import('../cli/daemon-commands.js');
      process.exitCode = await failoverCommand(name, await daemon(command), processOutput);
    });

  return cmd;
}

/** Runs the command line, then exits (see below). */
async function main(): Promise<void> {
  try {
    await program().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
    } else if (err instanceof IpvsdError) {
      process.stderr.write(`ipvsctl: ${err.message}\n`);
      process.exitCode = EXIT_FAILED;
    } else {
      process.stderr.write(`ipvsctl: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = EXIT_FAILED;
    }
  }
  // Done: exit now rather than let node wind down on its own, which tears the whole heap down first —
  // seconds after a big apply on a slow machine, for nothing. Everything written is flushed first (the
  // empty writes call back once what was queued before them is out; on Linux, pipes and files are
  // written synchronously anyway).
  const flushed = (stream: NodeJS.WriteStream) =>
    new Promise<void>((resolve) => stream.write('', () => resolve()));
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit();
}

void main();
