// duckdb-export.cjs is the DuckDB side of scripts/bench-export.sh: it reads
// the same journal synthkit exports and writes the same columns, sorted by
// id, to Parquet with zstd, then prints one JSON line of measurements.
//
//   node duckdb-export.cjs RUN_DIR OUT.parquet
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createRequire } = require('node:module');

const npm = process.env.SYNTHKIT_NPM_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'synthkit', 'npm');
const { DuckDBInstance } = createRequire(path.join(npm, 'package.json'))('@duckdb/node-api');

(async () => {
  const [dir, out] = process.argv.slice(2);
  const journal = path.join(dir, 'journal', '*.jsonl').replaceAll("'", "''");
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const cols = `{unit: 'VARCHAR', kind: 'VARCHAR',
    prov: 'STRUCT(method VARCHAR, model VARCHAR, model_digest VARCHAR, seed BIGINT, template_hash VARCHAR)',
    rows: 'STRUCT(messages STRUCT(role VARCHAR, content VARCHAR)[], metadata JSON)[]'}`;
  const sql = `COPY (
      SELECT unit AS id, rows[1].messages AS messages, CAST(rows[1].metadata AS VARCHAR) AS metadata,
             prov.method AS method, prov.model AS model, prov.model_digest AS model_digest,
             prov.seed AS seed, prov.template_hash AS template_hash
      FROM read_json('${journal}', format = 'newline_delimited', columns = ${cols}, maximum_object_size = 67108864)
      WHERE kind = 'row'
      ORDER BY id
    ) TO '${out.replaceAll("'", "''")}' (FORMAT parquet, COMPRESSION zstd)`;
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  await conn.run(sql);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const rows = Number((await conn.runAndReadAll(`SELECT count(*) AS n FROM read_parquet('${out.replaceAll("'", "''")}')`)).getRowObjectsJS()[0].n);
  let input = 0;
  for (const f of fs.readdirSync(path.join(dir, 'journal'))) input += fs.statSync(path.join(dir, 'journal', f)).size;
  process.stdout.write(JSON.stringify({
    tool: 'duckdb', rows, seconds, input_bytes: input, output_bytes: fs.statSync(out).size, files: 1,
    peak_rss_kb: process.resourceUsage().maxRSS, cpu_seconds: (cpu.user + cpu.system) / 1e6,
  }) + '\n');
})().catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });
