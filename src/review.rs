//! Admission: reads an `admission.k8s.io/v1` AdmissionRequest and gives the verdict, and
//! answers an AdmissionReview with the typed AdmissionReview response.

use crate::gvk::{GroupVersionKind, Operation};
use crate::json;
use crate::patch::Mutation;
use crate::rule::{self, Findings, Mode};
use crate::settings::Settings;
use crate::verdict::{Skip, Unreadable, Verdict};
use crate::warning::{Notice, Warning};
use crate::webhook::Webhook;
use crate::workload::{Kind, PodSpec, Text};
use base64::Engine as _;
use serde::Serialize;
use serde_json::value::RawValue;

crate::object_struct! {
    /// The parts of an AdmissionRequest the policy reads; the rest is skipped unread.
    pub struct AdmissionRequest<'a> {
        /// The request's uid, echoed in the response.
        pub uid: Option<Text<'a>> = "uid",
        /// The object's group, version and kind.
        pub kind: Option<RequestKind<'a>> = "kind",
        /// `CREATE`, `UPDATE`, ...
        pub operation: Option<Text<'a>> = "operation",
        /// `resize`, `status`, ...
        pub sub_resource: Option<Text<'a>> = "subResource",
        /// The object, as raw JSON.
        pub object: Option<&'a RawValue> = "object",
    }
}

crate::object_struct! {
    /// An `admission.k8s.io/v1` AdmissionReview, as the API server sends it to a webhook.
    pub struct AdmissionReview<'a> {
        /// `admission.k8s.io/v1` (or `v1beta1`).
        pub api_version: Option<Text<'a>> = "apiVersion",
        /// `AdmissionReview`.
        pub kind: Option<Text<'a>> = "kind",
        /// The request.
        pub request: Option<AdmissionRequest<'a>> = "request",
    }
}

crate::object_struct! {
    /// The kind of the object under review, as the request writes it (read borrowed).
    pub struct RequestKind<'a> {
        /// The API group.
        pub group: Option<Text<'a>> = "group",
        /// The kind.
        pub kind: Option<Text<'a>> = "kind",
    }
}

impl RequestKind<'_> {
    /// As a typed group, version and kind (absent parts empty; the version is not read, so
    /// that a request the policy does not check is never refused for it).
    pub fn to_gvk(&self) -> GroupVersionKind {
        fn text<'b>(t: &'b Option<Text<'_>>) -> &'b str {
            t.as_ref().map(Text::as_str).unwrap_or_default()
        }
        GroupVersionKind {
            group: text(&self.group).to_owned(),
            version: String::new(),
            kind: text(&self.kind).to_owned(),
        }
    }
}

impl<'a> AdmissionRequest<'a> {
    /// Reads an AdmissionRequest from its JSON text (the host's decoding step before
    /// [`evaluate`]); what cannot be read is the verdict, saying where and why.
    pub fn from_json(request: &'a [u8]) -> Result<Self, Unreadable> {
        json::from_slice(request).map_err(|e| Unreadable::from_json_error(&e, "request"))
    }
}

/// The one entry for an AdmissionRequest: its verdict, as the given webhook answers.
/// [`Webhook::Mutating`] admits with the missing defaults added (a mutation);
/// [`Webhook::Validating`] never carries a mutation: what the mutating webhook would admit
/// with defaults added is rejected, each default due reported as
/// [`crate::Problem::NotDefaulted`]; every other verdict is the same.
pub fn evaluate(settings: &Settings, req: &AdmissionRequest<'_>, webhook: Webhook) -> Verdict {
    let Some(operation) = req.operation.as_ref() else {
        return Verdict::Unreadable(Unreadable::NoOperation);
    };
    let operation = Operation::from_name(operation.as_str());
    let Some(kind_name) = req.kind.as_ref().and_then(|k| k.kind.as_ref()) else {
        return Verdict::Unreadable(Unreadable::NoKind);
    };
    let group = req
        .kind
        .as_ref()
        .and_then(|k| k.group.as_ref())
        .map(Text::as_str);
    let Some(kind) = Kind::from_gvk(group, kind_name.as_str()) else {
        let gvk = req
            .kind
            .as_ref()
            .map(RequestKind::to_gvk)
            .unwrap_or_default();
        return Verdict::Skipped(Skip::OtherKind(gvk));
    };
    Review {
        settings,
        kind,
        kind_name: kind_name.as_str(),
        operation,
        sub_resource: req.sub_resource.as_ref().map(Text::as_str).unwrap_or(""),
        object: req.object.map(RawValue::get),
        webhook,
    }
    .verdict()
}

/// Evaluates a manifest (a bare object) as the API server would send its CREATE. Without an
/// `apiVersion` the kind is matched by name alone, as in a request without a group. (Hosts
/// reach it through [`crate::document::evaluate_manifest`].)
pub(crate) fn evaluate_manifest(
    settings: &Settings,
    webhook: Webhook,
    api_version: Option<&str>,
    kind_name: &str,
    object: &str,
) -> Verdict {
    let kind = match manifest_kind(api_version, kind_name) {
        Ok(kind) => kind,
        Err(skipped) => return skipped,
    };
    match json::from_str::<&RawValue>(object) {
        Ok(object) => Review::create(settings, kind, kind_name, object.get(), webhook).verdict(),
        Err(e) => Verdict::Unreadable(Unreadable::from_json_error(&e, "")),
    }
}

/// [`evaluate_manifest`] of an object whose text was checked whole as JSON already (a
/// document's root, or an item of its list, read through [`json::view`]): the value's text
/// alone, no whitespace around it.
pub(crate) fn evaluate_checked_manifest(
    settings: &Settings,
    webhook: Webhook,
    api_version: Option<&str>,
    kind_name: &str,
    object: &str,
) -> Verdict {
    match manifest_kind(api_version, kind_name) {
        Ok(kind) => Review::create(settings, kind, kind_name, object, webhook).verdict(),
        Err(skipped) => skipped,
    }
}

/// The checked kind of a manifest, or its verdict (skipped) when the policy does not check it.
fn manifest_kind(api_version: Option<&str>, kind_name: &str) -> Result<Kind, Verdict> {
    let group = api_version.map(|av| av.split_once('/').map_or("", |(g, _)| g));
    Kind::from_gvk(group, kind_name).ok_or_else(|| {
        let gvk = match api_version {
            Some(av) => GroupVersionKind::from_api_version(av, kind_name),
            None => GroupVersionKind::gvk("", "", kind_name),
        };
        Verdict::Skipped(Skip::OtherKind(gvk))
    })
}

/// One object of a checked kind under review: what the request says of it and how the webhook
/// answers. Judged in named steps ([`Review::verdict`]): what is in scope, the object, its pod
/// spec, who owns it, the rule, the answer; a step that cannot go on ends the review with a
/// skip or an unreadable object. (The small steps are `#[inline(always)]`: policy.wasm is
/// smaller with them inside `verdict`, measured with `make policy.wasm`.)
struct Review<'a> {
    settings: &'a Settings,
    kind: Kind,
    /// The kind as the request or the manifest names it (for messages).
    kind_name: &'a str,
    operation: Operation,
    /// `resize`, `status`, ...; empty for the object itself.
    sub_resource: &'a str,
    /// The object's JSON text, as written (absent or `null` in some requests).
    object: Option<&'a str>,
    webhook: Webhook,
}

/// Whether a request is in scope, and how it is checked.
enum Scope {
    /// Checked, in this mode.
    Checked(Mode),
    /// Skipped, for this reason.
    Skipped(Skip),
    /// Skipped: the operation (DELETE, CONNECT, ...) is not one the policy checks.
    OtherOperation,
}

impl<'a> Review<'a> {
    /// A manifest's review: its CREATE.
    fn create(
        settings: &'a Settings,
        kind: Kind,
        kind_name: &'a str,
        object: &'a str,
        webhook: Webhook,
    ) -> Self {
        Review {
            settings,
            kind,
            kind_name,
            operation: Operation::Create,
            sub_resource: "",
            object: Some(object),
            webhook,
        }
    }

    /// The verdict, step by step: what is in scope, the object, its pod spec, who owns it,
    /// the rule, the answer. A step that cannot go on gives the verdict (a skip, an unreadable
    /// object) instead.
    fn verdict(self) -> Verdict {
        let mode = match self.scope() {
            Scope::Checked(mode) => mode,
            Scope::Skipped(skip) => return Verdict::Skipped(skip),
            Scope::OtherOperation => return Verdict::Skipped(Skip::Operation(self.operation)),
        };
        let Some(object) = self.object() else {
            return Verdict::Unreadable(Unreadable::NoObject {
                kind: self.kind_name.to_owned(),
                operation: self.operation,
            });
        };
        let spec = match self.pod_spec(object) {
            Ok(spec) => spec,
            Err(unreadable) => return Verdict::Unreadable(unreadable),
        };
        let defaults_left_to_pods = match self.defaults_left_to_pods(object, mode) {
            Ok(left) => left,
            Err(unreadable) => return Verdict::Unreadable(unreadable),
        };
        // The controller's own updates of its ReplicaSet (see `defaults_left_to_pods`).
        if defaults_left_to_pods && matches!(self.operation, Operation::Update) {
            return Verdict::Skipped(Skip::ControlledReplicaSetUpdate);
        }
        let findings = self.judge(&spec, mode, defaults_left_to_pods);
        self.answer(object, &spec, findings, defaults_left_to_pods)
    }

    /// What of the request is in scope, and how it is checked: a CREATE or an UPDATE is
    /// admitted against the whole rule, a Pod's resize against the bounds only; everything else
    /// is skipped, with the reason.
    #[inline(always)]
    fn scope(&self) -> Scope {
        match (&self.operation, self.kind, self.sub_resource) {
            (_, Kind::Pod, "resize") => Scope::Checked(Mode::Resize),
            // Other subresources (status, scale, binding, ...) do not carry a new pod spec.
            (_, _, s) if !s.is_empty() => Scope::Skipped(Skip::SubResource(s.to_owned())),
            // A Pod's container resources cannot change through an update of the Pod itself
            // (only through pods/resize); its other updates (labels, finalizers, owner
            // references) must keep working for Pods that predate the policy.
            (Operation::Update, Kind::Pod, _) => Scope::Skipped(Skip::PodUpdate),
            (Operation::Create | Operation::Update, _, _) => Scope::Checked(Mode::Admit),
            _ => Scope::OtherOperation,
        }
    }

    /// The object's text, where the request has one (not `null`).
    fn object(&self) -> Option<&'a str> {
        self.object.filter(|o| *o != "null")
    }

    /// The pod spec, where the kind keeps it in the object (a JSON object).
    #[inline(always)]
    fn pod_spec(&self, object: &'a str) -> Result<PodSpec<'a>, Unreadable> {
        if !object.starts_with('{') {
            return Err(Unreadable::ObjectNotAnObject);
        }
        match self.kind.pod_spec(object) {
            Ok(Some(spec)) => Ok(spec),
            Ok(None) => Err(Unreadable::NoPodSpec {
                kind: self.kind_name.to_owned(),
                at: self.kind.pod_spec_location(),
            }),
            Err(e) => Err(self.invalid(e.to_string())),
        }
    }

    /// The object is not a valid one of its kind.
    #[inline(always)]
    fn invalid(&self, error: String) -> Unreadable {
        Unreadable::InvalidObject {
            kind: self.kind_name.to_owned(),
            error,
        }
    }

    /// Whether the defaults are left to the object's Pods: a ReplicaSet that a controller owns.
    ///
    /// A ReplicaSet that a controller owns (a Deployment's, an Argo Rollout's) is a copy of its
    /// owner's pod template, and the controller finds its ReplicaSet by comparing the two: a
    /// default added here makes it see a hash collision and create another ReplicaSet, which
    /// would be mutated again, without end. So its defaults are left to its Pods (where the
    /// policy adds them, and no controller compares), and everything else is judged as usual
    /// when it is created. Its UPDATEs are the controller's (replicas, annotations; in a
    /// rollout the old ReplicaSet is scaled down): refusing them would leave a Deployment that
    /// predates the policy unable to scale, or to roll out the very change that fixes it, with
    /// no event to say why; they are skipped. Its Pods are checked when they are made.
    #[inline(always)]
    fn defaults_left_to_pods(&self, object: &str, mode: Mode) -> Result<bool, Unreadable> {
        if self.kind != Kind::ReplicaSet || mode != Mode::Admit {
            return Ok(false);
        }
        crate::workload::has_controller(object).map_err(|e| self.invalid(e.to_string()))
    }

    /// The rule, on the pod spec; where the defaults are left to the Pods, judged as the
    /// validating webhook judges (nothing added) without reporting the defaults its Pods will
    /// get as missing, under a rule that only warns either.
    fn judge(&self, spec: &PodSpec<'_>, mode: Mode, defaults_left_to_pods: bool) -> Findings {
        let webhook = if defaults_left_to_pods {
            Webhook::Validating
        } else {
            self.webhook
        };
        let mut findings = rule::check_pod_spec(self.settings, self.kind, spec, mode, webhook);
        if defaults_left_to_pods {
            findings.warnings.retain(|w| {
                !matches!(
                    w.notice,
                    Notice::NotEnforced(crate::Problem::NotDefaulted { .. })
                )
            });
        }
        findings
    }

    /// The verdict on the findings: rejected (nothing added), accepted as it is, or accepted
    /// with the defaults spliced into the object's own text (nothing else of it built or
    /// rewritten).
    fn answer(
        &self,
        object: &str,
        spec: &PodSpec<'_>,
        findings: Findings,
        defaults_left_to_pods: bool,
    ) -> Verdict {
        let rejected = |violations, mut warnings: Vec<Warning>| {
            // Nothing is added to a rejected object.
            warnings.retain(|w| !matches!(w.notice, Notice::DefaultAdded { .. }));
            Verdict::Rejected(violations, warnings)
        };
        let warnings = findings.warnings;
        if !findings.violations.is_empty() {
            return rejected(findings.violations, warnings);
        }
        if !findings.not_defaulted.is_empty() && !defaults_left_to_pods {
            return rejected(findings.not_defaulted, warnings);
        }
        if findings.additions.is_empty() {
            return Verdict::Accepted(None, warnings);
        }
        let anchors = crate::patch::Anchors::of(object, &self.kind.pod_spec_location(), spec);
        match Mutation::new(object, findings.additions, &anchors) {
            Ok(mutation) => Verdict::Accepted(Some(mutation), warnings),
            Err(e) => Verdict::Unreadable(Unreadable::DefaultsNotAdded(e.to_string())),
        }
    }
}

/// A body that is not an AdmissionReview: the webhook answers it with an error, not a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotAReview(pub String);

/// The AdmissionReview a webhook answers with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdmissionReviewResponse {
    /// The request's `apiVersion` (`admission.k8s.io/v1` or `v1beta1`).
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    /// `AdmissionReview`.
    pub kind: &'static str,
    /// The answer.
    pub response: AdmissionResponse,
}

/// The `response` of an AdmissionReview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdmissionResponse {
    /// Whether the object is admitted.
    pub allowed: bool,
    /// The base64 of the RFC 6902 JSONPatch, for a mutation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// `JSONPatch`, for a mutation.
    #[serde(rename = "patchType", skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<&'static str>,
    /// The code and message of a rejection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The request's uid.
    pub uid: String,
    /// What the client should know (kubectl prints them), within the API server's header
    /// limits; absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The status of a rejection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    /// 400.
    pub code: u16,
    /// What is wrong.
    pub message: String,
}

impl AdmissionReviewResponse {
    /// The AdmissionReview response for a verdict: same `uid`, `allowed`, `status`, and for a
    /// mutation a base64 RFC 6902 `JSONPatch` that adds only the missing fields.
    pub fn new(api_version: &'static str, uid: &str, v: &Verdict) -> AdmissionReviewResponse {
        let status = match (v.code(), v.message()) {
            (Some(code), Some(message)) => Some(Status { code, message }),
            _ => None,
        };
        let patch = v
            .mutation()
            .map(|m| base64::engine::general_purpose::STANDARD.encode(m.patch_json()));
        AdmissionReviewResponse {
            api_version,
            kind: "AdmissionReview",
            response: AdmissionResponse {
                allowed: v.allowed(),
                patch_type: patch.as_ref().map(|_| "JSONPatch"),
                patch,
                status,
                uid: uid.to_owned(),
                warnings: v.admission_warnings(),
            },
        }
    }

    /// The response as JSON text.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Answers an AdmissionReview (a webhook's request body) with the AdmissionReview response
/// the API server expects: as [`Webhook::Mutating`] for a MutatingWebhookConfiguration (a
/// patch where defaults are due), as [`Webhook::Validating`] for a
/// ValidatingWebhookConfiguration (never a patch). `Err`: the body is not an AdmissionReview
/// (the webhook's client answers 400 with the message).
pub fn admission_review(
    settings: &Settings,
    body: &[u8],
    webhook: Webhook,
) -> Result<AdmissionReviewResponse, NotAReview> {
    let review = json::from_slice::<AdmissionReview<'_>>(body).map_err(|e| {
        NotAReview(if e.is_syntax() {
            format!("the body is not valid JSON: {e}")
        } else {
            format!("the body is not an AdmissionReview: {e}")
        })
    })?;
    if let Some(kind) = review
        .kind
        .as_ref()
        .filter(|k| k.as_str() != "AdmissionReview")
    {
        return Err(NotAReview(format!(
            "the body is a {}, not an AdmissionReview",
            kind.as_str()
        )));
    }
    let api_version = match review.api_version.as_ref().map(Text::as_str) {
        None | Some("admission.k8s.io/v1") => "admission.k8s.io/v1",
        Some("admission.k8s.io/v1beta1") => "admission.k8s.io/v1beta1",
        Some(other) => {
            return Err(NotAReview(format!(
                "apiVersion {other:?} is not admission.k8s.io/v1"
            )))
        }
    };
    let Some(request) = review.request.as_ref() else {
        return Err(NotAReview(
            "the body is not an AdmissionReview: request is missing".into(),
        ));
    };
    let verdict = evaluate(settings, request, webhook);
    let uid = request.uid.as_ref().map(Text::as_str).unwrap_or_default();
    Ok(AdmissionReviewResponse::new(api_version, uid, &verdict))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An AdmissionRequest's JSON, read and judged as the mutating webhook judges it.
    pub(crate) fn verdict_of(settings: &Settings, request: &[u8]) -> Verdict {
        match AdmissionRequest::from_json(request) {
            Ok(req) => evaluate(settings, &req, Webhook::Mutating),
            Err(unreadable) => Verdict::Unreadable(unreadable),
        }
    }

    /// A Pod CREATE whose one container `app` has these resources.
    fn pod(resources: &str) -> String {
        format!(
            r#"{{"uid": "u", "kind": {{"group": "", "version": "v1", "kind": "Pod"}}, "operation": "CREATE",
            "object": {{"spec": {{"containers": [{{"name": "app", "image": "x", "resources": {resources}}}]}}}}}}"#
        )
    }

    fn both(settings: &Settings, request: &str) -> (Verdict, Verdict) {
        let read = || json::from_slice::<AdmissionRequest<'_>>(request.as_bytes());
        match (read(), read()) {
            (Ok(a), Ok(b)) => (
                evaluate(settings, &a, Webhook::Mutating),
                evaluate(settings, &b, Webhook::Validating),
            ),
            _ => panic!("not a request: {request}"),
        }
    }

    #[test]
    fn a_validating_answer_reports_the_defaults_it_may_not_add() {
        let settings = Settings::from_json(
            br#"{"cpu": {"defaultLimit": "1", "maxLimit": "2"}, "memory": {"defaultRequest": "64Mi", "requireLimit": false}}"#,
        )
        .unwrap_or_default();
        let (mutate, validate) = both(&settings, &pod("{}"));
        assert!(
            mutate.allowed() && mutate.mutation().is_some(),
            "{mutate:?}"
        );
        assert!(!validate.allowed() && validate.mutation().is_none());
        assert_eq!(
            validate.message().as_deref(),
            Some(
                "spec.containers[0] \"app\": cpu limit is missing (defaultLimit 1 is added only by the mutating webhook); \
                 spec.containers[0] \"app\": memory request is missing (defaultRequest 64Mi is added only by the mutating webhook)"
            )
        );
        assert_eq!(
            validate
                .violations()
                .iter()
                .map(|v| (v.resource(), v.quantity_location().pointer()))
                .collect::<Vec<_>>(),
            [
                ("cpu", "/spec/containers/0/resources/limits/cpu".to_owned()),
                (
                    "memory",
                    "/spec/containers/0/resources/requests/memory".to_owned()
                )
            ]
        );
        // Its answer never carries a patch.
        let review = format!(
            r#"{{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}}"#,
            pod("{}")
        );
        let answer = admission_review(&settings, review.as_bytes(), Webhook::Validating);
        assert!(answer.is_ok_and(|a| a.response.patch.is_none()
            && a.response.patch_type.is_none()
            && !a.response.allowed));
        let answer = admission_review(&settings, review.as_bytes(), Webhook::Mutating);
        assert!(answer.is_ok_and(|a| a.response.patch_type == Some("JSONPatch")));
    }

    #[test]
    fn a_validating_answer_is_the_mutating_one_where_nothing_is_added() {
        let settings = Settings::from_json(
            br#"{"cpu": {"defaultLimit": "1", "maxLimit": "2"}, "memory": {"defaultRequest": "64Mi", "requireLimit": false}}"#,
        )
        .unwrap_or_default();
        for resources in [
            // Complete: admitted as it is.
            r#"{"limits": {"cpu": "1"}, "requests": {"memory": "1Mi"}}"#,
            // A violation beside a missing default: rejected for the violation alone, as
            // the mutating webhook rejects it.
            r#"{"limits": {"cpu": "3"}}"#,
            r#"{"requests": {"cpu": "3"}}"#,
            // Not a quantity.
            r#"{"limits": {"cpu": "lots"}, "requests": {"memory": "1Mi"}}"#,
        ] {
            let (mutate, validate) = both(&settings, &pod(resources));
            assert!(mutate.mutation().is_none(), "{resources}: {mutate:?}");
            assert_eq!(mutate, validate, "{resources}");
        }
        // Skipped requests and resizes (which add nothing) answer alike too.
        let resize = pod("{}").replace("\"CREATE\"", "\"UPDATE\", \"subResource\": \"resize\"");
        let update = pod("{}").replace("CREATE", "UPDATE");
        for request in [resize, update] {
            let (mutate, validate) = both(&settings, &request);
            assert!(mutate.allowed());
            assert_eq!(mutate, validate, "{request}");
        }
    }

    #[test]
    fn a_rule_that_only_warns_never_rejects_and_still_adds_its_defaults() {
        let settings = Settings::from_json(
            br#"{"enforcement": "warn", "cpu": {"defaultLimit": "1", "maxLimit": "2"}, "memory": {"requireLimit": false}}"#,
        )
        .unwrap_or_default();
        let (mutate, validate) = both(
            &settings,
            &pod(r#"{"requests": {"cpu": "3", "memory": "64Mi"}}"#),
        );
        // The default limit 1 is below the request 3: always a rejection.
        assert!(!mutate.allowed() && !validate.allowed());
        let (mutate, validate) = both(&settings, &pod(r#"{"requests": {"memory": "64Mi"}}"#));
        assert!(
            mutate.allowed() && mutate.mutation().is_some(),
            "{mutate:?}"
        );
        assert_eq!(
            mutate.admission_warnings(),
            ["spec.containers[0] \"app\": cpu limit 1 added (defaultLimit)"]
        );
        // The validating answer admits, and says what it may not add.
        assert!(
            validate.allowed() && validate.mutation().is_none(),
            "{validate:?}"
        );
        assert_eq!(
            validate.admission_warnings(),
            ["spec.containers[0] \"app\": cpu limit is missing (defaultLimit 1 is added only by the mutating webhook) (enforcement: warn)"]
        );
        let (mutate, validate) = both(
            &settings,
            &pod(r#"{"limits": {"cpu": "4"}, "requests": {"memory": "1Mi"}}"#),
        );
        assert!(mutate.allowed() && mutate.mutation().is_none());
        assert_eq!(mutate, validate);
        assert_eq!(
            mutate.admission_warnings(),
            ["spec.containers[0] \"app\": cpu limit 4 exceeds maxLimit 2 (enforcement: warn)"]
        );
    }

    #[test]
    fn deep_nesting_gets_its_defaults() {
        // 10,000 levels, beyond serde_json's tree limit of 128: the defaults are spliced into
        // the text, which is never built as a tree, and the nesting is kept as it came.
        let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let settings =
            Settings::from_json(br#"{"cpu": {"defaultLimit": "1"}}"#).unwrap_or_default();
        let request = pod(&format!(r#"{{"x": {nested}}}"#));
        let m = verdict_of(&settings, request.as_bytes())
            .into_mutation()
            .unwrap_or_else(|| panic!("no mutation"));
        assert_eq!(
            m.object_json(),
            m.original_json().replacen(
                r#""resources": {"x""#,
                r#""resources": {"limits":{"cpu":"1"},"x""#,
                1
            )
        );
        assert_eq!(
            m.patch_json(),
            r#"[{"op":"add","path":"/spec/containers/0/resources/limits","value":{"cpu":"1"}}]"#
        );
    }

    #[test]
    fn containers_found_from_their_names_or_their_list_alike() {
        // The same mutation whether each container is found from the previous one's name or
        // by reading its list: names first, last, escaped or absent, odd spacing.
        let settings = Settings::from_json(
            br#"{"cpu": {"defaultLimit": "1"}, "memory": {"requireLimit": false, "requireRequest": false}}"#,
        )
        .unwrap_or_default();
        let object = r#"{ "spec" : { "containers" : [ {"image": "a", "name" : "x", "env": [{"name": "}"}]} ,
            { "name":"y\"", "resources" : { "limits" : null } },
            {"resources": {"requests": {"cpu": "1"}}, "name": "z"} , {"args": ["]"]},
            {"name": "w", "resources": {}}
        ] } }"#;
        let additions =
            match evaluate_manifest(&settings, Webhook::Mutating, Some("v1"), "Pod", object) {
                Verdict::Accepted(Some(m), _) => m.additions().to_vec(),
                v => panic!("not mutated: {v:?}"),
            };
        assert_eq!(additions.len(), 5);
        let spec = Kind::Pod
            .pod_spec(object)
            .ok()
            .flatten()
            .unwrap_or_default();
        let anchors = crate::patch::Anchors::of(object, &Kind::Pod.pod_spec_location(), &spec);
        let found = Mutation::new(object, additions.clone(), &anchors);
        let listed = Mutation::new(object, additions, &Default::default());
        assert!(found.is_ok(), "{found:?}");
        assert_eq!(found, listed);
        let object_json = found
            .map(|m| m.object_json().to_owned())
            .unwrap_or_default();
        for added in [
            r#"{"resources":{"limits":{"cpu":"1"}},"image": "a""#,
            r#""limits" : {"cpu":"1"}"#,
            r#"{"limits":{"cpu":"1"},"requests": {"cpu": "1"}}"#,
            r#"{"resources":{"limits":{"cpu":"1"}},"args": ["]"]}"#,
            r#""resources": {"limits":{"cpu":"1"}}}"#,
        ] {
            assert!(object_json.contains(added), "{added} not in {object_json}");
        }
    }

    #[test]
    fn many_containers_get_their_defaults_in_one_pass() {
        // 20,000 containers each missing its defaults: each container found from the one
        // before (its name read as text), or, where the names give no place (absent, or
        // written with escapes), each list of containers read once; each container's
        // defaults grouped at once (no search per container).
        let n = 20_000;
        let settings = Settings::from_json(
            br#"{"cpu": {"defaultLimit": "1", "defaultRequest": "1"}, "memory": {"requireLimit": false, "requireRequest": false}}"#,
        )
        .unwrap_or_default();
        for container in [
            r#"{"name":"c","image":"x"}"#,
            r#"{"image":"x"}"#,
            r#"{"name":"\u0063","image":"x"}"#,
        ] {
            let containers = vec![container; n].join(",");
            let request = format!(
                r#"{{"kind": {{"kind": "Pod"}}, "operation": "CREATE", "object": {{"spec": {{"initContainers": [{containers}], "containers": [{containers}]}}}}}}"#
            );
            let v = verdict_of(&settings, request.as_bytes());
            let m = v
                .clone()
                .into_mutation()
                .unwrap_or_else(|| panic!("{container}: no mutation: {:?}", v.message()));
            assert_eq!(m.additions().len(), 4 * n);
            let patch: Vec<serde_json::Value> =
                serde_json::from_str(m.patch_json()).unwrap_or_default();
            assert_eq!(patch.len(), 2 * n, "one add of resources per container");
            let added = format!(
                r#"{{"resources":{{"limits":{{"cpu":"1"}},"requests":{{"cpu":"1"}}}},{}"#,
                &container[1..]
            );
            assert_eq!(
                m.object_json().matches(&added).count(),
                2 * n,
                "{container}"
            );
        }
    }

    #[test]
    fn a_manifest_is_judged_as_its_create() {
        let settings = Settings::from_json(br#"{"cpu": {"maxLimit": "1"}}"#).unwrap_or_default();
        let object = r#"{"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec":
            {"containers": [{"name": "a", "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}]}}}}"#;
        let request = format!(
            r#"{{"uid": "x", "kind": {{"group": "apps", "version": "v1", "kind": "Deployment"}},
                "operation": "CREATE", "object": {object}}}"#
        );
        let v = evaluate_manifest(
            &settings,
            Webhook::Mutating,
            Some("apps/v1"),
            "Deployment",
            object,
        );
        assert_eq!(v, verdict_of(&settings, request.as_bytes()));
        assert_eq!(
            v.message().as_deref(),
            Some("spec.template.spec.containers[0] \"a\": cpu limit 2 exceeds maxLimit 1")
        );
        // Without an apiVersion, the kind is matched by name.
        assert_eq!(
            evaluate_manifest(&settings, Webhook::Mutating, None, "Deployment", object),
            v
        );
        let other = evaluate_manifest(
            &settings,
            Webhook::Mutating,
            Some("example.com/v1"),
            "Deployment",
            object,
        );
        assert!(other.allowed());
        assert_eq!(
            other,
            Verdict::Skipped(Skip::OtherKind(GroupVersionKind::gvk(
                "example.com",
                "v1",
                "Deployment"
            )))
        );
        if let Verdict::Skipped(why) = other {
            assert_eq!(
                why.to_string(),
                "example.com/v1 Deployment is not a kind the policy checks"
            );
        }
        let bad = evaluate_manifest(
            &settings,
            Webhook::Mutating,
            Some("v1"),
            "Pod",
            "{\"spec\": [1]}",
        );
        assert_eq!(
            bad.message().as_deref(),
            Some("request.object is not a valid Pod: spec: invalid type: sequence, expected an object (PodSpec)")
        );
    }

    #[test]
    fn skips_say_why() {
        let settings = Settings::default();
        let req = |op: &str, kind: &str, sub: &str| {
            format!(
                r#"{{"kind": {{"kind": "{kind}"}}, "operation": "{op}", "subResource": "{sub}", "object": {{}}}}"#
            )
        };
        let skip = |r: String| match verdict_of(&settings, r.as_bytes()) {
            Verdict::Skipped(s) => s,
            v => panic!("not skipped: {v:?}"),
        };
        assert_eq!(
            skip(req("DELETE", "Pod", "")),
            Skip::Operation(Operation::Delete)
        );
        assert_eq!(skip(req("UPDATE", "Pod", "")), Skip::PodUpdate);
        assert_eq!(
            skip(req("UPDATE", "Deployment", "scale")),
            Skip::SubResource("scale".into())
        );
        assert_eq!(
            skip(req("CREATE", "ConfigMap", "")).to_string(),
            "ConfigMap is not a kind the policy checks"
        );
    }

    #[test]
    fn the_response_is_the_admission_review_the_api_server_reads() {
        let v = Verdict::Unreadable(Unreadable::NoKind);
        let r = AdmissionReviewResponse::new("admission.k8s.io/v1", "u1", &v);
        assert_eq!(
            String::from_utf8(r.to_json()).unwrap_or_default(),
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"allowed":false,"status":{"code":400,"message":"request.kind.kind is missing"},"uid":"u1"}}"#
        );
        let ok = AdmissionReviewResponse::new(
            "admission.k8s.io/v1",
            "u2",
            &Verdict::Accepted(None, Vec::new()),
        );
        assert_eq!(
            String::from_utf8(ok.to_json()).unwrap_or_default(),
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"allowed":true,"uid":"u2"}}"#
        );
    }
}
