/**
 * Reading a config file, the one way `ipvsctl check`, `apply`, `convert`, the daemon's start and its
 * reload all do it. The path must name a regular file: it is opened non-blocking and checked with
 * fstat before any read, so a FIFO (which would block a plain open until a writer comes, and a read
 * until it closes), a device (/dev/urandom never ends) or a directory is refused at once. At most
 * MAX_CONFIG_BYTES are read. The bytes must be UTF-8; then the text goes to parseConfig, so every
 * caller gets the same issues for the same file.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { boundedMessage, ConfigError, IpvsdError } from '../errors.js';
import { type ParseOptions, type ParseResult, parseConfig } from './parse.js';
import { LineIndex } from './positions.js';
import type { Config } from './types.js';
import { firstInvalidUtf8 } from './yaml-source.js';

export { type ParseOptions, type ParseResult, parseConfig } from './parse.js';

/** A config (or keepalived.conf) larger than this is refused; a 1,000 × 10 table is about 0.7 MiB. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

export type TextFile =
  | { readonly ok: true; readonly bytes: Buffer }
  | { readonly ok: false; readonly tooLarge: boolean; readonly message: string };

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The bytes of the regular file at `path`, at most `maxBytes` of them. Never blocks on a FIFO or a
 * device and never throws: every failure is a message (without the path, which callers print).
 */
export function readRegularFile(path: string, maxBytes: number = MAX_CONFIG_BYTES): TextFile {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    return { ok: false, tooLarge: false, message: boundedMessage((err as Error).message) };
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile())
      return { ok: false, tooLarge: false, message: `${kindOf(stats)}, not a regular file` };
    if (stats.size > maxBytes) return tooLarge(stats.size, maxBytes);
    // The size is a hint (a file can grow while read, /proc files say 0): read to the end, bounded.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(
        Math.min(maxBytes + 1 - total, Math.max(stats.size + 1 - total, 65_536)),
      );
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) return tooLarge(total, maxBytes);
    }
    return { ok: true, bytes: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total) };
  } catch (err) {
    return { ok: false, tooLarge: false, message: boundedMessage((err as Error).message) };
  } finally {
    closeSync(fd);
  }
}

function tooLarge(size: number, maxBytes: number): TextFile {
  return {
    ok: false,
    tooLarge: true,
    message: `the file is larger than the limit of ${maxBytes} bytes (${size} bytes or more)`,
  };
}

/** The text of a regular file as UTF-8, or a message saying why not (for `convert`'s keepalived.conf). */
export function readTextFile(path: string, maxBytes: number = MAX_CONFIG_BYTES): string {
  const file = readRegularFile(path, maxBytes);
  if (!file.ok) throw new IpvsdError('IPVSD_ERR_CONFIG_IO', file.message);
  return file.bytes.toString('utf8');
}

export interface LoadResult extends ParseResult {
  /** Why the file could not be read at all (missing, not a regular file, unreadable); null when read. */
  readonly ioError: string | null;
}

/**
 * Reads and validates the config at `path`: the daemon's start and reload and every ipvsctl command
 * call this, so they accept and refuse exactly the same files with the same issues. Never throws.
 */
export async function readConfigFile(path: string, options: ParseOptions = {}): Promise<LoadResult> {
  const file = readRegularFile(path);
  if (!file.ok) {
    if (!file.tooLarge) return { config: null, issues: [], ioError: file.message };
    return { config: null, issues: [{ file: path, line: 1, col: 1, message: file.message }], ioError: null };
  }
  const text = file.bytes.toString('utf8');
  const invalid = firstInvalidUtf8(file.bytes, text);
  if (invalid !== -1) {
    const { line, col } = new LineIndex(text).linePos(invalid);
    return {
      config: null,
      issues: [
        { file: path, line, col, message: 'the config is not UTF-8 text (invalid byte sequence here)' },
      ],
      ioError: null,
    };
  }
  return { ...parseConfig(text, path, options), ioError: null };
}

/** Throws IpvsdError(IPVSD_ERR_CONFIG_IO) when unreadable, ConfigError when invalid. */
export async function loadConfig(path: string, options: ParseOptions = {}): Promise<Config> {
  const { config, issues, ioError } = await readConfigFile(path, options);
  if (ioError !== null) throw new IpvsdError('IPVSD_ERR_CONFIG_IO', `cannot read config ${path}: ${ioError}`);
  if (config === null) throw new ConfigError(issues);
  return config;
}
