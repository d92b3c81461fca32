import { mkdir, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { ROOT, runCli, waitFor, type Child } from '../support/process.js';

/*
 * What every reliability scenario shares: distinctive secrets, real `leave-bridge serve`
 * processes, a record of everything the service ever said (for the secrets grep), and the report.
 */

/**
 * Secret values no code path has any reason to print. Distinctive (a marker plus random tail) so a
 * grep over all output finds a leak and nothing else. The service-account private key is per
 * scenario (the fake Google makes one) and registered with registerPrivateKey.
 */
const tail = () => Math.random().toString(36).slice(2, 10);
export const SECRETS = {
  appSecret: `RELSEC-app-secret-${tail()}`,
  encryptKey: `RELSEC-encrypt-key-${tail()}`,
  verificationToken: `RELSEC-verification-token-${tail()}`,
  adminToken: `RELSEC-admin-token-${tail()}-${tail()}-${tail()}`,
} as const;

const secretValues = new Map<string, string>(Object.entries(SECRETS).map(([name, value]) => [value, name]));

/** Register a secret value to grep for. */
export function registerSecret(name: string, value: string): void {
  if (value.length >= 8) secretValues.set(value, name);
}

/**
 * A PEM private key leaks if any line of its base64 body shows up anywhere (a log line would carry
 * it with "\n" escapes or re-wrapped, so the whole PEM as one string is not the thing to look for).
 */
export function registerPrivateKey(name: string, pem: string): void {
  const lines = pem
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length >= 40 && !l.startsWith('-----'));
  if (lines.length === 0) throw new Error(`${name}: no PEM body lines found`);
  lines.forEach((line, i) => registerSecret(`${name} (PEM line ${i + 1})`, line));
}

interface Captured {
  source: string;
  text: () => string;
}
const captured: Captured[] = [];
let responseBodies = 0;

/** Record text the service produced (an HTTP response body, a raw socket's bytes). */
export function captureText(source: string, text: string): void {
  responseBodies++;
  captured.push({ source, text: () => text });
}

export function captureLive(source: string, text: () => string): void {
  captured.push({ source, text });
}

export interface Leak {
  secret: string;
  source: string;
  context: string;
}

/** Every registered secret in every captured output. */
export function findSecretLeaks(): { leaks: Leak[]; sources: number; bytes: number; responseBodies: number; secrets: number } {
  const leaks: Leak[] = [];
  let bytes = 0;
  for (const c of captured) {
    const text = c.text();
    bytes += text.length;
    for (const [value, name] of secretValues) {
      const at = text.indexOf(value);
      if (at >= 0) leaks.push({ secret: name, source: c.source, context: text.slice(Math.max(0, at - 80), at + value.length + 40).replace(value, '<SECRET>') });
    }
  }
  return { leaks, sources: captured.length, bytes, responseBodies, secrets: secretValues.size };
}

/** The environment every scenario's services share: the distinctive secrets, verbose logs. */
export function baseEnv(): Record<string, string> {
  return {
    PORT: '0',
    // debug: the most output there is to leak from
    LOG_LEVEL: 'debug',
    FEISHU_VERIFICATION_TOKEN: SECRETS.verificationToken,
    FEISHU_ENCRYPT_KEY: SECRETS.encryptKey,
    ADMIN_TOKEN: SECRETS.adminToken,
  };
}

export interface Service {
  label: string;
  url: string;
  webhook: string;
  child: Child;
  /** the process has not exited */
  alive(): boolean;
  exitInfo(): { code: number | null; signal: NodeJS.Signals | null } | null;
  /** log lines at level error (each a JSON line) */
  errorLines(): string[];
  stop(): Promise<void>;
}

/** Start `leave-bridge serve` as a real process; resolves once it listens and /readyz says ready. */
export async function startService(label: string, env: Record<string, string>): Promise<Service> {
  const child = runCli(['serve'], { ...baseEnv(), ...env });
  captureLive(`${label} stdout/stderr`, child.output);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  void child.exited.then((e) => {
    exit = e;
  });
  let port = 0;
  await waitFor(
    `${label} to listen`,
    () => {
      if (exit) throw new Error(`${label} exited (${JSON.stringify(exit)}) before listening:\n${child.output().slice(-3000)}`);
      const m = /"msg":"leave-bridge listening","port":(\d+)/.exec(child.output());
      if (m) port = Number(m[1]);
      return port > 0;
    },
    30_000,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `${label} to be ready`,
    async () => {
      const r = await http(`${label} /readyz`, `${url}/readyz`).catch(() => null);
      return r?.status === 200;
    },
    30_000,
  );
  return {
    label,
    url,
    webhook: `${url}/webhook/feishu`,
    child,
    alive: () => exit === null,
    exitInfo: () => exit,
    errorLines: () => child.output().split('\n').filter((l) => l.includes('"level":"error"')),
    async stop() {
      if (exit) return;
      child.proc.kill('SIGTERM');
      const done = await Promise.race([child.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 25_000))]);
      if (!done) {
        child.proc.kill('SIGKILL');
        await child.exited;
      }
    },
  };
}

export interface HttpResult {
  status: number;
  text: string;
  ms: number;
}

/**
 * One HTTP request on a connection of its own (no keep-alive pool shared with the traffic under
 * test, so a probe's answer is about the service, not about a pooled socket), recording the body
 * it got for the secrets grep. Never hangs a test.
 */
export function http(
  source: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array; timeoutMs?: number } = {},
): Promise<HttpResult> {
  const { timeoutMs = 10_000, method = 'GET', headers = {}, body } = init;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        captureText(source, text);
        resolve({ status: res.statusCode ?? 0, text, ms: Date.now() - started });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// Report

export interface Figures {
  scenario: string;
  title: string;
  /** distinct events (or hostile inputs) sent */
  events_sent: number;
  /** HTTP requests made, retries and probes included */
  requests: number;
  /** events answered 200 */
  acked: number;
  /** events whose effect is in the database (inbox row committed and applied) */
  applied: number;
  /** an effect present more than once (extra inbox row, leave, attendance row, calendar block) */
  duplicates: number;
  /** an event, or an effect of an event, that should exist and does not */
  lost: number;
  faults_injected: number;
  /** what the faults were */
  faults: string;
  wall_ms: number;
  details: Record<string, unknown>;
}

const figures: Figures[] = [];

/** One probe of the security scenario: what was sent, what a safe answer is, what came back. */
export interface Probe {
  what: string;
  expected: string;
  answered: string;
  ok: boolean;
}

const probes: Probe[] = [];

export function recordProbes(p: Probe[]): void {
  probes.push(...p);
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function securityTable(rows: Probe[] = probes): string {
  if (rows.length === 0) return '';
  const lines = rows.map((p) => `| ${cell(p.what)} | ${cell(p.expected)} | ${cell(p.answered)} | ${p.ok ? 'yes' : '**no**'} |`);
  return ['## Security probes', '', '| Probe | Safe answer | Answered | Safe |', '| --- | --- | --- | --- |', ...lines].join('\n');
}

export function record(f: Figures): Figures {
  figures.push(f);
  return f;
}

export function markdownTable(rows: Figures[] = figures): string {
  const head = '| Scenario | Events sent | Requests | Acked | Applied | Duplicates | Lost | Faults injected | Wall time |';
  const sep = '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |';
  const lines = rows.map(
    (f) =>
      `| ${f.title} | ${f.events_sent} | ${f.requests} | ${f.acked} | ${f.applied} | ${f.duplicates} | ${f.lost} | ${f.faults_injected}: ${f.faults} | ${(f.wall_ms / 1000).toFixed(1)} s |`,
  );
  return [head, sep, ...lines].join('\n');
}

export async function writeReport(extra: Record<string, unknown> = {}): Promise<{ jsonPath: string; markdown: string }> {
  const dir = path.join(ROOT, 'test-results');
  await mkdir(dir, { recursive: true });
  const jsonPath = path.join(dir, 'reliability.json');
  const security = securityTable();
  const markdown = security ? `${markdownTable()}\n\n${security}` : markdownTable();
  await writeFile(
    jsonPath,
    `${JSON.stringify({ generated_at: new Date().toISOString(), node: process.version, scenarios: figures, security_probes: probes, ...extra }, null, 2)}\n`,
  );
  await writeFile(path.join(dir, 'reliability.md'), `${markdown}\n`);
  return { jsonPath, markdown };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
