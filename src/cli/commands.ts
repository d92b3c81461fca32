import type { Config } from '../config.js';
import { approvalsCommand } from './approvals.js';
import { backfillCommand } from './backfill.js';
import { exportCommand } from './export.js';
import { migrate } from './migrate.js';
import { employeeCommand, outboxCommand } from './outbox.js';
import { serve } from './serve.js';
import { subscribeCommand } from './subscribe.js';

/** A command gets the parsed config and its arguments; a number is its exit code. */
export type Command = (config: Config, args: string[]) => Promise<void | number>;

/** Every `leave-bridge <command>`; node.ts only parses the environment and dispatches. */
export const commands: Record<string, Command> = {
  serve: (config) => serve(config),
  migrate: (config) => migrate(config),
  subscribe: subscribeCommand,
  backfill: backfillCommand,
  export: exportCommand,
  outbox: outboxCommand,
  employee: employeeCommand,
  approvals: approvalsCommand,
};
