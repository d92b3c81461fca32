import type { CliIo } from './subscribe.js';

export type { CliIo };

export const stdio: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * `io` with every given secret value replaced by [redacted] before it is written. The commands
 * that talk to outside services print what those answered, and an answer may echo what it was
 * sent; this is the last guard, as the logger's scrubbing is for log lines.
 */
export function redacting(io: CliIo, secrets: Array<string | undefined>): CliIo {
  const values = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 6);
  const scrub = (line: string) => values.reduce((acc, s) => acc.split(s).join('[redacted]'), line);
  return { out: (line) => io.out(scrub(line)), err: (line) => io.err(scrub(line)) };
}

/** A URL as printed: without its password. */
export function printableUrl(url: URL): string {
  const copy = new URL(url);
  copy.password = '';
  return copy.toString();
}
