//! Running a `query` or a `script` on a connection, in a transaction when
//! asked, and turning what the server sent into the step's `result`.

use serde_json::{Map, Value, json};
use tokio_postgres::{Client, SimpleQueryMessage};

use super::error::SqlError;
use super::lex;
use super::params::Param;
use super::rows::row_to_json;

/// Rows kept in `result.rows`; more set `result.truncated`.
pub const MAX_ROWS: usize = 10_000;

/// What a query or script gave, before it becomes `result`.
#[derive(Debug, Default)]
pub struct Output {
    /// Rows (of the last statement that returned rows, for a script).
    pub rows: Vec<Map<String, Value>>,
    /// How many rows there were, kept or not.
    pub row_count: usize,
    /// Rows changed (or selected), from the server's command tags.
    pub affected: u64,
    /// Whether the (last) statement returns rows, even none.
    pub returns_rows: bool,
    /// Statements run (1 for a query).
    pub statements: usize,
    /// One line per script statement, for the live output.
    pub log: Vec<String>,
}

impl Output {
    /// The step's `result`.
    pub fn into_result(self) -> Value {
        let mut result = json!({
            "rows": self.rows,
            "row_count": self.row_count,
            "affected": self.affected,
        });
        if self.row_count > MAX_ROWS {
            result["truncated"] = true.into();
        }
        result
    }
}

/// Runs the step's SQL; with `transaction`, between `BEGIN` and `COMMIT`, and
/// a failure rolls everything back.
pub async fn run(
    client: &Client,
    sql: &str,
    params: Option<&[Value]>,
    transaction: bool,
    shown: &str,
) -> Result<Output, SqlError> {
    if transaction {
        client
            .batch_execute("BEGIN")
            .await
            .map_err(|e| SqlError::from_query(&e, "BEGIN", None, shown))?;
    }
    let outcome = match params {
        Some(params) => query(client, sql, params, shown).await,
        None => script(client, sql, shown).await,
    };
    if !transaction {
        return outcome;
    }
    match outcome {
        Ok(output) => {
            client
                .batch_execute("COMMIT")
                .await
                .map_err(|e| SqlError::from_query(&e, "COMMIT", None, shown))?;
            Ok(output)
        }
        Err(e) => {
            // A failed ROLLBACK means a broken connection, reported by the
            // pool's reset (which is not reused then).
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

async fn query(
    client: &Client,
    sql: &str,
    values: &[Value],
    shown: &str,
) -> Result<Output, SqlError> {
    let scan = lex::scan(sql);
    if scan.statements.len() > 1 {
        return Err(SqlError::Syntax(
            "`query` holds several statements; use `script` to run several".into(),
        ));
    }
    if scan.max_placeholder != values.len() {
        return Err(SqlError::Syntax(format!(
            "the query uses {} but `params` has {} value{}",
            match scan.max_placeholder {
                0 => "no placeholder".to_owned(),
                1 => "$1".to_owned(),
                n => format!("$1…${n}"),
            },
            values.len(),
            if values.len() == 1 { "" } else { "s" }
        )));
    }
    let params: Vec<Param> = values.iter().cloned().map(Param).collect();
    let types: Vec<_> = params.iter().map(Param::declared_type).collect();
    let failed = |e: tokio_postgres::Error| SqlError::from_query(&e, sql, None, shown);
    let statement = client.prepare_typed(sql, &types).await.map_err(failed)?;
    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
        .iter()
        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let mut output = Output {
        statements: 1,
        ..Output::default()
    };
    if statement.columns().is_empty() {
        output.affected = client.execute(&statement, &refs).await.map_err(failed)?;
        return Ok(output);
    }
    let rows = client.query(&statement, &refs).await.map_err(failed)?;
    output.returns_rows = true;
    output.row_count = rows.len();
    output.affected = rows.len() as u64;
    output.rows = rows
        .iter()
        .take(MAX_ROWS)
        .map(row_to_json)
        .collect::<Result<_, _>>()?;
    Ok(output)
}

async fn script(client: &Client, sql: &str, shown: &str) -> Result<Output, SqlError> {
    let scan = lex::scan(sql);
    if let Some(what) = scan.unterminated {
        return Err(SqlError::Syntax(format!("the script ends inside {what}")));
    }
    let mut output = Output::default();
    let mut last_rows: Option<Vec<Map<String, Value>>> = None;
    for (index, statement) in scan.statements.iter().enumerate() {
        let first_line = sql[..statement.offset].matches('\n').count() + 1;
        let messages = client.simple_query(statement.text).await.map_err(|e| {
            SqlError::from_query(&e, statement.text, Some((index + 1, first_line)), shown)
        })?;
        let mut rows = Vec::new();
        let mut returned_rows = false;
        let mut count = 0;
        for message in messages {
            match message {
                SimpleQueryMessage::Row(row) => {
                    let mut map = Map::new();
                    for (i, column) in row.columns().iter().enumerate() {
                        let value = row
                            .try_get(i)
                            .ok()
                            .flatten()
                            .map_or(Value::Null, Value::from);
                        map.insert(column.name().to_owned(), value);
                    }
                    rows.push(map);
                }
                SimpleQueryMessage::RowDescription(_) => returned_rows = true,
                SimpleQueryMessage::CommandComplete(n) => count += n,
                _ => {}
            }
        }
        output.affected += count;
        output.statements += 1;
        let head = statement.text.lines().next().unwrap_or_default();
        output.log.push(if returned_rows {
            format!("ok: {head} ({} rows)", rows.len())
        } else {
            format!("ok: {head}")
        });
        if returned_rows || !rows.is_empty() {
            last_rows = Some(rows);
        }
    }
    if let Some(rows) = last_rows {
        output.returns_rows = true;
        output.row_count = rows.len();
        output.rows = rows.into_iter().take(MAX_ROWS).collect();
    }
    Ok(output)
}
