/**
 * A table of the schema, quoted for a statement that takes no parameters (VACUUM,
 * ANALYZE). The schema name is the operator's DATABASE_SCHEMA, validated at start-up.
 */
export const schemaTable = (schema: string, table: string) => `${schema}."${table.replace(/"/g, '""')}"`;
