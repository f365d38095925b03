// `npm run docs:config`: rewrites the README's configuration tables from src/config.ts.
import { readFile, writeFile } from 'node:fs/promises';
import { README, renderReadme } from './lib/config-docs.js';

const before = await readFile(README, 'utf8');
const after = renderReadme(before);
if (after !== before) await writeFile(README, after);
console.log(after === before ? 'README.md: configuration tables up to date' : 'README.md: configuration tables rewritten');
