//! The typed parts of an AdmissionRequest: the object's group, version and kind, and the
//! operation (the shapes kube-core gives them).

use std::fmt;

/// The group, version and kind of an object (`apps`, `v1`, `Deployment`; the core group is
/// the empty string).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct GroupVersionKind {
    /// The API group (`apps`; empty for the core group).
    pub group: String,
    /// The version (`v1`).
    pub version: String,
    /// The kind (`Deployment`).
    pub kind: String,
}

impl GroupVersionKind {
    /// A group, version and kind.
    pub fn gvk(group: &str, version: &str, kind: &str) -> GroupVersionKind {
        GroupVersionKind {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        }
    }

    /// From a manifest's `apiVersion` (`apps/v1`, or `v1` for the core group) and `kind`.
    pub fn from_api_version(api_version: &str, kind: &str) -> GroupVersionKind {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        GroupVersionKind::gvk(group, version, kind)
    }

    /// The `apiVersion` a manifest writes: `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// What an AdmissionRequest does to its object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `CREATE`.
    Create,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// `CONNECT`.
    Connect,
    /// Any other text: not an operation the policy checks, kept as written.
    Other(String),
}

impl Operation {
    /// The operation named by an AdmissionRequest's `operation`.
    pub fn from_name(name: &str) -> Operation {
        match name {
            "CREATE" => Operation::Create,
            "UPDATE" => Operation::Update,
            "DELETE" => Operation::Delete,
            "CONNECT" => Operation::Connect,
            other => Operation::Other(other.to_owned()),
        }
    }

    /// The name as the API server writes it (`CREATE`).
    pub fn as_str(&self) -> &str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
            Operation::Other(name) => name,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_and_operations() {
        let d = GroupVersionKind::from_api_version("apps/v1", "Deployment");
        assert_eq!(d, GroupVersionKind::gvk("apps", "v1", "Deployment"));
        assert_eq!(d.api_version(), "apps/v1");
        let p = GroupVersionKind::from_api_version("v1", "Pod");
        assert_eq!((p.group.as_str(), p.api_version().as_str()), ("", "v1"));
        for name in ["CREATE", "UPDATE", "DELETE", "CONNECT", "PATCH", ""] {
            assert_eq!(Operation::from_name(name).to_string(), name);
        }
        assert_eq!(
            Operation::from_name("create"),
            Operation::Other("create".into())
        );
    }
}
