/**
 * The Worker bundle as `wrangler deploy` would upload it, measured without uploading:
 * `wrangler deploy --dry-run --outdir <tmp> --metafile <tmp>/meta.json`, under a Node that wrangler
 * accepts (scripts/tools-node.ts: the running one when it is new enough).
 *
 * Prints the size (raw and gzip, the figure Cloudflare's limit applies to) against the Workers limits
 * (3 MiB gzip on the free plan, 10 MiB on paid), the biggest contributors, and fails when
 *   - the gzip size exceeds BUNDLE_GZIP_BUDGET (well under the free limit, so growth is noticed
 *     long before a deploy is refused), or
 *   - a Node-only module of ours or a Node-only dependency (PGlite, proper-lockfile, our node-client)
 *     made it into the bundle, or one of OUR modules statically imports node:fs & co: those fail in
 *     workerd or only bloat it, and are kept out by clean imports rather than shims. Dependencies
 *     that import them (the Feishu SDK reads its package.json with fs, google-auth-library knows
 *     child_process) are listed, not failed: nodejs_compat provides those modules and the code
 *     paths that use them never run here.
 *
 * Usage: node --import tsx scripts/bundle-size.ts [--budget-kib N] [--json]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { wranglerCommand } from './tools-node.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const LIMITS = { free: 3 * MiB, paid: 10 * MiB };
/** Our own ceiling: a third of the free plan's limit. */
const DEFAULT_BUDGET = 1 * MiB;

/** Inputs that must never be bundled: Node-only code of ours and Node-only dependencies. */
const FORBIDDEN_INPUTS: Array<{ pattern: RegExp; why: string }> = [
  { pattern: /^src\/db\/node-client\.ts$/, why: 'Node database client (PGlite, proper-lockfile, node:fs)' },
  { pattern: /^src\/node(-deps)?\.ts$/, why: 'Node entry point' },
  { pattern: /^src\/cli\//, why: 'Node command line' },
  { pattern: /node_modules\/@electric-sql\/pglite\//, why: 'PGlite is Node only here (no file system on Workers)' },
  { pattern: /node_modules\/proper-lockfile\//, why: 'lock files need a file system' },
];
/** Node modules with no real implementation on Workers (a stub, or a virtual file system). */
const NODE_ONLY = /^(node:|node-built-in-modules:)?(fs|fs\/promises|child_process|cluster|worker_threads)$/;

interface Metafile {
  inputs: Record<string, { bytes: number; imports: Array<{ path: string; kind: string; external?: boolean }> }>;
  outputs: Record<string, { bytes: number; inputs: Record<string, { bytesInOutput: number }> }>;
}

function parseArgs(argv: string[]) {
  let budget = Number(process.env.BUNDLE_GZIP_BUDGET_KIB ?? DEFAULT_BUDGET / KiB) * KiB;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--budget-kib') budget = Number(argv[++i]) * KiB;
    else if (argv[i] === '--json') json = true;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!Number.isFinite(budget) || budget <= 0) throw new Error('--budget-kib must be a positive number');
  return { budget, json };
}

/** The npm package (or our own top folder) an input path belongs to. */
function ownerOf(input: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (m) return m[1]!;
  if (input.startsWith('src/')) return 'leave-bridge (src/)';
  return input.split('/')[0] ?? input;
}

const fmt = (bytes: number) => (bytes >= MiB ? `${(bytes / MiB).toFixed(2)} MiB` : `${(bytes / KiB).toFixed(1)} KiB`);

function main(): number {
  const { budget, json } = parseArgs(process.argv.slice(2));
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const out = mkdtempSync(path.join(tmpdir(), 'lb-bundle-'));
  try {
    const metafilePath = path.join(out, 'meta.json');
    const bundleDir = path.join(out, 'bundle');
    // A dry run needs no account; keep wrangler from phoning home (telemetry, update check).
    const command = wranglerCommand(['deploy', '--dry-run', '--outdir', bundleDir, '--metafile', metafilePath], {
      ...process.env,
      WRANGLER_SEND_METRICS: 'false',
      WRANGLER_HIDE_BANNER: 'true',
      CI: 'true',
    });
    const wrangler = spawnSync(command.command, command.args, { cwd: root, encoding: 'utf8', env: command.env });
    if (wrangler.status !== 0) {
      process.stderr.write(`wrangler deploy --dry-run (on Node ${command.node.version}) failed (exit ${wrangler.status}):\n${wrangler.stdout}\n${wrangler.stderr}\n`);
      return 1;
    }

    // What would be uploaded: every module in the out dir (source maps and the README are not).
    const modules = readdirSync(bundleDir).filter((f) => /\.(m?js|cjs|wasm|bin|txt|html|json)$/.test(f) && f !== 'README.md');
    let raw = 0;
    let gzip = 0;
    for (const file of modules) {
      const bytes = readFileSync(path.join(bundleDir, file));
      raw += statSync(path.join(bundleDir, file)).size;
      gzip += gzipSync(bytes, { level: 9 }).length;
    }

    const meta = JSON.parse(readFileSync(metafilePath, 'utf8')) as Metafile;
    const byOwner = new Map<string, number>();
    for (const output of Object.values(meta.outputs)) {
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
        byOwner.set(ownerOf(input), (byOwner.get(ownerOf(input)) ?? 0) + bytesInOutput);
      }
    }
    const top = [...byOwner.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);

    const problems: string[] = [];
    for (const { pattern, why } of FORBIDDEN_INPUTS) {
      const hits = Object.keys(meta.inputs).filter((input) => pattern.test(input));
      if (hits.length > 0) problems.push(`bundle contains ${hits[0]}${hits.length > 1 ? ` and ${hits.length - 1} more files like it` : ''}: ${why}`);
    }
    const nodeImports: string[] = [];
    for (const [input, { imports }] of Object.entries(meta.inputs)) {
      if (input.startsWith('node-built-in-modules:')) continue;
      for (const imp of imports) {
        if (!NODE_ONLY.test(imp.path)) continue;
        const name = imp.path.replace(/^node-built-in-modules:/, '');
        if (input.startsWith('src/') && imp.kind !== 'dynamic-import') {
          problems.push(`${input} imports ${name} statically (${imp.kind}); keep Node-only code out of the Worker's import graph`);
        } else {
          nodeImports.push(`${input} → ${name} (${imp.kind})`);
        }
      }
    }
    if (gzip > budget) problems.push(`gzip size ${fmt(gzip)} exceeds the budget of ${fmt(budget)}`);

    if (json) {
      process.stdout.write(
        `${JSON.stringify({ raw, gzip, budget, limits: LIMITS, modules, top: Object.fromEntries(top), nodeOnlyImports: nodeImports, problems }, null, 2)}\n`,
      );
    } else {
      const pct = (n: number, of: number) => `${((n / of) * 100).toFixed(1)}%`;
      const lines = [
        `Worker bundle (${modules.join(', ')})`,
        `  raw     ${fmt(raw)}`,
        `  gzip    ${fmt(gzip)}   ${pct(gzip, LIMITS.free)} of the free limit (3 MiB), ${pct(gzip, LIMITS.paid)} of the paid limit (10 MiB)`,
        `  budget  ${fmt(budget)} gzip (${gzip <= budget ? 'ok' : 'EXCEEDED'})`,
        '',
        'largest contributors (raw bytes in the bundle):',
        ...top.map(([owner, bytes]) => `  ${fmt(bytes).padStart(10)}  ${owner}`),
      ];
      if (nodeImports.length > 0) {
        lines.push('', 'Node-only modules reached lazily or by dependencies (never on a path the Worker runs):', ...nodeImports.map((d) => `  ${d}`));
      }
      if (problems.length > 0) lines.push('', 'PROBLEMS:', ...problems.map((p) => `  ${p}`));
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return problems.length > 0 ? 1 : 0;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

process.exitCode = main();
