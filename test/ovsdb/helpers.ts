// Test helpers for the OVSDB layer: a fresh `ovsdb-client dump` decoded into replica rows, and polling.
import type { OvnSandbox, DbName } from '../../operator/sandbox/sandbox.js';
import { decodeRow, type DatabaseSchema, type Row, rowEquals } from '../../operator/ovsdb/index.js';

/** Rows of `table` as `ovsdb-client dump -f json` shows them, decoded like the replica decodes. */
export async function dumpRows(sandbox: OvnSandbox, db: DbName, schema: DatabaseSchema, table: string, columns?: string[]): Promise<Map<string, Row>> {
  const out = await sandbox.ovsdbClient(db, 'dump', '-f', 'json', schema.name, table, ...(columns ? ['_uuid', ...columns] : []));
  const parsed = JSON.parse(out) as { data: unknown[][]; headings: string[] };
  const rows = new Map<string, Row>();
  for (const cells of parsed.data) {
    const raw: Record<string, unknown> = {};
    parsed.headings.forEach((h, i) => (raw[h] = cells[i]));
    const id = (raw._uuid as [string, string])[1];
    delete raw._uuid;
    rows.set(id, decodeRow(id, raw, schema.tables[table]!));
  }
  return rows;
}

/** True when the replica's rows equal the dump (sets compared as sets). */
export function sameRows(replica: ReadonlyMap<string, Row>, dump: Map<string, Row>): boolean {
  if (replica.size !== dump.size) return false;
  for (const [id, row] of dump) {
    const r = replica.get(id);
    if (!r || !rowEquals(r, row)) return false;
  }
  return true;
}

export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
