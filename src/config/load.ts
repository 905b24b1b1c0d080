/**
 * Reading a config file: I/O failures and invalid configs become IpvsdErrors with distinct codes
 * (IPVSD_ERR_CONFIG_IO vs IPVSD_ERR_CONFIG_INVALID carrying every issue), so callers (daemon start,
 * SIGHUP reload) can refuse a bad file and keep running with the old config.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, IpvsdError } from '../errors.js';
import { type ParseOptions, parseConfig } from './parse.js';
import type { Config } from './types.js';

export { type ParseOptions, type ParseResult, parseConfig } from './parse.js';

/** Throws IpvsdError(IPVSD_ERR_CONFIG_IO) when unreadable, ConfigError when invalid. */
export async function loadConfig(path: string, options: ParseOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new IpvsdError('IPVSD_ERR_CONFIG_IO', `cannot read config ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const { config, issues } = parseConfig(text, path, options);
  if (config === null) throw new ConfigError(issues);
  return config;
}
