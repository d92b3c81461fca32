import type { Config } from '../config.js';
import { buildNodeRuntime } from '../node-deps.js';
import { purgeExpired } from '../retention/purge.js';

/**
 * `leave-bridge purge`: run the retention purge once (what `serve` does every hour) and say what it
 * removed, one `name<TAB>count` line each.
 */
export async function purgeCommand(config: Config, _args: string[], out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const runtime = await buildNodeRuntime(config);
  try {
    const report = await purgeExpired(runtime.deps);
    for (const [name, n] of Object.entries(report)) out(`${name}\t${n}`);
    return 0;
  } finally {
    await runtime.close();
  }
}
