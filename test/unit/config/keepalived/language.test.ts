// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is keepalived syntax under test, not a template
/**
 * keepalived's config language below the keywords, as lib/parser.c (keepalived 2.2.7) reads it in
 * read_line(): `@ID` / `@^ID` lines against the config id, `$NAME=VALUE` definitions
 * (check_definition) with `\` continuations, `$NAME` / `${NAME}` substitution (replace_param,
 * find_definition), and `~SEQ` lines (add_seq). The expected results were also checked by
 * running Debian's keepalived 2.2.7 on the same text with `-d` (--dump-conf) in a network
 * namespace: e.g. the first test's instance dumps "Priority = 200" and the VIPs .10 .11 .20 .21
 * .22 with `-i lb1`.
 */
import { describe, expect, it } from 'vitest';
import { configFrom, convertFile, memoryFs } from './helpers.js';

const instance = (body: string) =>
  `vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n${body}\n}\n`;

describe('parameters ($NAME), conditionals (@ID) and ~SEQ', () => {
  const text = [
    '$PRIO=150',
    '$IF_MAIN=@lb1',
    '$ADDRS= \\',
    '  203.0.113.10/24 \\',
    '  203.0.113.11/24',
    instance(
      [
        '  priority $PRIO',
        '  $IF_MAIN priority 200',
        '  @^lb1 advert_int 3',
        '  virtual_ipaddress {',
        '    $ADDRS',
        '    ~SEQ(N, 20, 22) 203.0.113.${N}/24',
        '  }',
      ].join('\n'),
    ),
  ].join('\n');
  const fs = memoryFs({ '/k/k.conf': text });

  it('reads them as keepalived does with config id lb1', () => {
    const { config, converted } = configFrom('/k/k.conf', fs, 'lb1');
    expect(converted.messages).toEqual([]);
    const vi = config.vrrpInstances[0];
    expect(vi?.priority).toBe(200); // "$IF_MAIN priority 200" becomes "@lb1 priority 200", kept for lb1
    expect(vi?.advertIntervalCs).toBe(100); // "@^lb1" lines are for every other director
    expect(vi?.virtualIpaddresses.map((v) => v.address)).toEqual([
      '203.0.113.10',
      '203.0.113.11',
      '203.0.113.20',
      '203.0.113.21',
      '203.0.113.22',
    ]);
  });

  it('and with another config id (and with none: every @ID line left out, every @^ID line kept)', () => {
    for (const id of ['lb2', null]) {
      const vi = configFrom('/k/k.conf', fs, id).config.vrrpInstances[0];
      expect(vi?.priority).toBe(150);
      expect(vi?.advertIntervalCs).toBe(300);
    }
  });

  it('points messages about substituted words at the line that used the parameter', () => {
    const f = memoryFs({
      '/k/k.conf': [
        '$BAD=not-a-number',
        instance('  priority ${BAD}\n  virtual_ipaddress {\n 203.0.113.1\n }'),
      ].join('\n'),
    });
    expect(convertFile('/k/k.conf', f).errors).toEqual([
      '/k/k.conf:5:12: error: priority must be an integer, got "not-a-number"',
    ]);
  });

  it('leaves an undefined $NAME as it is written, and a definition with a blank before "=" is no definition', () => {
    const f = memoryFs({
      '/k/k.conf': `$X = 1\nvrrp_script s {\n  script "/bin/check \${UNDEFINED} $HOME"\n}\n`,
    });
    const converted = convertFile('/k/k.conf', f);
    expect(converted.errors).toEqual([
      '/k/k.conf:1:1: error: "$X" is neither a parameter definition keepalived reads ($NAME=VALUE, no blank before "=") nor a defined parameter',
    ]);
    const ok = configFrom(
      '/k/k.conf',
      memoryFs({ '/k/k.conf': `vrrp_script s {\n  script "/bin/check \${UNDEFINED} $HOME"\n}\n` }),
    );
    expect(ok.config.vrrpScripts[0]?.argv).toEqual(['/bin/check', '${UNDEFINED}', '$HOME']);
  });

  it('knows the built-in parameters: $_INSTANCE (the config id), $_HASH, $_BANG', () => {
    const f = memoryFs({
      '/k/k.conf': `global_defs {\n  router_id "\${_INSTANCE}-\${_HASH}\${_BANG}"\n}\n`,
    });
    expect(configFrom('/k/k.conf', f, 'lb7').config.director.routerId).toBe('lb7-#!');
    // $_PWD: keepalived's getcwd(), after it changed into the directory of the file it reads
    const pwd = memoryFs({
      '/etc/k/k.conf': 'include sub/v.conf\n',
      '/etc/k/sub/v.conf': 'global_defs {\n  router_id "${_PWD}"\n}\n',
    });
    expect(configFrom('/etc/k/k.conf', pwd).config.director.routerId).toBe('/etc/k/sub');
  });

  it('nests ~SEQ lines, counts down, and writes ~SEQx in hex', () => {
    const f = memoryFs({
      '/k/k.conf': instance(
        '  virtual_ipaddress {\n    ~SEQ(A, 2, -1, 1) ~SEQx(B, 0xa, 0xb) 2001:db8:${A}::${B}/64\n  }',
      ),
    });
    const vi = configFrom('/k/k.conf', f).config.vrrpInstances[0];
    expect(vi?.virtualIpaddresses.map((v) => v.address)).toEqual([
      '2001:db8:2::a',
      '2001:db8:2::b',
      '2001:db8:1::a',
      '2001:db8:1::b',
    ]);
  });

  it('applies parameters before include, and definitions carry into included files', () => {
    const f = memoryFs({
      '/k/k.conf': '$PART=vrrp\n$VRID=77\ninclude conf.d/${PART}.conf\n',
      '/k/conf.d/vrrp.conf': instance('  virtual_ipaddress {\n 203.0.113.1\n }').replace('51', '$VRID'),
    });
    expect(configFrom('/k/k.conf', f).config.vrrpInstances[0]?.virtualRouterId).toBe(77);
  });

  it('refuses what would not mean the same after conversion, and bounds runaway expansions', () => {
    const f = memoryFs({
      '/k/k.conf': [
        '$LOOP=x $LOOP',
        'global_defs {',
        '  router_id $LOOP',
        '  lvs_id ${_RANDOM}',
        '}',
        '~LST({A}, {1}) router_id $A',
        '~SEQ(I, 1, 1000000) router_id $I',
      ].join('\n'),
    });
    const errors = convertFile('/k/k.conf', f).errors;
    expect(errors).toEqual([
      '/k/k.conf:3:3: error: parameter substitution does not end (more than 1000 replacements)',
      '/k/k.conf:4:10: error: $_RANDOM is not supported by convert: the converted config would hold one fixed number',
      '/k/k.conf:6:1: error: ~LST is not supported by convert: expand the list by hand or write it as ~SEQ',
      '/k/k.conf:7:1: error: ~SEQ of more than 100000 lines is not converted',
    ]);
  });
});
