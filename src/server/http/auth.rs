//! Bearer tokens: which one a request carries, and what it may do.

use axum::http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{TokenAction, TokenConfig};
use crate::secrets::SecretStore;

use super::ApiError;

/// A token the API accepts. Only a digest of its value is kept.
pub struct Token {
    /// Its name: the actor of what it does.
    pub name: String,
    digest: [u8; 32],
    runbooks: Vec<String>,
    actions: Vec<TokenAction>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("runbooks", &self.runbooks)
            .field("actions", &self.actions)
            .finish_non_exhaustive()
    }
}

fn digest(value: &[u8]) -> [u8; 32] {
    Sha256::digest(value).into()
}

/// The tokens of steward.yaml with their values from `secrets` (loaded for
/// the names their `secret` fields give).
pub fn tokens(config: &[TokenConfig], secrets: &SecretStore) -> Result<Vec<Token>, String> {
    let mut out: Vec<Token> = Vec::new();
    for t in config {
        if out.iter().any(|o| o.name == t.name) {
            return Err(format!(
                "server.tokens: the name `{}` is used twice",
                t.name
            ));
        }
        let value = secrets.get(&t.secret).unwrap_or_default();
        if value.trim().is_empty() {
            return Err(format!(
                "server.tokens: token `{}`: its secret {} is empty",
                t.name, t.secret
            ));
        }
        out.push(Token {
            name: t.name.clone(),
            digest: digest(value.as_bytes()),
            runbooks: t.runbooks.clone(),
            actions: t.actions.clone(),
        });
    }
    Ok(out)
}

/// The token a request's `Authorization: Bearer …` header carries.
/// Every token is compared, in constant time, whatever matches.
pub fn authenticate<'a>(tokens: &'a [Token], headers: &HeaderMap) -> Result<&'a Token, ApiError> {
    let unauthorized = |message: &str| {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
            .with_header(header::WWW_AUTHENTICATE, "Bearer")
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(unauthorized(
            "missing bearer token: send `Authorization: Bearer TOKEN`",
        ));
    };
    let presented = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty());
    let Some(presented) = presented else {
        return Err(unauthorized(
            "the Authorization header is not `Bearer TOKEN`",
        ));
    };
    let presented = digest(presented.as_bytes());
    let mut found = None;
    for token in tokens {
        if bool::from(token.digest.ct_eq(&presented)) {
            found = Some(token);
        }
    }
    found.ok_or_else(|| unauthorized("invalid bearer token"))
}

impl Token {
    /// Whether this token may read anything of `runbook`.
    pub fn covers(&self, runbook: &str) -> bool {
        self.runbooks.iter().any(|g| glob(g, runbook))
    }

    /// Whether this token may do `action`.
    pub fn can(&self, action: TokenAction) -> bool {
        self.actions.contains(&action)
    }

    /// Ok when the token may do `action` on `runbook`, else a 403.
    pub fn allow(&self, action: TokenAction, runbook: Option<&str>) -> Result<(), ApiError> {
        if !self.can(action) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "token `{}` may not {}",
                    self.name,
                    match action {
                        TokenAction::Read => "read",
                        TokenAction::Run => "start or cancel runs",
                        TokenAction::Approve => "approve or reject steps",
                    }
                ),
            ));
        }
        if let Some(runbook) = runbook
            && !self.covers(runbook)
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "token `{}` may not act on runbook `{runbook}` (its runbooks: {})",
                    self.name,
                    self.runbooks.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// Whether it is limited to some runbooks.
    pub fn restricted(&self) -> bool {
        !self.runbooks.iter().any(|g| g == "*")
    }
}

/// `*` matches any run of characters; everything else itself.
pub fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("*", "deploy"));
        assert!(glob("deploy", "deploy"));
        assert!(!glob("deploy", "deploy-2"));
        assert!(glob("health-*", "health-check"));
        assert!(glob("health-*", "health-"));
        assert!(!glob("health-*", "healthcheck"));
        assert!(glob("*-check", "health-check"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
    }
}
