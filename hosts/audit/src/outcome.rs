//! What protect mode would do to an audited object, and the texts that say it: shared by the
//! CLI's output and the reports written into the cluster, so both word an object alike.

use resource_limits::warning::Notice;
use resource_limits::Verdict;

/// What protect mode would do to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Admitted as it is.
    Pass,
    /// Admitted with defaults added: in the cluster it lacks them.
    Defaults,
    /// Refused.
    Refused,
    /// Not judged (a kind or operation the policy skips).
    Skipped,
}

impl Outcome {
    /// The outcome of the verdict on an object's CREATE.
    pub fn of(verdict: &Verdict) -> Outcome {
        match verdict {
            Verdict::Accepted(Some(_), _) => Outcome::Defaults,
            Verdict::Accepted(None, _) => Outcome::Pass,
            Verdict::Skipped(_) => Outcome::Skipped,
            Verdict::Rejected(..) | Verdict::Unreadable(_) => Outcome::Refused,
        }
    }

    /// `pass`, `defaults`, `refused`, `skipped`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Defaults => "defaults",
            Outcome::Refused => "refused",
            Outcome::Skipped => "skipped",
        }
    }
}

/// What an object lacks that a default would add, one text a default.
pub fn lacks(verdict: &Verdict) -> Vec<String> {
    verdict
        .warnings()
        .iter()
        .filter_map(|w| match &w.notice {
            Notice::DefaultAdded {
                resource,
                section,
                value,
            } => {
                let (word, setting) = match section {
                    resource_limits::patch::Section::Limits => ("limit", "defaultLimit"),
                    resource_limits::patch::Section::Requests => ("request", "defaultRequest"),
                };
                // The container named as in every message (the core's quoting).
                let mut text = String::new();
                w.write_subject(&mut text);
                Some(format!(
                    "{text}{resource} {word} is missing ({setting} {value} would be added)"
                ))
            }
            _ => None,
        })
        .collect()
}

/// Warnings other than the defaults added.
pub fn warnings(verdict: &Verdict) -> Vec<String> {
    verdict
        .warnings()
        .iter()
        .filter(|w| !matches!(w.notice, Notice::DefaultAdded { .. }))
        .map(ToString::to_string)
        .collect()
}

/// Why it would be refused: each violation, or why it cannot be read.
pub fn refusals(verdict: &Verdict) -> Vec<String> {
    match verdict {
        Verdict::Rejected(violations, _) => violations.iter().map(ToString::to_string).collect(),
        Verdict::Unreadable(why) => vec![why.to_string()],
        _ => Vec::new(),
    }
}
