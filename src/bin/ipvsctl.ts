#!/usr/bin/env node
/** ipvsctl: the operator's CLI. Composition root only: argv, wiring, exit codes. */
import { Command, CommanderError } from 'commander';
import { applyCommand } from '../cli/apply.js';
import { checkCommand } from '../cli/check.js';
import { listCommand } from '../cli/list.js';
import { EXIT_FAILED, EXIT_USAGE, processOutput } from '../cli/output.js';
import { IpvsdError } from '../errors.js';
import { createKernelBackend } from '../ipvs/kernel-backend.js';
import { VERSION } from '../version.js';

const DEFAULT_SOCKET = '/run/ipvsd/control.sock';

function program(): Command {
  const cmd = new Command('ipvsctl')
    .description('Operate ipvsd and the kernel IPVS table')
    .version(VERSION)
    .option('--socket <path>', 'control socket of the daemon', DEFAULT_SOCKET)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  cmd
    .command('check')
    .description('validate a config file; print every error as FILE:LINE:COL: message')
    .argument('<file>')
    .action(async (file: string) => {
      process.exitCode = await checkCommand(file, processOutput);
    });

  cmd
    .command('apply')
    .description("make the kernel IPVS table match the config's virtual servers (no checks, no VRRP)")
    .argument('<file>')
    .option('--dry-run', 'show the operations without making them', false)
    .option('--json', 'print {"operations": [...]}', false)
    .action(async (file: string, opts: { dryRun: boolean; json: boolean }) => {
      process.exitCode = await applyCommand(file, opts, createKernelBackend, processOutput);
    });

  cmd
    .command('list')
    .description('show the kernel IPVS table, like ipvsadm -Ln')
    .option('--json', 'print {"services": [...]}', false)
    .option('--stats', 'include counters', false)
    .action(async (opts: { json: boolean; stats: boolean }) => {
      process.exitCode = await listCommand(opts, createKernelBackend, processOutput);
    });

  return cmd;
}

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
