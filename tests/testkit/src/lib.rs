//! The shared case table (`tests/cases/*.json`): one set of inputs and expected answers that
//! drives the core's tests and every host's tests, so the hosts cannot drift apart.
//!
//! A case file is a JSON array of cases:
//!
//! ```json
//! { "name": "...",
//!   "settings": { ... },                       // the policy settings (default {})
//!   "kinds": ["Pod", "Deployment"],            // expand into one case per kind (default Deployment)
//!   "operation": "CREATE", "subResource": "resize",
//!   "containers": [ ... ], "initContainers": [ ... ], "podResources": { ... },
//!   "object": { ... },                          // or a whole object instead of containers
//!   "raw": "not json",                          // or the raw AdmissionRequest text
//!   "request": { ... },                         // or a whole AdmissionRequest
//!   "expect": { "allowed": false, "message": "...", "messagePrefix": "...",
//!               "patch": [ {"op": "add", "path": "...", "value": ...} ],
//!               "settingsError": "..." } }
//! ```
//!
//! In messages `{spec}` stands for the kind's pod spec path (`spec.template.spec`), in patch
//! paths for its JSON pointer (`/spec/template/spec`).

mod cases;
mod hostile;
pub mod manifests;
mod review;
mod yaml;

pub use cases::{
    admission_request, assert_embedded, cases_dir, check_all, gvr, load, load_from, spec_location,
    wrap, Answer, Case, CliExpect, Expect,
};
pub use hostile::{hostile_requests, Hostile};
pub use review::{answer_from_review, kubewarden_payload, only_additions, review_body, strings};
pub use yaml::block_yaml;
