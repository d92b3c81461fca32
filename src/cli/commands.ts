import type { Config } from '../config.js';
import { approvalsCommand } from './approvals.js';
import { backfillCommand } from './backfill.js';
import { corehrCommand } from './corehr.js';
import { doctorCommand } from './doctor.js';
import { exportCommand } from './export.js';
import { reconcileCommand } from './reconcile.js';
import { feedCommand } from './feed.js';
import { migrate } from './migrate.js';
import { employeeCommand, outboxCommand } from './outbox.js';
import { policyCommand } from './policy.js';
import { purgeCommand } from './purge.js';
import { serve } from './serve.js';
import { subscribeCommand } from './subscribe.js';
import { triggerCommand } from './trigger.js';

/** A command gets the parsed config and its arguments; a number is its exit code. */
export type Command = (config: Config, args: string[]) => Promise<void | number>;

/** Every `leave-bridge <command>`; node.ts only parses the environment and dispatches. */
export const commands: Record<string, Command> = {
  serve: (config) => serve(config),
  migrate: (config) => migrate(config),
  subscribe: subscribeCommand,
  backfill: backfillCommand,
  corehr: corehrCommand,
  export: exportCommand,
  outbox: outboxCommand,
  employee: employeeCommand,
  trigger: (config, args) => triggerCommand(config, args),
  purge: (config, args) => purgeCommand(config, args),
  approvals: approvalsCommand,
  reconcile: reconcileCommand,
  policy: policyCommand,
  feed: feedCommand,
};

/** A command that reads the environment itself; a number is its exit code. */
export type EnvCommand = (env: Record<string, string | undefined>, args: string[]) => Promise<number>;

/**
 * Commands that parse the configuration themselves: `doctor` reports a configuration that does
 * not parse as a failed check, where every other command stops on it.
 */
export const envCommands: Record<string, EnvCommand> = {
  doctor: (env, args) => doctorCommand(env, args),
};
