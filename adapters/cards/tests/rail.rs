//! The real client against the simulator, served on 127.0.0.1 port 0: every
//! test card, slow (202) requests, resends, reversals, keys, totals and
//! amounts, through the `CardRail` port the core uses.
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]

use axum::Router;
use axum::http::StatusCode;
use bot::calendar::UtcMoment;
use bot::card::{
    CardNumber, CardRail, CardToken, CardTransfer, Expiry, RailError, RailOutcome, RailReference,
};
use ledger::{Amount, Currency, TransferId};
use paybot_cards::simulator::{CurrencyTotals, Movement};
use paybot_cards::visa::{
    ActionCode, Approval, StatusId, TraceNumbers, decline_code, decline_reason,
};
use paybot_cards::{
    API_KEY_HEADER, Acquirer, ApiKey, Simulator, SimulatorTotals, VisaDirectClient, parse_rail_url,
    test_cards,
};
use tokio::net::TcpListener;

const KEY: &str = "sim-key-0123456789abcdef";
/// 2026-01-01T00:00:00Z.
const NOW_MS: i64 = 1_767_225_600_000;

struct Rail {
    client: VisaDirectClient,
    simulator: Simulator,
    base: String,
}

async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

async fn spawn_rail() -> Rail {
    let simulator = Simulator::new(&ApiKey::parse(KEY).unwrap());
    let base = serve(simulator.router()).await;
    Rail {
        client: client_of(&base, KEY),
        simulator,
        base,
    }
}

fn client_of(base: &str, key: &str) -> VisaDirectClient {
    VisaDirectClient::new(
        &parse_rail_url(base).unwrap(),
        ApiKey::parse(key).unwrap(),
        Acquirer::sandbox(),
    )
    .unwrap()
}

async fn link(rail: &impl CardRail, number: &str) -> CardToken {
    let card = CardNumber::parse(number).unwrap();
    rail.tokenize(&card, Expiry::new(2030, 12).unwrap())
        .await
        .unwrap()
}

fn transfer(id: u128, token: &CardToken, minor: i64, currency: Currency) -> CardTransfer {
    CardTransfer::new(
        TransferId::new(id).unwrap(),
        token.clone(),
        Amount::from_minor(minor, currency).unwrap(),
        UtcMoment::from_unix_ms(NOW_MS).unwrap(),
    )
}

/// The trace numbers the rail sends for `transfer`.
fn trace(transfer: &CardTransfer) -> TraceNumbers {
    TraceNumbers::for_transfer(transfer.transfer_id())
}

fn declined(code: &str) -> RailOutcome {
    let action_code = ActionCode::new(code).unwrap();
    RailOutcome::Declined {
        reason: decline_reason(action_code),
        code: decline_code(action_code).unwrap(),
    }
}

fn is_approved(outcome: &RailOutcome) -> bool {
    matches!(outcome, RailOutcome::Approved { .. })
}

fn pending_id(outcome: RailOutcome) -> RailReference {
    match outcome {
        RailOutcome::Pending { reference } => reference,
        other => panic!("expected pending, got {other:?}"),
    }
}

/// `(count, minor)` of one movement of one currency, zeros when none.
fn movement(
    totals: &SimulatorTotals,
    currency: &str,
    pick: fn(&CurrencyTotals) -> &Movement,
) -> (u64, i64) {
    totals
        .currencies
        .get(currency)
        .map(|t| {
            let m = pick(t);
            (m.count, m.minor)
        })
        .unwrap_or((0, 0))
}

#[tokio::test]
async fn every_test_card_has_its_outcome() {
    let rail = spawn_rail().await;
    let cases = [
        (test_cards::APPROVE_VISA, None),
        (test_cards::APPROVE_MASTERCARD, None),
        (test_cards::DO_NOT_HONOR, Some("05")),
        (test_cards::INSUFFICIENT_FUNDS, Some("51")),
        (test_cards::EXPIRED_CARD, Some("54")),
        (test_cards::SUSPECTED_FRAUD, Some("59")),
        (test_cards::OVER_LIMIT, Some("61")),
        ("6011111111111117", None),
    ];
    for (n, (number, decline)) in (1_u128..).zip(cases) {
        let token = link(&rail.client, number).await;
        let pulled = rail
            .client
            .pull(&transfer(n, &token, 2_000, Currency::USD))
            .await
            .unwrap();
        let pushed = rail
            .client
            .push(&transfer(100 + n, &token, 500, Currency::USD))
            .await
            .unwrap();
        for outcome in [pulled, pushed] {
            match decline {
                None => assert!(is_approved(&outcome), "{number}: {outcome:?}"),
                Some(code) => assert_eq!(outcome, declined(code), "{number}"),
            }
        }
    }
    let totals = rail.simulator.totals();
    assert_eq!(movement(&totals, "USD", |t| &t.pulls), (3, 6_000));
    assert_eq!(movement(&totals, "USD", |t| &t.pushes), (3, 1_500));
    let reason = decline_reason(ActionCode::new("51").unwrap());
    assert_eq!(reason.user_text(), "the card does not have enough funds");
}

#[tokio::test]
async fn approvals_carry_their_codes_and_reference() {
    let rail = spawn_rail().await;
    let token = link(&rail.client, test_cards::APPROVE_VISA).await;
    let request = transfer(7, &token, 2_000, Currency::USD);
    let RailOutcome::Approved { reference } = rail.client.pull(&request).await.unwrap() else {
        panic!("not approved")
    };
    let approval = Approval::from_reference(&reference).unwrap();
    assert!(approval.approval_code().is_some());
    assert_eq!(approval.retrieval_reference(), trace(&request).rrn());
}

#[tokio::test]
async fn slow_requests_are_decided_on_the_status_query() {
    let rail = spawn_rail().await;
    let slow_yes = link(&rail.client, test_cards::SLOW_APPROVE).await;
    let slow_no = link(&rail.client, test_cards::SLOW_DECLINE).await;

    let pull = transfer(1, &slow_yes, 2_000, Currency::USD);
    let status = pending_id(rail.client.pull(&pull).await.unwrap());
    assert_eq!(
        StatusId::from_reference(&status)
            .unwrap()
            .retrieval_reference(),
        trace(&pull).rrn()
    );
    // Not counted while pending; a resend is still pending, at the same id.
    assert_eq!(
        movement(&rail.simulator.totals(), "USD", |t| &t.pulls),
        (0, 0)
    );
    assert_eq!(pending_id(rail.client.pull(&pull).await.unwrap()), status);
    // The status id survives storage as text.
    let stored = RailReference::new(&status.to_string()).unwrap();
    assert!(stored.as_str().parse::<StatusId>().is_ok());
    let decided = rail.client.status(&stored).await.unwrap();
    assert!(is_approved(&decided), "{decided:?}");
    // Asking again, or resending, answers the same and counts nothing more.
    assert_eq!(rail.client.status(&stored).await.unwrap(), decided);
    assert_eq!(rail.client.pull(&pull).await.unwrap(), decided);
    assert_eq!(
        movement(&rail.simulator.totals(), "USD", |t| &t.pulls),
        (1, 2_000)
    );

    let push = transfer(2, &slow_no, 1_000, Currency::USD);
    let status = pending_id(rail.client.push(&push).await.unwrap());
    assert_eq!(rail.client.status(&status).await.unwrap(), declined("05"));
    assert_eq!(rail.client.push(&push).await.unwrap(), declined("05"));
    assert_eq!(
        movement(&rail.simulator.totals(), "USD", |t| &t.pushes),
        (0, 0)
    );

    // A slow push is approved on the status query too.
    let push = transfer(3, &slow_yes, 1_000, Currency::USD);
    let status = pending_id(rail.client.push(&push).await.unwrap());
    assert!(is_approved(&rail.client.status(&status).await.unwrap()));
    assert_eq!(
        movement(&rail.simulator.totals(), "USD", |t| &t.pushes),
        (1, 1_000)
    );

    // An id asked at the wrong endpoint, or made up, is refused.
    let wrong_endpoint =
        RailReference::new(&status.to_string().replacen("push", "pull", 1)).unwrap();
    let made_up = RailReference::new("pull:nope:000000000001").unwrap();
    for id in [wrong_endpoint, made_up] {
        assert!(matches!(
            rail.client.status(&id).await,
            Err(RailError::Permanent(_))
        ));
    }
}

#[tokio::test]
async fn a_resend_is_answered_once_and_counted_once() {
    let rail = spawn_rail().await;
    let token = link(&rail.client, test_cards::APPROVE_VISA).await;
    let pull = transfer(9, &token, 2_000, Currency::USD);
    let first = rail.client.pull(&pull).await.unwrap();
    // A resend after a crash: a new CardTransfer from the same stored
    // fields is the same request.
    let rebuilt = transfer(9, &token, 2_000, Currency::USD);
    for _ in 0..3 {
        assert_eq!(rail.client.pull(&rebuilt).await.unwrap(), first);
    }
    let declined_token = link(&rail.client, test_cards::DO_NOT_HONOR).await;
    let no = transfer(10, &declined_token, 2_000, Currency::USD);
    assert_eq!(rail.client.pull(&no).await.unwrap(), declined("05"));
    assert_eq!(rail.client.pull(&no).await.unwrap(), declined("05"));
    assert_eq!(
        movement(&rail.simulator.totals(), "USD", |t| &t.pulls),
        (1, 2_000)
    );
}

#[tokio::test]
async fn the_same_trace_numbers_with_other_fields_are_refused() {
    let rail = spawn_rail().await;
    let token = link(&rail.client, test_cards::APPROVE_VISA).await;
    let other_token = link(&rail.client, test_cards::APPROVE_MASTERCARD).await;
    assert!(is_approved(
        &rail
            .client
            .pull(&transfer(5, &token, 2_000, Currency::USD))
            .await
            .unwrap()
    ));
    let changed = [
        transfer(5, &token, 2_001, Currency::USD),
        transfer(5, &token, 2_000, Currency::EUR),
        transfer(5, &other_token, 2_000, Currency::USD),
    ];
    for request in &changed {
        let refused = rail.client.pull(request).await;
        assert!(
            matches!(refused, Err(RailError::Permanent(_))),
            "{refused:?}"
        );
    }
    // A push under a pull's trace numbers is a different request too.
    assert!(matches!(
        rail.client
            .push(&transfer(5, &token, 2_000, Currency::USD))
            .await,
        Err(RailError::Permanent(_))
    ));
    let totals = rail.simulator.totals();
    assert_eq!(movement(&totals, "USD", |t| &t.pulls), (1, 2_000));
    assert!(!totals.currencies.contains_key("EUR"));
}

#[tokio::test]
async fn a_pull_is_reversed_at_most_once() {
    let rail = spawn_rail().await;
    let token = link(&rail.client, test_cards::APPROVE_VISA).await;
    let pull = transfer(11, &token, 2_500, Currency::USD);
    assert!(is_approved(&rail.client.pull(&pull).await.unwrap()));
    let reversed = rail.client.reverse(&pull).await.unwrap();
    let RailOutcome::Approved { reference } = &reversed else {
        panic!("{reversed:?}")
    };
    assert_eq!(
        Approval::from_reference(reference)
            .unwrap()
            .retrieval_reference(),
        TraceNumbers::for_reversal(pull.transfer_id()).rrn()
    );
    // The resent reversal is recognised: same answer, nothing moves.
    assert_eq!(rail.client.reverse(&pull).await.unwrap(), reversed);
    let totals = rail.simulator.totals();
    assert_eq!(movement(&totals, "USD", |t| &t.reversals), (1, 2_500));
    assert_eq!(totals.currencies["USD"].net_minor, 0);
    assert_eq!(totals.currencies["USD"].net_amount, "0.00");

    // A second reversal of it, under other trace numbers, is refused.
    let second = serde_json::json!({
        "systemsTraceAuditNumber": "123456",
        "retrievalReferenceNumber": "000000123456",
        "localTransactionDateTime": "2026-01-01T00:00:00",
        "acquiringBin": "408999",
        "acquirerCountryCode": "840",
        "senderPrimaryAccountNumber": token.as_str(),
        "senderCurrencyCode": "USD",
        "amount": "25.00",
        "cardAcceptor": {"name": "paybot", "terminalId": "PAYBOT01", "idCode": "PAYBOT-WALLET", "address": {"country": "USA"}},
        "originalDataElements": {
            "systemsTraceAuditNumber": trace(&pull).stan().as_str(),
            "retrievalReferenceNumber": trace(&pull).rrn().as_str(),
            "acquiringBin": "408999",
            "transmissionDateTime": "2026-01-01T00:00:00",
        },
    });
    let response = reqwest::Client::new()
        .post(format!(
            "{}/visadirect/fundstransfer/v1/reversefundstransactions",
            rail.base
        ))
        .header(API_KEY_HEADER, KEY)
        .json(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(
        movement(&rail.simulator.totals(), "USD", |t| &t.reversals),
        (1, 2_500)
    );

    // Only an approved pull can be reversed.
    let never_sent = transfer(12, &token, 2_500, Currency::USD);
    let declined_token = link(&rail.client, test_cards::DO_NOT_HONOR).await;
    let declined_pull = transfer(13, &declined_token, 2_500, Currency::USD);
    rail.client.pull(&declined_pull).await.unwrap();
    let push = transfer(14, &token, 2_500, Currency::USD);
    assert!(is_approved(&rail.client.push(&push).await.unwrap()));
    for original in [&never_sent, &declined_pull, &push] {
        let refused = rail.client.reverse(original).await;
        assert!(
            matches!(refused, Err(RailError::Permanent(_))),
            "{refused:?}"
        );
    }
    assert_eq!(
        movement(&rail.simulator.totals(), "USD", |t| &t.reversals),
        (1, 2_500)
    );
}

#[tokio::test]
async fn a_wrong_api_key_is_a_permanent_error() {
    let rail = spawn_rail().await;
    let token = link(&rail.client, test_cards::APPROVE_VISA).await;
    let stranger = client_of(&rail.base, "not-the-key-0123456789");
    let card = CardNumber::parse(test_cards::APPROVE_VISA).unwrap();
    let expiry = Expiry::new(2030, 12).unwrap();
    assert!(matches!(
        stranger.tokenize(&card, expiry).await,
        Err(RailError::Permanent(_))
    ));
    let refused = stranger
        .pull(&transfer(1, &token, 2_000, Currency::USD))
        .await;
    let Err(RailError::Permanent(text)) = refused else {
        panic!("{refused:?}")
    };
    assert!(text.contains("401"), "{text}");
    assert!(!format!("{stranger:?}").contains("not-the-key"));
    assert!(!format!("{:?}", rail.client).contains(KEY));

    // Without the header at all: a 401 with a JSON body, on every endpoint.
    let http = reqwest::Client::new();
    for path in [
        "/simulator/totals",
        "/visadirect/fundstransfer/v1/pullfundstransactions/x",
    ] {
        let response = http
            .get(format!("{}{path}", rail.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["responseStatus"]["status"], 401, "{body}");
    }
    let response = http
        .post(format!(
            "{}/visadirect/fundstransfer/v1/pullfundstransactions",
            rail.base
        ))
        .header(API_KEY_HEADER, "wrong-key-0123456789")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        movement(&rail.simulator.totals(), "USD", |t| &t.pulls),
        (0, 0)
    );
}

#[tokio::test]
async fn totals_are_served_as_json_with_minor_units_and_decimals() {
    let rail = spawn_rail().await;
    let token = link(&rail.client, test_cards::APPROVE_VISA).await;
    let visa = transfer(1, &token, 2_000, Currency::USD);
    rail.client.pull(&visa).await.unwrap();
    rail.client
        .pull(&transfer(2, &token, 1_050, Currency::USD))
        .await
        .unwrap();
    rail.client
        .push(&transfer(3, &token, 4_000, Currency::USD))
        .await
        .unwrap();
    rail.client
        .pull(&transfer(4, &token, 500, Currency::JPY))
        .await
        .unwrap();
    rail.client.reverse(&visa).await.unwrap();

    let response = reqwest::Client::new()
        .get(format!("{}/simulator/totals", rail.base))
        .header(API_KEY_HEADER, KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    let usd = &body["currencies"]["USD"];
    assert_eq!(usd["pulls"]["count"], 2);
    assert_eq!(usd["pulls"]["minor"], 3_050);
    assert_eq!(usd["pulls"]["amount"], "30.50");
    assert_eq!(usd["pushes"]["minor"], 4_000);
    assert_eq!(usd["pushes"]["amount"], "40.00");
    assert_eq!(usd["reversals"]["amount"], "20.00");
    assert_eq!(usd["net_minor"], -2_950);
    assert_eq!(usd["net_amount"], "-29.50");
    let jpy = &body["currencies"]["JPY"];
    assert_eq!(jpy["pulls"]["minor"], 500);
    assert_eq!(jpy["pulls"]["amount"], "500");
    let parsed: SimulatorTotals = serde_json::from_value(body).unwrap();
    assert_eq!(parsed, rail.simulator.totals());
}

#[tokio::test]
async fn amounts_reach_the_rail_exactly() {
    let rail = spawn_rail().await;
    let token = link(&rail.client, test_cards::APPROVE_VISA).await;
    for (id, minor, currency) in [
        (1, 1, Currency::USD),
        (2, 99, Currency::USD),
        (3, 123_456_789, Currency::USD),
        (4, 1, Currency::JPY),
        (5, 987_654, Currency::JPY),
    ] {
        let outcome = rail
            .client
            .pull(&transfer(id, &token, minor, currency))
            .await
            .unwrap();
        assert!(is_approved(&outcome));
    }
    let totals = rail.simulator.totals();
    assert_eq!(movement(&totals, "USD", |t| &t.pulls), (3, 123_456_889));
    assert_eq!(totals.currencies["USD"].pulls.amount, "1234568.89");
    assert_eq!(movement(&totals, "JPY", |t| &t.pulls), (2, 987_655));
    assert_eq!(totals.currencies["JPY"].pulls.amount, "987655");

    // The wire form itself: `"20.00"` and `"500"`, refused with decimals JPY
    // does not have.
    let http = reqwest::Client::new();
    let send = |body: serde_json::Value| {
        http.post(format!(
            "{}/visadirect/fundstransfer/v1/pullfundstransactions",
            rail.base
        ))
        .header(API_KEY_HEADER, KEY)
        .json(&body)
        .send()
    };
    let body = |stan: &str, amount: &str, currency: &str| {
        serde_json::json!({
            "systemsTraceAuditNumber": stan,
            "retrievalReferenceNumber": format!("000000{stan}"),
            "localTransactionDateTime": "2026-01-01T00:00:00",
            "acquiringBin": "408999",
            "acquirerCountryCode": "840",
            "senderPrimaryAccountNumber": token.as_str(),
            "senderCurrencyCode": currency,
            "amount": amount,
            "businessApplicationId": "AA",
            "cardAcceptor": {"name": "paybot", "terminalId": "PAYBOT01", "idCode": "PAYBOT-WALLET", "address": {"country": "USA"}},
        })
    };
    assert_eq!(
        send(body("900001", "20.00", "USD")).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        send(body("900002", "500", "JPY")).await.unwrap().status(),
        StatusCode::OK
    );
    for (stan, amount, currency) in [
        ("900003", "500.5", "JPY"),
        ("900004", "20.001", "USD"),
        ("900005", "20.0O", "USD"),
        ("900006", "-1.00", "USD"),
        ("900007", "1.00", "XYZ"),
    ] {
        let response = send(body(stan, amount, currency)).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{amount} {currency}"
        );
    }
}

#[tokio::test]
async fn cards_are_tokenized_once_and_tokens_hide_the_number() {
    let rail = spawn_rail().await;
    let first = link(&rail.client, test_cards::APPROVE_VISA).await;
    let again = link(&rail.client, "4111 1111 1111 1111").await;
    let other = link(&rail.client, test_cards::APPROVE_MASTERCARD).await;
    assert_eq!(first, again);
    assert_ne!(first, other);
    assert!(!first.as_str().contains("1111111"));
    // An unknown token is declined as an invalid card (14).
    let forged = CardToken::new("tok_sim_999999999999").unwrap();
    assert_eq!(
        rail.client
            .pull(&transfer(1, &forged, 100, Currency::USD))
            .await
            .unwrap(),
        declined("14")
    );
}

#[tokio::test]
async fn the_in_process_client_gets_the_same_answers() {
    let key = ApiKey::parse(KEY).unwrap();
    let simulator = Simulator::new(&key);
    let client = VisaDirectClient::in_process(&simulator, key, Acquirer::sandbox());
    let token = link(&client, test_cards::APPROVE_VISA).await;
    let pull = transfer(1, &token, 2_000, Currency::USD);
    let first = client.pull(&pull).await.unwrap();
    assert!(is_approved(&first));
    assert_eq!(client.pull(&pull).await.unwrap(), first);
    let slow = link(&client, test_cards::SLOW_DECLINE).await;
    let status = pending_id(
        client
            .pull(&transfer(2, &slow, 100, Currency::USD))
            .await
            .unwrap(),
    );
    assert_eq!(client.status(&status).await.unwrap(), declined("05"));
    assert_eq!(
        movement(&simulator.totals(), "USD", |t| &t.pulls),
        (1, 2_000)
    );
    let stranger = VisaDirectClient::in_process(
        &simulator,
        ApiKey::parse("not-the-key-0123456789").unwrap(),
        Acquirer::sandbox(),
    );
    assert!(matches!(
        stranger.pull(&pull).await,
        Err(RailError::Permanent(_))
    ));
}

#[tokio::test]
async fn an_unreachable_or_failing_rail_is_transient() {
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let token = CardToken::new("tok_sim_000000000001").unwrap();
    let pull = transfer(1, &token, 100, Currency::USD);
    let unreachable = client_of(&closed, KEY);
    assert!(matches!(
        unreachable.pull(&pull).await,
        Err(RailError::Transient(_))
    ));

    // A rail that fails: 500, 503, and a 200 nobody can read.
    let failing = Router::new()
        .route(
            "/visadirect/fundstransfer/v1/pullfundstransactions",
            axum::routing::post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/visadirect/fundstransfer/v1/pushfundstransactions",
            axum::routing::post(|| async { (StatusCode::OK, "<html>") }),
        );
    let client = client_of(&serve(failing).await, KEY);
    assert!(matches!(
        client.pull(&pull).await,
        Err(RailError::Transient(_))
    ));
    assert!(matches!(
        client.push(&pull).await,
        Err(RailError::Transient(_))
    ));
    // Unknown paths are the rail refusing: permanent.
    assert!(matches!(
        client.reverse(&pull).await,
        Err(RailError::Permanent(_))
    ));
}
