/**
 * The config's documentation, generated from the keyword tables that validate it: the JSON Schema
 * editors use (`config/ipvsd.schema.json`) and the README's configuration reference. Both are pure
 * functions of the tables; `npm run schema` writes them and a unit test fails when either is stale,
 * so a key added to a table shows up in both, with the default the reader really fills in.
 */
import type { JsonSchema, Keyword, KeywordTable } from './keywords.js';
import { CONFIG_KEYWORDS } from './parse.js';
import { tableSchema } from './value-types.js';

export const SCHEMA_FILE = 'config/ipvsd.schema.json';
export const REFERENCE_BEGIN =
  '<!-- BEGIN config reference: generated from src/config keyword tables by `npm run schema` -->';
export const REFERENCE_END = '<!-- END config reference -->';

export function configSchema(): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'ipvsd configuration',
    description:
      'ipvsd config (YAML). Generated from the keyword tables in src/config by `npm run schema`; ' +
      '`ipvsctl check` applies the same rules and the cross-key ones a schema cannot express.',
    ...tableSchema(CONFIG_KEYWORDS),
  };
}

/** The schema file's text: stable key order, two-space indent, final newline. */
export function configSchemaText(): string {
  return `${JSON.stringify(configSchema(), null, 2)}\n`;
}

// biome-ignore lint/suspicious/noExplicitAny: docs read only the keyword metadata
type AnyTable = KeywordTable<any>;

interface Row {
  readonly key: string;
  readonly kw: Keyword<unknown> | undefined;
}

interface Heading {
  readonly title: string;
  readonly intro: string;
  readonly table: AnyTable;
}

const TOP_TITLE = 'Top level';

const SHAPE_INTRO: Readonly<Record<'map' | 'list' | 'named' | 'named-lists', string>> = {
  map: 'A map.',
  list: 'A list; each item is a map with these keys.',
  named: 'A map from a name of your choice to an entry with these keys.',
  'named-lists': 'A map from a name of your choice to a list; each item is a map with these keys.',
};

function documented(kw: AnyTable[string] | undefined): Keyword<unknown> | undefined {
  return kw === undefined || typeof kw === 'function' || kw.doc === undefined ? undefined : kw;
}

/**
 * The rows of one heading: its keys, with nested maps inlined as `parent.child` rows, and nested
 * tables that have their own heading queued for later (each once).
 */
function rowsOf(table: AnyTable, prefix: string, queue: Heading[], queued: Set<AnyTable>): Row[] {
  const rows: Row[] = [];
  for (const [name, entry] of Object.entries(table)) {
    const kw = documented(entry);
    const dotted = `${prefix}${name}`;
    rows.push({ key: dotted, kw });
    const nested = kw?.type?.nested;
    if (nested === undefined) continue;
    const child = nested.table();
    if (nested.heading === undefined && nested.shape === 'map') {
      rows.push(...rowsOf(child, `${dotted}.`, queue, queued));
    } else if (!queued.has(child)) {
      queued.add(child);
      queue.push({ title: nested.heading ?? dotted, intro: SHAPE_INTRO[nested.shape], table: child });
    }
  }
  return rows;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function code(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value).replaceAll(',', ', ');
  return `\`${text}\``;
}

function defaultCell(kw: Keyword<unknown>): string {
  const doc = kw.doc;
  if (doc === undefined) return '';
  if (doc.required === true) return '**required**';
  if (doc.default !== undefined) return code(kw.type?.show?.(doc.default) ?? doc.default);
  return doc.defaultText ?? '—';
}

function renderHeading(heading: Heading, queue: Heading[], queued: Set<AnyTable>): string {
  const rows = rowsOf(heading.table, '', queue, queued);
  const withFor = rows.some((r) => r.kw?.doc?.appliesTo !== undefined);
  const head = withFor
    ? '| key | default | value | for | meaning |\n|---|---|---|---|---|'
    : '| key | default | value | meaning |\n|---|---|---|---|';
  const lines = rows.map(({ key, kw }) => {
    if (kw === undefined)
      return withFor ? `| \`${key}\` | | | | undocumented |` : `| \`${key}\` | | | undocumented |`;
    const nested = kw.type?.nested;
    const summary =
      nested?.heading !== undefined ? `${kw.type?.summary}, see \`${nested.heading}\`` : kw.type?.summary;
    const cells = [`\`${key}\``, defaultCell(kw), summary ?? '', kw.doc?.description ?? ''];
    if (withFor) cells.splice(3, 0, kw.doc?.appliesTo?.join(', ') ?? 'all');
    return `| ${cells.map(cell).join(' | ')} |`;
  });
  const title = heading.title === TOP_TITLE ? heading.title : `\`${heading.title}\``;
  return `### ${title}\n\n${heading.intro}\n\n${head}\n${lines.join('\n')}\n`;
}

/** The README's configuration reference: one heading per section, every key with default and value. */
export function configReference(): string {
  const queue: Heading[] = [];
  const queued = new Set<AnyTable>();
  const top = renderHeading(
    { title: TOP_TITLE, intro: 'The sections of the file; each is optional.', table: CONFIG_KEYWORDS },
    queue,
    queued,
  );
  const parts = [top];
  for (let i = 0; i < queue.length; i++) {
    const heading = queue[i];
    if (heading !== undefined) parts.push(renderHeading(heading, queue, queued));
  }
  return parts.join('\n');
}

/** Replaces the text between the markers in `readme`; throws when the markers are missing. */
export function withReference(readme: string, reference: string): string {
  const begin = readme.indexOf(REFERENCE_BEGIN);
  const end = readme.indexOf(REFERENCE_END);
  if (begin === -1 || end < begin) throw new Error(`README has no "${REFERENCE_BEGIN}" … "${REFERENCE_END}"`);
  return `${readme.slice(0, begin + REFERENCE_BEGIN.length)}\n\n${reference}\n${readme.slice(end)}`;
}
