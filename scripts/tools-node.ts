/**
 * Which Node runs wrangler. leave-bridge itself runs on every Node line package.json's `engines`
 * names; wrangler needs a newer one (the `engines` of node_modules/wrangler says which). When the
 * Node running this is older, wrangler runs under another binary: the first `node` on PATH that is
 * new enough, else Node 24 (the current LTS) from the npm registry's `node` package, installed once
 * into .tools/ (git-ignored). The registry is the only place this machine and CI download from,
 * and the `node` package ships the official binary for the platform it installs on.
 *
 * Used by test/workers.e2e.test.ts (`wrangler dev`), scripts/bundle-size.ts (`wrangler deploy
 * --dry-run`) and .ci/run, whose second leg runs the suite on .tools/'s Node:
 *
 *   node --import tsx scripts/tools-node.ts      installs .tools/'s Node if missing, prints its path
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The Node line installed into .tools/ when nothing on the machine is new enough. */
export const TOOLS_NODE_MAJOR = 24;
const TOOLS_DIR = path.join(ROOT, '.tools');
const TOOLS_NODE = path.join(TOOLS_DIR, 'node_modules/node/bin/node');
const WRANGLER_DIR = path.join(ROOT, 'node_modules/wrangler');

export interface NodeBinary {
  path: string;
  version: string;
}

function versionOf(bin: string): string | undefined {
  const probe = spawnSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8', timeout: 30_000 });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Node 24 in .tools/, installed by `npm install --prefix .tools node@24` when it is not there yet.
 * The `node` package's preinstall fetches the binary as another registry package
 * (node-<platform>-<arch>), so this needs the registry and nothing else.
 */
export function toolsNode(): NodeBinary {
  const installed = existsSync(TOOLS_NODE) ? versionOf(TOOLS_NODE) : undefined;
  if (installed && semver.major(installed) === TOOLS_NODE_MAJOR) return { path: TOOLS_NODE, version: installed };
  const npm = spawnSync('npm', ['install', '--prefix', TOOLS_DIR, `node@${TOOLS_NODE_MAJOR}`, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  const version = npm.status === 0 && existsSync(TOOLS_NODE) ? versionOf(TOOLS_NODE) : undefined;
  if (!version || semver.major(version) !== TOOLS_NODE_MAJOR) {
    throw new Error(
      `could not install Node ${TOOLS_NODE_MAJOR} into ${TOOLS_DIR} ` +
        `(npm install --prefix .tools node@${TOOLS_NODE_MAJOR}: exit ${npm.status ?? npm.signal ?? npm.error?.message}):\n${npm.stdout ?? ''}${npm.stderr ?? ''}`,
    );
  }
  return { path: TOOLS_NODE, version };
}

/** The running Node if it satisfies `range`, else a `node` on PATH that does, else .tools/'s. */
export function nodeSatisfying(range: string): NodeBinary {
  if (semver.satisfies(process.versions.node, range)) return { path: process.execPath, version: process.versions.node };
  const seen = new Set([realpathSync(process.execPath)]);
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'node');
    if (!executable(candidate)) continue;
    const real = realpathSync(candidate);
    if (seen.has(real)) continue;
    seen.add(real);
    const version = versionOf(candidate);
    if (version && semver.satisfies(version, range)) return { path: candidate, version };
  }
  const tools = toolsNode();
  if (!semver.satisfies(tools.version, range)) {
    throw new Error(`no Node satisfying ${range} here, and .tools/ holds Node ${tools.version}: raise TOOLS_NODE_MAJOR in scripts/tools-node.ts`);
  }
  return tools;
}

export interface WranglerCommand {
  command: string;
  args: string[];
  /** `env` with the chosen Node's folder first on PATH, so a `node` wrangler starts is that one too */
  env: NodeJS.ProcessEnv;
  node: NodeBinary;
}

/** `wrangler <args>` under a Node that wrangler accepts. */
export function wranglerCommand(args: string[], env: NodeJS.ProcessEnv = process.env): WranglerCommand {
  const pkg = JSON.parse(readFileSync(path.join(WRANGLER_DIR, 'package.json'), 'utf8')) as { bin: Record<string, string>; engines?: { node?: string } };
  const node = nodeSatisfying(pkg.engines?.node ?? '*');
  return {
    command: node.path,
    args: [path.join(WRANGLER_DIR, pkg.bin.wrangler!), ...args],
    env: { ...env, PATH: [path.dirname(node.path), env.PATH].filter(Boolean).join(path.delimiter) },
    node,
  };
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${toolsNode().path}\n`);
}
