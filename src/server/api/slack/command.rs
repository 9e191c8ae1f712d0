//! What a slash command's text asks for, and who may ask it. Pure: no I/O.

use indexmap::IndexMap;

/// A parsed `/runbook …` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `help` or no text: how to use the command.
    Help,
    /// `list`: the runbooks the user may start from chat.
    List,
    /// `status RUN`: a run's status.
    Status(String),
    /// `NAME k=v …` (or `run NAME k=v …`): start a runbook.
    Run {
        /// The command word of the runbook (`triggers.chat.command`, else
        /// its name).
        word: String,
        /// Its inputs, as text.
        inputs: IndexMap<String, String>,
    },
}

/// Why a command's text can't be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Unbalanced quotes.
    #[error("the text has an unclosed quote")]
    Quotes,
    /// `status` without a run id.
    #[error("`status` needs a run id: `status RUN_ID`")]
    StatusWithoutRun,
    /// A word after the runbook's name that isn't `name=value`.
    #[error("`{0}` is not an input: write `name=value`")]
    NotAnInput(String),
    /// The same input twice.
    #[error("input `{0}` is given twice")]
    Duplicate(String),
}

/// Slack escapes `&`, `<` and `>` in command text and may turn quotes
/// into typographic ones; both are undone before splitting.
fn normalize(text: &str) -> String {
    text.replace(['\u{201c}', '\u{201d}'], "\"")
        .replace(['\u{2018}', '\u{2019}'], "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Parses the text after the slash command.
pub fn parse(text: &str) -> Result<Command, CommandError> {
    let words = shlex::split(&normalize(text)).ok_or(CommandError::Quotes)?;
    let mut words = words.into_iter();
    let Some(first) = words.next() else {
        return Ok(Command::Help);
    };
    let word = match first.to_ascii_lowercase().as_str() {
        "help" | "-h" | "--help" => return Ok(Command::Help),
        "list" | "ls" => return Ok(Command::List),
        "status" => {
            return words
                .next()
                .map(Command::Status)
                .ok_or(CommandError::StatusWithoutRun);
        }
        "run" => match words.next() {
            Some(word) => word,
            None => return Ok(Command::Help),
        },
        _ => first,
    };
    let mut inputs = IndexMap::new();
    for pair in words {
        let Some((name, value)) = pair.split_once('=').filter(|(n, _)| !n.is_empty()) else {
            return Err(CommandError::NotAnInput(pair));
        };
        if inputs.insert(name.to_owned(), value.to_owned()).is_some() {
            return Err(CommandError::Duplicate(name.to_owned()));
        }
    }
    Ok(Command::Run { word, inputs })
}

/// Who sent a command or pressed a button.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Who {
    /// Slack user id, `U…`.
    pub user_id: String,
    /// Slack user name.
    pub user_name: String,
    /// Channel id, `C…`.
    pub channel_id: String,
    /// Channel name, without `#`.
    pub channel_name: String,
}

impl Who {
    /// The actor recorded for what they start: `name (slack U…)`.
    pub fn actor(&self) -> String {
        format!("{} (slack {})", self.user_name, self.user_id)
    }

    fn is(&self, user: &str) -> bool {
        !user.is_empty() && (user == self.user_id || user == self.user_name)
    }
}

/// Whether `who` matches an entry of `triggers.chat.allow`: `*` (anyone),
/// a user id or name, `@group` (from `server.slack.groups`) or `#channel`
/// (id or name). An unknown group matches nobody.
pub fn allowed(allow: &[String], who: &Who, groups: &IndexMap<String, Vec<String>>) -> bool {
    allow.iter().any(|entry| {
        if entry == "*" {
            true
        } else if let Some(group) = entry.strip_prefix('@') {
            groups
                .get(group)
                .is_some_and(|members| members.iter().any(|m| who.is(m)))
        } else if let Some(channel) = entry.strip_prefix('#') {
            !channel.is_empty() && (channel == who.channel_id || channel == who.channel_name)
        } else {
            who.is(entry)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(word: &str, inputs: &[(&str, &str)]) -> Command {
        Command::Run {
            word: word.into(),
            inputs: inputs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn parses_the_commands() {
        assert_eq!(parse(""), Ok(Command::Help));
        assert_eq!(parse("  help "), Ok(Command::Help));
        assert_eq!(parse("LIST"), Ok(Command::List));
        assert_eq!(
            parse("status 0193-abc"),
            Ok(Command::Status("0193-abc".into()))
        );
        assert_eq!(parse("status"), Err(CommandError::StatusWithoutRun));
        assert_eq!(
            parse("deploy version=1.4.2 env=staging"),
            Ok(run("deploy", &[("version", "1.4.2"), ("env", "staging")]))
        );
        assert_eq!(parse("run deploy x=1"), Ok(run("deploy", &[("x", "1")])));
        assert_eq!(parse("health-check"), Ok(run("health-check", &[])));
    }

    #[test]
    fn quotes_escapes_and_values_with_equals_signs() {
        assert_eq!(
            parse("notify message=\u{201c}all good & done\u{201d} url=a=b"),
            Ok(run(
                "notify",
                &[("message", "all good & done"), ("url", "a=b")]
            ))
        );
        assert_eq!(
            parse("notify message='x &lt;y&gt; &amp; z'"),
            Ok(run("notify", &[("message", "x <y> & z")]))
        );
        assert_eq!(parse("notify message=\"open"), Err(CommandError::Quotes));
        assert_eq!(parse("deploy x="), Ok(run("deploy", &[("x", "")])));
    }

    #[test]
    fn refuses_what_is_not_an_input() {
        assert_eq!(
            parse("deploy 1.4.2"),
            Err(CommandError::NotAnInput("1.4.2".into()))
        );
        assert_eq!(
            parse("deploy =x"),
            Err(CommandError::NotAnInput("=x".into()))
        );
        assert_eq!(
            parse("deploy a=1 a=2"),
            Err(CommandError::Duplicate("a".into()))
        );
    }

    #[test]
    fn allow_lists_match_users_groups_and_channels() {
        let who = Who {
            user_id: "U1".into(),
            user_name: "alice".into(),
            channel_id: "C9".into(),
            channel_name: "ops".into(),
        };
        let groups: IndexMap<String, Vec<String>> = [(
            "oncall".to_owned(),
            vec!["U7".to_owned(), "alice".to_owned()],
        )]
        .into();
        let allow = |entries: &[&str]| {
            let entries: Vec<String> = entries.iter().map(|e| (*e).to_owned()).collect();
            allowed(&entries, &who, &groups)
        };
        assert!(allow(&["*"]));
        assert!(allow(&["U1"]));
        assert!(allow(&["alice"]));
        assert!(allow(&["@oncall"]));
        assert!(allow(&["#ops"]));
        assert!(allow(&["#C9"]));
        assert!(allow(&["bob", "#ops"]));
        assert!(!allow(&[]));
        assert!(!allow(&["bob", "U2"]));
        assert!(!allow(&["@missing"]));
        assert!(!allow(&["#dev"]));
        assert!(!allow(&["#", "@", ""]));
    }
}
