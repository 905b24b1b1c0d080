/**
 * NAT rules through the `nft` program, as kube-proxy programs nftables: `nft -f -` reads a whole
 * transaction on stdin (./rules.ts writes it), and `nft -j list table` reads the table back.
 * Every run is a bounded child (src/sys/child-process.ts): killed at its timeout, its output capped.
 * This file is the only place that knows nft's command line.
 */
import { IpvsdError } from '../errors.js';
import { type ChildOutcome, runBoundedChild } from '../sys/child-process.js';
import type { NatRuleBackend } from './backend.js';
import { listingFingerprint, NAT_TABLE_FAMILY, NAT_TABLE_NAME, nftScript } from './rules.js';

export interface NftBackendOptions {
  /** The program (default `nft`, looked up in PATH). */
  readonly program?: string;
  /** Each run's limit (default 10 s). */
  readonly timeoutMs?: number;
  /** Run inside another network namespace: a prefix such as `['ip', 'netns', 'exec', 'X']` (tests). */
  readonly prefix?: readonly string[];
}

const STDERR_LIMIT = 4096;
/** A table with tens of thousands of real servers lists in a few MB. */
const STDOUT_LIMIT = 64 * 1024 * 1024;

export function createNftBackend(options: NftBackendOptions = {}): NatRuleBackend {
  const program = options.program ?? 'nft';
  const timeoutMs = options.timeoutMs ?? 10_000;
  const table = `${NAT_TABLE_FAMILY} ${NAT_TABLE_NAME}`;

  async function nft(args: readonly string[], input?: string): Promise<ChildOutcome> {
    return runBoundedChild({
      argv: [...(options.prefix ?? []), program, ...args],
      timeoutMs,
      stderrLimit: STDERR_LIMIT,
      stdoutLimit: STDOUT_LIMIT,
      ...(input === undefined ? {} : { input }),
    });
  }

  /** The outcome as an error for the operator, or null when nft exited 0. */
  function failure(what: string, r: ChildOutcome): IpvsdError | null {
    if (r.end === 'exited' && r.code === 0) return null;
    const why =
      r.end === 'failed'
        ? (r.error as NodeJS.ErrnoException | null)?.code === 'ENOENT'
          ? `${program} not found: full NAT needs the nft program (Debian package nftables)`
          : `${program} did not run: ${r.error?.message}`
        : r.end === 'timeout'
          ? `${program} was killed after ${timeoutMs} ms`
          : r.end === 'aborted'
            ? `${program} was stopped`
            : `${program} exited ${r.code ?? r.signal}: ${oneLine(r.stderr)}`;
    return new IpvsdError('IPVSD_ERR_NFTABLES', `${what}: ${why}`, { cause: r.error ?? undefined });
  }

  return {
    async apply(services) {
      const r = await nft(['-f', '-'], nftScript(services));
      const err = failure(`replacing nftables table ${table}`, r);
      if (err) throw err;
    },

    async read() {
      const r = await nft(['-j', 'list', 'table', NAT_TABLE_FAMILY, NAT_TABLE_NAME]);
      const err = failure(`reading nftables table ${table}`, r);
      if (err) {
        // nft says "No such file or directory" for a missing table; tell that from a real
        // failure by asking for the list of tables, which does not depend on the message's wording.
        if (r.end === 'exited' && !(await tableExists())) return null;
        throw err;
      }
      if (r.stdoutTruncated)
        throw new IpvsdError(
          'IPVSD_ERR_NFTABLES',
          `reading nftables table ${table}: listing over ${STDOUT_LIMIT} bytes`,
        );
      const fingerprint = listingFingerprint(r.stdout);
      if (fingerprint === null)
        throw new IpvsdError(
          'IPVSD_ERR_NFTABLES',
          `reading nftables table ${table}: ${program} -j printed no nftables JSON`,
        );
      return fingerprint;
    },
  };

  async function tableExists(): Promise<boolean> {
    const r = await nft(['-j', 'list', 'tables']);
    const err = failure('listing nftables tables', r);
    if (err) throw err;
    let items: unknown;
    try {
      items = (JSON.parse(r.stdout) as { nftables?: unknown }).nftables;
    } catch {
      throw new IpvsdError('IPVSD_ERR_NFTABLES', `listing nftables tables: ${program} -j printed no JSON`);
    }
    return (
      Array.isArray(items) &&
      items.some((item: { table?: { family?: unknown; name?: unknown } }) => {
        const t = item?.table;
        return t?.family === NAT_TABLE_FAMILY && t.name === NAT_TABLE_NAME;
      })
    );
  }
}

/** nft's error output is several lines (message, the input line, a caret line): keep it on one. */
function oneLine(text: string): string {
  return (
    text
      .trim()
      .replace(/\s*\n\s*/g, ' | ')
      .slice(0, 1000) || '(no message)'
  );
}
