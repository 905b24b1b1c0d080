/**
 * keepalived.conf import: read a file and its includes, apply keepalived's config language
 * ($NAME, @id, ~SEQ), parse, convert to ipvsd's config and print it as YAML. File access is
 * injected (SourceFs) so the whole pipeline runs in unit tests. The stages are chained lazily:
 * tokens are made as the parser takes them and each top-level block is converted and let go,
 * so what stays in memory is the converted config, not the file's words.
 */
import { hostname } from 'node:os';
import type { SourceComment } from './convert.js';
import { type Conversion, convert } from './convert.js';
import { type Diagnostic, Diagnostics } from './diagnostics.js';
import { emitYaml } from './emit.js';
import { parseStream } from './parser.js';
import { readSource, type SourceFs } from './source.js';
import { splitsAt } from './walk.js';

export type { SourceComment } from './convert.js';
export { type Diagnostic, formatDiagnostic } from './diagnostics.js';
export type { SourceFs } from './source.js';

export interface KeepalivedConversion {
  /** null when any diagnostic is an error: the conversion is refused. */
  readonly yaml: string | null;
  readonly conversion: Conversion;
  /** Errors and warnings in file order (includes in place). */
  readonly diagnostics: Diagnostic[];
  /** The keepalived block a line of `yaml` came from (null: the header). */
  sourceOf(yamlLine: number): SourceComment | null;
}

export interface ConvertOptions {
  /**
   * keepalived's config id, which `@ID` lines are compared with (keepalived's -i option); null:
   * none, as keepalived without one (every `@ID` line left out, every `@^ID` line kept).
   */
  readonly configId: string | null;
}

/** keepalived's default config id: the host name up to its first dot (core/main.c). */
export function defaultConfigId(name: string = hostname()): string {
  const dot = name.indexOf('.');
  return dot === -1 ? name : name.slice(0, dot);
}

/** Throws only when `file` itself cannot be read (an I/O error for the caller). */
export function convertKeepalived(
  file: string,
  fs: SourceFs,
  options: ConvertOptions = { configId: null },
): KeepalivedConversion {
  const d = new Diagnostics();
  const source = readSource(file, fs, d, options);
  const conversion = convert(parseStream(source.tokens, d, splitsAt), d);
  const header = [
    `Converted from ${file} by ipvsctl convert.`,
    'Check it with ipvsctl check before use; the comments name the keepalived.conf lines.',
  ].join('\n');
  const emitted = d.failed ? null : emitYaml(conversion, header);
  return {
    yaml: emitted?.text ?? null,
    conversion,
    diagnostics: d.sorted(source.files),
    sourceOf: (line) => emitted?.sourceOf(line) ?? null,
  };
}
