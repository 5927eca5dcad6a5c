//! Which webhook answers: the two kinds of admission webhook Kubernetes registers.

/// The kind of admission webhook the answer is for, named as Kubernetes names its
/// configurations (`MutatingWebhookConfiguration`, `ValidatingWebhookConfiguration`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Webhook {
    /// A mutating webhook (also the Kubewarden policy and the CLI): the missing defaults are
    /// added by a patch.
    #[default]
    Mutating,
    /// A validating webhook, whose answer may carry no patch: the object is judged as it is,
    /// and a value a default would fill is missing.
    Validating,
}

impl Webhook {
    /// `mutating` or `validating`.
    pub fn name(self) -> &'static str {
        match self {
            Webhook::Mutating => "mutating",
            Webhook::Validating => "validating",
        }
    }
}
