// The README's configuration tables, rendered from the settings' declaration (src/config.ts), so
// the README cannot drift from the code: `npm run docs:config` rewrites them, and
// test/service/config.test.ts fails while the README differs from what this renders.
// Each table sits between `<!-- config:NAME -->` and `<!-- /config:NAME -->`, inside
// `<!-- prettier-ignore-start/end -->` so that formatting the README leaves them as rendered.
import { fileURLToPath } from 'node:url';
import { SETTINGS } from '../../src/config.js';
import { defaultText, type DocTable } from '../../src/settings.js';

/** The repository's README (this file runs from dist/scripts/lib/). */
export const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

/** The third column's heading: the limits table says what each variable bounds. */
const LAST_COLUMN: Record<DocTable, string> = {
  service: 'Meaning',
  access: 'Meaning',
  webhooks: 'Meaning',
  limits: 'Limit',
  gpu: 'Meaning',
};

export function renderTable(table: DocTable): string {
  const rows = Object.entries(SETTINGS)
    .filter(([, s]) => s.table === table)
    .map(([name, s]) => {
      const fallback = defaultText(s.schema);
      const shown = fallback === undefined ? 'unset' : fallback === '' ? 'empty' : `\`${fallback}\``;
      return `| \`${name}\` | ${shown} | ${s.doc} |`;
    });
  return [`| Variable | Default | ${LAST_COLUMN[table]} |`, '|---|---|---|', ...rows].join('\n');
}

/** `readme` with every marked table replaced by its rendering; every table must be marked once. */
export function renderReadme(readme: string): string {
  let out = readme;
  for (const table of Object.keys(LAST_COLUMN) as DocTable[]) {
    const open = `<!-- config:${table} -->`;
    const close = `<!-- /config:${table} -->`;
    const start = out.indexOf(open);
    const end = out.indexOf(close);
    if (start < 0 || end < start || out.indexOf(open, start + 1) >= 0) throw new Error(`README: expected one ${open} … ${close} block`);
    out = `${out.slice(0, start + open.length)}\n${renderTable(table)}\n${out.slice(end)}`;
  }
  return out;
}
