/**
 * keepalived.conf import: read a file and its includes, parse, convert to ipvsd's config and
 * print it as YAML. File access is injected (SourceFs) so the whole pipeline runs in unit tests.
 */
import { type Conversion, convert } from './convert.js';
import { type Diagnostic, Diagnostics } from './diagnostics.js';
import { emitYaml } from './emit.js';
import { parse } from './parser.js';
import { readSource, type SourceFs } from './source.js';
import { splitsAt } from './walk.js';

export { type Diagnostic, formatDiagnostic } from './diagnostics.js';
export type { SourceFs } from './source.js';

export interface KeepalivedConversion {
  /** null when any diagnostic is an error: the conversion is refused. */
  readonly yaml: string | null;
  readonly conversion: Conversion;
  /** Errors and warnings in file order (includes in place). */
  readonly diagnostics: Diagnostic[];
}

/** Throws only when `file` itself cannot be read (an I/O error for the caller). */
export function convertKeepalived(file: string, fs: SourceFs): KeepalivedConversion {
  const d = new Diagnostics();
  const source = readSource(file, fs, d);
  const statements = parse(source.tokens, d, splitsAt);
  const conversion = convert(statements, d);
  const header = [
    `Converted from ${file} by ipvsctl convert.`,
    'Check it with ipvsctl check before use; the comments name the keepalived.conf lines.',
  ].join('\n');
  return {
    yaml: d.failed ? null : emitYaml(conversion, header),
    conversion,
    diagnostics: d.sorted(source.files),
  };
}
