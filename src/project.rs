//! The project: a folder with `steward.yaml` and/or `runbooks/`. Finds and
//! reads runbooks and step templates, and compiles them.

use std::path::{Path, PathBuf};

use crate::compile::{self, Library, Source};
use crate::config::Config;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::plan::Plan;

/// Errors finding or reading a project.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// No project here.
    #[error("no Steward project in {0} or its parents")]
    NotFound(PathBuf, #[source] Option<std::io::Error>),
    /// `--project` names no folder.
    #[error("the project folder {0} does not exist")]
    NoSuchFolder(PathBuf),
    /// A file could not be read.
    #[error("can't read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// `steward.yaml` is invalid.
    #[error("invalid {path}")]
    Config {
        /// The file.
        path: String,
        /// Its text.
        text: String,
        /// The problems.
        diagnostics: Vec<Diagnostic>,
    },
    /// No runbook by that name.
    #[error("no runbook `{name}` in {folder}{}", hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    UnknownRunbook {
        /// The name asked for.
        name: String,
        /// The runbooks folder.
        folder: String,
        /// A suggestion.
        hint: Option<String>,
    },
}

/// A file with the problems found in it.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The path as shown.
    pub path: String,
    /// Its text.
    pub text: String,
    /// What is wrong; empty when valid.
    pub diagnostics: Vec<Diagnostic>,
}

/// A Steward project on disk.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project folder.
    pub root: PathBuf,
    /// Its configuration.
    pub config: Config,
}

impl Project {
    /// The project at `dir` if given, else the nearest folder from the
    /// current one upwards holding `steward.yaml` or `runbooks/`.
    pub fn discover(dir: Option<&Path>) -> Result<Project, ProjectError> {
        if let Some(dir) = dir {
            if !dir.is_dir() {
                return Err(ProjectError::NoSuchFolder(dir.to_owned()));
            }
            return Project::open(dir);
        }
        let cwd = std::env::current_dir()
            .map_err(|e| ProjectError::NotFound(PathBuf::from("."), Some(e)))?;
        let mut dir = cwd.as_path();
        loop {
            if dir.join("steward.yaml").is_file() || dir.join("runbooks").is_dir() {
                return Project::open(dir);
            }
            match dir.parent() {
                Some(parent) => dir = parent,
                None => return Err(ProjectError::NotFound(cwd, None)),
            }
        }
    }

    /// The project at `dir`, reading its `steward.yaml` if any.
    pub fn open(dir: &Path) -> Result<Project, ProjectError> {
        let path = dir.join("steward.yaml");
        let config = if path.is_file() {
            let text = read(&path)?;
            let (config, diagnostics) = crate::spec::parse_config(&text);
            match config {
                Some(config) if diagnostics.is_empty() => config,
                _ => {
                    return Err(ProjectError::Config {
                        path: display(&path),
                        text,
                        diagnostics,
                    });
                }
            }
        } else {
            Config::default()
        };
        Ok(Project {
            root: dir.to_owned(),
            config,
        })
    }

    /// The runbooks folder.
    pub fn runbooks_dir(&self) -> PathBuf {
        self.root.join(&self.config.runbooks)
    }

    /// The step templates folder.
    pub fn steps_dir(&self) -> PathBuf {
        self.root.join(&self.config.steps)
    }

    /// Every runbook file, sorted.
    pub fn runbook_files(&self) -> Vec<PathBuf> {
        yaml_files(&self.runbooks_dir())
    }

    /// Every step template file, sorted.
    pub fn template_files(&self) -> Vec<PathBuf> {
        yaml_files(&self.steps_dir())
    }

    /// Reads and checks every step template.
    pub fn library(&self) -> Result<(Library, Vec<FileReport>), ProjectError> {
        let mut library = Library::default();
        let mut reports = Vec::new();
        for path in self.template_files() {
            let text = read(&path)?;
            let shown = display(&path);
            let diagnostics = library.add(
                &stem(&path),
                Source {
                    path: &shown,
                    text: &text,
                    stem: &stem(&path),
                },
            );
            reports.push(FileReport {
                path: shown,
                text,
                diagnostics,
            });
        }
        // What `runbook` steps need of the other runbooks: their inputs and
        // whom they call (for cycles). A file that doesn't parse is left
        // out; `validate` reports it on its own.
        for path in self.runbook_files() {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if let (Some(spec), _) = crate::spec::parse_runbook(&text) {
                let entry = compile::RunbookEntry::of(&spec);
                let file_name = stem(&path);
                if let Some(name) = spec.name.as_ref().filter(|n| n.value != file_name) {
                    library.add_runbook(&name.value, entry.clone());
                }
                library.add_runbook(&file_name, entry);
            }
        }
        Ok((library, reports))
    }

    /// The file of a runbook given by name or path.
    pub fn find_runbook(&self, name_or_path: &str) -> Result<PathBuf, ProjectError> {
        let as_path = Path::new(name_or_path);
        if as_path.is_file() {
            return Ok(as_path.to_owned());
        }
        let dir = self.runbooks_dir();
        for ext in ["yaml", "yml"] {
            let candidate = dir.join(format!("{name_or_path}.{ext}"));
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        // A runbook whose `name:` differs from its file name.
        for path in self.runbook_files() {
            let named = std::fs::read_to_string(&path)
                .ok()
                .and_then(|text| crate::syntax::yaml::parse(&text).ok().flatten())
                .is_some_and(|node| {
                    node.get("name").and_then(|(_, v)| v.as_str()) == Some(name_or_path)
                });
            if named {
                return Ok(path);
            }
        }
        let names: Vec<String> = self.runbook_files().iter().map(|p| stem(p)).collect();
        let hint = did_you_mean(name_or_path, names.iter().map(String::as_str))
            .map(|n| format!("did you mean `{n}`?"))
            .or_else(|| (!names.is_empty()).then(|| format!("runbooks: {}", names.join(", "))));
        Err(ProjectError::UnknownRunbook {
            name: name_or_path.to_owned(),
            folder: display(&dir),
            hint,
        })
    }

    /// Reads and compiles one runbook file.
    pub fn compile_file(
        &self,
        path: &Path,
        library: &Library,
    ) -> Result<(FileReport, Option<Plan>), ProjectError> {
        self.compile_file_with(path, library, None)
    }

    /// Reads and compiles one runbook file for a run with these (checked)
    /// input values, which typed fields reading `inputs` get.
    pub fn compile_file_with(
        &self,
        path: &Path,
        library: &Library,
        inputs: Option<&indexmap::IndexMap<String, serde_json::Value>>,
    ) -> Result<(FileReport, Option<Plan>), ProjectError> {
        let text = read(path)?;
        let shown = display(path);
        let result = compile::compile_with(
            Source {
                path: &shown,
                text: &text,
                stem: &stem(path),
            },
            library,
            inputs,
        );
        let (plan, diagnostics) = match result {
            Ok(plan) => (Some(plan), Vec::new()),
            Err(diagnostics) => (None, diagnostics),
        };
        Ok((
            FileReport {
                path: shown,
                text,
                diagnostics,
            },
            plan,
        ))
    }
}

fn read(path: &Path) -> Result<String, ProjectError> {
    std::fs::read_to_string(path).map_err(|source| ProjectError::Read {
        path: display(path),
        source,
    })
}

/// The `.yaml` and `.yml` files of a folder, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    files.sort();
    files
}

/// A file's stem: its name without `.yaml`.
pub fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A path as shown to the user: relative to the current folder when inside it.
pub fn display(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let shown = cwd
        .as_deref()
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .unwrap_or(path);
    let s = shown.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_owned()
}
