/**
 * The keyword reference of docs/keepalived.md, generated from the converter's own tables (walk.ts
 * `register`): per keepalived block, what converts, what is dropped with a warning and what is
 * refused, each with its reason. A keyword added to a table shows up here; `npm run schema`
 * rewrites the page and test/unit/config/keepalived/reference.test.ts fails while it is stale.
 */
import './convert.js';
import { registeredSections, type Section, TOP_LEVEL } from './walk.js';

export const KEEPALIVED_DOC = 'docs/keepalived.md';
const BEGIN =
  '<!-- BEGIN keepalived keywords: generated from src/config/keepalived keyword tables by `npm run schema` -->';
const END = '<!-- END keepalived keywords -->';

const code = (words: Iterable<string>) => [...words].map((w) => `\`${w}\``).join(', ');

function sectionText(section: Section): string {
  const lines: string[] = [];
  if (section.converted.size > 0) lines.push(`Converted: ${code([...section.converted].sort())}.`, '');
  for (const [severity, title] of [
    ['warning', 'Dropped with a warning'],
    ['error', 'Refused'],
  ] as const) {
    // one line per reason, its keywords sorted; the lines in the order of their first keyword
    const byReason = new Map<string, string[]>();
    for (const [keyword, d] of section.dropped) {
      if (d.severity !== severity) continue;
      byReason.set(d.why, [...(byReason.get(d.why) ?? []), keyword]);
    }
    if (byReason.size === 0) continue;
    const entries = [...byReason].map(([why, words]) => [words.sort(), why] as const);
    entries.sort(([a], [b]) => (a[0] as string).localeCompare(b[0] as string));
    lines.push(`${title}:`, '');
    for (const [words, why] of entries) lines.push(`- ${code(words)}: ${why}`);
    lines.push('');
  }
  return lines.join('\n');
}

/** The generated part of docs/keepalived.md (between its markers). */
export function keepalivedReference(): string {
  // Blocks with the same tables (the checkers) share one entry.
  const groups = new Map<string, string[]>();
  const sections = [...registeredSections()].sort(
    ([a], [b]) => Number(b === TOP_LEVEL) - Number(a === TOP_LEVEL),
  );
  for (const [opener, section] of sections) {
    const text = sectionText(section);
    const list = groups.get(text) ?? [];
    list.push(opener);
    groups.set(text, list);
  }
  const parts = [BEGIN, ''];
  for (const [text, openers] of groups) {
    const title = openers.includes(TOP_LEVEL) ? 'The top level' : code(openers);
    parts.push(`### ${title}`, '', text);
  }
  parts.push(END);
  return parts.join('\n');
}

/** `doc` with its generated part replaced by `reference`. */
export function withKeepalivedReference(doc: string, reference: string): string {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start === -1 || end === -1) throw new Error(`${KEEPALIVED_DOC} has no ${BEGIN} ... ${END} markers`);
  return doc.slice(0, start) + reference + doc.slice(end + END.length);
}
