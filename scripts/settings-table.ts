// Prints the README's configuration table from the settings table (src/config/settings.ts).
// Usage: npx node scripts/settings-table.ts   (or: npm run docs:settings)
import { SETTINGS } from '../src/config/settings.ts';

const rows = Object.values(SETTINGS).map((s) => {
  const def = 'default' in s ? `\`${s.default}\`` : '';
  return `| \`${s.env}\` | \`${s.flag}\` | ${def} | ${s.description.replace(/\|/g, '\\|')} |`;
});
console.log(['| Variable | Flag | Default | Meaning |', '|---|---|---|---|', ...rows].join('\n'));
