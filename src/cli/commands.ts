/**
 * Commands beyond serve/migrate register themselves here (one import per command file), so
 * node.ts stays a dispatcher.
 */
import { registerCommand } from '../node.js';
import { backfillCommand } from './backfill.js';
import { subscribeCommand } from './subscribe.js';
import { employeeCommand, outboxCommand } from './outbox.js';
import { exportCommand } from './export.js';

registerCommand('subscribe', subscribeCommand);
registerCommand('backfill', backfillCommand);
registerCommand('outbox', outboxCommand);
registerCommand('employee', employeeCommand);
registerCommand('export', exportCommand);
