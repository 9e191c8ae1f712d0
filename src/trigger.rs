//! Who started a run from a terminal or a CI job.

use crate::events::Trigger;

/// The trigger of a CLI run: `ci` with the CI system's actor and job link
/// when CI environment variables say so, else `cli` with the OS user.
pub fn detect(env: impl Fn(&str) -> Option<String>) -> Trigger {
    let get = |k: &str| env(k).filter(|v| !v.is_empty());
    if get("GITHUB_ACTIONS").as_deref() == Some("true") {
        let origin = match (
            get("GITHUB_SERVER_URL"),
            get("GITHUB_REPOSITORY"),
            get("GITHUB_RUN_ID"),
        ) {
            (Some(server), Some(repo), Some(run)) => {
                Some(format!("{server}/{repo}/actions/runs/{run}"))
            }
            _ => None,
        };
        return ci("github-actions", get("GITHUB_ACTOR"), origin);
    }
    if get("GITLAB_CI").is_some() {
        return ci("gitlab", get("GITLAB_USER_LOGIN"), get("CI_JOB_URL"));
    }
    if get("BUILDKITE").as_deref() == Some("true") {
        return ci(
            "buildkite",
            get("BUILDKITE_BUILD_CREATOR_EMAIL").or(get("BUILDKITE_BUILD_CREATOR")),
            get("BUILDKITE_BUILD_URL"),
        );
    }
    if get("JENKINS_URL").is_some() {
        return ci("jenkins", get("BUILD_USER_ID"), get("BUILD_URL"));
    }
    // Most other CI systems (CircleCI, Travis, Azure, Woodpecker…) set `CI`.
    if get("CI").is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "false" | "0")) {
        return ci("ci", Some(os_user(&get)), None);
    }
    Trigger {
        kind: "cli".into(),
        actor: os_user(&get),
        origin: None,
    }
}

fn ci(system: &str, actor: Option<String>, origin: Option<String>) -> Trigger {
    Trigger {
        kind: "ci".into(),
        actor: actor.map_or_else(|| system.to_owned(), |a| format!("{a} ({system})")),
        origin,
    }
}

fn os_user(get: &impl Fn(&str) -> Option<String>) -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| get("USER"))
        .unwrap_or_else(|| format!("uid {uid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn github_actions() {
        let t = detect(env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_ACTOR", "octocat"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_RUN_ID", "42"),
        ]));
        assert_eq!(t.kind, "ci");
        assert_eq!(t.actor, "octocat (github-actions)");
        assert_eq!(
            t.origin.as_deref(),
            Some("https://github.com/acme/app/actions/runs/42")
        );
    }

    #[test]
    fn gitlab_jenkins_buildkite() {
        assert_eq!(
            detect(env(&[("GITLAB_CI", "true"), ("GITLAB_USER_LOGIN", "ann")])).actor,
            "ann (gitlab)"
        );
        assert_eq!(
            detect(env(&[
                ("JENKINS_URL", "http://j"),
                ("BUILD_URL", "http://j/1")
            ]))
            .origin
            .as_deref(),
            Some("http://j/1")
        );
        assert_eq!(detect(env(&[("BUILDKITE", "true")])).actor, "buildkite");
    }

    #[test]
    fn generic_ci() {
        let t = detect(env(&[("CI", "true"), ("USER", "runner")]));
        assert_eq!(t.kind, "ci");
        assert!(t.actor.ends_with(" (ci)"), "{}", t.actor);
        assert_eq!(detect(env(&[("CI", "false")])).kind, "cli");
    }

    #[test]
    fn terminal_user() {
        let t = detect(env(&[]));
        assert_eq!(t.kind, "cli");
        assert!(!t.actor.is_empty());
    }
}
