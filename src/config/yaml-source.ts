/**
 * Text → yaml's node tree, with bounds, through the `yaml` library's public pipeline (Parser → CST →
 * Composer, what parseDocument runs). The bounds are checked between the steps, so no input can make
 * the later ones overflow the stack or run for long:
 *
 * - characters: the file must be UTF-8 without control characters (YAML 1.2 §5.1 allows only tab,
 *   newline and carriage return among C0, and neither DEL nor C1), so binary input stops at its first
 *   byte with a position, before any parsing;
 * - nesting: the composer recurses once per level, so the CST (which the parser builds without
 *   recursion) is measured first, and anything deeper than MAX_DEPTH is refused where it gets deep;
 * - aliases: yaml finds an alias's anchor by walking the document from its start (quadratic over many
 *   aliases), so the targets are found here in one pass; the validator then reads an aliased value
 *   once per use, so the total size of the tree with every alias expanded is bounded too (the
 *   "billion laughs"), and so is the number of aliases.
 */
import {
  type Alias,
  Composer,
  type CST,
  type Document,
  isAlias,
  isMap,
  isPair,
  isSeq,
  Lexer,
  type Node,
  Parser,
} from 'yaml';
import { quote } from '../errors.js';

/** Nesting of collections; a real config needs about 8. */
export const MAX_DEPTH = 64;
/** Aliases (`*name`) in one file. */
export const MAX_ALIASES = 10_000;
/** Nodes of the tree once every alias is expanded (a 1,000 × 10 table has about 250,000). */
export const MAX_EXPANDED_NODES = 1_000_000;
/**
 * Lexical tokens of the file (a 1,000 × 10 table in flow style has about 360,000): the parser's time
 * and memory grow with them, by far the most of any step.
 */
export const MAX_LEXEMES = 1_000_000;

export interface YamlIssue {
  readonly offset: number;
  readonly message: string;
}

export interface YamlSource {
  /** null when there is any issue (or the text holds no document: then no issue either). */
  readonly doc: Document.Parsed | null;
  /** Each alias's target (undefined: the anchor does not exist before it). */
  readonly aliases: ReadonlyMap<Node, Node | undefined>;
  readonly issues: YamlIssue[];
}

/** Characters YAML does not allow in a stream (c-printable, YAML 1.2 §5.1). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u0084\u0086-\u009f\ufffe\uffff]/;

function describeChar(c: string): string {
  return `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The offset of the first byte sequence that is not UTF-8, or -1. `text` is the lenient decoding. */
export function firstInvalidUtf8(bytes: Uint8Array, text: string): number {
  if (!text.includes('\ufffd')) return -1;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return -1;
  } catch {
    // The lenient decoding put U+FFFD where the bytes were bad (or where the file wrote one itself:
    // then the position is early, never wrong about the file being invalid).
    return text.indexOf('\ufffd');
  }
}

function checkCharacters(text: string, issues: YamlIssue[]): void {
  const match = FORBIDDEN.exec(text);
  if (match !== null) {
    issues.push({
      offset: match.index,
      message: `control character ${describeChar(match[0])} is not allowed in YAML (write it as an escape in a double-quoted string)`,
    });
  }
}

type Item = { key?: CST.Token | null; value?: CST.Token };

/**
 * Depth and alias count of the CST, without recursion, in document order (children are pushed in
 * reverse), so the issue is at the first token past a limit. Returns the number of aliases.
 */
function checkTokens(tokens: readonly CST.Token[], issues: YamlIssue[]): number {
  const stack: { token: CST.Token; depth: number }[] = [];
  for (let i = tokens.length - 1; i >= 0; i--) {
    const token = tokens[i] as CST.Token;
    if (token.type === 'document' && token.value) stack.push({ token: token.value, depth: 0 });
  }
  let aliases = 0;
  while (stack.length > 0) {
    const { token, depth } = stack.pop() as { token: CST.Token; depth: number };
    if (token.type === 'alias') {
      aliases += 1;
      if (aliases > MAX_ALIASES) {
        issues.push({ offset: token.offset, message: `more than ${MAX_ALIASES} aliases` });
        return aliases;
      }
      continue;
    }
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection')
      continue;
    if (depth >= MAX_DEPTH) {
      issues.push({ offset: token.offset, message: `nesting deeper than ${MAX_DEPTH} levels` });
      return aliases;
    }
    const items = token.items as Item[];
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i] as Item;
      if (item.value) stack.push({ token: item.value, depth: depth + 1 });
      if (item.key) stack.push({ token: item.key, depth: depth + 1 });
    }
  }
  return aliases;
}

function childrenOf(node: Node): Node[] {
  if (!isMap(node) && !isSeq(node)) return [];
  const out: Node[] = [];
  for (const item of node.items as unknown[]) {
    if (isPair(item)) {
      if (item.key !== null && typeof item.key === 'object') out.push(item.key as Node);
      if (item.value !== null && typeof item.value === 'object') out.push(item.value as Node);
    } else if (item !== null && typeof item === 'object') out.push(item as Node);
  }
  return out;
}

/**
 * Every alias's target (the last node with its anchor before it, in document order, as yaml's own
 * resolve finds it) and the size of the tree with aliases expanded, in one walk without recursion.
 * An alias inside the node it names (a cycle) counts as one node; the validator refuses it.
 */
function resolveAliases(root: Node, issues: YamlIssue[]): Map<Node, Node | undefined> {
  const targets = new Map<Node, Node | undefined>();
  const anchors = new Map<string, Node>();
  const size = new Map<Node, number>();
  const order: Alias[] = [];
  const stack: { node: Node; done: boolean }[] = [{ node: root, done: false }];
  let literal = 0;
  while (stack.length > 0) {
    const top = stack.pop() as { node: Node; done: boolean };
    const node = top.node;
    if (top.done) {
      let total = 1;
      for (const child of childrenOf(node)) total += size.get(child) ?? 1;
      size.set(node, Math.min(total, MAX_EXPANDED_NODES + 1));
      continue;
    }
    literal += 1;
    if (node.anchor) anchors.set(node.anchor, node);
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      targets.set(node, target);
      order.push(node);
      // Targets come before their aliases in document order, so their size is known, except for an
      // alias inside its own anchor's node.
      size.set(node, target === undefined ? 1 : (size.get(target) ?? 1));
      continue;
    }
    stack.push({ node, done: true });
    const children = childrenOf(node);
    for (let i = children.length - 1; i >= 0; i--) stack.push({ node: children[i] as Node, done: false });
  }
  let expanded = literal;
  for (const alias of order) {
    expanded += (size.get(alias) ?? 1) - 1;
    if (expanded > MAX_EXPANDED_NODES) {
      issues.push({
        offset: alias.range?.[0] ?? 0,
        message: `aliases expand the config to more than ${MAX_EXPANDED_NODES} values (here alias ${quote(alias.source)})`,
      });
      break;
    }
  }
  return targets;
}

/**
 * The CST, as Parser.parse() builds it, but fed one lexeme at a time so that the count is bounded
 * before the parser has built (and the composer would build) an unbounded tree: 16 MiB of `- 1`
 * lines would otherwise take minutes and gigabytes.
 */
function parseBounded(text: string, issues: YamlIssue[]): CST.Token[] {
  const parser = new Parser();
  const tokens: CST.Token[] = [];
  let lexemes = 0;
  let offset = 0;
  for (const lexeme of new Lexer().lex(text)) {
    lexemes += 1;
    if (lexemes > MAX_LEXEMES) {
      issues.push({
        offset: Math.min(offset, text.length),
        message: `the config has more than ${MAX_LEXEMES} YAML tokens (keys, values, indicators, line breaks); it stops here`,
      });
      return tokens;
    }
    for (const token of parser.next(lexeme)) tokens.push(token);
    offset += lexeme.length;
  }
  for (const token of parser.end()) tokens.push(token);
  return tokens;
}

/** Parses `text` as one YAML document within the bounds above. */
export function readYaml(text: string): YamlSource {
  const issues: YamlIssue[] = [];
  const none = (): YamlSource => ({ doc: null, aliases: new Map(), issues });
  checkCharacters(text, issues);
  if (issues.length > 0) return none();
  const tokens = parseBounded(text, issues);
  if (issues.length > 0) return none();
  const aliasCount = checkTokens(tokens, issues);
  if (issues.length > 0) return none();
  const docs = [
    ...new Composer({ uniqueKeys: false, prettyErrors: false }).compose(tokens, true, text.length),
  ];
  const [doc, second] = docs;
  if (second !== undefined) {
    issues.push({
      offset: second.range[0],
      message: 'the config must be one YAML document (found a second one here)',
    });
  }
  for (const d of docs) {
    for (const error of d.errors)
      issues.push({ offset: error.pos[0], message: `invalid YAML: ${error.message}` });
  }
  if (doc === undefined || issues.length > 0) return none();
  // Most configs have no alias: nothing to resolve or expand then.
  const aliases =
    doc.contents === null || aliasCount === 0 ? new Map() : resolveAliases(doc.contents as Node, issues);
  if (issues.length > 0) return none();
  return { doc, aliases, issues };
}
