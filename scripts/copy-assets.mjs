#!/usr/bin/env node
// tsc compiles only TypeScript: copy the files the compiled code reads at run time.
import { cpSync, existsSync } from 'node:fs';

const ASSET_DIRS = ['services/portal/views', 'registry/dashboard/assets'];

for (const dir of ASSET_DIRS) {
  if (existsSync(`src/${dir}`)) cpSync(`src/${dir}`, `dist/${dir}`, { recursive: true });
}
