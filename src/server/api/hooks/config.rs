//! The webhooks of steward.yaml (`server.hooks`), checked and with their
//! signing keys loaded.

use indexmap::IndexMap;

use crate::config::{HookConfig, HookKind};
use crate::secrets::SecretStore;
use crate::webhook::StandardSecret;

/// A hook's signing key.
pub(super) enum Key {
    Github(Vec<u8>),
    Standard(StandardSecret),
}

/// A configured webhook with its secret loaded. Its `Debug` shows no key.
pub struct Hook {
    pub(super) name: String,
    pub(super) key: Key,
    pub(super) runbook: String,
    pub(super) inputs: IndexMap<String, String>,
    pub(super) events: Vec<String>,
    pub(super) actions: Vec<String>,
}

impl Hook {
    /// Its name (`/hooks/{name}`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The runbook it starts.
    pub fn runbook(&self) -> &str {
        &self.runbook
    }
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook")
            .field("name", &self.name)
            .field("runbook", &self.runbook)
            .finish_non_exhaustive()
    }
}

/// The hooks of steward.yaml with their secrets from `secrets` (loaded for
/// the names their `secret` fields give).
pub fn hooks(config: &[HookConfig], secrets: &SecretStore) -> Result<Vec<Hook>, String> {
    let mut out: Vec<Hook> = Vec::new();
    for h in config {
        if h.name.is_empty()
            || !h
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            return Err(format!(
                "server.hooks: `{}` is not a usable name (letters, digits, `-`, `_`)",
                h.name
            ));
        }
        if h.name == "slack" {
            return Err(
                "server.hooks: the name `slack` is taken by Slack chat-ops (`server.slack`)"
                    .to_owned(),
            );
        }
        if out.iter().any(|o| o.name == h.name) {
            return Err(format!("server.hooks: the name `{}` is used twice", h.name));
        }
        if h.kind == HookKind::Standard && !h.events.is_empty() {
            return Err(format!(
                "server.hooks: hook `{}`: `events` is for kind `github` only",
                h.name
            ));
        }
        if h.kind == HookKind::Standard && !h.actions.is_empty() {
            return Err(format!(
                "server.hooks: hook `{}`: `actions` is for kind `github` only",
                h.name
            ));
        }
        let value = secrets.get(&h.secret).unwrap_or_default();
        if value.trim().is_empty() {
            return Err(format!(
                "server.hooks: hook `{}`: its secret {} is empty",
                h.name, h.secret
            ));
        }
        let key = match h.kind {
            HookKind::Github => Key::Github(value.as_bytes().to_vec()),
            HookKind::Standard => Key::Standard(StandardSecret::parse(value).map_err(|e| {
                format!(
                    "server.hooks: hook `{}`: its secret {}: {e}",
                    h.name, h.secret
                )
            })?),
        };
        let env = crate::template::environment();
        for (input, template) in &h.inputs {
            if let Err(e) = env.template_from_str(template) {
                return Err(format!(
                    "server.hooks: hook `{}`: input `{input}`: {e}",
                    h.name
                ));
            }
        }
        out.push(Hook {
            name: h.name.clone(),
            key,
            runbook: h.runbook.clone(),
            inputs: h.inputs.clone(),
            events: h.events.clone(),
            actions: h.actions.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(hooks: &str) -> Result<Vec<HookConfig>, String> {
        let text = format!(
            "server:\n  hooks: {}\n",
            hooks.trim().replace('\n', "\n    ")
        );
        match crate::spec::parse_config(&text) {
            (Some(config), d) if d.is_empty() => Ok(config.server.hooks),
            (_, d) => Err(format!("{d:?}")),
        }
    }

    fn config(yaml: &str) -> Vec<HookConfig> {
        parse(yaml).unwrap()
    }

    fn secrets() -> SecretStore {
        let names = ["GH".to_owned(), "STD".to_owned(), "EMPTY".to_owned()];
        SecretStore::load(&names, None, |name| match name {
            "GH" => Some("gh-secret-value".into()),
            "STD" => Some("whsec_c3RhbmRhcmQta2V5".into()),
            "EMPTY" => Some(" ".into()),
            _ => None,
        })
        .unwrap()
    }

    fn error(yaml: &str) -> String {
        hooks(&config(yaml), &secrets()).unwrap_err()
    }

    #[test]
    fn loads_hooks_and_hides_their_keys() {
        let loaded = hooks(
            &config(
                r#"[{ name: gh, kind: github, secret: GH, runbook: deploy, events: [deployment], inputs: { version: "{{ payload.deployment.ref }}" } }, { name: std, kind: standard, secret: STD, runbook: deploy }]"#,
            ),
            &secrets(),
        )
        .unwrap();
        assert_eq!(loaded.len(), 2);
        let debug = format!("{loaded:?}");
        assert!(!debug.contains("gh-secret-value"), "{debug}");
    }

    #[test]
    fn refuses_bad_hooks() {
        assert!(error("[{ name: a, kind: github, secret: EMPTY, runbook: r }]").contains("empty"));
        assert!(
            error(
                "[{ name: a, kind: github, secret: GH, runbook: r }, { name: a, kind: github, secret: GH, runbook: r }]"
            )
            .contains("used twice")
        );
        assert!(
            error("[{ name: a, kind: standard, secret: STD, runbook: r, events: [push] }]")
                .contains("`events` is for kind `github`")
        );
        assert!(
            error("[{ name: a, kind: standard, secret: STD, runbook: r, actions: [published] }]")
                .contains("`actions` is for kind `github`")
        );
        assert!(error("[{ name: a, kind: standard, secret: GH, runbook: r }]").contains("base64"));
        assert!(error("[{ name: a/b, kind: github, secret: GH, runbook: r }]").contains("name"));
        assert!(
            error("[{ name: a, kind: github, secret: GH, runbook: r, inputs: { x: '{{ oops' } }]")
                .contains("input `x`")
        );
        assert!(parse("[{ name: a, kind: github, secret: GH, runbook: r, extra: 1 }]").is_err());
        assert!(parse("[{ name: a, kind: gitlab, secret: GH, runbook: r }]").is_err());
    }
}
