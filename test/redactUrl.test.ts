import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactUrl } from '../src/config/load.ts';

describe('redactUrl', () => {
  it('hides the password of a URL and keeps the user, host and path', () => {
    assert.equal(redactUrl('postgres://app:s3cret@db.example:5432/hooks'), 'postgres://app:***@db.example:5432/hooks');
    assert.equal(redactUrl('postgres://db.example/hooks'), 'postgres://db.example/hooks');
  });

  it('hides a user info without a colon whole (a token), and passwords holding @ or : in text that is not a valid URL', () => {
    assert.equal(redactUrl('https://ghp_token@example.com/x'), 'https://***@example.com/x');
    assert.equal(redactUrl('postgres://app:p@ss:w@rd@db/hooks'), 'postgres://app:***@db/hooks');
    assert.ok(!redactUrl('not a url //u:secret@ at all').includes('secret'));
  });
});
