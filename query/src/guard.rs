//! Read-only SQL: which statements an analyst may run.
//!
//! Two walls, so that one mistake does not open the data:
//! 1. [`check_statement`] parses the text and accepts exactly one query (`SELECT`, `WITH`,
//!    `VALUES`, set operations, `EXPLAIN` of a query) and refuses everything else by
//!    name (`CREATE EXTERNAL TABLE`, `COPY`, `INSERT`, `SET`, `SELECT INTO`, ...);
//! 2. the planned query is verified again with DataFusion's
//!    [`SQLOptions`](datafusion::execution::context::SQLOptions): no DDL, no DML, no
//!    statements ([`verify_plan`]).
//!
//! File access needs no rule of its own: the sessions are built without URL tables
//! (`SELECT * FROM '/etc/passwd'` names no table), without file-reading table functions,
//! and with spilling disabled; `CREATE EXTERNAL TABLE` and `COPY` are refused above.

use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{SetExpr, Statement};

use crate::error::{Error, Result};

/// Words that continue a statement's name after its first keyword (`CREATE OR REPLACE
/// VIEW`, `DROP TABLE`, `SHOW COLUMNS`).
const NAME_WORDS: [&str; 17] = [
    "OR",
    "REPLACE",
    "TABLE",
    "TABLES",
    "VIEW",
    "SCHEMA",
    "DATABASE",
    "FUNCTION",
    "INDEX",
    "EXTERNAL",
    "TEMPORARY",
    "TEMP",
    "UNLOGGED",
    "CATALOG",
    "COLUMNS",
    "VARIABLE",
    "ALL",
];

/// Accepts `sql` if it is exactly one query (see the module docs).
///
/// # Errors
/// [`Error::Parse`] for text that does not parse or holds no or several statements,
/// [`Error::Refused`] naming the statement otherwise.
pub(crate) fn check_statement(sql: &str) -> Result<()> {
    let statements = DFParser::parse_sql(sql).map_err(|err| Error::Parse {
        message: err.strip_backtrace().to_owned(),
    })?;
    match statements.len() {
        0 => Err(Error::Parse {
            message: "no statement: send one SELECT query".to_owned(),
        }),
        1 => statements.iter().try_for_each(check_one),
        n => Err(Error::Parse {
            message: format!("{n} statements: send one query at a time"),
        }),
    }
}

fn check_one(statement: &DfStatement) -> Result<()> {
    match statement {
        DfStatement::Statement(statement) => check_sql_statement(statement),
        DfStatement::Explain(explain) => check_one(&explain.statement),
        DfStatement::CreateExternalTable(_) => refused("CREATE EXTERNAL TABLE"),
        DfStatement::CopyTo(_) => refused("COPY"),
        DfStatement::Reset(_) => refused("RESET"),
    }
}

fn check_sql_statement(statement: &Statement) -> Result<()> {
    match statement {
        Statement::Query(query) => match query.body.as_ref() {
            SetExpr::Select(select) if select.into.is_some() => refused("SELECT INTO"),
            _ => Ok(()),
        },
        Statement::Explain { statement, .. } => check_sql_statement(statement),
        other => refused(&statement_name(&other.to_string())),
    }
}

/// The leading keywords of a statement's text: `CREATE TABLE`, `SET`, `INSERT`.
fn statement_name(text: &str) -> String {
    let mut words = text.split_whitespace();
    let mut name = words.next().unwrap_or("statement").to_ascii_uppercase();
    for word in words {
        let word = word.to_ascii_uppercase();
        if !NAME_WORDS.contains(&word.as_str()) {
            break;
        }
        name.push(' ');
        name.push_str(&word);
    }
    name
}

fn refused(statement: &str) -> Result<()> {
    Err(Error::Refused {
        statement: statement.to_owned(),
    })
}

/// The second wall: DataFusion's own check of the planned query.
///
/// # Errors
/// [`Error::Refused`] naming the kind of plan when it is not a query.
pub(crate) fn verify_plan(plan: &LogicalPlan) -> Result<()> {
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    options.verify_plan(plan).map_err(|_| Error::Refused {
        statement: plan.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(sql: &str) -> String {
        match check_statement(sql) {
            Err(Error::Refused { statement }) => statement,
            other => panic!("{sql}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn queries_pass() {
        for sql in [
            "SELECT 1",
            "select * from interactions where queued_at > now() - interval '1 day'",
            "WITH t AS (SELECT 1 AS x) SELECT x FROM t",
            "VALUES (1), (2)",
            "SELECT 1 UNION ALL SELECT 2",
            "EXPLAIN SELECT 1",
            "EXPLAIN ANALYZE SELECT count(*) FROM events",
            "SELECT 1;",
        ] {
            assert!(check_statement(sql).is_ok(), "{sql}");
        }
    }

    #[test]
    fn everything_else_is_refused_by_name() {
        let cases = [
            ("CREATE TABLE t (x INT)", "CREATE TABLE"),
            (
                "create or replace view v as select 1",
                "CREATE OR REPLACE VIEW",
            ),
            (
                "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
                "CREATE EXTERNAL TABLE",
            ),
            ("COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
            ("COPY events TO '/tmp/x.parquet'", "COPY"),
            ("INSERT INTO events VALUES (1)", "INSERT"),
            ("UPDATE events SET tenant_id = 'x'", "UPDATE"),
            ("DELETE FROM events", "DELETE"),
            ("DROP TABLE events", "DROP TABLE"),
            ("SET datafusion.execution.target_partitions = 64", "SET"),
            ("RESET datafusion.execution.batch_size", "RESET"),
            ("SELECT * INTO copy FROM events", "SELECT INTO"),
            ("EXPLAIN COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
            ("EXPLAIN INSERT INTO events VALUES (1)", "INSERT"),
            ("TRUNCATE TABLE events", "TRUNCATE TABLE"),
        ];
        for (sql, name) in cases {
            assert_eq!(refusal(sql), name, "{sql}");
        }
    }

    #[test]
    fn text_that_is_not_one_statement_is_a_parse_error() {
        for sql in [
            "",
            "   ;",
            "SELECT 1; SELECT 2",
            "SELEKT 1",
            "SELECT 'unterminated",
        ] {
            match check_statement(sql) {
                Err(Error::Parse { message }) => assert!(!message.is_empty(), "{sql}"),
                other => panic!("{sql}: expected a parse error, got {other:?}"),
            }
        }
    }
}
