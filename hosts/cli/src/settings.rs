//! Reading the policy's settings from a file: the file's text goes to the settings sources
//! of `resource-limits-yaml` (plain settings, a policy's `spec.settings`, a SpinApp's
//! `settings` variable), the same reader as the playground's.

use resource_limits::Settings;
pub use resource_limits_yaml::settings_source::find;
use std::path::Path;

/// Reads the one settings document of a file for `check` and `fix`.
pub fn load(path: &Path) -> Result<Settings, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let text = String::from_utf8(text).map_err(|_| "not UTF-8 text".to_owned())?;
    resource_limits_yaml::settings_source::read(&text).map_err(|e| e.to_string())
}
