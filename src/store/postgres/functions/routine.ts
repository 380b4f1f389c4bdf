/**
 * A server-side function, defined once: the migrations create the tables, and each routine
 * is (re)created after them whenever the database holds an older version of it (the
 * repeatable migrations of Flyway and the like). A change to a function's body is a change
 * to its one file, with `version` raised; a change of its signature starts `sql` with the
 * DROP FUNCTION of the old one.
 */
export interface Routine {
  name: string;
  version: number;
  sql: string;
}
