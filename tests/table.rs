//! The shared case table through the native core.

use resource_limits::review::{evaluate, AdmissionRequest};
use resource_limits::{Settings, Verdict, Webhook};

/// An AdmissionRequest's JSON, read and judged by the core's one entry for a request, as the
/// mutating webhook judges it.
fn judge(settings: &Settings, request: &[u8]) -> Verdict {
    match AdmissionRequest::from_json(request) {
        Ok(req) => evaluate(settings, &req, Webhook::Mutating),
        Err(unreadable) => Verdict::Unreadable(unreadable),
    }
}

#[test]
fn every_case_of_the_table() {
    testkit::check_all(&testkit::load(), run);
}

fn run(case: &testkit::Case) -> Result<(), String> {
    let settings = match Settings::from_json(case.settings.to_string().as_bytes()) {
        Ok(s) => {
            case.check_settings(true, None)?;
            s
        }
        Err(e) => {
            case.check_settings(false, Some(&e.to_string()))?;
            return Ok(());
        }
    };
    let v = judge(&settings, case.request.as_bytes());
    case.check(&testkit::Answer {
        allowed: v.allowed(),
        code: v.code().map(u64::from),
        message: v.message(),
        warnings: v.admission_warnings(),
        mutated: v.mutation().and_then(|m| m.object().ok()),
    })
}

/// Every case's verdict is the same when the case is sent twice: the core keeps no state.
#[test]
fn verdicts_are_deterministic() {
    for case in testkit::load()
        .iter()
        .filter(|c| c.expect.settings_error.is_none())
    {
        let s = Settings::from_json(case.settings.to_string().as_bytes()).unwrap_or_default();
        assert_eq!(
            judge(&s, case.request.as_bytes()),
            judge(&s, case.request.as_bytes()),
            "{}",
            case.name
        );
    }
}

#[test]
fn hostile_requests_get_a_clear_rejection() {
    for h in testkit::hostile_requests() {
        let s = Settings::from_json(h.settings.to_string().as_bytes()).unwrap_or_default();
        let v = judge(&s, &h.request);
        let msg = v.message().unwrap_or_default();
        assert!(!v.allowed(), "{}: accepted", h.name);
        assert!(msg.starts_with(h.prefix), "{}: {msg:.300}", h.name);
        assert!(
            msg.len() < 64 * 1024,
            "{}: a message of {} bytes",
            h.name,
            msg.len()
        );
    }
}

/// The same table as a webhook sees it: AdmissionReview in, AdmissionReview out (the answer
/// the Spin component and the browser give), its JSONPatch applied to the object.
#[test]
fn every_case_as_an_admission_review() {
    testkit::check_all(&testkit::load(), |case| {
        let Ok(settings) = Settings::from_json(case.settings.to_string().as_bytes()) else {
            return Ok(());
        };
        match resource_limits::review::admission_review(
            &settings,
            case.admission_review().as_bytes(),
            resource_limits::Webhook::Mutating,
        ) {
            Ok(review) => {
                let review = serde_json::to_value(&review).map_err(|e| e.to_string())?;
                case.check(&testkit::answer_from_review(case, &review)?)
            }
            Err(e) => match case.unreadable_review() {
                Some(prefix) if e.0.starts_with(prefix) => Ok(()),
                _ => Err(format!("not a review: {e:?}")),
            },
        }
    });
}
