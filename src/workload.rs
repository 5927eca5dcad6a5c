//! The workload kinds the rule checks, and where each keeps its pod spec.
//!
//! Objects are read into borrowed, typed views that name only the fields the rule needs;
//! serde skips everything else without building it, which is what makes a `validate` cheaper
//! than parsing the request into a `serde_json::Value` tree.

use crate::location::Location;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A checked kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `v1` Pod.
    Pod,
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` ReplicaSet.
    ReplicaSet,
    /// `apps/v1` StatefulSet.
    StatefulSet,
    /// `apps/v1` DaemonSet.
    DaemonSet,
    /// `v1` ReplicationController.
    ReplicationController,
    /// `batch/v1` Job.
    Job,
    /// `batch/v1` CronJob.
    CronJob,
    /// `v1` PodTemplate.
    PodTemplate,
}

impl Kind {
    /// Every checked kind.
    pub const ALL: [Kind; 9] = [
        Kind::Pod,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::ReplicationController,
        Kind::Job,
        Kind::CronJob,
        Kind::PodTemplate,
    ];

    /// The kind's name (`Deployment`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Deployment => "Deployment",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::ReplicationController => "ReplicationController",
            Kind::Job => "Job",
            Kind::CronJob => "CronJob",
            Kind::PodTemplate => "PodTemplate",
        }
    }

    /// The kind's API group (`apps`; `""` for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Kind::Pod | Kind::ReplicationController | Kind::PodTemplate => "",
            Kind::Job | Kind::CronJob => "batch",
            _ => "apps",
        }
    }

    /// The checked kind for an API group and kind name. An absent group (hand-written
    /// requests) matches by kind alone; a kind of another group is not ours.
    pub fn from_gvk(group: Option<&str>, kind: &str) -> Option<Kind> {
        let k = Kind::ALL.into_iter().find(|k| k.name() == kind)?;
        match group {
            Some(group) if group != k.group() => None,
            _ => Some(k),
        }
    }

    /// The fields that lead to the pod spec (`["spec", "template", "spec"]`).
    pub fn pod_spec_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Pod => &["spec"],
            Kind::CronJob => &["spec", "jobTemplate", "spec", "template", "spec"],
            Kind::PodTemplate => &["template", "spec"],
            _ => &["spec", "template", "spec"],
        }
    }

    /// Where the pod spec lives (`spec.template.spec`).
    pub fn pod_spec_location(self) -> Location {
        Location::of_fields(self.pod_spec_fields())
    }

    /// Reads the pod spec out of an object of this kind. `Ok(None)`: the object has none.
    pub fn pod_spec<'a>(
        self,
        object: &'a str,
    ) -> Result<Option<PodSpec<'a>>, crate::json::JsonError> {
        Ok(match self {
            Kind::Pod => crate::json::from_str::<PodObject<'a>>(object)?.spec,
            Kind::CronJob => crate::json::from_str::<CronJobObject<'a>>(object)?
                .spec
                .and_then(|s| s.job_template)
                .and_then(|t| t.spec)
                .and_then(|s| s.template)
                .and_then(|t| t.spec),
            Kind::PodTemplate => crate::json::from_str::<PodTemplateObject<'a>>(object)?
                .template
                .and_then(|t| t.spec),
            _ => crate::json::from_str::<WorkloadObject<'a>>(object)?
                .spec
                .and_then(|s| s.template)
                .and_then(|t| t.spec),
        })
    }
}

/// Whether an object has a controlling owner: an entry of `metadata.ownerReferences` with
/// `controller: true` (a ReplicaSet made by a Deployment, a Pod by a ReplicaSet, a Job by a
/// CronJob). Read only where the answer changes the verdict: the metadata is read as a JSON
/// tree, which policy.wasm already carries for mutations; three typed views of their own made
/// the module 6 KB larger for one flag.
pub fn has_controller(object: &str) -> Result<bool, OwnerError> {
    let owned = crate::json::from_str::<OwnedObject<'_>>(object).map_err(OwnerError::Json)?;
    let Some(metadata) = owned.metadata else {
        return Ok(false);
    };
    let metadata: serde_json::Value =
        serde_json::from_str(metadata.get()).map_err(|e| OwnerError::Metadata(e.to_string()))?;
    match metadata.get("ownerReferences") {
        None | Some(serde_json::Value::Null) => Ok(false),
        Some(serde_json::Value::Array(refs)) => Ok(refs
            .iter()
            .any(|r| r.get("controller") == Some(&serde_json::Value::Bool(true)))),
        Some(_) => Err(OwnerError::NotAList),
    }
}

/// Why an object's owner references could not be read.
#[derive(Debug)]
pub enum OwnerError {
    /// The object or its metadata is not what a Kubernetes object is.
    Json(crate::json::JsonError),
    /// `metadata` could not be read as a JSON tree (serde_json's message).
    Metadata(String),
    /// `metadata.ownerReferences` is not a list.
    NotAList,
}

impl fmt::Display for OwnerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OwnerError::Json(e) => e.fmt(f),
            OwnerError::Metadata(e) => write!(f, "metadata: {e}"),
            OwnerError::NotAList => f.write_str("metadata.ownerReferences: not a list"),
        }
    }
}

/// Implements `Deserialize` for a struct of optional fields read from a JSON object only.
///
/// Hand-written rather than derived: serde's derive also accepts a JSON array for a struct
/// (its fields by position), which would silently misread `resources: [...]`. Unknown
/// fields are skipped unread; a field given twice is an error.
#[macro_export]
#[doc(hidden)]
macro_rules! object_struct {
    ($(#[$meta:meta])* pub struct $name:ident<'a> { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty = $key:literal,)* }) => {
        $(#[$meta])*
        #[derive(Default, Debug)]
        pub struct $name<'a> {
            $($(#[$fmeta])* #[doc = concat!("\n\nRead from the JSON key `", $key, "`.")] pub $field: $ty,)*
            #[doc(hidden)]
            pub _borrow: std::marker::PhantomData<&'a ()>,
        }

        impl<'de: 'a, 'a> serde::Deserialize<'de> for $name<'a> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V<'a>(std::marker::PhantomData<&'a ()>);
                impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
                    type Value = $name<'a>;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str(concat!("an object (", stringify!($name), ")"))
                    }
                    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                        let mut out = $name::<'a>::default();
                        $(let mut $field = false;)*
                        while let Some(k) = m.next_key::<$crate::workload::Text<'de>>()? {
                            match k.as_str() {
                                $($key => {
                                    if $field {
                                        return Err(serde::de::Error::duplicate_field($key));
                                    }
                                    $field = true;
                                    out.$field = m.next_value()?;
                                })*
                                _ => {
                                    m.next_value::<serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V(std::marker::PhantomData))
            }
        }
    };
}

object_struct! {
    /// An object's metadata, as far as ownership goes.
    pub struct OwnedObject<'a> {
        pub metadata: Option<&'a RawValue> = "metadata",
    }
}

object_struct! {
    /// A Pod.
    pub struct PodObject<'a> {
        pub spec: Option<PodSpec<'a>> = "spec",
    }
}

object_struct! {
    /// A Deployment, ReplicaSet, StatefulSet, DaemonSet, ReplicationController or Job.
    pub struct WorkloadObject<'a> {
        pub spec: Option<WorkloadSpec<'a>> = "spec",
    }
}

object_struct! {
    /// The spec of a workload (or of a CronJob's job template): its pod template.
    pub struct WorkloadSpec<'a> {
        pub template: Option<PodTemplateSpec<'a>> = "template",
    }
}

object_struct! {
    /// A pod template: metadata (skipped) and the pod spec.
    pub struct PodTemplateSpec<'a> {
        pub spec: Option<PodSpec<'a>> = "spec",
    }
}

object_struct! {
    /// A PodTemplate object.
    pub struct PodTemplateObject<'a> {
        pub template: Option<PodTemplateSpec<'a>> = "template",
    }
}

object_struct! {
    /// A CronJob.
    pub struct CronJobObject<'a> {
        pub spec: Option<CronJobSpec<'a>> = "spec",
    }
}

object_struct! {
    /// A CronJob's spec: its job template.
    pub struct CronJobSpec<'a> {
        pub job_template: Option<JobTemplate<'a>> = "jobTemplate",
    }
}

object_struct! {
    /// A CronJob's job template.
    pub struct JobTemplate<'a> {
        pub spec: Option<WorkloadSpec<'a>> = "spec",
    }
}

object_struct! {
    /// The parts of a pod spec the rule reads.
    pub struct PodSpec<'a> {
        pub containers: Option<Vec<Container<'a>>> = "containers",
        pub init_containers: Option<Vec<Container<'a>>> = "initContainers",
        /// Pod-level resources (Kubernetes 1.34+).
        pub resources: Option<Resources<'a>> = "resources",
    }
}

object_struct! {
    /// The parts of a container the rule reads.
    pub struct Container<'a> {
        pub name: Option<Text<'a>> = "name",
        pub image: Option<Text<'a>> = "image",
        pub restart_policy: Option<Text<'a>> = "restartPolicy",
        pub resources: Option<Resources<'a>> = "resources",
    }
}

object_struct! {
    /// A container's (or the pod's) requests and limits.
    pub struct Resources<'a> {
        pub requests: Option<QuantityMap<'a>> = "requests",
        pub limits: Option<QuantityMap<'a>> = "limits",
    }
}

/// A resource list: names and the raw JSON of their quantities, in document order.
#[derive(Default, Debug)]
pub struct QuantityMap<'a>(pub Vec<(Text<'a>, &'a RawValue)>);

impl<'a> QuantityMap<'a> {
    /// The raw JSON of a resource's quantity; `null` counts as absent.
    pub fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0
            .iter()
            .find(|(k, v)| k.as_str() == name && v.get() != "null")
            .map(|(_, v)| *v)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for QuantityMap<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = QuantityMap<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of resource names to quantities")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut out: Vec<(Text<'a>, &'a RawValue)> = Vec::new();
                while let Some(k) = m.next_key::<Text<'a>>()? {
                    if out.iter().any(|(seen, _)| seen.as_str() == k.as_str()) {
                        return Err(de::Error::custom(format_args!(
                            "resource {:?} appears twice",
                            k.as_str()
                        )));
                    }
                    let v: &'a RawValue = m.next_value()?;
                    out.push((k, v));
                }
                Ok(QuantityMap(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A JSON string borrowed from the input where it has no escapes, owned where it has.
/// (serde's own `Cow<str>` only borrows as a direct field with `#[serde(borrow)]`, not inside
/// an `Option` or as a map key.)
#[derive(Debug, Clone)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Text<'_> {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_their_groups() {
        assert_eq!(
            Kind::from_gvk(Some("apps"), "Deployment"),
            Some(Kind::Deployment)
        );
        assert_eq!(Kind::from_gvk(None, "Deployment"), Some(Kind::Deployment));
        assert_eq!(Kind::from_gvk(Some("example.com"), "Deployment"), None);
        assert_eq!(Kind::from_gvk(Some(""), "Pod"), Some(Kind::Pod));
        assert_eq!(Kind::from_gvk(Some(""), "ConfigMap"), None);
    }

    #[test]
    fn reads_the_pod_spec_of_every_kind() {
        let pod = r#"{"spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":"1"}}}]}}"#;
        let spec = Kind::Pod.pod_spec(pod).ok().flatten().unwrap_or_default();
        let c = &spec.containers.unwrap_or_default()[0];
        assert_eq!(c.name.as_deref(), Some("a"));
        let cron = r#"{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"initContainers":[{"name":"i"}]}}}}}}"#;
        let spec = Kind::CronJob
            .pod_spec(cron)
            .ok()
            .flatten()
            .unwrap_or_default();
        assert_eq!(spec.init_containers.map(|v| v.len()), Some(1));
        let tmpl = r#"{"template":{"spec":{"containers":[]}}}"#;
        assert!(Kind::PodTemplate.pod_spec(tmpl).ok().flatten().is_some());
        assert!(Kind::Deployment
            .pod_spec(r#"{"spec":{}}"#)
            .ok()
            .flatten()
            .is_none());
        assert!(Kind::Deployment
            .pod_spec(r#"{"spec":{"template":{"spec":{"containers":"x"}}}}"#)
            .is_err());
    }

    #[test]
    fn duplicate_resource_names_are_an_error() {
        let pod = r#"{"spec":{"containers":[{"resources":{"limits":{"cpu":"1","cpu":"2"}}}]}}"#;
        assert!(Kind::Pod.pod_spec(pod).is_err());
    }
}
