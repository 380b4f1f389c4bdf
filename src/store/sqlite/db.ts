import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { StoreOpenError } from '../errors.ts';

export type Params = Record<string, SQLInputValue>;
export type Row = Record<string, SQLInputValue>;

interface Prepared {
  statement: StatementSync;
  /** Parameter names in the order of their numbers (?1, ?2, ...). */
  names: string[];
}

/**
 * A thin wrapper over node:sqlite: a prepared-statement cache and synchronous
 * transactions. node:sqlite is synchronous, so a transaction can never interleave with
 * another on this connection as long as no code awaits inside `tx` (it cannot: `tx`
 * takes a synchronous function).
 */
export class SqliteDb {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, Prepared>();
  private depth = 0;
  /**
   * Undo actions for state kept outside the database (in memory) by the open transaction,
   * one list per savepoint level: they run, newest first, if that level rolls back.
   */
  private undo: Array<Array<() => void>> = [];

  constructor(path: string) {
    this.path = path;
    try {
      // The timeout applies from the first statement: another process (the CLI, a
      // starting server) may hold the write lock for a moment.
      this.db = new DatabaseSync(path, { timeout: 5000 });
      // 8 KiB pages for a new database (an existing one keeps its own): half as many pages
      // in the page cache, which SQLite scans whole at a commit after a B-tree split (see
      // BENCHMARKS.md, round 5); the store thread used 2 – 11 % less CPU in the benchmark.
      this.db.exec('PRAGMA page_size = 8192');
      // WAL lets readers (the CLI, history queries) proceed while the server writes;
      // synchronous=FULL fsyncs the WAL at every commit, so what is answered survives a
      // power cut, not only a process crash. See tx() for the exceptions.
      this.db.exec('PRAGMA journal_mode = WAL');
      this.db.exec('PRAGMA synchronous = FULL');
      this.db.exec('PRAGMA foreign_keys = ON');
      // The queue's indexes are hot; a 64 MiB page cache keeps them in memory (default: 2 MiB).
      this.db.exec('PRAGMA cache_size = -65536');
      this.db.exec('PRAGMA temp_store = MEMORY');
      // The queue rewrites the same pages over and over; checkpointing every 8,192 pages of
      // WAL (64 MiB with 8 KiB pages) instead of every 1,000 copies each hot page back far
      // less often. (The server also checkpoints from another thread, so this threshold is
      // only a fallback there.)
      this.db.exec('PRAGMA wal_autocheckpoint = 8192');
      this.db.prepare('SELECT count(*) FROM sqlite_schema').get();
    } catch (err) {
      throw new StoreOpenError(`Cannot open the SQLite database ${path}: ${(err as Error).message}`);
    }
  }

  /**
   * Prepares once per SQL text. Named parameters ($name) are rewritten to numbered ones and
   * bound by position: node:sqlite matches names in native code on every call, which cost
   * more than a microsecond per statement, and the queue runs thousands of them a second.
   */
  private stmt(sql: string): Prepared {
    let s = this.statements.get(sql);
    if (s === undefined) {
      // SQLite plans a statement with the value bound to its LIMIT and so re-prepares it at
      // every run after a new binding: the claim's statements cost three times as much that
      // way. A LIMIT takes CAST($n AS INTEGER), which it evaluates at run time instead.
      if (/\b(LIMIT|OFFSET)\s+\$/i.test(sql)) throw new Error(`Write LIMIT CAST($n AS INTEGER), not LIMIT $n: ${sql}`);
      const names: string[] = [];
      const numbered = sql.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
        let i = names.indexOf(name);
        if (i < 0) i = names.push(name) - 1;
        return `?${i + 1}`;
      });
      s = { statement: this.db.prepare(numbered), names };
      this.statements.set(sql, s);
    }
    return s;
  }

  private static values(p: Prepared, params: Params): SQLInputValue[] {
    const out = new Array<SQLInputValue>(p.names.length);
    // A parameter left out binds NULL, as it did when bound by name.
    for (let i = 0; i < p.names.length; i++) out[i] = params[p.names[i]!] ?? null;
    return out;
  }

  all<T = Row>(sql: string, params: Params = {}): T[] {
    const p = this.stmt(sql);
    return p.statement.all(...SqliteDb.values(p, params)) as T[];
  }

  get<T = Row>(sql: string, params: Params = {}): T | undefined {
    const p = this.stmt(sql);
    return p.statement.get(...SqliteDb.values(p, params)) as T | undefined;
  }

  run(sql: string, params: Params = {}): { changes: number; lastInsertRowid: number } {
    const p = this.stmt(sql);
    const r = p.statement.run(...SqliteDb.values(p, params));
    return { changes: Number(r.changes), lastInsertRowid: Number(r.lastInsertRowid) };
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  /**
   * Runs fn in one IMMEDIATE transaction (nested calls join the outer one).
   *
   * `relaxed` commits without waiting for fsync (synchronous=NORMAL). The delivery queue's
   * own bookkeeping (claims, results, leases) uses it: losing such a commit to a power cut
   * can only make a delivery be sent again, which at-least-once allows. The server's
   * publishes use it too, but are answered only after the WAL file has been fsynced
   * (publishCommits.ts); every sync of the WAL makes all earlier frames durable as well.
   */
  tx<T>(fn: () => T, options: { relaxed?: boolean } = {}): T {
    if (this.depth > 0) return fn();
    const relaxed = options.relaxed === true;
    if (relaxed) this.db.exec('PRAGMA synchronous = NORMAL');
    this.db.exec('BEGIN IMMEDIATE');
    this.depth++;
    this.undo = [[]];
    try {
      const result = fn();
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      for (const level of this.undo.reverse()) runUndo(level);
      throw err;
    } finally {
      this.undo = [];
      this.depth--;
      if (relaxed) this.db.exec('PRAGMA synchronous = FULL');
    }
  }

  /**
   * Runs fn in a savepoint of the open transaction: if fn throws, what it wrote (and the
   * in-memory changes it registered with onRollback) is undone and the error rethrown;
   * the rest of the transaction stands.
   */
  savepoint<T>(fn: () => T): T {
    if (this.depth === 0) throw new Error('savepoint() needs an open transaction (inside tx()).');
    this.db.exec('SAVEPOINT sp');
    this.undo.push([]);
    try {
      const result = fn();
      this.db.exec('RELEASE sp');
      // Released: its changes now belong to the enclosing level, and roll back with it.
      const done = this.undo.pop()!;
      this.undo.at(-1)!.push(...done);
      return result;
    } catch (err) {
      this.db.exec('ROLLBACK TO sp');
      this.db.exec('RELEASE sp');
      runUndo(this.undo.pop()!);
      throw err;
    }
  }

  /** Registers how to undo an in-memory change made inside the open transaction, should it roll back. */
  onRollback(undo: () => void): void {
    if (this.depth === 0) throw new Error('onRollback() needs an open transaction (inside tx()).');
    this.undo.at(-1)!.push(undo);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}

function runUndo(actions: Array<() => void>): void {
  for (let i = actions.length - 1; i >= 0; i--) actions[i]!();
}
