//! Resolving `needs`, implied dependencies and cycles within one list of steps.

use std::collections::HashMap;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::syntax::Spanned;

use crate::kind::compile::StepRef;

/// What the DAG builder needs to know of one step.
pub struct Node<'a> {
    /// The step's id and where it is written.
    pub id: &'a Spanned<String>,
    /// `needs:` as written; `None` means "the step above".
    pub needs: Option<&'a [Spanned<String>]>,
    /// `steps.<id>` reads in its templates.
    pub refs: &'a [StepRef],
}

/// Where the ids of the other lists are, for clearer errors.
pub struct Elsewhere<'a> {
    /// id → the list it belongs to (`steps`, `on_failure`, `finally`).
    pub lists: &'a HashMap<String, &'static str>,
    /// Ids a step of this list may read without depending on it.
    pub readable: &'a dyn Fn(&str) -> bool,
}

/// Resolves each step's needs to indices; reports unknown names, reads of
/// steps that don't run before, and cycles (naming the whole chain).
pub fn resolve(
    nodes: &[Node],
    list: &'static str,
    elsewhere: &Elsewhere,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Vec<usize>> {
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.value.as_str(), i))
        .collect();
    let unknown = |name: &Spanned<String>, what: String| {
        let all = index
            .keys()
            .copied()
            .chain(elsewhere.lists.keys().map(String::as_str));
        let hint = match elsewhere.lists.get(&name.value) {
            Some(other) => Some(format!(
                "`{}` is in `{other}`; a step can only need steps of its own list (`{list}`)",
                name.value
            )),
            None => did_you_mean(&name.value, all).map(|near| format!("did you mean `{near}`?")),
        };
        Diagnostic::new(name.span, what).maybe_hint(hint)
    };

    let mut needs: Vec<Vec<usize>> = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let mut own = Vec::new();
        match node.needs {
            None if i > 0 => own.push(i - 1),
            None => {}
            Some(names) => {
                for name in names {
                    match index.get(name.value.as_str()) {
                        Some(&j) if j == i => diagnostics.push(Diagnostic::new(
                            name.span,
                            format!("step `{}` needs itself", name.value),
                        )),
                        Some(&j) => own.push(j),
                        None => diagnostics.push(unknown(
                            name,
                            format!("`needs` names an unknown step `{}`", name.value),
                        )),
                    }
                }
            }
        }
        needs.push(own);
    }

    // Implied dependencies: a step that reads `steps.x` needs `x`, which must
    // be above it in the file or already among its ancestors.
    for (i, node) in nodes.iter().enumerate() {
        for r in node.refs {
            match index.get(r.id.as_str()) {
                Some(&j) if j == i => diagnostics.push(
                    Diagnostic::new(r.span, format!("step `{}` reads its own result", r.id))
                        .hint("inside a step, its result is `result` (in `assert` and `outputs`)"),
                ),
                Some(&j) if j < i || is_ancestor(&needs, j, i) => {
                    if !needs[i].contains(&j) {
                        needs[i].push(j);
                    }
                }
                Some(_) => diagnostics.push(
                    Diagnostic::new(
                        r.span,
                        format!(
                            "`steps.{}` is not upstream of step `{}`: it is defined below it",
                            r.id, node.id.value
                        ),
                    )
                    .hint(format!(
                        "move `{}` above `{}`: a step reads only steps that run before it",
                        r.id, node.id.value
                    )),
                ),
                None if (elsewhere.readable)(&r.id) => {}
                None => {
                    let name = Spanned::new(r.span, r.id.clone());
                    diagnostics.push(unknown(
                        &name,
                        format!("`steps.{}` names an unknown step", r.id),
                    ))
                }
            }
        }
    }

    for chain in cycles(&needs) {
        let names: Vec<&str> = chain.iter().map(|&i| nodes[i].id.value.as_str()).collect();
        let first = chain[0];
        let span = nodes[first]
            .needs
            .and_then(|ns| ns.iter().find(|n| n.value == names[1]).map(|n| n.span))
            .unwrap_or(nodes[first].id.span);
        diagnostics.push(
            Diagnostic::new(span, format!("dependency cycle: {}", names.join(" -> ")))
                .hint("each step in the chain needs the next one; remove one of these `needs`"),
        );
    }
    needs
}

fn is_ancestor(needs: &[Vec<usize>], ancestor: usize, of: usize) -> bool {
    let mut stack = vec![of];
    let mut seen = vec![false; needs.len()];
    while let Some(n) = stack.pop() {
        for &m in &needs[n] {
            if m == ancestor {
                return true;
            }
            if !seen[m] {
                seen[m] = true;
                stack.push(m);
            }
        }
    }
    false
}

/// Every cycle found by a depth-first walk, each as `a, b, …, a` where each
/// step needs the next; a step is reported in at most one cycle.
fn cycles(needs: &[Vec<usize>]) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; needs.len()];
    let mut found = Vec::new();
    let mut in_cycle = vec![false; needs.len()];
    for start in 0..needs.len() {
        if mark[start] != Mark::New {
            continue;
        }
        // (node, next edge to follow)
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::Open;
        while let Some(&mut (node, ref mut edge)) = stack.last_mut() {
            if let Some(&next) = needs[node].get(*edge) {
                *edge += 1;
                match mark[next] {
                    Mark::New => {
                        mark[next] = Mark::Open;
                        stack.push((next, 0));
                    }
                    Mark::Open if !in_cycle[next] => {
                        let from = stack.iter().position(|&(n, _)| n == next).unwrap_or(0);
                        let mut chain: Vec<usize> = stack[from..].iter().map(|&(n, _)| n).collect();
                        for &n in &chain {
                            in_cycle[n] = true;
                        }
                        chain.push(next);
                        found.push(chain);
                    }
                    _ => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_whole_chain() {
        // 0 needs 2, 2 needs 1, 1 needs 0
        let needs = vec![vec![2], vec![0], vec![1]];
        assert_eq!(cycles(&needs), vec![vec![0, 2, 1, 0]]);
        assert!(cycles(&[vec![], vec![0], vec![1, 0]]).is_empty());
    }
}
