//! `steward serve [--listen ADDR] [--grace DURATION]`: the HTTP API.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::secrets::SecretStore;
use crate::server::{self, Settings};

use super::{exit, open_project, open_store, print_error};

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to listen on, `HOST:PORT` (port 0: any free port);
    /// default: steward.yaml's `server.listen`, else `127.0.0.1:8080`.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// After SIGTERM or SIGINT, how long running runs may go on before
    /// they are interrupted (for `steward resume`).
    #[arg(long, default_value = "30s", value_parser = crate::duration::parse, value_name = "DURATION")]
    grace: Duration,
    /// A file of `NAME=value` secrets (mode 600), for the tokens' values
    /// and the runs' secrets; default: `secrets_file` of steward.yaml.
    #[arg(long, env = "STEWARD_SECRETS_FILE", value_name = "FILE")]
    secrets_file: Option<PathBuf>,
}

pub fn run(project_dir: Option<&Path>, store: Option<&str>, args: Args) -> anyhow::Result<u8> {
    let project = match open_project(project_dir) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let store = match open_store(&project, store) {
        Ok(s) => Arc::new(s),
        Err(code) => return Ok(code),
    };
    let secrets_file = args.secrets_file.clone().or_else(|| {
        project
            .config
            .secrets_file
            .as_ref()
            .map(|f| project.root.join(f))
    });
    let config = &project.config.server;
    let names: Vec<String> = config
        .tokens
        .iter()
        .map(|t| t.secret.clone())
        .chain(config.hooks.iter().map(|h| h.secret.clone()))
        .chain(config.slack.iter().map(|s| s.signing_secret.clone()))
        .collect();
    let loaded = SecretStore::from_env(&names, secrets_file.as_deref())
        .map_err(|e| e.to_string())
        .and_then(|secrets| {
            Ok((
                server::tokens(&config.tokens, &secrets)?,
                server::hooks(&config.hooks, &secrets)?,
                config
                    .slack
                    .as_ref()
                    .map(|s| server::Slack::load(s, &secrets))
                    .transpose()?,
            ))
        });
    let (tokens, hooks, slack) = match loaded {
        Ok(t) => t,
        Err(e) => {
            print_error(
                &format!("can't load the API tokens, webhooks and Slack settings: {e}"),
                Some(
                    "each token's and hook's `secret` names an environment variable or secrets-file entry holding its value",
                ),
            );
            return Ok(exit::INVALID);
        }
    };
    let listen = args
        .listen
        .or_else(|| config.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let store_path = store.path().to_path_buf();
    let settings = Settings {
        project,
        store,
        store_path,
        tokens,
        hooks,
        slack,
        secrets_file,
        grace: args.grace,
    };
    raise_open_files_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(&listen).await {
            Ok(l) => l,
            Err(e) => return Err(format!("can't listen on {listen}: {e}")),
        };
        server::serve(listener, settings)
            .await
            .map_err(|e| e.to_string())
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => Ok(exit::OK),
        Err(e) => {
            print_error(&e, None);
            Ok(exit::FAILED)
        }
    }
}

/// Each run the server hosts keeps a few files open (its lease, its audit
/// trail): the soft limit on open files, often 1024, is raised to the hard
/// one so a busy server doesn't run out.
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    if soft >= hard {
        return;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => server::log(&format!("open files: limit raised from {soft} to {hard}")),
        Err(e) => server::log(&format!(
            "warning: open files limited to {soft} (can't raise it to {hard}: {e}); each run in progress keeps about 3 open"
        )),
    }
}
