"""DuckDB's side of ccpulse-bench's SQL benchmark (bench/src/sql.rs).

Usage: python duckdb.py JOB.json RESULT.json

The job (written by the benchmark) names the threads, the memory limit, the number of
timed runs, per tenant a schema and the statements creating its views over the Parquet
files, and per report the DuckDB SQL of each tenant. For each report: one warm-up round
over every tenant, then `runs` timed rounds; a round's time is the sum over tenants of
running the query to completion and materialising every row in a temporary table (the
counterpart of ccpulse collecting its result batches). The warm-up's result of each
tenant is summarised (row count; per column non-NULL count and, for numbers, the sum)
so the benchmark can check that both engines returned the same answer.
"""

import json
import sys
import time

import duckdb

NUMERIC = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "BOOLEAN",
)


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def fingerprint(con):
    columns = con.execute("DESCRIBE temp.result").fetchall()
    parts = ["count(*)"]
    for name, type_, *_ in columns:
        parts.append(f"count({quote(name)})")
        numeric = type_ in NUMERIC or type_.startswith("DECIMAL")
        if numeric:
            parts.append(f"sum(CAST({quote(name)} AS DOUBLE))")
    row = con.execute(f"SELECT {', '.join(parts)} FROM temp.result").fetchone()
    out = {"rows": row[0], "columns": {}}
    i = 1
    for name, type_, *_ in columns:
        count = row[i]
        i += 1
        total = None
        if type_ in NUMERIC or type_.startswith("DECIMAL"):
            total = row[i]
            i += 1
        out["columns"][name] = {"count": count, "sum": total}
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: duckdb.py JOB.json RESULT.json")
    with open(sys.argv[1]) as f:
        job = json.load(f)
    con = duckdb.connect()
    con.execute(f"SET threads = {int(job['threads'])}")
    con.execute(f"SET memory_limit = '{job['memory_limit']}'")
    con.execute("SET TimeZone = 'UTC'")
    for tenant in job["tenants"]:
        con.execute(f"CREATE SCHEMA {quote(tenant['schema'])}")
        for statement in tenant["views"]:
            con.execute(statement)
    reports = {}
    for report in job["reports"]:
        times_ms = []
        prints = {}
        for round_ in range(int(job["runs"]) + 1):
            total = 0.0
            for tenant in job["tenants"]:
                sql = report["sql"][tenant["name"]]
                con.execute(f"SET search_path = '{tenant['schema']}'")
                con.execute("DROP TABLE IF EXISTS temp.result")
                started = time.perf_counter()
                try:
                    con.execute(f"CREATE TEMP TABLE result AS {sql}")
                except duckdb.Error as error:
                    sys.exit(f"report {report['name']}, tenant {tenant['name']}: {error}\n{sql}")
                total += time.perf_counter() - started
                if round_ == 0:
                    prints[tenant["name"]] = fingerprint(con)
            if round_ > 0:
                times_ms.append(total * 1000.0)
        con.execute("DROP TABLE IF EXISTS temp.result")
        reports[report["name"]] = {"times_ms": times_ms, "fingerprints": prints}
    with open(sys.argv[2], "w") as f:
        json.dump({"version": duckdb.__version__, "reports": reports}, f)


if __name__ == "__main__":
    main()
