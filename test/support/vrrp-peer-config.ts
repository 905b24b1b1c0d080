/**
 * One description of a VRRP router (its instances and sync groups), rendered both as an ipvsd YAML
 * config and as a keepalived.conf, so the interop tests give both peers the same settings and differ
 * only where the test says so (priority, a password). Pure: no I/O.
 */

export interface PeerInstance {
  readonly name: string;
  readonly interface: string;
  readonly vrid: number;
  readonly priority: number;
  readonly version: 2 | 3;
  /** Centiseconds: 100 = 1 s, 10 = 100 ms. */
  readonly advertIntervalCs: number;
  /** VRRPv2 simple-text (PASS) authentication; null: none. */
  readonly password: string | null;
  /** `address/prefix`, e.g. 203.0.113.100/24. */
  readonly vips: readonly string[];
}

export interface PeerRouter {
  readonly instances: readonly PeerInstance[];
  readonly syncGroups: readonly { readonly name: string; readonly instances: readonly string[] }[];
}

/** ipvsd's config: VRRP only (no virtual_servers, so no IPVS module is needed). */
export function ipvsdYaml(router: PeerRouter, controlSocket: string): string {
  const lines = [
    'director:',
    `  control_socket: ${controlSocket}`,
    // The namespace is the test's; leave its forwarding alone (nothing is routed here).
    '  ip_forward: false',
    'vrrp_instances:',
  ];
  for (const i of router.instances) {
    lines.push(
      `  ${i.name}:`,
      '    state: backup',
      `    interface: ${i.interface}`,
      `    virtual_router_id: ${i.vrid}`,
      `    priority: ${i.priority}`,
      `    advert_int: ${i.advertIntervalCs * 10}ms`,
      `    version: ${i.version}`,
      '    preempt: true',
    );
    if (i.password !== null) lines.push(`    authentication: { type: pass, password: "${i.password}" }`);
    lines.push(`    virtual_ipaddresses: [${i.vips.map((v) => `"${v}"`).join(', ')}]`);
  }
  if (router.syncGroups.length > 0) {
    lines.push('vrrp_sync_groups:');
    for (const g of router.syncGroups) lines.push(`  ${g.name}: { instances: [${g.instances.join(', ')}] }`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * keepalived's config. Every instance and group runs `notifyScript` (keepalived appends
 * TYPE NAME STATE PRIORITY), which is how the tests read keepalived's own idea of its state.
 */
export function keepalivedConf(router: PeerRouter, notifyScript: string): string {
  const lines = ['global_defs {', '  router_id ipvsd_interop', '}'];
  for (const g of router.syncGroups) {
    lines.push(`vrrp_sync_group ${g.name} {`, '  group {');
    for (const member of g.instances) lines.push(`    ${member}`);
    lines.push('  }', `  notify ${notifyScript}`, '}');
  }
  for (const i of router.instances) {
    lines.push(
      `vrrp_instance ${i.name} {`,
      // keepalived starts in BACKUP whatever this says (unless it owns the address); priorities decide.
      '  state BACKUP',
      `  interface ${i.interface}`,
      `  virtual_router_id ${i.vrid}`,
      `  priority ${i.priority}`,
      `  advert_int ${i.advertIntervalCs / 100}`,
      `  version ${i.version}`,
    );
    if (i.password !== null) {
      lines.push('  authentication {', '    auth_type PASS', `    auth_pass ${i.password}`, '  }');
    }
    lines.push('  virtual_ipaddress {');
    for (const vip of i.vips) lines.push(`    ${vip}`);
    lines.push('  }', `  notify ${notifyScript}`, '}');
  }
  return `${lines.join('\n')}\n`;
}
