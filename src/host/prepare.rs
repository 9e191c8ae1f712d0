//! Preparing a run: what `steward run`, the API, webhooks, Slack, schedules
//! and child runs share. The runbook is found and compiled, the raw inputs
//! are checked against its declarations (compiled again with the values
//! when typed fields read them), its secrets are loaded (environment, then
//! the secrets file), and it gets its run id. Whatever is wrong comes back
//! as one typed [`PrepareError`], every input and secrets problem at once;
//! each edge says it its own way.

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;

use super::Launch;
use crate::events::{EventSink, ParentRun, Trigger};
use crate::inputs::{InputProblem, RawInput, resolve_inputs};
use crate::plan::Plan;
use crate::project::{FileReport, Project, ProjectError};
use crate::secrets::{SecretStore, SecretsError};

/// How a run request names its runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// A name from the runbooks folder, or a path to a YAML file (the CLI,
    /// child runs).
    NameOrPath,
    /// Only a name, and only a file of the runbooks folder (requests from
    /// the network).
    Name,
}

/// A request to run a runbook.
#[derive(Debug, Clone)]
pub struct Request {
    /// The runbook, as the request names it.
    pub runbook: String,
    /// How to find it.
    pub lookup: Lookup,
    /// The inputs given, unchecked.
    pub inputs: IndexMap<String, RawInput>,
    /// Inputs the edge could not read (a `-i` without `=`), each a problem
    /// already worded; reported with the others.
    pub unreadable: Vec<String>,
    /// The secrets file, besides the environment.
    pub secrets_file: Option<PathBuf>,
    /// Who starts the run.
    pub trigger: Trigger,
    /// The run that starts it, for a child run.
    pub parent: Option<ParentRun>,
}

impl Request {
    /// A request for `runbook` by `trigger`, with no inputs.
    pub fn new(runbook: impl Into<String>, lookup: Lookup, trigger: Trigger) -> Request {
        Request {
            runbook: runbook.into(),
            lookup,
            inputs: IndexMap::new(),
            unreadable: Vec::new(),
            secrets_file: None,
            trigger,
            parent: None,
        }
    }

    /// With these JSON inputs (the API, webhooks, schedules, child runs).
    pub fn json_inputs(mut self, inputs: &IndexMap<String, serde_json::Value>) -> Request {
        self.inputs = inputs
            .iter()
            .map(|(k, v)| (k.clone(), RawInput::Json(v.clone())))
            .collect();
        self
    }

    /// With this secrets file.
    pub fn secrets_file(mut self, file: Option<PathBuf>) -> Request {
        self.secrets_file = file;
        self
    }
}

/// A run ready to launch: compiled, with checked inputs, loaded secrets
/// and its id.
pub struct Prepared {
    /// The plan, compiled with the inputs given.
    pub plan: Arc<Plan>,
    /// The inputs, checked, with their defaults.
    pub inputs: IndexMap<String, serde_json::Value>,
    /// The secrets, loaded.
    pub secrets: SecretStore,
    /// Who starts it.
    pub trigger: Trigger,
    /// Its run id.
    pub run_id: String,
    /// The run that starts it, for a child run.
    pub parent: Option<ParentRun>,
}

impl Prepared {
    /// The launch of this run, its progress shown on `display`.
    pub fn launch(self, display: Box<dyn EventSink>) -> Launch {
        Launch {
            plan: self.plan,
            inputs: self.inputs,
            secrets: self.secrets,
            run_id: self.run_id,
            parent: self.parent,
            resume: None,
            display,
        }
    }
}

/// Why a run could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// No runbook by that name.
    #[error("no runbook `{name}` in {folder}{}", hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    UnknownRunbook {
        /// The name asked for.
        name: String,
        /// The runbooks folder, as shown.
        folder: String,
        /// A suggestion (`did you mean …?`).
        hint: Option<String>,
    },
    /// The project's files could not be read (a runbook, a step template,
    /// steward.yaml).
    #[error(transparent)]
    Project(ProjectError),
    /// The runbook does not compile.
    #[error("{} is invalid ({} problem(s))", report.path, report.diagnostics.len())]
    Invalid {
        /// The runbook, as the request names it.
        runbook: String,
        /// Its file with every diagnostic.
        report: FileReport,
        /// Whether it compiles with its defaults but not with the inputs
        /// given (typed fields reading them).
        with_inputs: bool,
    },
    /// The request's inputs or the runbook's secrets are refused: every
    /// problem, nothing was run.
    #[error("{} problem(s) with the run of `{runbook}`", problems.len())]
    Refused {
        /// The runbook, as the request names it.
        runbook: String,
        /// Each problem, in order: unreadable inputs, input problems,
        /// secrets.
        problems: Vec<Problem>,
    },
}

/// One problem of a refused run request.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// An input the edge could not read.
    #[error("{0}")]
    Unreadable(String),
    /// An input that does not fit its declaration.
    #[error("{0}")]
    Input(InputProblem),
    /// Secrets that can't be loaded.
    #[error(transparent)]
    Secrets(SecretsError),
}

impl PrepareError {
    /// The secrets problem of a refused request.
    pub fn secrets_problem(&self) -> Option<&SecretsError> {
        match self {
            PrepareError::Refused { problems, .. } => problems.iter().find_map(|p| match p {
                Problem::Secrets(e) => Some(e),
                _ => None,
            }),
            _ => None,
        }
    }
}

/// Whether `name` can only be a runbook's name (no path, no hidden file).
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Prepares the run `request` asks for in `project`.
pub fn prepare(project: &Project, request: Request) -> Result<Prepared, PrepareError> {
    let path = find(project, &request)?;
    let (library, _) = project.library().map_err(PrepareError::Project)?;
    let compile = |inputs: Option<&IndexMap<String, serde_json::Value>>| {
        let (report, plan) = project
            .compile_file_with(&path, &library, inputs)
            .map_err(PrepareError::Project)?;
        plan.ok_or_else(|| PrepareError::Invalid {
            runbook: request.runbook.clone(),
            report,
            with_inputs: inputs.is_some(),
        })
    };
    // First with the declared defaults, for the inputs' declarations.
    let declared = compile(None)?;
    let mut problems: Vec<Problem> = request
        .unreadable
        .iter()
        .cloned()
        .map(Problem::Unreadable)
        .collect();
    let inputs = match resolve_inputs(&declared.inputs, &request.inputs) {
        Ok(inputs) => inputs,
        Err(found) => {
            problems.extend(found.into_iter().map(Problem::Input));
            IndexMap::new()
        }
    };
    // Typed fields that read `inputs` (`timeout: "{{ inputs.limit }}"`)
    // were compiled with the defaults; compile again with the values given.
    let plan = if request.inputs.is_empty() || !problems.is_empty() {
        declared
    } else {
        compile(Some(&inputs))?
    };
    let secrets = match SecretStore::from_env(&plan.secrets, request.secrets_file.as_deref()) {
        Ok(secrets) => Some(secrets),
        Err(e) => {
            problems.push(Problem::Secrets(e));
            None
        }
    };
    let (Some(secrets), true) = (secrets, problems.is_empty()) else {
        return Err(PrepareError::Refused {
            runbook: request.runbook,
            problems,
        });
    };
    Ok(Prepared {
        plan: Arc::new(plan),
        inputs,
        secrets,
        trigger: request.trigger,
        run_id: uuid::Uuid::now_v7().to_string(),
        parent: request.parent,
    })
}

/// The runbook's file.
fn find(project: &Project, request: &Request) -> Result<PathBuf, PrepareError> {
    let unknown = |hint: Option<String>| PrepareError::UnknownRunbook {
        name: request.runbook.clone(),
        folder: crate::project::display(&project.runbooks_dir()),
        hint,
    };
    if request.lookup == Lookup::Name && !is_name(&request.runbook) {
        return Err(unknown(None));
    }
    let path = project
        .find_runbook(&request.runbook)
        .map_err(|e| match e {
            ProjectError::UnknownRunbook { name, folder, hint } => {
                PrepareError::UnknownRunbook { name, folder, hint }
            }
            other => PrepareError::Project(other),
        })?;
    // A name, never a path: only files of the runbooks folder.
    if request.lookup == Lookup::Name && path.parent() != Some(project.runbooks_dir().as_path()) {
        return Err(unknown(None));
    }
    Ok(path)
}

#[cfg(test)]
mod tests;
