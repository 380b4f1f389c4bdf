/**
 * Work deferred to the end of the turn (src/runtime/endOfTurn.ts): what deferred work
 * defers in turn runs in the same pass, not a turn later; a failing callback drops none of
 * the others and is still reported.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { atEndOfTurn } from '../src/runtime/endOfTurn.ts';

describe('atEndOfTurn', () => {
  it('runs work added by deferred work in the same pass, before the next turn', async () => {
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      atEndOfTurn(() => {
        order.push('first');
        // A plain immediate scheduled now waits for the next turn.
        setImmediate(() => {
          order.push('next turn');
          resolve();
        });
        atEndOfTurn(() => {
          order.push('chained');
          atEndOfTurn(() => order.push('chained twice'));
        });
      });
      atEndOfTurn(() => order.push('second'));
    });
    assert.deepEqual(order, ['first', 'second', 'chained', 'chained twice', 'next turn']);
  });

  it('runs the callbacks after one that throws, then reports the error as uncaught', () => {
    const code = `
      import { atEndOfTurn } from ${JSON.stringify(new URL('../src/runtime/endOfTurn.ts', import.meta.url).href)};
      process.on('uncaughtException', (err) => { console.log('uncaught: ' + err.message); });
      atEndOfTurn(() => { throw new Error('boom'); });
      atEndOfTurn(() => console.log('second ran'));
      setTimeout(() => atEndOfTurn(() => console.log('later ran')), 10);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['second ran', 'uncaught: boom', 'later ran']);
  });
});
