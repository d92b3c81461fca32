import type { Config } from '../config.js';
import { feishuFor, loggerFor } from '../node-deps.js';
import type { FeishuPort } from '../ports.js';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const stdio: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Subscribe the app to each approval definition (events only flow for subscribed ones). One line
 * per code; "already subscribed" (Feishu code 1390007) is success.
 */
export async function subscribeAll(feishu: FeishuPort, codes: string[], io: CliIo): Promise<number> {
  let failed = 0;
  for (const code of codes) {
    try {
      const r = await feishu.subscribeApproval(code);
      io.out(`${code}: ${r === 'subscribed' ? 'subscribed' : 'already subscribed'}`);
    } catch (err) {
      failed++;
      io.out(`${code}: failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return failed === 0 ? 0 : 1;
}

/** `leave-bridge subscribe <approval_code>…` — needs no database. */
export async function subscribeCommand(config: Config, args: string[], io: CliIo = stdio): Promise<number> {
  const codes = args.filter((a) => a.trim() !== '');
  if (codes.length === 0 || codes.some((c) => c.startsWith('-'))) {
    io.err('usage: leave-bridge subscribe <approval_code>…');
    return 2;
  }
  const feishu = await feishuFor(config, loggerFor(config));
  if (!feishu) {
    io.err('leave-bridge subscribe: set FEISHU_APP_ID and FEISHU_APP_SECRET');
    return 78; // EX_CONFIG
  }
  return subscribeAll(feishu, codes, io);
}
