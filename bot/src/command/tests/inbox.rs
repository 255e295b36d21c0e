//! `/requests`, `/remind REF` and `/history export`.

use super::*;

#[test]
fn requests_takes_nothing() {
    parses(&[
        ("/requests", Command::Requests),
        ("/REQUESTS", Command::Requests),
        ("/requests@PayBot", Command::Requests),
    ]);
    assert!(matches!(
        problem("/requests open"),
        UsageProblem::Leftover(_)
    ));
}

#[test]
fn remind_takes_one_reference() {
    parses(&[
        (
            "/remind R3D8KM",
            Command::Remind {
                request: short_ref("R3D8KM"),
            },
        ),
        (
            "/remind  r3d8km ",
            Command::Remind {
                request: short_ref("R3D8KM"),
            },
        ),
    ]);
    assert_eq!(problem("/remind"), UsageProblem::MissingRef);
    assert!(matches!(problem("/remind R!"), UsageProblem::InvalidRef(_)));
    assert!(matches!(
        problem("/remind R3D8KM now"),
        UsageProblem::Leftover(_)
    ));
}

#[test]
fn history_export() {
    parses(&[
        ("/history export", Command::HistoryExport),
        ("/history EXPORT", Command::HistoryExport),
    ]);
    assert!(matches!(
        problem("/history export 5"),
        UsageProblem::Leftover(_)
    ));
    assert_eq!(
        problem("/history exports"),
        UsageProblem::NotANumber("exports".into())
    );
}
