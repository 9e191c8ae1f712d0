//! The `sql` step kind, as written.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::syntax::Scalar;
use crate::syntax::Spanned;

/// A `sql` step: one query with bound parameters, or a script of several
/// statements, run on PostgreSQL.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlSpec {
    /// The PostgreSQL connection string, usually `{{ secrets.X }}`:
    /// `postgres://user:password@host:5432/db?sslmode=require`. Its password is
    /// never shown. `sslmode`: `disable`, `prefer` (default), `require`,
    /// `verify-ca`, `verify-full` (with `sslrootcert=FILE`, else the system's
    /// and Mozilla's roots).
    pub url: Spanned<String>,
    /// Connect to this database instead of the connection string's (a
    /// template), e.g. a scratch copy on the same server.
    pub database: Option<Spanned<String>>,
    /// One statement (a template: interpolated values are quoted as SQL
    /// literals; `| ident` for identifiers). `$1`, `$2`… are bound from
    /// `params`.
    pub query: Option<Spanned<String>>,
    /// Values bound to `$1`, `$2`… of `query`, typed from the values:
    /// numbers, strings, booleans, null, lists and maps (templates; a sole
    /// `{{ expression }}` keeps its type).
    pub params: Option<Vec<Spanned<serde_json::Value>>>,
    /// Several statements separated by `;`, run one by one (maintenance such
    /// as `VACUUM ANALYZE` works); a template, values quoted as in `query`.
    pub script: Option<Spanned<String>>,
    /// Run the step in one transaction: any failure rolls it all back.
    pub transaction: Option<Spanned<Scalar>>,
    /// Bound on connecting (TCP, TLS and login), e.g. `5s`. Default: the
    /// URL's `connect_timeout`, else 10s.
    pub connect_timeout: Option<Spanned<Scalar>>,
}
