/**
 * A fast path for the plain YAML that configs are written in: block maps and lists, one-line flow
 * maps and lists, one-line plain and quoted scalars, comments. It builds the same node tree the
 * `yaml` library would (same classes, scalar values resolved by the same core-schema tags, the same
 * start offsets), about 20× faster, because `yaml`'s full lexer, CST and composer dominate the time
 * `ipvsctl apply` spends on a 10,000-destination config (seconds on a slow machine).
 *
 * It is a recogniser first: anything outside that subset — anchors, aliases, tags, merge keys,
 * multi-line or block scalars, escapes, quoted or non-identifier keys, empty values, documents
 * markers, tabs, odd indentation, anything the library would call an error — makes it give up
 * (return null), and the caller parses the text with the `yaml` library instead, which also owns
 * every syntax error message. Only node kinds, values, scalar `type`/`source`/`format` and
 * `range[0]` (what positions.ts reports) are promised to match; `range[1..2]` are this parser's
 * own end offsets and comments are not kept. test/unit/config/fast-yaml.test.ts holds it to that.
 */
import { Document, isMap, isPair, isScalar, isSeq, Pair, Scalar, type Schema, YAMLMap, YAMLSeq } from 'yaml';

type FastNode = Scalar | YAMLMap | YAMLSeq;

/** Thrown (as this one object) when the text leaves the subset; never escapes parseFast. */
const GIVE_UP = { giveUp: true };

// Characters that cannot appear anywhere in a fast-path text: tabs, CR, other controls, BOM, the
// YAML 1.1 line breaks (NEL, LS, PS), non-characters and lone surrogates.
const UNSUPPORTED_CHAR =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const SPACE = 0x20;
const HASH = 0x23;
const COLON = 0x3a;
const DASH = 0x2d;
const COMMA = 0x2c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const DQUOTE = 0x22;
const SQUOTE = 0x27;

/** Characters that start something other than a plain scalar (YAML c-indicator), `-` aside. */
const INDICATOR = new Set([...'?:,[]{}#&*!|>\'"%@`'].map((c) => c.charCodeAt(0)));

const isIdentStart = (c: number): boolean =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f; // a-z A-Z _
const isIdentPart = (c: number): boolean => isIdentStart(c) || (c >= 0x30 && c <= 0x39) || c === DASH;

/** First characters of every plain scalar the core schema resolves to something other than a string. */
const NON_STRING_START = new Set([...'~nNtTfF0123456789+-.'].map((c) => c.charCodeAt(0)));

/**
 * Decides the common cases without running the core schema's eight regular expressions:
 * `string` when no core tag can match (a first character no non-string starts with, or two dots
 * as in an IPv4 address: every int, float, bool and null has at most one), `decimal` for plain
 * digits (the int tag, which the null/bool/octal tags before it cannot match), else `other`.
 */
function quickKind(source: string): 'string' | 'decimal' | 'other' {
  if (!NON_STRING_START.has(source.charCodeAt(0))) return 'string';
  let dots = 0;
  let digits = true;
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (c === 0x2e && ++dots === 2) return 'string';
    if (c < 0x30 || c > 0x39) digits = false;
  }
  return digits ? 'decimal' : 'other';
}

interface ScalarTag {
  readonly default?: boolean | 'key';
  readonly test?: RegExp;
  readonly format?: string;
  resolve(value: string, onError: (message: string) => void, options: unknown): unknown;
}

let shared: { schema: Schema; options: unknown; stringTag: ScalarTag; tags: ScalarTag[] } | null = null;

/** The core schema and options `parseDocument(text)` would compose with (YAML 1.2 defaults). */
function schemaOnce() {
  if (shared === null) {
    const doc = new Document();
    const schema = doc.schema;
    const tags = schema.tags as unknown as ScalarTag[];
    const scalarKey = Object.getOwnPropertySymbols(schema).find(
      (s) => s.description === 'yaml.scalar',
    ) as symbol;
    const stringTag = (schema as unknown as Record<symbol, ScalarTag>)[scalarKey] as ScalarTag;
    if ((schema as { compat?: unknown }).compat) throw new Error('fast-yaml: unexpected compat schema');
    shared = { schema, options: doc.options, stringTag, tags };
  }
  return shared;
}

/**
 * Node constructors without yaml's per-node cost. The library's constructors give every node its kind
 * as an own property through Object.defineProperty (and a collection its schema the same way), which
 * is most of the time this parser spends on a 10,000-destination config. These make objects of the
 * same classes (instanceof Scalar/Pair/YAMLMap/YAMLSeq) whose kind and schema come from a prototype
 * set up once; yaml's isScalar/isMap/isSeq/isPair read the kind through the prototype chain just the
 * same. Checked once at startup: if a yaml upgrade changed how kinds are told apart, the library's own
 * constructors are used instead.
 */
interface NodeMakers {
  /** A scalar spanning `[start, end)` of the text. */
  scalar(value: unknown, source: string, type: Scalar.Type, start: number, end: number): Scalar;
  pair(key: FastNode, value: FastNode): Pair<FastNode, FastNode>;
  map(): YAMLMap;
  seq(): YAMLSeq;
  /** Sets where a collection's text spans (known once its last item is read). */
  span(node: YAMLMap | YAMLSeq, start: number, end: number): void;
}

/**
 * Where a fast node's text starts and ends. yaml keeps `range` as a 3-element array on every node:
 * on a 10,000-destination config that is over 100,000 arrays (megabytes of heap, and on a slow
 * machine seconds of allocation, GC and page faults), while a valid config reads a position only
 * for the few nodes a validator keeps. So fast nodes hold two numbers and `range` is a getter on
 * their prototype that builds the array when asked.
 */
interface Spanned {
  srcStart: number;
  srcEnd: number;
}

let makers: NodeMakers | null = null;

function nodeMakers(schema: Schema): NodeMakers {
  if (makers !== null) return makers;
  const library: NodeMakers = {
    scalar: (value, source, type, start, end) => {
      const scalar = new Scalar(value);
      scalar.range = [start, end, end];
      scalar.source = source;
      scalar.type = type;
      return scalar;
    },
    pair: (key, value) => new Pair(key, value),
    map: () => new YAMLMap(schema),
    seq: () => new YAMLSeq(schema),
    span: (node, start, end) => {
      node.range = [start, end, end];
    },
  };
  const NODE_TYPE = Symbol.for('yaml.node.type');
  const proto = (base: object, sample: object, extra: PropertyDescriptorMap = {}): object => {
    const p = Object.create(base);
    Object.defineProperty(p, NODE_TYPE, { value: (sample as Record<symbol, unknown>)[NODE_TYPE] });
    Object.defineProperties(p, extra);
    return p;
  };
  const schemaProp = { schema: { value: schema, writable: true, configurable: true } };
  const rangeProp: PropertyDescriptorMap = {
    range: {
      get(this: Spanned): [number, number, number] {
        return [this.srcStart, this.srcEnd, this.srcEnd];
      },
      set(this: Spanned, range: [number, number, number]) {
        this.srcStart = range[0];
        this.srcEnd = range[1];
      },
      configurable: true,
    },
  };
  const scalarProto = proto(Scalar.prototype, new Scalar(null), rangeProp);
  const pairProto = proto(Pair.prototype, new Pair(null));
  const mapProto = proto(YAMLMap.prototype, new YAMLMap(schema), { ...schemaProp, ...rangeProp });
  const seqProto = proto(YAMLSeq.prototype, new YAMLSeq(schema), { ...schemaProp, ...rangeProp });
  // Plain constructor functions that set every field at once: V8 allocates their objects fast and
  // with one stable shape.
  function FastScalar(
    this: Spanned & { value: unknown; source: string; type: Scalar.Type },
    value: unknown,
    source: string,
    type: Scalar.Type,
    start: number,
    end: number,
  ) {
    this.value = value;
    this.source = source;
    this.type = type;
    this.srcStart = start;
    this.srcEnd = end;
  }
  function FastPair(this: { key: unknown; value: unknown }, key: unknown, value: unknown) {
    this.key = key;
    this.value = value;
  }
  function FastCollection(this: Spanned & { items: unknown[] }) {
    this.items = [];
    this.srcStart = 0;
    this.srcEnd = 0;
  }
  function FastSeqCollection(this: Spanned & { items: unknown[] }) {
    this.items = [];
    this.srcStart = 0;
    this.srcEnd = 0;
  }
  FastScalar.prototype = scalarProto;
  FastPair.prototype = pairProto;
  FastCollection.prototype = mapProto;
  FastSeqCollection.prototype = seqProto;
  type Ctor<T> = new (...args: unknown[]) => T;
  const fast: NodeMakers = {
    scalar: (value, source, type, start, end) =>
      new (FastScalar as unknown as Ctor<Scalar>)(value, source, type, start, end),
    pair: (key, value) => new (FastPair as unknown as Ctor<Pair<FastNode, FastNode>>)(key, value),
    map: () => new (FastCollection as unknown as Ctor<YAMLMap>)(),
    seq: () => new (FastSeqCollection as unknown as Ctor<YAMLSeq>)(),
    span: (node, start, end) => {
      const spanned = node as unknown as Spanned;
      spanned.srcStart = start;
      spanned.srcEnd = end;
    },
  };
  const s = fast.scalar(1, '1', 'PLAIN', 3, 4);
  const works =
    isScalar(s) &&
    s instanceof Scalar &&
    isPair(fast.pair(s, s)) &&
    isMap(fast.map()) &&
    isSeq(fast.seq()) &&
    fast.map().schema === schema &&
    s.range?.[0] === 3 &&
    s.range?.[1] === 4 &&
    !isMap(s) &&
    !isSeq(fast.map());
  makers = works ? fast : library;
  return makers;
}

export interface FastParse {
  readonly contents: FastNode;
}

/** The document's root node, or null when the text is outside the fast path's subset. */
export function parseFast(text: string): FastParse | null {
  if (UNSUPPORTED_CHAR.test(text)) return null;
  try {
    return { contents: new FastParser(text).document() };
  } catch (err) {
    if (err === GIVE_UP) return null;
    throw err;
  }
}

class FastParser {
  private readonly s = schemaOnce();
  private readonly make = nodeMakers(this.s.schema);
  /** Start of the next line not yet read. */
  private next = 0;
  // The current content line (after blank and comment-only lines): its start, the offset of its first
  // non-space character, its indentation, and the offset of its '\n' (or the text's end).
  private start = 0;
  private content = 0;
  private indent = 0;
  private end = 0;
  private eof = false;

  constructor(private readonly text: string) {}

  document(): FastNode {
    this.advance();
    if (this.eof) throw GIVE_UP; // empty: the library reports it
    const root = this.block();
    if (!this.eof) throw GIVE_UP;
    return root;
  }

  private code(i: number): number {
    return this.text.charCodeAt(i);
  }

  /** Moves to the next line with content; sets `eof` at the end of the text. */
  private advance(): void {
    const text = this.text;
    const len = text.length;
    while (this.next < len) {
      const start = this.next;
      let end = text.indexOf('\n', start);
      if (end === -1) end = len;
      let c = start;
      while (c < end && text.charCodeAt(c) === SPACE) c++;
      this.next = end + 1;
      if (c === end) continue; // blank
      const first = text.charCodeAt(c);
      if (first === HASH) continue; // comment-only line
      if (c === start && (text.startsWith('---', c) || text.startsWith('...', c) || first === 0x25))
        throw GIVE_UP; // document markers, directives
      this.start = start;
      this.content = c;
      this.indent = c - start;
      this.end = end;
      return;
    }
    this.eof = true;
  }

  /** The node whose first line is the current one, at its indentation. */
  private block(): FastNode {
    if (this.isSeqItem(this.content)) return this.seq();
    if (this.keyEnd(this.content) !== -1) return this.map(this.content);
    throw GIVE_UP; // a scalar or flow collection on a line of its own
  }

  private isSeqItem(i: number): boolean {
    if (this.code(i) !== DASH) return false;
    return i + 1 === this.end || this.code(i + 1) === SPACE;
  }

  /** The end of an identifier key at `i` followed by `:` and a space or the line's end; else -1. */
  private keyEnd(i: number): number {
    if (!isIdentStart(this.code(i))) return -1;
    let k = i + 1;
    while (k < this.end && isIdentPart(this.code(k))) k++;
    if (k >= this.end || this.code(k) !== COLON) return -1;
    if (k + 1 < this.end && this.code(k + 1) !== SPACE) return -1;
    return k;
  }

  private skipSpaces(i: number): number {
    while (i < this.end && this.code(i) === SPACE) i++;
    return i;
  }

  /** After an inline value ending at `i`: nothing but spaces and a comment may follow on the line. */
  private endOfLine(i: number): void {
    const j = this.skipSpaces(i);
    if (j < this.end && !(this.code(j) === HASH && j > i)) throw GIVE_UP;
  }

  /** A block map whose first key starts at `first` on the current line (maybe after `- `). */
  private map(first: number): YAMLMap {
    const indent = first - this.start;
    const map = this.make.map();
    let keyStart = first;
    for (;;) {
      const keyEnd = this.keyEnd(keyStart);
      if (keyEnd === -1) throw GIVE_UP;
      const key = this.plainScalar(keyStart, keyEnd, true);
      const after = this.skipSpaces(keyEnd + 1);
      let value: FastNode;
      if (after === this.end || this.code(after) === HASH) {
        // The value is a block on the following lines: deeper, or a list at the key's own indentation.
        this.advance();
        if (this.eof) throw GIVE_UP; // an empty value
        if (this.indent > indent) value = this.block();
        else if (this.indent === indent && this.isSeqItem(this.content)) value = this.seq();
        else throw GIVE_UP;
      } else {
        value = this.inlineValue(after);
      }
      map.items.push(this.make.pair(key, value));
      if (this.eof || this.indent < indent) break;
      if (this.indent > indent) throw GIVE_UP; // a continuation line or a stray deeper line
      keyStart = this.content;
      if (this.keyEnd(keyStart) === -1) break; // a `- ` at this indentation: the parent decides
    }
    this.make.span(map, first, this.lastEnd);
    return map;
  }

  /** A block list whose first `-` is the current line's content. */
  private seq(): YAMLSeq {
    const indent = this.indent;
    const first = this.content;
    const seq = this.make.seq();
    for (;;) {
      const after = this.skipSpaces(this.content + 1);
      if (after === this.end || this.code(after) === HASH) {
        this.advance();
        if (this.eof || this.indent <= indent) throw GIVE_UP; // an empty item
        seq.items.push(this.block());
      } else if (this.isSeqItem(after)) {
        throw GIVE_UP; // `- - x`
      } else if (this.keyEnd(after) !== -1) {
        seq.items.push(this.map(after));
      } else {
        seq.items.push(this.inlineValue(after));
      }
      if (this.eof || this.indent < indent) break;
      if (this.indent > indent) throw GIVE_UP;
      if (!this.isSeqItem(this.content)) break;
    }
    this.make.span(seq, first, this.lastEnd);
    return seq;
  }

  /** Where the last value read ended, for the collections' range ends. */
  private lastEnd = 0;

  /** A scalar or flow collection at `i` that ends its line; moves to the next content line. */
  private inlineValue(i: number): FastNode {
    const node = this.flowValue(i, false);
    this.endOfLine(this.pos);
    this.lastEnd = this.pos;
    this.advance();
    return node;
  }

  /** Offset just past the last value read by flowValue. */
  private pos = 0;

  /** A value on one line: flow collection, quoted or plain scalar; `inFlow` inside `{}` / `[]`. */
  private flowValue(i: number, inFlow: boolean): FastNode {
    const c = this.code(i);
    if (c === LBRACE) return this.flowMap(i);
    if (c === LBRACKET) return this.flowSeq(i);
    if (c === DQUOTE) return this.doubleQuoted(i);
    if (c === SQUOTE) return this.singleQuoted(i);
    if (INDICATOR.has(c)) throw GIVE_UP;
    if (c === DASH) {
      const n = i + 1 < this.end ? this.code(i + 1) : SPACE;
      if (n === SPACE || (inFlow && (n === COMMA || n === RBRACE || n === RBRACKET))) throw GIVE_UP;
    }
    return inFlow ? this.plainInFlow(i) : this.plainInBlock(i);
  }

  private plainInBlock(i: number): Scalar {
    const end = this.end;
    let q = i + 1;
    let last = q;
    while (q < end) {
      const ch = this.code(q);
      if (ch === SPACE) {
        q++;
        continue;
      }
      if (ch === HASH && this.code(q - 1) === SPACE) break;
      if (ch === COLON && (q + 1 === end || this.code(q + 1) === SPACE)) throw GIVE_UP;
      q++;
      last = q;
    }
    this.pos = last;
    return this.plainScalar(i, last, false);
  }

  private plainInFlow(i: number): Scalar {
    const end = this.end;
    let q = i + 1;
    let last = q;
    while (q < end) {
      const ch = this.code(q);
      if (ch === SPACE) {
        q++;
        continue;
      }
      if (ch === COMMA || ch === RBRACE || ch === RBRACKET) break;
      if (ch === LBRACE || ch === LBRACKET || ch === DQUOTE || ch === SQUOTE) throw GIVE_UP;
      if (ch === HASH && this.code(q - 1) === SPACE) throw GIVE_UP;
      if (ch === COLON) {
        const n = q + 1 < end ? this.code(q + 1) : SPACE;
        if (n === SPACE || n === COMMA || n === RBRACE || n === RBRACKET) throw GIVE_UP;
      }
      q++;
      last = q;
    }
    this.pos = last;
    return this.plainScalar(i, last, false);
  }

  /** `{ key: value, ... }` on one line, identifier keys only. */
  private flowMap(open: number): YAMLMap {
    const map = this.make.map();
    map.flow = true;
    let i = this.skipSpaces(open + 1);
    if (i < this.end && this.code(i) === RBRACE) {
      this.pos = i + 1;
    } else {
      for (;;) {
        const keyEnd = this.keyEnd(i);
        if (keyEnd === -1 || keyEnd + 1 >= this.end) throw GIVE_UP;
        const key = this.plainScalar(i, keyEnd, true);
        const valueAt = this.skipSpaces(keyEnd + 1);
        if (valueAt >= this.end) throw GIVE_UP;
        map.items.push(this.make.pair(key, this.flowValue(valueAt, true)));
        i = this.skipSpaces(this.pos);
        if (i >= this.end) throw GIVE_UP;
        const c = this.code(i);
        if (c === RBRACE) {
          this.pos = i + 1;
          break;
        }
        if (c !== COMMA) throw GIVE_UP;
        i = this.skipSpaces(i + 1);
        if (i >= this.end || this.code(i) === RBRACE) throw GIVE_UP; // a trailing comma
      }
    }
    this.make.span(map, open, this.pos);
    return map;
  }

  /** `[ value, ... ]` on one line. */
  private flowSeq(open: number): YAMLSeq {
    const seq = this.make.seq();
    seq.flow = true;
    let i = this.skipSpaces(open + 1);
    if (i < this.end && this.code(i) === RBRACKET) {
      this.pos = i + 1;
    } else {
      for (;;) {
        if (i >= this.end) throw GIVE_UP;
        seq.items.push(this.flowValue(i, true));
        i = this.skipSpaces(this.pos);
        if (i >= this.end) throw GIVE_UP;
        const c = this.code(i);
        if (c === RBRACKET) {
          this.pos = i + 1;
          break;
        }
        if (c !== COMMA) throw GIVE_UP;
        i = this.skipSpaces(i + 1);
        if (i >= this.end || this.code(i) === RBRACKET) throw GIVE_UP;
      }
    }
    this.make.span(seq, open, this.pos);
    return seq;
  }

  /** "text" on one line, without escapes. */
  private doubleQuoted(open: number): Scalar {
    const close = this.text.indexOf('"', open + 1);
    if (close === -1 || close >= this.end) throw GIVE_UP;
    const value = this.text.slice(open + 1, close);
    if (value.includes('\\')) throw GIVE_UP;
    return this.quoted(open, close + 1, value, 'QUOTE_DOUBLE');
  }

  /** 'text' on one line; '' is a quote. */
  private singleQuoted(open: number): Scalar {
    let value = '';
    let from = open + 1;
    for (;;) {
      const q = this.text.indexOf("'", from);
      if (q === -1 || q >= this.end) throw GIVE_UP;
      value += this.text.slice(from, q);
      if (q + 1 < this.end && this.code(q + 1) === SQUOTE) {
        value += "'";
        from = q + 2;
        continue;
      }
      return this.quoted(open, q + 1, value, 'QUOTE_SINGLE');
    }
  }

  private quoted(open: number, end: number, value: string, type: Scalar.Type): Scalar {
    // Whatever follows must be a separator the caller accepts; `"a"b` is the library's error.
    if (end < this.end) {
      const n = this.code(end);
      if (n !== SPACE && n !== COMMA && n !== RBRACE && n !== RBRACKET) throw GIVE_UP;
    }
    if (value.includes('\\') && type === 'QUOTE_DOUBLE') throw GIVE_UP;
    this.pos = end;
    return this.make.scalar(value, value, type, open, end);
  }

  /** A plain scalar resolved as yaml's composeScalar does: the first default tag whose test matches. */
  private plainScalar(from: number, to: number, atKey: boolean): Scalar {
    if (to - from > 1024) throw GIVE_UP; // the library's implicit-key limit, and no config needs it
    const source = this.text.slice(from, to);
    const kind = quickKind(source);
    if (kind === 'string') return this.make.scalar(source, source, 'PLAIN', from, to);
    if (kind === 'decimal') {
      // What the core schema's int tag resolves `[0-9]+` to (intAsBigInt is off by default).
      return this.make.scalar(Number.parseInt(source, 10), source, 'PLAIN', from, to);
    }
    const { tags, stringTag, options } = this.s;
    const tag =
      tags.find((t) => (t.default === true || (atKey && t.default === 'key')) && t.test?.test(source)) ??
      stringTag;
    let failed = false;
    const res = tag.resolve(
      source,
      () => {
        failed = true;
      },
      options,
    );
    if (failed) throw GIVE_UP;
    let scalar: Scalar;
    if (isScalar(res)) {
      // A tag that builds its own node (none of the core schema's today): the library's kind.
      scalar = res;
      scalar.range = [from, to, to];
      scalar.source = source;
      scalar.type = 'PLAIN';
    } else {
      scalar = this.make.scalar(res, source, 'PLAIN', from, to);
    }
    if (tag.format) scalar.format = tag.format;
    return scalar;
  }
}
