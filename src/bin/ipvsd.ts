#!/usr/bin/env node
/** ipvsd: the director daemon. Until the daemon issue lands it only reports its version. */
import { Command } from 'commander';
import { VERSION } from '../version.js';

new Command('ipvsd')
  .description('LVS/IPVS director daemon (NAT mode)')
  .version(VERSION)
  .option('--config <file>', 'config file')
  .action(() => {
    process.stderr.write(
      'ipvsd: the daemon is not implemented yet; use `ipvsctl apply` for a one-shot table\n',
    );
    process.exitCode = 2;
  })
  .parse(process.argv);
