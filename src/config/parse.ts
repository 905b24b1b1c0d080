/**
 * Text in, typed Config and every issue out. YAML syntax errors and the parser's bounds (yaml-source.ts)
 * end the pass (the tree after one is guesswork); otherwise each section is validated in full and the cross-section references checked,
 * so one run of `ipvsctl check` lists every problem, in file order. No I/O: loading is in load.ts.
 */
import type { ConfigIssue } from '../errors.js';
import { quote } from '../errors.js';
import { type KeywordTable, key, readSection } from './keywords.js';
import { LineIndex, MAX_ISSUES, ParseContext } from './positions.js';
import type { Config } from './types.js';
import { DIRECTOR_KEYWORDS, readDirector } from './validate-director.js';
import {
  MAX_VIRTUAL_SERVERS,
  readVirtualServers,
  VIRTUAL_SERVER_KEYWORDS,
} from './validate-virtual-servers.js';
import { GROUP_KEYWORDS, INSTANCE_KEYWORDS, readVrrp, SCRIPT_KEYWORDS } from './validate-vrrp.js';
import { listOfMaps, mapOf, namedMaps } from './value-types.js';
import { Value } from './values.js';
import { readYaml } from './yaml-source.js';

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
    listOfMaps(VIRTUAL_SERVER_KEYWORDS, 'virtual_servers', MAX_VIRTUAL_SERVERS),
    { description: 'the IPVS services and their real servers' },
    (d: TopLevel, _x, v) => {
      d.virtualServers = v;
    },
  ),
} satisfies KeywordTable<TopLevel>;

/**
 * File order; an aliased value is read once per use, so the same issue is kept only once. Past
 * MAX_ISSUES, one last issue (at the end) says how many more there were.
 */
function sortIssues(ctx: ParseContext): ConfigIssue[] {
  const seen = new Set<string>();
  const unique = ctx.issues.filter((issue) => {
    const id = `${issue.line}:${issue.col}:${issue.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  unique.sort((a, b) => a.line - b.line || a.col - b.col);
  if (ctx.droppedIssues > 0) {
    const last = unique[unique.length - 1];
    unique.push({
      file: ctx.file,
      line: last?.line ?? 1,
      col: last?.col ?? 1,
      message: `stopped after ${MAX_ISSUES} issues (${ctx.droppedIssues} more not shown)`,
    });
  }
  return unique;
}

export function parseConfig(text: string, file: string, options: ParseOptions = {}): ParseResult {
  const source = readYaml(text);
  const ctx = new ParseContext(file, new LineIndex(text), source.aliases);
  for (const issue of source.issues) ctx.report(ctx.posAt(issue.offset), issue.message);
  if (source.issues.length > 0) return { config: null, issues: sortIssues(ctx) };
  const contents = source.doc?.contents ?? null;
  if (contents === null) {
    ctx.report(
      { line: 1, col: 1 },
      'the config is empty; expected a map with director, virtual_servers, ...',
    );
    return { config: null, issues: sortIssues(ctx) };
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
    if (!known) follow.fail(`follow ${quote(name)} is not a vrrp sync group or instance`);
  }
  const virtualServers = readVirtualServers(top.virtualServers ?? null);
  // An announced VIP is on every director at once; VRRP moves an address to one of them.
  for (const vs of virtualServers) {
    if (!vs.announce) continue;
    const instance = vrrp.instances.find((i) =>
      i.virtualIpaddresses.some((a) => a.address === vs.key.address),
    );
    if (instance !== undefined)
      ctx.report(
        vs.source,
        `virtual server ${quote(vs.name)} is announced, but its address ${vs.key.address} is a virtual address of vrrp instance ${quote(instance.name)}: announce a VIP over BGP or hold it with VRRP, not both`,
      );
  }
  const issues = sortIssues(ctx);
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
