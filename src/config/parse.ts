/**
 * Text in, typed Config and every issue out. YAML syntax errors end the pass (the tree after one is
 * guesswork); otherwise each section is validated in full and the cross-section references checked,
 * so one run of `ipvsctl check` lists every problem, in file order. No I/O: loading is in load.ts.
 */
import { LineCounter, type Node, parseDocument } from 'yaml';
import type { ConfigIssue } from '../errors.js';
import { parseFast } from './fast-yaml.js';
import { type KeywordTable, key, readSection } from './keywords.js';
import { LazyLineCounter, ParseContext } from './positions.js';
import type { Config } from './types.js';
import { DIRECTOR_KEYWORDS, readDirector } from './validate-director.js';
import { readVirtualServers, VIRTUAL_SERVER_KEYWORDS } from './validate-virtual-servers.js';
import { GROUP_KEYWORDS, INSTANCE_KEYWORDS, readVrrp, SCRIPT_KEYWORDS } from './validate-vrrp.js';
import { listOfMaps, mapOf, namedMaps } from './value-types.js';
import { Value } from './values.js';

export interface ParseOptions {
  /** The default `router_id`; os.hostname() when not given. */
  readonly hostname?: string;
}

export interface ParseResult {
  /** null when there is any issue. */
  readonly config: Config | null;
  /** Sorted by position, without repeats. */
  readonly issues: ConfigIssue[];
}

interface TopLevel {
  director?: Value;
  virtualServers?: Value;
  vrrpScripts?: Value;
  vrrpInstances?: Value;
  vrrpSyncGroups?: Value;
}

/** The top of the file. Each section is read by its own module, in an order parseConfig decides. */
export const CONFIG_KEYWORDS = {
  director: key(
    mapOf(DIRECTOR_KEYWORDS, 'director'),
    { description: 'settings of this director node' },
    (d: TopLevel, _x, v) => {
      d.director = v;
    },
  ),
  vrrp_scripts: key(
    namedMaps(SCRIPT_KEYWORDS, 'vrrp_scripts'),
    { description: 'health scripts that VRRP instances track (`track_scripts`)' },
    (d: TopLevel, _x, v) => {
      d.vrrpScripts = v;
    },
  ),
  vrrp_instances: key(
    namedMaps(INSTANCE_KEYWORDS, 'vrrp_instances'),
    { description: 'VRRP instances: each holds virtual IPs on one interface' },
    (d: TopLevel, _x, v) => {
      d.vrrpInstances = v;
    },
  ),
  vrrp_sync_groups: key(
    namedMaps(GROUP_KEYWORDS, 'vrrp_sync_groups'),
    { description: 'instances that change state together (client-side and server-side VIPs)' },
    (d: TopLevel, _x, v) => {
      d.vrrpSyncGroups = v;
    },
  ),
  virtual_servers: key(
    listOfMaps(VIRTUAL_SERVER_KEYWORDS, 'virtual_servers'),
    { description: 'the IPVS services and their real servers' },
    (d: TopLevel, _x, v) => {
      d.virtualServers = v;
    },
  ),
} satisfies KeywordTable<TopLevel>;

/** File order; an aliased value is read once per use, so the same issue is kept only once. */
function sortIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  const unique = issues.filter((issue) => {
    const id = `${issue.line}:${issue.col}:${issue.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  return unique.sort((a, b) => a.line - b.line || a.col - b.col);
}

export function parseConfig(text: string, file: string, options: ParseOptions = {}): ParseResult {
  // Most configs are plain block YAML: the fast path reads those in a fraction of the time; anything
  // else (and every syntax error) goes to the yaml library, which builds the same kind of tree.
  const fast = parseFast(text);
  let ctx: ParseContext;
  let contents: Node | null;
  if (fast !== null) {
    ctx = new ParseContext(file, new LazyLineCounter(text), null);
    contents = fast.contents;
  } else {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
    ctx = new ParseContext(file, lineCounter, doc);
    if (doc.errors.length > 0) {
      for (const error of doc.errors) ctx.report(ctx.posAt(error.pos[0]), `invalid YAML: ${error.message}`);
      return { config: null, issues: sortIssues(ctx.issues) };
    }
    contents = doc.contents;
  }
  if (contents === null) {
    ctx.report(
      { line: 1, col: 1 },
      'the config is empty; expected a map with director, virtual_servers, ...',
    );
    return { config: null, issues: sortIssues(ctx.issues) };
  }
  const top: TopLevel = {};
  readSection(new Value(ctx, ctx.resolve(contents), 'the config'), 'config', CONFIG_KEYWORDS, top);
  const { director, follow } = readDirector(top.director ?? null, options.hostname);
  const vrrp = readVrrp({
    scripts: top.vrrpScripts ?? null,
    instances: top.vrrpInstances ?? null,
    syncGroups: top.vrrpSyncGroups ?? null,
  });
  if (follow !== null && director.syncDaemon !== null) {
    const name = director.syncDaemon.follow;
    const known = [...vrrp.syncGroups, ...vrrp.instances].some((entry) => entry.name === name);
    if (!known) follow.fail(`follow "${name}" is not a vrrp sync group or instance`);
  }
  const virtualServers = readVirtualServers(top.virtualServers ?? null);
  const issues = sortIssues(ctx.issues);
  if (issues.length > 0) return { config: null, issues };
  return {
    config: {
      file,
      director,
      vrrpScripts: vrrp.scripts,
      vrrpInstances: vrrp.instances,
      vrrpSyncGroups: vrrp.syncGroups,
      virtualServers,
    },
    issues,
  };
}
