/**
 * The converted config as YAML text: keys in the order the converter built them (the contract's
 * order, so two runs on the same file print the same bytes), a comment before every entry naming
 * the keepalived.conf line it came from, and short lists of plain values on one line.
 *
 * Written a section (and a virtual server) at a time, so no YAML document of the whole config is
 * ever held: memory follows the largest entry, not the number of entries. The comments double as
 * the way back: `sourceOf(line)` says which keepalived block a line of the YAML came from, so a
 * problem found in the YAML is reported at the keepalived.conf line, never at a YAML line.
 */
import { Document, isMap, isScalar, isSeq, visit } from 'yaml';
import { escapeControl } from '../../errors.js';
import type { Conversion, SourceComment } from './convert.js';

export interface EmittedYaml {
  readonly text: string;
  /** The keepalived block that YAML line `line` (1-based) was converted from; null: none (the header). */
  sourceOf(line: number): SourceComment | null;
}

/** Virtual servers per YAML document: big enough that a document's fixed cost vanishes, small enough to bound memory. */
const ITEMS_PER_CHUNK = 100;

const commentText = (c: SourceComment) => ` ${escapeControl(`${c.at.file}:${c.at.line} ${c.what}`)}`;

/** `value` under `key` (or a list's item, `key` null) as YAML, with the comments whose paths are given relative to it. */
function chunk(
  value: unknown,
  comments: readonly { path: readonly (string | number)[]; text: string }[],
): string {
  const doc = new Document(value);
  for (const c of comments) {
    const parentPath = c.path.slice(0, -1);
    const last = c.path[c.path.length - 1];
    const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
      if (pair !== undefined && isScalar(pair.key)) pair.key.commentBefore = c.text;
    } else if (isSeq(parent) && typeof last === 'number') {
      const item = parent.items[last];
      if (isMap(item) || isSeq(item) || isScalar(item)) item.commentBefore = c.text;
    }
  }
  visit(doc, {
    Seq(_key, node) {
      if (node.items.length > 0 && node.items.every((item) => isScalar(item))) node.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

export function emitYaml(conversion: Conversion, header: string): EmittedYaml {
  const byKey = new Map<string | number, SourceComment[]>();
  for (const c of conversion.comments) {
    const key = c.path[0] as string | number;
    const list = byKey.get(key) ?? [];
    list.push(c);
    byKey.set(key, list);
  }
  const parts: string[] = [
    `${header
      .split('\n')
      .map((line) => `# ${escapeControl(line)}`.trimEnd())
      .join('\n')}\n\n`,
  ];
  for (const [key, value] of Object.entries(conversion.config)) {
    const comments = byKey.get(key) ?? [];
    if (key !== 'virtual_servers' || !Array.isArray(value)) {
      parts.push(
        chunk(
          { [key]: value },
          comments.map((c) => ({ path: c.path, text: commentText(c) })),
        ),
      );
      continue;
    }
    const perItem = new Map<number, { path: (string | number)[]; text: string }[]>();
    for (const c of comments) {
      const index = c.path[1];
      if (typeof index !== 'number') continue;
      const list = perItem.get(index) ?? [];
      list.push({ path: [0, ...c.path.slice(2)], text: commentText(c) });
      perItem.set(index, list);
    }
    parts.push(`${key}:\n`);
    for (let first = 0; first < value.length; first += ITEMS_PER_CHUNK) {
      const items = value.slice(first, first + ITEMS_PER_CHUNK);
      const comments = items.flatMap((_, k) =>
        (perItem.get(first + k) ?? []).map((c) => ({ path: [k, ...c.path.slice(1)], text: c.text })),
      );
      parts.push(chunk(items, comments).replace(/^(?=.)/gm, '  '));
    }
  }
  const text = parts.join('');
  return { text, sourceOf: lineOwners(text, conversion.comments) };
}

/**
 * For every line of `text`, the comment of the entry it belongs to: a comment line we wrote opens
 * an entry at its indentation, and a line indented no deeper than an entry's comment ends it.
 */
function lineOwners(
  text: string,
  comments: readonly SourceComment[],
): (line: number) => SourceComment | null {
  const byText = new Map<string, number>();
  comments.forEach((c, i) => {
    byText.set(`#${commentText(c)}`, i);
  });
  const owners: number[] = [];
  const open: { indent: number; owner: number; head: boolean }[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    const body = line.trimStart();
    const indent = line.length - body.length;
    const owner = body.startsWith('#') ? byText.get(body) : undefined;
    if (owner !== undefined) {
      while (open.length > 0 && (open[open.length - 1]?.indent ?? 0) >= indent) open.pop();
      open.push({ indent, owner, head: false });
    } else if (body !== '' && !body.startsWith('#')) {
      // an entry is its head line (the key, or the "- " of a list item) and what is indented deeper
      for (;;) {
        const top = open[open.length - 1];
        if (top === undefined || top.indent < indent) break;
        if (top.indent === indent && !top.head) {
          top.head = true;
          break;
        }
        open.pop();
      }
    }
    owners.push(open[open.length - 1]?.owner ?? -1);
  }
  return (line) => comments[owners[line - 1] ?? -1] ?? null;
}
