/**
 * keepalived's shape of a parser, reused: one table per block from keyword to handler, plus a
 * table of the keywords ipvsd deliberately does not carry over, each with its reason and whether
 * dropping it is harmless (warning) or would change behaviour (error). A keyword in neither table
 * is an error too: a converter that does not know a keyword cannot know that dropping it is safe.
 * The tables double as the keyword lists that split one-line blocks (parser.ts).
 */
import { quote } from '../../errors.js';
import type { Diagnostics, Severity } from './diagnostics.js';
import type { Statement } from './parser.js';

export type Handler<D> = (s: Statement, draft: D, d: Diagnostics) => void;
export type Handlers<D> = Readonly<Record<string, Handler<D>>>;

export interface Dropped {
  readonly severity: Severity;
  readonly why: string;
}

export type DroppedTable = Readonly<Record<string, Dropped>>;

export const warn = (why: string): Dropped => ({ severity: 'warning', why });
export const refuse = (why: string): Dropped => ({ severity: 'error', why });

/** Every block's keywords, by the keyword that opens the block, for splitting one-line blocks. */
const BLOCK_KEYWORDS = new Map<string, Set<string>>();

/** What each block converts, drops and refuses, for the generated reference (reference.ts). */
export interface Section {
  readonly converted: Set<string>;
  readonly dropped: Map<string, Dropped>;
}
const SECTIONS = new Map<string, Section>();

/** The name the top level is registered under (it opens no block, so it never splits one). */
export const TOP_LEVEL = '(top level)';

/** Registers the keywords of the block(s) opened by `openers`; returns the handlers unchanged. */
export function register<D>(
  openers: readonly string[],
  handlers: Handlers<D>,
  dropped: DroppedTable = {},
): Handlers<D> {
  for (const opener of openers) {
    const set = BLOCK_KEYWORDS.get(opener) ?? new Set<string>();
    for (const key of [...Object.keys(handlers), ...Object.keys(dropped)]) set.add(key);
    BLOCK_KEYWORDS.set(opener, set);
    const section = SECTIONS.get(opener) ?? {
      converted: new Set<string>(),
      dropped: new Map<string, Dropped>(),
    };
    for (const key of Object.keys(handlers)) section.converted.add(key);
    for (const [key, why] of Object.entries(dropped)) section.dropped.set(key, why);
    SECTIONS.set(opener, section);
  }
  return handlers;
}

/** Every registered block, in registration order. */
export function registeredSections(): ReadonlyMap<string, Section> {
  return SECTIONS;
}

export function splitsAt(enclosing: string, word: string): boolean {
  return BLOCK_KEYWORDS.get(enclosing)?.has(word) === true;
}

export function walk<D>(
  statements: Iterable<Statement>,
  section: string,
  handlers: Handlers<D>,
  dropped: DroppedTable,
  draft: D,
  d: Diagnostics,
): void {
  for (const s of statements) {
    const key = s.keyword.text;
    const handler = Object.hasOwn(handlers, key) ? handlers[key] : undefined;
    if (handler !== undefined && !s.keyword.quoted) {
      handler(s, draft, d);
      continue;
    }
    const drop = Object.hasOwn(dropped, key) ? dropped[key] : undefined;
    if (drop === undefined && /^\$[A-Za-z_]/.test(key) && !s.keyword.quoted) {
      d.error(
        s.keyword,
        `${quote(key)} is neither a parameter definition keepalived reads ($NAME=VALUE, no blank before "=") nor a defined parameter`,
      );
    } else if (drop === undefined) {
      d.error(s.keyword, `unknown keyword ${quote(key)} in ${section}: not converted`);
    } else if (drop.severity === 'error') {
      d.error(s.keyword, `${quote(key)} in ${section} is not supported: ${drop.why}`);
    } else {
      d.warn(s.keyword, `${quote(key)} in ${section} is dropped: ${drop.why}`);
    }
  }
}

/** Reports a block where none belongs, or a missing one; true when `s` has the block it needs. */
export function needsBlock(s: Statement, d: Diagnostics): s is Statement & { block: readonly Statement[] } {
  if (s.block !== null) return true;
  d.error(s.keyword, `${s.keyword.text} needs a block ({ ... })`);
  return false;
}

export function noBlock(s: Statement, d: Diagnostics): boolean {
  if (s.block === null) return true;
  d.error(s.keyword, `${s.keyword.text} takes no block`);
  return false;
}

/**
 * The words of a list block (`virtual_ipaddress { ... }`, `group { ... }`): one entry per line,
 * each the keyword and its arguments. The old one-line form (`track_interface eth0 eth1`) lists
 * its entries as arguments instead.
 */
export function listEntries(s: Statement, d: Diagnostics): Statement[] {
  if (s.block === null) return s.args.map((word) => ({ keyword: word, args: [], block: null }));
  if (s.args.length > 0)
    d.error(s.args[0] as Statement['keyword'], `unexpected words before the block of ${s.keyword.text}`);
  for (const entry of s.block)
    if (entry.block !== null) d.error(entry.keyword, `unexpected block in ${s.keyword.text}`);
  return [...s.block];
}
