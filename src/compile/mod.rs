//! spec → [`Plan`]: resolve `uses`, infer dependencies, check every
//! reference and template, build the DAG. No I/O: files are read by the
//! caller (the project).

mod dag;
mod inputs;
mod kinds;
mod library;
mod retry;
mod scope;
mod step;
mod uses;
mod value;
pub mod values;

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use sha2::{Digest, Sha256};

use crate::diagnostic::Diagnostic;
use crate::plan::{Concurrency, OnConflict, Plan, Section, Step};
use crate::spec::{self, RunbookSpec, Spanned, StepSpec};
use crate::template::Escape;

pub use inputs::is_identifier;
pub use library::{Library, LibraryEntry, RunbookEntry, check_template};
pub use scope::{Checker, Scope, StepRef};
pub use step::KINDS;

/// A file's text and the name it is shown under.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// The path as shown in diagnostics.
    pub path: &'a str,
    /// The file's text.
    pub text: &'a str,
    /// The name a runbook gets when it has no `name:` (its file stem).
    pub stem: &'a str,
}

/// Compiles a runbook. Every problem of the file is returned at once.
/// Typed fields that read `inputs` get the inputs' defaults.
pub fn compile(source: Source, library: &Library) -> Result<Plan, Vec<Diagnostic>> {
    compile_with(source, library, None)
}

/// Compiles a runbook for a run with these input values (already checked):
/// typed fields that read `inputs` (`timeout: "{{ inputs.limit }}"`) get
/// them, the other inputs their defaults.
pub fn compile_with(
    source: Source,
    library: &Library,
    values: Option<&IndexMap<String, serde_json::Value>>,
) -> Result<Plan, Vec<Diagnostic>> {
    let (spec, mut diagnostics) = spec::parse_runbook(source.text);
    let Some(spec) = spec else {
        return Err(diagnostics);
    };
    let plan = build(&spec, source, library, values, &mut diagnostics);
    match plan {
        Some(plan) if diagnostics.is_empty() => Ok(plan),
        _ => {
            if diagnostics.is_empty() {
                diagnostics.push(Diagnostic::whole_file("the runbook could not be compiled"));
            }
            diagnostics.sort_by_key(|d| d.span.map(|s| (s.line, s.col)));
            diagnostics.dedup();
            Err(diagnostics)
        }
    }
}

fn build(
    spec: &RunbookSpec,
    source: Source,
    library: &Library,
    values: Option<&IndexMap<String, serde_json::Value>>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Plan> {
    let checker = Checker::new(source.text);
    let name = match &spec.name {
        Some(name) => {
            if !valid_id(name) {
                diagnostics.push(
                    Diagnostic::new(name.span, format!("invalid runbook name `{}`", name.value))
                        .hint("runbook names are `[a-z0-9_-]+`"),
                );
            }
            name.value.clone()
        }
        None => source.stem.to_owned(),
    };

    let mut inputs = IndexMap::new();
    for (input_name, decl) in &spec.inputs {
        if let Some(decl) = decl
            .get()
            .and_then(|d| inputs::compile_input(input_name, d, diagnostics))
        {
            inputs.insert(input_name.value.clone(), decl);
        }
    }
    let input_names: HashSet<String> = spec.inputs.keys().map(|k| k.value.clone()).collect();
    // What typed fields (durations, counts, flags) may read.
    let known_inputs: serde_json::Map<String, serde_json::Value> = inputs
        .iter()
        .filter_map(|(name, decl)| {
            values
                .and_then(|v| v.get(name))
                .or(decl.default.as_ref())
                .map(|v| (name.clone(), v.clone()))
        })
        .collect();
    let known: values::Params =
        IndexMap::from([("inputs".to_owned(), serde_json::Value::Object(known_inputs))]);

    let mut secret_names = HashSet::new();
    for secret in &spec.secrets {
        if !is_env_name(secret) {
            diagnostics.push(
                Diagnostic::new(
                    secret.span,
                    format!("invalid secret name `{}`", secret.value),
                )
                .hint("secret names are environment variable names: `[A-Za-z_][A-Za-z0-9_]*`"),
            );
        }
        if !secret_names.insert(secret.value.clone()) {
            diagnostics.push(Diagnostic::new(
                secret.span,
                format!("secret `{}` is listed twice", secret.value),
            ));
        }
    }

    let mut refs = Vec::new();
    let mut var_names: Vec<String> = Vec::new();
    let mut vars = Vec::new();
    for (var, v) in &spec.vars {
        if !is_identifier(var) {
            diagnostics.push(Diagnostic::new(
                var.span,
                format!("invalid var name `{}`", var.value),
            ));
        }
        let scope = Scope {
            inputs: Some(&input_names),
            secrets: Some(&secret_names),
            vars: Some(&var_names),
            run: true,
            ..Scope::default()
        };
        vars.push((
            var.value.clone(),
            value::compile(v, &checker, &scope, diagnostics, &mut refs),
        ));
        var_names.push(var.value.clone());
    }
    let base_scope = Scope {
        inputs: Some(&input_names),
        secrets: Some(&secret_names),
        vars: Some(&var_names),
        run: true,
        ..Scope::default()
    };
    let env = spec
        .env
        .iter()
        .map(|(k, v)| {
            let t = checker.template(
                &v.value,
                v.span,
                Escape::None,
                &base_scope,
                diagnostics,
                &mut refs,
            );
            (k.value.clone(), t)
        })
        .collect();
    let concurrency = spec.concurrency.as_ref().map(|c| {
        let on_conflict = match c
            .value
            .on_conflict
            .as_ref()
            .map(|o| (o.value.as_str(), o.span))
        {
            None | Some(("wait", _)) => OnConflict::Wait,
            Some(("fail", _)) => OnConflict::Fail,
            Some((other, span)) => {
                diagnostics.push(
                    Diagnostic::new(span, format!("unknown on_conflict `{other}`"))
                        .hint("`wait` (default) or `fail`"),
                );
                OnConflict::Wait
            }
        };
        let key = checker.template(
            &c.value.key,
            c.span,
            Escape::None,
            &base_scope,
            diagnostics,
            &mut refs,
        );
        Concurrency { key, on_conflict }
    });
    let timeout = spec
        .timeout
        .as_ref()
        .and_then(|t| values::duration(t, Some(&known), diagnostics));
    let max_parallel = spec
        .max_parallel
        .as_ref()
        .and_then(|m| values::count(m, Some(&known), 1, "max_parallel", diagnostics))
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let default_timeout = spec
        .defaults
        .timeout
        .as_ref()
        .and_then(|t| values::duration(t, Some(&known), diagnostics));
    if let Some(retry) = &spec.defaults.retry {
        retry::compile_retry(retry, Some(&known), diagnostics);
    }

    // Ids are unique across every list, undo steps included.
    let lists: [(&'static str, Section, &Vec<spec::Lenient<StepSpec>>); 3] = [
        ("steps", Section::Main, &spec.steps),
        ("on_failure", Section::OnFailure, &spec.on_failure),
        ("finally", Section::Finally, &spec.finally),
    ];
    let mut where_is: HashMap<String, &'static str> = HashMap::new();
    let mut seen: HashMap<String, ()> = HashMap::new();
    let mut check_id = |id: &Spanned<String>,
                        list: &'static str,
                        diagnostics: &mut Vec<Diagnostic>| {
        if !valid_id(id) {
            diagnostics.push(
                Diagnostic::new(id.span, format!("invalid step id `{}`", id.value))
                    .hint("step ids are lower-case letters, digits, `_` and `-`, e.g. `run_tests`"),
            );
        }
        if seen.insert(id.value.clone(), ()).is_some() {
            diagnostics.push(
                Diagnostic::new(id.span, format!("duplicate step id `{}`", id.value))
                    .hint("step ids are unique across `steps`, `on_failure`, `finally` and `undo`"),
            );
        } else {
            where_is.insert(id.value.clone(), list);
        }
    };
    let mut ids: Vec<Vec<Option<&Spanned<String>>>> = Vec::new();
    for (list, _, steps) in &lists {
        let mut list_ids = Vec::new();
        for s in steps.iter() {
            let Some(step) = s.get() else {
                list_ids.push(None);
                continue;
            };
            match &step.id {
                Some(id) => check_id(id, list, diagnostics),
                None => {
                    let span = step
                        .shell
                        .as_ref()
                        .map(|s| s.span)
                        .or(step.uses.as_ref().map(|u| u.span));
                    diagnostics.push(
                        Diagnostic::new(span.unwrap_or_default(), "step has no `id`")
                            .hint("every step needs a unique `id`, e.g. `id: build`"),
                    );
                }
            }
            if let Some(undo) = &step.undo {
                if let Some(uid) = &undo.id {
                    check_id(uid, list, diagnostics);
                }
            }
            list_ids.push(step.id.as_ref());
        }
        ids.push(list_ids);
    }
    let main_ids: HashSet<String> = ids[0].iter().flatten().map(|i| i.value.clone()).collect();

    let mut sections: Vec<Vec<Step>> = Vec::new();
    for ((list, section, steps), list_ids) in lists.iter().zip(&ids) {
        let scope = Scope {
            steps: true,
            ..base_scope.clone()
        };
        let env = step::StepEnv {
            checker: &checker,
            scope,
            default_retry: spec.defaults.retry.as_ref(),
            default_timeout,
            library,
            params: Some(&known),
            runbook: &name,
        };
        let mut compiled = Vec::new();
        for (s, id) in steps.iter().zip(list_ids) {
            let (Some(s), Some(id)) = (s.get(), id) else {
                continue;
            };
            if let Some(c) = step::compile_step(&id.value, s, *section, &env, diagnostics) {
                compiled.push((id, s, c));
            }
        }
        let nodes: Vec<dag::Node> = compiled
            .iter()
            .map(|(id, s, c)| dag::Node {
                id,
                needs: s.needs.as_deref(),
                refs: &c.refs,
            })
            .collect();
        let readable = |id: &str| *section != Section::Main && main_ids.contains(id);
        let elsewhere = dag::Elsewhere {
            lists: &where_is,
            readable: &readable,
        };
        let needs = dag::resolve(&nodes, list, &elsewhere, diagnostics);
        drop(nodes);
        sections.push(
            compiled
                .into_iter()
                .zip(needs)
                .filter_map(|((_, _, c), needs)| c.step.map(|step| Step { needs, ..step }))
                .collect(),
        );
    }

    let mut outputs = Vec::new();
    let out_scope = Scope {
        steps: true,
        ..base_scope.clone()
    };
    let mut out_refs = Vec::new();
    for (name, v) in &spec.outputs {
        outputs.push((
            name.value.clone(),
            value::compile(v, &checker, &out_scope, diagnostics, &mut out_refs),
        ));
    }
    for r in out_refs {
        if !main_ids.contains(&r.id) {
            diagnostics.push(Diagnostic::new(
                r.span,
                format!("`steps.{}` names an unknown step", r.id),
            ));
        }
    }

    check_schedules(&spec.triggers, diagnostics);

    let mut sections = sections.into_iter();
    Some(Plan {
        name,
        description: spec.description.clone(),
        tags: spec.tags.clone(),
        source_path: source.path.to_owned(),
        source_sha256: hex::encode(Sha256::digest(source.text.as_bytes())),
        inputs,
        secrets: spec.secrets.iter().map(|s| s.value.clone()).collect(),
        vars,
        env,
        concurrency,
        timeout,
        max_parallel,
        triggers: spec.triggers.clone(),
        steps: sections.next().unwrap_or_default(),
        on_failure: sections.next().unwrap_or_default(),
        finally: sections.next().unwrap_or_default(),
        outputs,
    })
}

/// `triggers.schedule`: each cron expression and time zone must parse. Only
/// `steward serve` acts on them; checking here finds mistakes at `validate`.
fn check_schedules(triggers: &crate::spec::TriggersSpec, diagnostics: &mut Vec<Diagnostic>) {
    let Some(schedules) = &triggers.schedule else {
        return;
    };
    for entry in &schedules.0 {
        let spec = &entry.value.0;
        if let Err(e) = crate::schedule::Schedule::parse(&spec.cron, spec.timezone.as_deref()) {
            diagnostics
                .push(Diagnostic::new(entry.span, format!("schedule: {e}")).maybe_hint(e.hint()));
        }
    }
}

/// `[a-z0-9_-]+`
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
