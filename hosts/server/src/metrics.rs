//! What `GET /metrics` shows, in the OpenMetrics text format Prometheus scrapes:
//!
//! - `resource_limits_reviews_total{path, verdict}`: reviews answered, by path (`/mutate`,
//!   `/validate`) and verdict (`accepted`, `mutated`, `rejected`, or the HTTP refusals
//!   `bad_request`, `too_large`, `timeout`);
//! - `resource_limits_review_duration_seconds{path}`: from the request's headers to its
//!   answer, body read included;
//! - `resource_limits_settings_reloads_total{result}` and
//!   `resource_limits_certificate_reloads_total{result}`: files re-read (`ok`, `failed`).

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The path of a review.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Path {
    /// `/mutate`.
    Mutate,
    /// `/validate`.
    Validate,
}

/// How a review was answered.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// Admitted as it is.
    Accepted,
    /// Admitted with defaults added (a patch).
    Mutated,
    /// Refused.
    Rejected,
    /// Not an AdmissionReview: 400.
    BadRequest,
    /// Body over the limit: 413.
    TooLarge,
    /// Body not sent within the read timeout: 408.
    Timeout,
}

/// A file re-read: taken, or refused (the last good one kept).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Reloaded {
    /// Taken.
    Ok,
    /// Refused.
    Failed,
}

/// Each label value by its name.
macro_rules! label_values {
    ($($ty:ty { $($variant:ident => $name:literal),* })*) => {$(
        impl EncodeLabelValue for $ty {
            fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
                let name = match self { $(Self::$variant => $name),* };
                EncodeLabelValue::encode(&name, encoder)
            }
        }
    )*};
}

label_values! {
    Path { Mutate => "/mutate", Validate => "/validate" }
    Outcome {
        Accepted => "accepted", Mutated => "mutated", Rejected => "rejected",
        BadRequest => "bad_request", TooLarge => "too_large", Timeout => "timeout"
    }
    Reloaded { Ok => "ok", Failed => "failed" }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReviewLabels {
    path: Path,
    verdict: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PathLabels {
    path: Path,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: Reloaded,
}

type Histograms = Family<PathLabels, Histogram, fn() -> Histogram>;

/// The server's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    reviews: Family<ReviewLabels, Counter>,
    durations: Histograms,
    settings: Family<ResultLabels, Counter>,
    certificate: Family<ResultLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 0.8 s, doubling.
    Histogram::new(exponential_buckets(0.00005, 2.0, 15))
}

impl Metrics {
    /// Registered, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("resource_limits");
        let reviews = Family::<ReviewLabels, Counter>::default();
        let durations: Histograms = Family::new_with_constructor(latency_histogram);
        let settings = Family::<ResultLabels, Counter>::default();
        let certificate = Family::<ResultLabels, Counter>::default();
        registry.register(
            "reviews",
            "AdmissionReviews answered, by path and verdict",
            reviews.clone(),
        );
        registry.register(
            "review_duration_seconds",
            "Time from a review's headers to its answer",
            durations.clone(),
        );
        registry.register(
            "settings_reloads",
            "Settings files re-read, taken (ok) or refused (failed: the last good settings kept)",
            settings.clone(),
        );
        registry.register(
            "certificate_reloads",
            "Certificate and key files re-read, taken (ok) or refused (failed: the last good pair kept)",
            certificate.clone(),
        );
        Metrics {
            registry,
            reviews,
            durations,
            settings,
            certificate,
        }
    }

    /// A review answered, and how long it took.
    pub fn reviewed(&self, path: Path, verdict: Outcome, seconds: f64) {
        self.reviews
            .get_or_create(&ReviewLabels { path, verdict })
            .inc();
        self.durations
            .get_or_create(&PathLabels { path })
            .observe(seconds);
    }

    /// The settings file re-read.
    pub fn settings_reloaded(&self, result: Reloaded) {
        self.settings.get_or_create(&ResultLabels { result }).inc();
    }

    /// The certificate re-read.
    pub fn certificate_reloaded(&self, result: Reloaded) {
        self.certificate
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    /// The OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String does not fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
