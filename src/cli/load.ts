/**
 * Reads and validates a config file for a CLI command, through the reader the daemon uses too
 * (config/load.ts): I/O errors are usage errors (exit 2), invalid configs exit 1.
 */
import { readConfigFile as readAndValidate } from '../config/load.js';
import type { Config } from '../config/types.js';
import { boundedMessage, formatConfigIssue } from '../errors.js';
import { type CliOutput, EXIT_FAILED, EXIT_USAGE } from './output.js';

export async function readConfigFile(path: string, io: CliOutput): Promise<Config | number> {
  const { config, issues, ioError } = await readAndValidate(path);
  if (ioError !== null) {
    io.err(`ipvsctl: cannot read ${boundedMessage(path, 200)}: ${boundedMessage(ioError)}\n`);
    return EXIT_USAGE;
  }
  if (issues.length > 0 || !config) {
    for (const issue of issues) io.err(`${formatConfigIssue(issue)}\n`);
    io.err(`${boundedMessage(path, 200)}: ${issues.length} error${issues.length === 1 ? '' : 's'}\n`);
    return EXIT_FAILED;
  }
  return config;
}
