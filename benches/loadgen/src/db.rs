//! PostgreSQL connections of the tool (setup, pg-insert, the sampler).

use anyhow::Context;
use tokio_postgres::{Client, Config, NoTls};

/// Connects and drives the connection on a background task.
pub async fn connect(url: &str) -> anyhow::Result<Client> {
    let config: Config = url.parse().context("parsing the PostgreSQL URL")?;
    connect_config(&config).await
}

pub async fn connect_config(config: &Config) -> anyhow::Result<Client> {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .context("connecting to PostgreSQL")?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("jowi-bench: PostgreSQL connection closed: {e}");
        }
    });
    Ok(client)
}

/// The database named in `url`.
pub fn database_name(url: &str) -> anyhow::Result<String> {
    let config: Config = url.parse().context("parsing the PostgreSQL URL")?;
    config
        .get_dbname()
        .map(str::to_owned)
        .context("the PostgreSQL URL names no database")
}

/// Same server and credentials, the `postgres` maintenance database: the
/// sampler connects there so its own connection is not counted.
pub fn maintenance_config(url: &str) -> anyhow::Result<Config> {
    let mut config: Config = url.parse().context("parsing the PostgreSQL URL")?;
    config.dbname("postgres");
    config.application_name("jowi-bench-sampler");
    Ok(config)
}
