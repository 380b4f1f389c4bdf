import type { Query } from '../db.ts';

export const selectMeta = (key: string): Query => ({ text: 'SELECT value FROM meta WHERE key = $1', values: [key] });

export const insertMetaIfAbsent = (key: string, value: string): Query => ({
  text: 'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING',
  values: [key, value],
});

export const ping = (): Query => ({ text: 'SELECT 1' });
