//! `steward validate [PATH...]`

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::compile::{Source, check_template};
use crate::project::{FileReport, Project, display, stem};

use super::{exit, open_project, plural, print_reports};

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runbook or step-template files or folders; default: the whole project.
    paths: Vec<PathBuf>,
}

pub fn run(project_dir: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let project = match open_project(project_dir) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let (library, template_reports) = match project.library() {
        Ok(l) => l,
        Err(e) => {
            super::print_project_error(&e);
            return Ok(exit::INVALID);
        }
    };
    let mut reports: Vec<FileReport> = Vec::new();
    let (mut runbooks, mut templates) = (0, 0);
    let files: Vec<PathBuf> = if args.paths.is_empty() {
        templates = template_reports.len();
        reports.extend(template_reports);
        project.runbook_files()
    } else {
        let mut files = Vec::new();
        for path in &args.paths {
            if path.is_dir() {
                files.extend(crate::project::yaml_files(path));
            } else {
                files.push(path.clone());
            }
        }
        files
    };
    let steps_dir = project.steps_dir();
    for path in files {
        if args.paths.is_empty() || !is_template(&project, &steps_dir, &path) {
            match project.compile_file(&path, &library) {
                Ok((report, _)) => reports.push(report),
                Err(e) => reports.push(unreadable(&path, &e.to_string())),
            }
            runbooks += 1;
        } else {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let shown = display(&path);
                    let diagnostics = check_template(Source {
                        path: &shown,
                        text: &text,
                        stem: &stem(&path),
                    });
                    reports.push(FileReport {
                        path: shown,
                        text,
                        diagnostics,
                    });
                }
                Err(e) => reports.push(unreadable(
                    &path,
                    &format!("can't read {}: {e}", display(&path)),
                )),
            }
            templates += 1;
        }
    }
    let problems = print_reports(&reports);
    let files_with = reports.iter().filter(|r| !r.diagnostics.is_empty()).count();
    let checked = format!(
        "{runbooks} {} and {templates} step {}",
        plural(runbooks, "runbook"),
        plural(templates, "template")
    );
    let mut err = anstream::stderr().lock();
    if problems == 0 {
        let _ = writeln!(err, "ok: {checked} valid");
        Ok(exit::OK)
    } else {
        let _ = writeln!(
            err,
            "{problems} {} in {files_with} {} ({checked} checked)",
            plural(problems, "problem"),
            plural(files_with, "file")
        );
        Ok(exit::INVALID)
    }
}

fn unreadable(path: &Path, message: &str) -> FileReport {
    FileReport {
        path: display(path),
        text: String::new(),
        diagnostics: vec![crate::diagnostic::Diagnostic::whole_file(message)],
    }
}

/// A file is a step template when it lives in the project's steps folder.
fn is_template(_project: &Project, steps_dir: &Path, path: &Path) -> bool {
    match (path.canonicalize(), steps_dir.canonicalize()) {
        (Ok(p), Ok(d)) => p.starts_with(d),
        _ => false,
    }
}
