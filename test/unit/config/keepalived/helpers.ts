/** Shared helpers for the keepalived import tests: fixtures on disk, an in-memory file system. */
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeSourceFs } from '../../../../src/cli/convert.js';
import {
  convertKeepalived,
  formatDiagnostic,
  type SourceFs,
} from '../../../../src/config/keepalived/index.js';
import { parseConfig } from '../../../../src/config/parse.js';
import type { Config } from '../../../../src/config/types.js';
import { formatConfigIssue } from '../../../../src/errors.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** A fixture path as the tests pass it (relative to the repository, like an operator would). */
export const fixture = (name: string) => posix.relative(ROOT, join(FIXTURES, name));

export interface Converted {
  readonly yaml: string | null;
  readonly messages: string[];
  readonly errors: string[];
  readonly warnings: string[];
}

export function convertFile(
  file: string,
  fs: SourceFs = nodeSourceFs,
  configId: string | null = null,
): Converted {
  const cwd = process.cwd();
  process.chdir(ROOT);
  try {
    const result = convertKeepalived(file, fs, { configId });
    const messages = result.diagnostics.map(formatDiagnostic);
    return {
      yaml: result.yaml,
      messages,
      errors: messages.filter((m) => m.includes(': error: ')),
      warnings: messages.filter((m) => m.includes(': warning: ')),
    };
  } finally {
    process.chdir(cwd);
  }
}

/** Converts and loads the result with the parser `ipvsctl check` uses; fails on any issue. */
export function configFrom(
  file: string,
  fs?: SourceFs,
  configId: string | null = null,
): { config: Config; converted: Converted } {
  const converted = convertFile(file, fs, configId);
  if (converted.yaml === null) throw new Error(`conversion refused:\n${converted.messages.join('\n')}`);
  const { config, issues } = parseConfig(converted.yaml, 'converted.yaml', { hostname: 'node1' });
  if (config === null) {
    throw new Error(
      `converted config does not validate:\n${issues.map(formatConfigIssue).join('\n')}\n${converted.yaml}`,
    );
  }
  return { config, converted };
}

/** An in-memory SourceFs over absolute paths. */
export function memoryFs(files: Record<string, string>): SourceFs {
  const paths = Object.keys(files);
  return {
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
      return text;
    },
    readdir: (dir) => {
      const prefix = dir.endsWith('/') ? dir : `${dir}/`;
      const names = paths
        .filter((p) => p.startsWith(prefix))
        .map((p) => p.slice(prefix.length).split('/')[0] as string);
      return names.length === 0 ? null : [...new Set(names)];
    },
    exists: (path) => paths.some((p) => p === path || p.startsWith(`${path}/`)),
  };
}
