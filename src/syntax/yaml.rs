//! A YAML document as a tree of nodes that remember where they came from.
//!
//! serde_yaml reports where a syntax error is but forgets positions once a
//! document is parsed; semantic errors (an unknown `needs`, a bad duration)
//! must point at their line and column too. So the document is read with
//! yaml-rust2's event parser into [`Node`]s carrying a [`Span`], and
//! [`super::de`] deserializes the spec types from those nodes.

use std::collections::HashMap;

use crate::diagnostic::Span;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// How a scalar was written, which decides how a plain `true` or `3` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    /// Unquoted: `yes`, `3`, `null` are resolved by the YAML 1.2 core schema.
    Plain,
    /// Single or double quoted: always a string.
    Quoted,
    /// A `|` or `>` block: always a string, starting on the next line.
    Block,
}

/// One YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub span: Span,
    /// What the node holds.
    pub value: NodeValue,
}

/// The content of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    /// A scalar with its text as written (after unquoting) and style.
    Scalar(String, ScalarStyle),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// The mapping entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            NodeValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The sequence items, if this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The value and key node of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, v)| (k, v))
    }

    /// Whether a plain scalar reads as YAML null (`~`, `null`, or empty).
    pub fn is_null(&self) -> bool {
        matches!(&self.value, NodeValue::Scalar(s, ScalarStyle::Plain) if is_null_text(s))
    }

    /// A short name of the node's shape, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            NodeValue::Scalar(..) if self.is_null() => "null",
            NodeValue::Scalar(..) => "a scalar",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }
}

pub(crate) fn is_null_text(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

/// A YAML syntax error, or a document shape YAML allows but runbooks don't.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// What went wrong.
    pub message: String,
    /// Where.
    pub span: Span,
}

/// Parses one YAML document. An empty document is `None`.
pub fn parse(source: &str) -> Result<Option<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(source);
    if let Err(e) = parser.load(&mut builder, true) {
        return Err(scan_error(source, &builder, e.info(), e.marker()));
    }
    if let Some(error) = builder.error {
        return Err(error);
    }
    Ok(builder.documents.into_iter().next())
}

fn tidy_scan_message(info: &str) -> String {
    format!("invalid YAML: {info}")
}

/// A syntax error, placed where an operator can fix it. An unclosed `[` or
/// `{` is noticed only where the file (or the next block) goes on, often at
/// the end of the file, so the bracket that was never closed is shown.
fn scan_error(source: &str, builder: &Builder, info: &str, mark: &Marker) -> YamlError {
    let span = span_at(mark, 1);
    let char_at = |s: Span| {
        source
            .lines()
            .nth(s.line - 1)
            .and_then(|l| l.chars().nth(s.col - 1))
    };
    let innermost_flow = builder.stack.iter().rev().find_map(|(open, _)| {
        let (start, kind) = match open {
            Open::Seq(start, _) => (*start, '['),
            Open::Map(start, ..) => (*start, '{'),
        };
        (char_at(start) == Some(kind)).then_some((start, kind))
    });
    if let Some((start, bracket)) = innermost_flow.filter(|(start, _)| start.line < span.line) {
        let which = if bracket == '[' {
            "flow sequence"
        } else {
            "flow mapping"
        };
        if info.contains(which) {
            return YamlError {
                message: format!("invalid YAML: this `{bracket}` is never closed ({info})"),
                span: start,
            };
        }
        return YamlError {
            message: format!(
                "{} (a `{bracket}` opened at line {}, column {} is still open here)",
                tidy_scan_message(info),
                start.line,
                start.col
            ),
            span: clamp_to_text(source, span),
        };
    }
    YamlError {
        message: tidy_scan_message(info),
        span: clamp_to_text(source, span),
    }
}

/// A position at the end of the file (past its last line with text) moves
/// to the end of that line, so that the line is shown.
fn clamp_to_text(source: &str, span: Span) -> Span {
    if source
        .lines()
        .skip(span.line - 1)
        .any(|l| !l.trim().is_empty())
    {
        return span;
    }
    match source
        .lines()
        .enumerate()
        .take(span.line)
        .filter(|(_, l)| !l.trim().is_empty())
        .last()
    {
        Some((i, line)) if i + 1 < span.line => {
            Span::new(i + 1, line.trim_end().chars().count() + 1, 1)
        }
        _ => span,
    }
}

fn span_at(mark: &Marker, len: usize) -> Span {
    Span::new(mark.line().max(1), mark.col() + 1, len)
}

enum Open {
    Seq(Span, Vec<Node>),
    Map(Span, Vec<(Node, Node)>, Option<Node>),
}

/// How many nodes aliases may copy in one file.
const MAX_EXPANDED: usize = 100_000;

/// The number of nodes in `node`, itself included.
fn node_count(node: &Node) -> usize {
    match &node.value {
        NodeValue::Scalar(..) => 1,
        NodeValue::Seq(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        NodeValue::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| node_count(k) + node_count(v))
                .sum::<usize>()
        }
    }
}

#[derive(Default)]
struct Builder {
    stack: Vec<(Open, usize)>,
    /// Anchored nodes, with how many nodes each holds.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes copied by aliases so far; bounded so that a few lines of
    /// nested aliases (a "billion laughs") can't take all memory.
    expanded: usize,
    documents: Vec<Node>,
    error: Option<YamlError>,
}

impl Builder {
    fn push_node(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            let size = node_count(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                if self.documents.is_empty() {
                    self.documents.push(node);
                } else if self.error.is_none() {
                    self.error = Some(YamlError {
                        message: "a runbook file holds one YAML document, this is a second one"
                            .into(),
                        span: node.span,
                    });
                }
            }
            Some((Open::Seq(_, items), _)) => items.push(node),
            Some((Open::Map(_, entries, pending_key), _)) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => {
                    let duplicate = key.as_str().is_some()
                        && entries.iter().any(|(k, _)| k.as_str() == key.as_str());
                    if duplicate && self.error.is_none() {
                        self.error = Some(YamlError {
                            message: format!(
                                "duplicate key `{}` in this mapping",
                                key.as_str().unwrap_or_default()
                            ),
                            span: key.span,
                        });
                    }
                    entries.push((key, node));
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let (style, extra) = match style {
                    TScalarStyle::Plain => (ScalarStyle::Plain, 0),
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
                        (ScalarStyle::Quoted, 2)
                    }
                    _ => (ScalarStyle::Block, 0),
                };
                let width = match style {
                    ScalarStyle::Block => 1,
                    _ => text.lines().next().map_or(0, |l| l.chars().count()) + extra,
                };
                let node = Node {
                    span: span_at(&mark, width),
                    value: NodeValue::Scalar(text, style),
                };
                self.push_node(node, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack
                    .push((Open::Seq(span_at(&mark, 1), Vec::new()), anchor));
            }
            Event::MappingStart(anchor, _) => {
                self.stack
                    .push((Open::Map(span_at(&mark, 1), Vec::new(), None), anchor));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((open, anchor)) = self.stack.pop() {
                    let node = match open {
                        Open::Seq(span, items) => Node {
                            span,
                            value: NodeValue::Seq(items),
                        },
                        Open::Map(span, entries, _) => Node {
                            span,
                            value: NodeValue::Map(entries),
                        },
                    };
                    self.push_node(node, anchor);
                }
            }
            Event::Alias(anchor) => {
                if self.error.is_some() {
                    return;
                }
                if let Some((_, size)) = self.anchors.get(&anchor) {
                    self.expanded = self.expanded.saturating_add(*size);
                    if self.expanded > MAX_EXPANDED {
                        self.error = Some(YamlError {
                            message: format!(
                                "the aliases (`*name`) of this file expand to more than {MAX_EXPANDED} values"
                            ),
                            span: span_at(&mark, 1),
                        });
                        return;
                    }
                }
                let node = self.anchors.get(&anchor).map(|(node, _)| {
                    let mut node = node.clone();
                    node.span = span_at(&mark, 1);
                    node
                });
                match node {
                    Some(node) => self.push_node(node, 0),
                    None if self.error.is_none() => {
                        self.error = Some(YamlError {
                            message: "alias to an unknown anchor".into(),
                            span: span_at(&mark, 1),
                        });
                    }
                    None => {}
                }
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests;
