/**
 * A route and a policy rule as plain data: what a VRRP master adds (keepalived's virtual_routes
 * and virtual_rules). The config validates them (config/types.ts names them VirtualRouteConfig and
 * VirtualRuleConfig); sys/rt-extras.ts writes them over rtnetlink.
 */
import type { Family } from './ipvs.js';

export interface RouteSpec {
  readonly family: Family;
  /** `address/len`; `0.0.0.0/0` or `::/0` for default. */
  readonly to: string;
  readonly via: string | null;
  readonly dev: string | null;
  /** Preferred source address (keepalived's `src`). */
  readonly src: string | null;
  readonly table: number | null;
  readonly metric: number | null;
  readonly scope: 'global' | 'link' | 'host' | null;
  readonly type: 'unicast' | 'blackhole' | 'unreachable' | 'prohibit';
}

export interface RuleSpec {
  readonly family: Family;
  readonly from: string | null;
  readonly to: string | null;
  readonly table: number | null;
  readonly priority: number | null;
  readonly fwmark: number | null;
  readonly fwmask: number | null;
  readonly iif: string | null;
  readonly oif: string | null;
  readonly action: 'table' | 'blackhole' | 'unreachable' | 'prohibit';
}
