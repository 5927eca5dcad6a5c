//! The shared case table, embedded: the browser has no file system.

/// Every file of `tests/cases/`, as `(file stem, text)`; `page.rs` checks that none is missing.
pub const CASE_FILES: &[(&str, &str)] = &[
    (
        "bad_input",
        include_str!("../../../../tests/cases/bad_input.json"),
    ),
    (
        "bounds",
        include_str!("../../../../tests/cases/bounds.json"),
    ),
    ("kinds", include_str!("../../../../tests/cases/kinds.json")),
    (
        "mutation",
        include_str!("../../../../tests/cases/mutation.json"),
    ),
    (
        "quantities",
        include_str!("../../../../tests/cases/quantities.json"),
    ),
    (
        "settings",
        include_str!("../../../../tests/cases/settings.json"),
    ),
];
