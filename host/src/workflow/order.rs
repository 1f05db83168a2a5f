//! The order steps run in: each after everything it needs, file order where that leaves a
//! choice; or the cycle that makes an order impossible.

use std::collections::BTreeSet;

/// "Step `from` needs step `to`" (indexes in file order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Edge {
    /// The step that waits.
    pub from: usize,
    /// The step it waits for.
    pub to: usize,
    /// Byte offset in the file of what makes the need (a `needs` entry or a reference).
    pub at: usize,
    /// The reference that makes it (`steps.lookup.output`), or `None` for a `needs` entry.
    pub uses: Option<String>,
}

/// The run order of `steps` steps (indexes), or the edges of a cycle, in cycle order and
/// starting at the step that comes first in the file.
pub(super) fn order(steps: usize, edges: &[Edge]) -> Result<Vec<usize>, Vec<usize>> {
    let pairs: BTreeSet<(usize, usize)> = edges
        .iter()
        .filter(|e| e.from < steps && e.to < steps)
        .map(|e| (e.from, e.to))
        .collect();
    let mut waiting = vec![0usize; steps];
    let mut dependants = vec![Vec::new(); steps];
    for &(from, to) in &pairs {
        waiting[from] += 1;
        dependants[to].push(from);
    }
    let mut ready: BTreeSet<usize> = (0..steps).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(steps);
    while let Some(step) = ready.pop_first() {
        order.push(step);
        for &dependant in &dependants[step] {
            waiting[dependant] -= 1;
            if waiting[dependant] == 0 {
                ready.insert(dependant);
            }
        }
    }
    if order.len() == steps {
        return Ok(order);
    }
    Err(cycle(steps, edges, &order))
}

/// A cycle among the steps `placed` leaves out: each of them waits for another one of them.
fn cycle(steps: usize, edges: &[Edge], placed: &[usize]) -> Vec<usize> {
    let mut left = vec![true; steps];
    for &step in placed {
        left[step] = false;
    }
    let Some(start) = left.iter().position(|&l| l) else {
        return Vec::new();
    };
    let mut path: Vec<usize> = Vec::new();
    let mut visited: Vec<Option<usize>> = vec![None; steps];
    let mut step = start;
    loop {
        if let Some(position) = visited[step] {
            let mut cycle = path.split_off(position);
            let first = cycle
                .iter()
                .enumerate()
                .min_by_key(|&(_, &e)| edges[e].from)
                .map_or(0, |(i, _)| i);
            cycle.rotate_left(first);
            return cycle;
        }
        visited[step] = Some(path.len());
        let Some(next) = edges
            .iter()
            .position(|e| e.from == step && e.to < steps && left[e.to])
        else {
            return path;
        };
        path.push(next);
        step = edges[next].to;
    }
}

/// What is wrong with `cycle` (edge indexes, from [`order`]) among the steps `ids`: where to
/// point (a reference in it if it has one, else its first `needs` entry), what, and the fix.
pub(super) fn explain(cycle: &[usize], edges: &[Edge], ids: &[&str]) -> (usize, String, String) {
    let id = |step: usize| ids.get(step).copied().unwrap_or("?");
    let said = |e: &Edge| match &e.uses {
        Some(path) => format!("{} uses {path}", id(e.from)),
        None => format!("{} needs {}", id(e.from), id(e.to)),
    };
    let edge = |i: usize| &edges[i];
    match cycle.iter().position(|&i| edges[i].uses.is_some()) {
        Some(at) => {
            let used = edge(cycle[at]);
            let (a, b) = (id(used.from), id(used.to));
            let rest: Vec<String> = cycle[at + 1..]
                .iter()
                .chain(&cycle[..at])
                .map(|&i| said(edge(i)))
                .collect();
            (
                used.at,
                format!(
                    "step '{a}' uses {}, but '{b}' runs after '{a}' ({})",
                    used.uses.as_deref().unwrap_or_default(),
                    rest.join(", ")
                ),
                format!(
                    "a step can only use the results of steps that run before it: remove this reference, or the need that puts '{b}' after '{a}'"
                ),
            )
        }
        None => {
            let all: Vec<String> = cycle.iter().map(|&i| said(edge(i))).collect();
            (
                cycle.first().map_or(0, |&i| edge(i).at),
                format!("steps need each other in a cycle: {}", all.join(", ")),
                "remove one of these needs".to_string(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(pairs: &[(usize, usize)]) -> Vec<Edge> {
        pairs
            .iter()
            .enumerate()
            .map(|(i, &(from, to))| Edge {
                from,
                to,
                at: i,
                uses: None,
            })
            .collect()
    }

    #[test]
    fn steps_follow_what_they_need_and_file_order_breaks_ties() {
        assert_eq!(order(3, &[]).unwrap(), [0, 1, 2]);
        // 0 needs 2; 1 needs nothing.
        assert_eq!(order(3, &edges(&[(0, 2)])).unwrap(), [1, 2, 0]);
        // A diamond: 3 needs 1 and 2, both need 0; given twice is once.
        let diamond = edges(&[(3, 1), (3, 2), (1, 0), (2, 0), (3, 1)]);
        assert_eq!(order(4, &diamond).unwrap(), [0, 1, 2, 3]);
    }

    #[test]
    fn a_cycle_is_named_from_its_first_step() {
        // 0 -> 1 -> 2 -> 1, and 3 waits on the cycle.
        let e = edges(&[(0, 1), (1, 2), (2, 1), (3, 0)]);
        let cycle = order(4, &e).unwrap_err();
        let steps: Vec<(usize, usize)> = cycle.iter().map(|&i| (e[i].from, e[i].to)).collect();
        assert_eq!(steps, [(1, 2), (2, 1)]);
        let e = edges(&[(2, 0), (0, 1), (1, 2)]);
        let cycle = order(3, &e).unwrap_err();
        let steps: Vec<(usize, usize)> = cycle.iter().map(|&i| (e[i].from, e[i].to)).collect();
        assert_eq!(steps, [(0, 1), (1, 2), (2, 0)]);
        let (at, what, _) = explain(&cycle, &e, &["a", "b", "c"]);
        assert_eq!(
            (at, what.as_str()),
            (
                1,
                "steps need each other in a cycle: a needs b, b needs c, c needs a"
            )
        );
    }

    #[test]
    fn a_cycle_through_a_reference_is_said_from_the_reference() {
        let mut e = edges(&[(1, 0), (0, 1)]);
        e[1].uses = Some("steps.b.output".into());
        e[1].at = 40;
        let cycle = order(2, &e).unwrap_err();
        let (at, what, fix) = explain(&cycle, &e, &["a", "b"]);
        assert_eq!(at, 40);
        assert_eq!(
            what,
            "step 'a' uses steps.b.output, but 'b' runs after 'a' (b needs a)"
        );
        assert!(fix.contains("remove this reference"), "{fix}");
    }
}
