//! Unit tests of `visa.rs`: the shapes of Visa's values, and trace numbers
//! derived from the core's transfer id (moved here with them from the
//! core's `card` tests).

use ledger::TransferId;

use super::*;

#[test]
fn visa_values_have_their_shapes() {
    assert!(SystemsTraceAuditNumber::new("012345").is_ok());
    assert!(SystemsTraceAuditNumber::new("12345").is_err());
    assert!(SystemsTraceAuditNumber::new("12345a").is_err());
    assert!(RetrievalReferenceNumber::new("330000550000").is_ok());
    assert!(RetrievalReferenceNumber::new("33000055000").is_err());
    assert!(ApprovalCode::new("20304B").is_ok());
    assert!(ApprovalCode::new("").is_err());
    assert!(ApprovalCode::new("1234567").is_err());
    assert_eq!(ActionCode::new("00").unwrap(), ActionCode::APPROVED);
    assert!(ActionCode::new("0").is_err());
    assert!(ActionCode::new("0 ").is_err());
    assert_eq!(ActionCode::INSUFFICIENT_FUNDS.to_string(), "51");
    assert_eq!(
        decline_reason(ActionCode::new("51").unwrap()),
        DeclineReason::InsufficientFunds
    );
    assert_eq!(
        decline_reason(ActionCode::new("N7").unwrap()),
        DeclineReason::Other
    );
    let status = StatusId::new(
        RailOperation::Push,
        "st_42",
        RetrievalReferenceNumber::new("000000000042").unwrap(),
    )
    .unwrap();
    assert_eq!(status.to_string(), "push:st_42:000000000042");
    assert_eq!(
        "push:st_42:000000000042".parse::<StatusId>().unwrap(),
        status
    );
    for bad in [
        "push:st_42",
        "pull::000000000042",
        "send:x:000000000042",
        "pull:a:b:c",
        "pull:a/b:000000000042",
    ] {
        assert!(bad.parse::<StatusId>().is_err(), "{bad}");
    }
    // What the core stores is the same text, both ways.
    let reference = status.to_reference().unwrap();
    assert_eq!(reference.as_str(), "push:st_42:000000000042");
    assert_eq!(StatusId::from_reference(&reference).unwrap(), status);
    assert_eq!(
        decline_code(ActionCode::DO_NOT_HONOR).unwrap().as_str(),
        "05"
    );
    let rrn = RetrievalReferenceNumber::new("000000000042").unwrap();
    for approval in [
        Approval::new(rrn.clone(), Some(ApprovalCode::new("20304B").unwrap())),
        Approval::new(rrn.clone(), None),
    ] {
        let reference = approval.to_reference().unwrap();
        assert_eq!(Approval::from_reference(&reference).unwrap(), approval);
    }
}

#[test]
fn trace_numbers_are_derived_from_the_transfer_id() {
    let id = TransferId::new(0x1234_5678_9abc_def0_1234_5678_9abc_def0).unwrap();
    let first = TraceNumbers::for_transfer(id);
    let again = TraceNumbers::for_transfer(id);
    assert_eq!(first, again);
    assert_eq!(first.stan().as_str().len(), STAN_DIGITS);
    assert_eq!(first.rrn().as_str().len(), RRN_CHARS);
    assert_ne!(first, TraceNumbers::for_reversal(id));
    assert_eq!(
        TraceNumbers::for_reversal(id),
        TraceNumbers::for_reversal(id)
    );
    let mut seen = std::collections::HashSet::new();
    for n in 1..=2_000_u128 {
        let trace = TraceNumbers::for_transfer(TransferId::new(n).unwrap());
        assert!(SystemsTraceAuditNumber::new(trace.stan().as_str()).is_ok());
        assert_ne!(trace.stan().as_str(), "000000");
        assert!(RetrievalReferenceNumber::new(trace.rrn().as_str()).is_ok());
        assert!(seen.insert(trace.clone()));
    }
    let at = UtcMoment::from_unix_ms(1_767_225_600_000).unwrap();
    assert_eq!(local_date_time(at), "2026-01-01T00:00:00");
}
