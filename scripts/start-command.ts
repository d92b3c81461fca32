/**
 * The Node options `npm start` runs the service with, read from package.json's `start` script
 * (`node <options> dist/node.js serve`), so the benchmarks and the tests that run the build start
 * it exactly as a user does, whatever the script says today.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export function startNodeOptions(root: string): string[] {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts?: { start?: string } };
  const words = (pkg.scripts?.start ?? '').split(/\s+/).filter(Boolean);
  const entry = words.indexOf('dist/node.js');
  if (words[0] !== 'node' || entry < 0) throw new Error(`package.json's start script is not "node <options> dist/node.js …": ${pkg.scripts?.start}`);
  return words.slice(1, entry);
}
