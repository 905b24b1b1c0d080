/**
 * `ipvsctl convert keepalived.conf`: the converted config as YAML on stdout; every keyword that
 * was dropped (warning) or refused (error) on stderr as FILE:LINE:COL. Exit 0 when converted (even
 * with warnings), 1 when refused, 2 when the file cannot be read. The YAML is validated with the
 * same parser `ipvsctl check` uses before it is printed, so what comes out always loads; a problem
 * found there is reported at the keepalived.conf block it came from (the operator never saw the
 * YAML, so a YAML line would point nowhere).
 */
import { existsSync, readdirSync } from 'node:fs';
import {
  convertKeepalived,
  defaultConfigId,
  formatDiagnostic,
  type SourceFs,
} from '../config/keepalived/index.js';
import { parseConfig, readTextFile } from '../config/load.js';
import { boundedMessage } from '../errors.js';
import { type CliOutput, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './output.js';

export const nodeSourceFs: SourceFs = {
  // The regular-file and size checks of the YAML config: a FIFO or /dev/urandom is refused at once.
  readFile: (path) => readTextFile(path),
  readdir: (dir) => {
    try {
      return readdirSync(dir);
    } catch {
      return null;
    }
  },
  exists: (path) => existsSync(path),
};

export function convertCommand(
  file: string,
  io: CliOutput,
  fs: SourceFs = nodeSourceFs,
  configId: string = defaultConfigId(),
): number {
  // Only what is printed is kept: the converted objects are let go before the YAML is checked.
  let result: Pick<ReturnType<typeof convertKeepalived>, 'yaml' | 'diagnostics' | 'sourceOf'>;
  try {
    const { yaml, diagnostics, sourceOf } = convertKeepalived(file, fs, { configId });
    result = { yaml, diagnostics, sourceOf };
  } catch (err) {
    io.err(`ipvsctl: cannot read ${boundedMessage(file, 200)}: ${boundedMessage((err as Error).message)}\n`);
    return EXIT_USAGE;
  }
  for (const d of result.diagnostics) io.err(`${formatDiagnostic(d)}\n`);
  const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = result.diagnostics.length - errors;
  if (result.yaml === null) {
    io.err(
      `${boundedMessage(file, 200)}: not converted: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}\n`,
    );
    return EXIT_FAILED;
  }
  // A converter bug must never hand out a config the daemon would refuse.
  const { issues } = parseConfig(result.yaml, '<converted>', { hostname: 'localhost' });
  if (issues.length > 0) {
    for (const issue of issues) {
      const from = result.sourceOf(issue.line);
      const at = from?.at ?? { file, line: 1, col: 1 };
      const what = from === null ? 'the converted config' : `the conversion of ${from.what}`;
      io.err(
        `${formatDiagnostic({ ...at, severity: 'error', message: `${what} does not validate: ${issue.message}` })}\n`,
      );
    }
    io.err(
      `${boundedMessage(file, 200)}: not converted: the converted config does not validate (${issues.length} issue${issues.length === 1 ? '' : 's'} above)\n`,
    );
    return EXIT_FAILED;
  }
  io.out(result.yaml);
  if (warnings > 0)
    io.err(
      `${boundedMessage(file, 200)}: converted with ${warnings} warning${warnings === 1 ? '' : 's'} (dropped keywords listed above)\n`,
    );
  return EXIT_OK;
}
