/**
 * Sanity queries after a restore: which tables exist and how many rows each holds (exact counts).
 */
import type pg from 'pg';

export interface TableCount {
  schema: string;
  table: string;
  rows: number;
}

/** Ordinary and partitioned tables outside the system schemas (partitions are counted via their parent). */
export async function tableCounts(client: pg.Client): Promise<TableCount[]> {
  const tables = await client.query<{ schema: string; table: string }>(
    `SELECT n.nspname AS schema, c.relname AS table
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
      ORDER BY 1, 2`,
  );
  const out: TableCount[] = [];
  for (const { schema, table } of tables.rows) {
    const res = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(table)}`);
    out.push({ schema, table, rows: Number(res.rows[0]?.n ?? 0) });
  }
  return out;
}

export function qualified(t: { schema: string; table: string }): string {
  return t.schema === 'public' ? t.table : `${t.schema}.${t.table}`;
}
