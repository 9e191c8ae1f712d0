//! Resources shared by the steps of one run (connection pools and the
//! like), created on first use and dropped with the run.

/// Per-run resources, one field per step kind that needs one.
#[derive(Default)]
pub struct Resources {
    /// HTTP clients of `http` and `notify` steps: one shared connection pool,
    /// and one per distinct set of TLS options.
    pub http: super::http::HttpClients,
    /// PostgreSQL connections of `sql` steps, per connection string.
    pub sql: super::sql::SqlPools,
}
