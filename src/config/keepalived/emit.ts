/**
 * The converted config as YAML text: keys in the order the converter built them (the contract's
 * order, so two runs on the same file print the same bytes), a comment before every entry naming
 * the keepalived.conf line it came from, and short lists of plain values on one line.
 */
import { Document, isMap, isScalar, isSeq, visit } from 'yaml';
import type { Conversion } from './convert.js';

export function emitYaml(conversion: Conversion, header: string): string {
  const doc = new Document(conversion.config);
  doc.commentBefore = header
    .split('\n')
    .map((line) => ` ${line}`)
    .join('\n');
  for (const c of conversion.comments) {
    const parentPath = c.path.slice(0, -1);
    const last = c.path[c.path.length - 1];
    const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
    const text = ` ${c.at.file}:${c.at.line} ${c.what}`;
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
      if (pair !== undefined && isScalar(pair.key)) pair.key.commentBefore = text;
    } else if (isSeq(parent) && typeof last === 'number') {
      const item = parent.items[last];
      if (isMap(item) || isSeq(item) || isScalar(item)) item.commentBefore = text;
    }
  }
  visit(doc, {
    Seq(_key, node) {
      if (node.items.length > 0 && node.items.every((item) => isScalar(item))) node.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
