#!/usr/bin/env node
// Runs the TypeScript entry through tsx, so `npx leave-bridge …` works from a clone without a build.
import { register } from 'tsx/esm/api';
register();
await import('../src/node.ts');
