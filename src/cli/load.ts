/** Reads and validates a config file for a CLI command: I/O errors are usage errors (exit 2). */
import { readFile } from 'node:fs/promises';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { formatConfigIssue } from '../errors.js';
import { type CliOutput, EXIT_FAILED, EXIT_USAGE } from './output.js';
import { mark } from './timing.js';

export async function readConfigFile(path: string, io: CliOutput): Promise<Config | number> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    io.err(`ipvsctl: cannot read ${path}: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  mark('config file read');
  const { config, issues } = parseConfig(text, path);
  if (issues.length > 0 || !config) {
    for (const issue of issues) io.err(`${formatConfigIssue(issue)}\n`);
    io.err(`${path}: ${issues.length} error${issues.length === 1 ? '' : 's'}\n`);
    return EXIT_FAILED;
  }
  return config;
}
