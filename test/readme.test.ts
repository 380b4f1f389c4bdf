import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SETTINGS } from '../src/config/settings.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

test('the README configuration table lists every setting with its flag and default', () => {
  for (const spec of Object.values(SETTINGS)) {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${spec.env}\` |`));
    assert.ok(row !== undefined, `${spec.env} is missing from the README`);
    assert.ok(row.includes(`\`${spec.flag}\``), `${spec.env}: flag`);
    if ('default' in spec) assert.ok(row.includes(`\`${spec.default}\``), `${spec.env}: default`);
  }
});

test('CI runs the test command the README gives', () => {
  const ci = readFileSync(new URL('../.ci/run', import.meta.url), 'utf8');
  assert.match(readme, /npm install && npm test/);
  assert.match(ci, /^npm test$/m);
});
