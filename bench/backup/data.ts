/**
 * The generated database of the backup benchmarks (bench/backup, and the backup modes of
 * bench/ack and bench/jobs): `accounts`, `deployments` with an index, `events` with jsonb;
 * 7 million rows per 1.0 of `gb`, whose plain pg_dump is at least about `gb` GB.
 */
import pg from 'pg';

export async function sql(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

/** The URL of database `name` on the server of `serverUrl`. */
export function databaseUrl(serverUrl: string, name: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Fills the (empty) database at `url` with about `gb` GB of plain dump. */
export async function fillDatabase(url: string, gb: number): Promise<void> {
  const scale = Math.ceil(gb * 1_000_000);
  await sql(
    url,
    `CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, name text NOT NULL, plan text NOT NULL, created_at timestamptz NOT NULL);
     INSERT INTO accounts SELECT g, 'user' || g || '@example.com', 'User ' || substr(md5(g::text), 1, 12), (ARRAY['free','pro','team'])[1 + g % 3], timestamptz '2024-01-01' + g * interval '1 minute'
       FROM generate_series(1, ${scale}) g;
     CREATE TABLE deployments (id bigint PRIMARY KEY, account_id bigint NOT NULL, status text NOT NULL, image text NOT NULL, log text NOT NULL, created_at timestamptz NOT NULL);
     INSERT INTO deployments SELECT g, 1 + g % ${scale}, (ARRAY['succeeded','failed','rolled back'])[1 + g % 3],
         'registry.example.com/autostack/backend:' || substr(md5((g / 10)::text), 1, 12),
         'build ' || md5(g::text) || ' pushed sha256:' || md5((g * 7)::text) || md5((g * 13)::text) || ' migrate ok; health ok in ' || (g % 900) || ' ms',
         timestamptz '2024-01-01' + g * interval '20 seconds'
       FROM generate_series(1, ${4 * scale}) g;
     CREATE INDEX deployments_account ON deployments (account_id);
     CREATE TABLE events (id bigint PRIMARY KEY, kind text NOT NULL, payload jsonb NOT NULL);
     INSERT INTO events SELECT g, (ARRAY['login','deploy','alert','rotate'])[1 + g % 4], jsonb_build_object('request', md5(g::text), 'ms', g % 1000, 'ok', g % 7 <> 0)
       FROM generate_series(1, ${2 * scale}) g;
     ANALYZE;`,
  );
}
