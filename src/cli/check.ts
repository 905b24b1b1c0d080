/** `ipvsctl check FILE`: validate only; every error as FILE:LINE:COL: message. */
import { readConfigFile } from './load.js';
import { type CliOutput, EXIT_OK } from './output.js';

export async function checkCommand(file: string, io: CliOutput): Promise<number> {
  const config = await readConfigFile(file, io);
  if (typeof config === 'number') return config;
  const rs = config.virtualServers.reduce((n, vs) => n + vs.realServers.length, 0);
  io.out(`${file}: valid (${config.virtualServers.length} virtual servers, ${rs} real servers)\n`);
  return EXIT_OK;
}
