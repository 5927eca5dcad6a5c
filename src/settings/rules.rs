//! The consistency rules of one resource's rule, once each of its keys is read: the bounds
//! and defaults in order (the contract's `minRequest <= defaultRequest <= maxRequest`, ...),
//! the ratio, and `forbidLimit` against every key that would set or demand a limit.

use super::problem::{At, KeyValue, ProblemKind, Problems};
use super::{Bound, ResourceRule};
use crate::quantity::Quantity;

/// Every rule `r`, the rule at `at`, breaks, in the order messages list them.
pub(super) fn check(at: &At<'_>, r: &ResourceRule, p: &mut Problems) {
    check_forbidden(at, r, p);
    check_consistency(at, r, p);
}

/// `key` and its value as written.
fn key_value(key: &'static str, bound: &Bound) -> KeyValue {
    KeyValue {
        key,
        value: bound.text.clone(),
    }
}

/// `forbidLimit` against every key that sets, adds, bounds or demands the limit.
fn check_forbidden(at: &At<'_>, r: &ResourceRule, p: &mut Problems) {
    if !r.forbid_limit {
        return;
    }
    let quantities = [
        ("defaultLimit", &r.default_limit),
        ("minLimit", &r.min_limit),
        ("maxLimit", &r.max_limit),
        ("maxLimitRequestRatio", &r.max_limit_request_ratio),
    ];
    for (key, bound) in quantities {
        if let Some(b) = bound {
            p.add(
                at,
                ProblemKind::ForbiddenLimitSet {
                    with: key_value(key, b),
                },
            );
        }
    }
    if r.require_limit {
        p.add(at, ProblemKind::ForbiddenLimitRequired);
    }
}

/// The consistency rules of the contract, plus one that follows from them: the two defaults
/// must respect the ratio, or every defaulted container would be rejected.
fn check_consistency(at: &At<'_>, r: &ResourceRule, p: &mut Problems) {
    type Pair<'r> = (
        &'static str,
        &'r Option<Bound>,
        &'static str,
        &'r Option<Bound>,
    );
    let pairs: [Pair<'_>; 8] = [
        (
            "minRequest",
            &r.min_request,
            "defaultRequest",
            &r.default_request,
        ),
        (
            "defaultRequest",
            &r.default_request,
            "maxRequest",
            &r.max_request,
        ),
        ("minRequest", &r.min_request, "maxRequest", &r.max_request),
        ("minLimit", &r.min_limit, "defaultLimit", &r.default_limit),
        ("defaultLimit", &r.default_limit, "maxLimit", &r.max_limit),
        ("minLimit", &r.min_limit, "maxLimit", &r.max_limit),
        (
            "defaultRequest",
            &r.default_request,
            "defaultLimit",
            &r.default_limit,
        ),
        ("minRequest", &r.min_request, "maxLimit", &r.max_limit),
    ];
    for (a_key, a, b_key, b) in pairs {
        if let (Some(a), Some(b)) = (a, b) {
            if a.value > b.value {
                p.add(
                    at,
                    ProblemKind::Greater {
                        lower: key_value(a_key, a),
                        upper: key_value(b_key, b),
                    },
                );
            }
        }
    }
    // Without a defaultRequest, a defaulted limit becomes the container's request too.
    if let (Some(d), None) = (&r.default_limit, &r.default_request) {
        if let Some(m) = r.max_request.as_ref().filter(|m| d.value > m.value) {
            p.add(
                at,
                ProblemKind::DefaultLimitAboveMaxRequest {
                    default_limit: d.text.clone(),
                    max_request: m.text.clone(),
                },
            );
        }
        if let Some(m) = r.min_request.as_ref().filter(|m| d.value < m.value) {
            p.add(
                at,
                ProblemKind::DefaultLimitBelowMinRequest {
                    default_limit: d.text.clone(),
                    min_request: m.text.clone(),
                },
            );
        }
    }
    if let Some(ratio) = &r.max_limit_request_ratio {
        if ratio.value < Quantity::ONE {
            p.add(
                &At::Key(at, "maxLimitRequestRatio"),
                ProblemKind::RatioBelowOne {
                    ratio: ratio.text.clone(),
                },
            );
        } else if let (Some(req), Some(lim)) = (&r.default_request, &r.default_limit) {
            if !lim.value.at_most_times(ratio.value, req.value) {
                p.add(
                    at,
                    ProblemKind::DefaultsBeyondRatio {
                        default_limit: lim.text.clone(),
                        ratio: ratio.text.clone(),
                        default_request: req.text.clone(),
                    },
                );
            }
        }
    }
}
