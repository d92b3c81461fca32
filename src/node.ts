import { ConfigError, loadConfig } from './config.js';

const USAGE = `usage: leave-bridge <command>

  serve                                   HTTP + outbox drainer (+ long connection when FEISHU_EVENT_MODE=ws)
  migrate                                 apply database migrations
  subscribe <approval_code>…              subscribe the app to approval definitions
  backfill (--approval <code> | --corehr) --from <date> --to <date> [--format table|json]
  corehr sync [--since <time>] [--format table|json]
                                          read CoreHR leave requests updated since the watermark (or <time>) and apply them
  export --from <date> --to <date> [--format csv|json] [--adjustments|--no-adjustments] [--kinds leave,overtime,out,trip] [--columns payroll_code]
  approvals list [--kind <kind>] [--status <status>] [--json]
  reconcile --from <date> --to <date> [--verify google,feishu] [--category <c>] [--limit <n>] [--cursor <c>]
  outbox list [--status <status>] [--key <instance_code>] [--limit <n>] [--json]
  outbox retry <id> | outbox sync <instance_code>
  employee list [--json]
  policy list [--json] | policy import <file.json>
  policy set <leave_type|*> --calendar <effect> --visibility <visibility> [--kind <kind>] [--decline-mode <mode>]
             [--title <text>] [--payroll-code <code>] [--counts-as-leave true|false]
  policy delete <leave_type|*> [--kind <kind>]
  feed create team | employee <employee_id> | department <open_department_id>
  feed list [--revoked] [--json] | feed revoke <feed id>
                                          read-only ICS feed URLs (the token is shown once, at create)
  employee set <employee_id> [--email <address>|--clear-email] [--timezone <zone>|--clear-timezone]
  trigger <scenario> [--employee <user_id>] [--peer <user_id>] [--from <date>] [--to <date>] [--url <webhook>]
                                          post a scenario's Feishu events to a running service (leave-bridge trigger alone lists them)
  doctor [--as <email>] [--approval <code>]… [--employee <user_id>] [--write-probe] [--json]
                                          check each configured part live and say how to fix what fails
  purge                                   remove personal data past its retention (serve does it hourly)
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  // Loaded after the usage check, so `leave-bridge --help` answers without importing the app.
  const { commands, envCommands } = await import('./cli/commands.js');
  if (Object.hasOwn(envCommands, name)) return envCommands[name]!(process.env, args);
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    process.stderr.write(`unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`leave-bridge: ${err.message}\n`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  const code = await command(config, args);
  return typeof code === 'number' ? code : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    // serve keeps running (its handles hold the loop); other commands end here.
    if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`leave-bridge: ${err.message}\n`);
      process.exit(78);
    }
    process.stderr.write(`leave-bridge: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
