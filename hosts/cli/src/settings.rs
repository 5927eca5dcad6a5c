//! Reading the policy's settings from a file: the file's text goes to the settings sources
//! of `resource-limits-yaml` (plain settings, a policy's `spec.settings`, a SpinApp's
//! `settings` variable), the same reader as the playground's.

use resource_limits::Settings;
pub use resource_limits_yaml::settings_source::find;
use resource_limits_yaml::settings_source::{locate, Found, Located, ReadError};
use std::path::Path;

/// Why the settings of `--settings` cannot be used.
pub enum LoadError {
    /// The file, or its settings source, cannot be read.
    Other(String),
    /// The core refuses the settings: each problem as `FILE:LINE [SOURCE]: problem`, at its
    /// key's line.
    Problems(Vec<String>),
}

/// A problem's line of output: `file:line source: problem; did you mean ...?`.
pub fn problem_line(file: &str, found: &Found, p: &Located) -> String {
    if found.what == "settings" {
        format!("{file}:{}: {p}", p.line)
    } else {
        format!("{file}:{} {}: {p}", p.line, found.what)
    }
}

/// Reads the one settings document of a file for `check` and `fix`.
pub fn load(path: &Path) -> Result<Settings, LoadError> {
    let other = LoadError::Other;
    let text = std::fs::read(path).map_err(|e| other(format!("cannot read: {e}")))?;
    let text = String::from_utf8(text).map_err(|_| other("not UTF-8 text".to_owned()))?;
    match resource_limits_yaml::settings_source::read(&text) {
        Ok(s) => Ok(s),
        Err(ReadError::Settings { error, .. }) => {
            let file = path.display().to_string();
            let found = find(&text).ok().and_then(|mut f| f.pop());
            match found {
                Some(found) => Err(LoadError::Problems(
                    locate(&found, &error)
                        .iter()
                        .map(|p| problem_line(&file, &found, p))
                        .collect(),
                )),
                None => Err(other(error.to_string())),
            }
        }
        Err(e) => Err(other(e.to_string())),
    }
}
