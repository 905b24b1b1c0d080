import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError, IpvsdError } from '../../../src/errors.js';

describe('loadConfig', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipvsd-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns the config of a valid file', async () => {
    const path = join(dir, 'ok.yaml');
    await writeFile(
      path,
      'director: { router_id: lb9 }\nvirtual_servers: [{ address: 192.0.2.1, port: 80 }]\n',
    );
    const config = await loadConfig(path);
    expect(config.file).toBe(path);
    expect(config.director.routerId).toBe('lb9');
    expect(config.virtualServers[0]?.name).toBe('tcp/192.0.2.1:80');
  });

  it('throws a ConfigError carrying every issue of an invalid file', async () => {
    const path = join(dir, 'bad.yaml');
    await writeFile(path, 'director: { ip_forward: 1 }\nvirtual_servers: [{ address: 192.0.2.1 }]\n');
    const error = await loadConfig(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('IPVSD_ERR_CONFIG_INVALID');
    expect((error as ConfigError).message).toBe(
      [
        `${path}:1:25: ip_forward must be true or false, got 1`,
        `${path}:2:19: virtual server is missing required key "port"`,
      ].join('\n'),
    );
  });

  it('throws IPVSD_ERR_CONFIG_IO when the file cannot be read', async () => {
    const error = await loadConfig(join(dir, 'missing.yaml')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpvsdError);
    expect((error as IpvsdError).code).toBe('IPVSD_ERR_CONFIG_IO');
  });
});
