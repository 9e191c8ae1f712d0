//! The answers to slash commands: `list`, `status RUN` and starting a
//! runbook, each for what the user may start.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use crate::events::{Fanout, Trigger};
use crate::server::api::AppState;
use crate::server::http::ApiError;
use crate::server::log::log;
use crate::server::service::{Start, StartError};

use super::command::Who;
use super::{Slack, chat_word, may_start, message, plans, respond};

/// `list`: the runbooks `who` may start here.
pub(super) async fn list(
    state: &Arc<AppState>,
    slack: &Slack,
    who: &Who,
    slash: &str,
) -> Result<Value, ApiError> {
    let plans = plans(state).await?;
    let mut lines = Vec::new();
    for plan in plans.iter().filter(|p| may_start(p, who, slack)) {
        let Some(word) = chat_word(plan) else {
            continue;
        };
        let inputs: Vec<String> = plan
            .inputs
            .iter()
            .map(|(name, decl)| match &decl.default {
                Some(d) => format!("{name}={}", d.to_string().trim_matches('"')),
                None => name.clone(),
            })
            .collect();
        let mut line = format!("• `{} {}`", message::escape(slash), message::escape(word));
        if !inputs.is_empty() {
            line.push_str(&format!(" ({})", message::escape(&inputs.join(", "))));
        }
        if let Some(description) = plan.description.as_deref().and_then(|d| d.lines().next()) {
            line.push_str(&format!(": {}", message::escape(description)));
        }
        lines.push(line);
    }
    Ok(message::ephemeral(&if lines.is_empty() {
        "There is no runbook you may start from chat here.".to_owned()
    } else {
        format!("Runbooks you may start:\n{}", lines.join("\n"))
    }))
}

/// `status RUN`: the run's status, for those who may start its runbook.
pub(super) async fn status(
    state: &Arc<AppState>,
    slack: &Slack,
    who: &Who,
    id: &str,
) -> Result<Value, ApiError> {
    let detail = state.service.run(id).await?;
    let plans = plans(state).await?;
    let visible = detail.filter(|d| {
        plans
            .iter()
            .any(|p| p.name == d.run.runbook && may_start(p, who, slack))
    });
    let Some(detail) = visible else {
        return Ok(message::ephemeral(&format!(
            "No run `{}` that you may see.",
            message::escape(id)
        )));
    };
    let run = &detail.run;
    let mut text = format!(
        "*{}* run `{}`: *{}* (started {} by {})",
        message::escape(&run.runbook),
        message::escape(&run.id),
        run.status,
        message::escape(&run.started_at),
        message::escape(&run.actor),
    );
    for step in &detail.steps {
        text.push_str(&format!(
            "\n• `{}` {}",
            message::escape(&step.step),
            step.outcome.status
        ));
    }
    Ok(message::ephemeral(&text))
}

/// `NAME k=v …`: starts the runbook whose chat command is `word`.
pub(super) async fn start(
    state: &Arc<AppState>,
    slack: &Slack,
    who: &Who,
    word: &str,
    inputs: IndexMap<String, String>,
    response_url: &str,
    slash: &str,
) -> Result<Value, ApiError> {
    let plans = plans(state).await?;
    let Some(plan) = plans.iter().find(|p| chat_word(p) == Some(word)) else {
        return Ok(message::ephemeral(&format!(
            "No runbook `{}` can be started from chat. `{} list` shows those you may start.",
            message::escape(word),
            message::escape(slash)
        )));
    };
    if !may_start(plan, who, slack) {
        log(&format!(
            "slack: {} may not start {} from #{}",
            who.actor(),
            plan.name,
            who.channel_name
        ));
        return Ok(message::ephemeral(&format!(
            "You may not start `{}` here: its `triggers.chat.allow` names neither you, a group of yours, nor this channel.",
            message::escape(word)
        )));
    }
    if !respond::url_allowed(response_url, &slack.response_urls) {
        log(
            "slack: a command's response_url is outside server.slack.response_urls; nothing was run",
        );
        return Ok(message::ephemeral(
            "This command's response_url is not one Steward may post to (`server.slack.response_urls`); nothing was run.",
        ));
    }
    let shown: Vec<String> = inputs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let start = Start {
        runbook: plan.name.clone(),
        inputs: inputs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
        trigger: Trigger {
            kind: "chat".into(),
            actor: who.actor(),
            origin: Some(format!("slack #{}", who.channel_name)),
        },
    };
    let prepared = match state.service.prepare(start).await {
        Ok(p) => p,
        Err(StartError::Stopping) => {
            return Ok(message::ephemeral(
                "Steward is shutting down; nothing was run. Try again in a moment.",
            ));
        }
        Err(e) => return Ok(message::ephemeral(&refusal_text(word, &e))),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let watchers = Fanout::default().with(respond::Progress::new(tx));
    state.service.tasks().spawn(respond::deliver(
        slack.client.clone(),
        response_url.to_owned(),
        rx,
    ));
    let run_id = state.service.launch(prepared, watchers).await?.run_id;
    let mut text = format!(
        "{} started *{}*",
        message::mention(&who.user_id),
        message::escape(&plan.name)
    );
    if !shown.is_empty() {
        text.push_str(&format!(" with `{}`", message::escape(&shown.join(" "))));
    }
    text.push_str(&format!(" (run `{run_id}`)"));
    Ok(message::in_channel(&text))
}

/// A run request's refusal as a chat answer, with each problem.
fn refusal_text(word: &str, e: &StartError) -> String {
    let mut text = format!(
        "`{}` was not started: {}",
        message::escape(word),
        message::escape(&e.headline())
    );
    for line in e.details() {
        text.push_str(&format!("\n• {}", message::escape(&line)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{PrepareError, Problem};
    use crate::inputs::InputProblem;
    use crate::secrets::SecretsError;

    #[test]
    fn refusals_list_each_problem() {
        let input = |input: &str, message: &str| {
            Problem::Input(InputProblem {
                input: input.into(),
                message: message.into(),
            })
        };
        let e = StartError::Prepare(PrepareError::Refused {
            runbook: "deploy".into(),
            problems: vec![
                input("version", "required"),
                input("env", "not one of <a>, b"),
                Problem::Secrets(SecretsError::Missing {
                    names: vec!["TOKEN".into()],
                    file: None,
                }),
            ],
        });
        let text = refusal_text("deploy", &e);
        assert!(
            text.contains("`deploy` was not started: 2 problem(s) with the inputs of `deploy`"),
            "{text}"
        );
        assert!(text.contains("• input `version`: required"), "{text}");
        assert!(
            text.contains("• input `env`: not one of &lt;a&gt;, b"),
            "{text}"
        );
        assert!(!text.contains("TOKEN"), "{text}");
    }
}
