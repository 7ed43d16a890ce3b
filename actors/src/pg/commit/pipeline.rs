//! Statements sent back to back on one connection: one round trip for the
//! lot. tokio-postgres sends a query when its future is first polled, so
//! `run` polls them in list order: that is the order PostgreSQL runs them.

use futures::future::{maybe_done, MaybeDone};
use std::future::Future;
use std::pin::Pin;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

pub type Param<'a> = &'a (dyn ToSql + Sync);

/// One statement of a batch's pipeline: its SQL and its parameters
/// (borrowed from the writer's column arrays).
pub struct Sql<'a> {
    pub sql: &'static str,
    pub params: Vec<Param<'a>>,
}

impl<'a> Sql<'a> {
    pub fn new(sql: &'static str, params: Vec<Param<'a>>) -> Self {
        Self { sql, params }
    }
}

type RowsFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + Send + 'a>>;

/// Runs `statements` (prepared as `prepared`, same order) and then COMMIT
/// in one pipeline. Answers the rows of each statement, or the first error
/// (a failed statement aborts the transaction, so COMMIT rolls back).
pub async fn run_and_commit<'a>(
    client: &'a tokio_postgres::Client,
    prepared: &'a [Statement],
    statements: &'a [Sql<'a>],
) -> Result<Vec<Vec<Row>>, tokio_postgres::Error> {
    let mut futures: Vec<Pin<Box<MaybeDone<RowsFuture<'a>>>>> = prepared
        .iter()
        .zip(statements)
        .map(|(stmt, s)| {
            let f: RowsFuture<'a> = Box::pin(client.query(stmt, &s.params));
            Box::pin(maybe_done(f))
        })
        .collect();
    let commit: RowsFuture<'a> = Box::pin(async move {
        client.batch_execute("COMMIT").await?;
        Ok(Vec::new())
    });
    futures.push(Box::pin(maybe_done(commit)));
    std::future::poll_fn(|cx| {
        let mut done = true;
        for f in futures.iter_mut() {
            done &= f.as_mut().poll(cx).is_ready();
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    let mut out = Vec::with_capacity(futures.len());
    for f in futures.iter_mut() {
        match f.as_mut().take_output() {
            Some(rows) => out.push(rows?),
            None => out.push(Vec::new()),
        }
    }
    out.pop(); // COMMIT's empty answer
    Ok(out)
}
