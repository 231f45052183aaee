// pqdump.cjs reads what synthkit wrote with readers independent of Go, for
// the export tests and scripts/bench-export.sh.
//
//   node pqdump.cjs parquet FILE...   DuckDB + hyparquet view of each file as JSON
//   node pqdump.cjs card README.md    the card's YAML front matter as JSON
//
// Packages come from scripts/npm-tools.sh: $SYNTHKIT_NPM_DIR, default
// ${XDG_CACHE_HOME:-$HOME/.cache}/synthkit/npm.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createRequire } = require('node:module');
const { pathToFileURL } = require('node:url');

function npmDir() {
  if (process.env.SYNTHKIT_NPM_DIR) return process.env.SYNTHKIT_NPM_DIR;
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'synthkit', 'npm');
}
const req = createRequire(path.join(npmDir(), 'package.json'));

// JSON cannot hold BigInt; the tests only use values that fit a double.
const plain = (v) => JSON.parse(JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? Number(x) : x)));

async function parquet(files) {
  const { DuckDBInstance } = req('@duckdb/node-api');
  const hy = await import(pathToFileURL(req.resolve('hyparquet')).href);
  const { compressors } = await import(pathToFileURL(req.resolve('hyparquet-compressors')).href);
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const all = async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJson();
  const out = [];
  for (const f of files) {
    const q = `'${f.replaceAll("'", "''")}'`;
    const columns = (await all(`DESCRIBE SELECT * FROM read_parquet(${q})`)).map((r) => ({ name: r.column_name, type: r.column_type }));
    const rows = (await conn.runAndReadAll(`SELECT * FROM read_parquet(${q})`)).getRowObjectsJS();
    const fm = (await all(`SELECT created_by, num_rows, num_row_groups FROM parquet_file_metadata(${q})`))[0];
    const cm = await all(`SELECT DISTINCT compression FROM parquet_metadata(${q})`);

    const buf = fs.readFileSync(f);
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    const meta = hy.parquetMetadata(ab);
    const hyRows = await hy.parquetReadObjects({ file: ab, compressors });
    out.push(plain({
      path: f,
      columns,
      rows,
      num_rows: Number(fm.num_rows),
      num_row_groups: Number(fm.num_row_groups),
      created_by: fm.created_by,
      compression: cm.map((c) => c.compression),
      row_group_bytes: meta.row_groups.map((rg) => Number(rg.total_byte_size)),
      page_index: meta.row_groups.every((rg) => rg.columns.every((c) => c.column_index_offset !== undefined && c.offset_index_offset !== undefined)),
      hyparquet_rows: hyRows,
    }));
  }
  return out;
}

function card(file) {
  const { parse } = req('yaml');
  const text = fs.readFileSync(file, 'utf8');
  const m = /^---\n([\s\S]*?)\n---\n/.exec(text);
  if (!m) throw new Error(`${file}: no YAML front matter`);
  return parse(m[1], { strict: true, uniqueKeys: true });
}

(async () => {
  const [mode, ...args] = process.argv.slice(2);
  let result;
  if (mode === 'parquet') result = await parquet(args);
  else if (mode === 'card') result = card(args[0]);
  else throw new Error('usage: pqdump.cjs parquet FILE... | card README.md');
  process.stdout.write(JSON.stringify(result));
})().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
