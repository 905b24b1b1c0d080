/** Shared helpers for the config tests: parse inline YAML and read issues as `file:line:col: message`. */

import { parseConfig } from '../../../src/config/parse.js';
import type { Config } from '../../../src/config/types.js';
import { formatConfigIssue } from '../../../src/errors.js';

export const FILE = 'test.yaml';

/** The issues of `text` in the format `ipvsctl check` prints. */
export function issuesOf(text: string): string[] {
  return parseConfig(text, FILE, { hostname: 'node1' }).issues.map(formatConfigIssue);
}

/** Parses `text`, failing the test with every issue if it does not validate. */
export function configOf(text: string): Config {
  const { config, issues } = parseConfig(text, FILE, { hostname: 'node1' });
  if (config === null)
    throw new Error(`expected a valid config, got:\n${issues.map(formatConfigIssue).join('\n')}`);
  return config;
}

/** Joins lines into a YAML document (keeps fixtures' line numbers easy to count). */
export function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}
