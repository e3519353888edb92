use super::*;

fn parse(toml_like_json: &str) -> Result<TenantSettings, String> {
    serde_json::from_str(toml_like_json).map_err(|e| e.to_string())
}

#[test]
fn defaults_follow_metrics_md() {
    let t = TenantSettings::default();
    let q = t.queue("any");
    assert_eq!(q.sl_threshold_ms(Channel::Voice), 20_000);
    assert_eq!(q.sl_threshold_ms(Channel::Chat), 60_000);
    assert_eq!(q.sl_threshold_ms(Channel::Email), 3_600_000);
    assert_eq!(q.sl_target_pct, 80.0);
    assert_eq!(q.sl_formula, SlFormula::AbandonsCount);
    assert_eq!(q.short_abandon_ms(), 5_000);
    assert!(
        t.in_business_hours(Some("any"), 0),
        "no plan means always open"
    );
}

#[test]
fn queue_overrides_merge_over_defaults() {
    let t = parse(
        r#"{"timezone":"America/New_York",
            "queue_defaults":{"sl_threshold_s":30,"short_abandon_s":10},
            "queues":{"vip":{"sl_formula":"all_offered","sl_threshold_s":10}}}"#,
    )
    .unwrap();
    let vip = t.queue("vip");
    assert_eq!(vip.sl_threshold_ms(Channel::Voice), 10_000);
    assert_eq!(vip.short_abandon_ms(), 10_000);
    assert_eq!(vip.sl_formula, SlFormula::AllOffered);
    let other = t.queue("other");
    assert_eq!(other.sl_threshold_ms(Channel::Chat), 30_000);
    assert_eq!(other.sl_formula, SlFormula::AbandonsCount);
}

#[test]
fn business_hours_are_read_in_the_tenant_zone() {
    let t = parse(
        r#"{"timezone":"America/New_York",
            "business_hours":{"days":["mon","tue","wed","thu","fri"],"open":"08:00","close":"20:00"}}"#,
    )
    .unwrap();
    // Monday 2026-11-16 12:59:59 UTC = 07:59:59 EST: closed; 13:00 UTC = 08:00: open.
    let monday_0800_est = 1_794_834_000_000;
    assert!(!t.in_business_hours(None, monday_0800_est - 1));
    assert!(t.in_business_hours(None, monday_0800_est));
    // 20:00 EST is closing time: closed.
    assert!(!t.in_business_hours(None, monday_0800_est + 12 * 3_600_000));
    // Saturday: closed all day.
    assert!(!t.in_business_hours(None, monday_0800_est + 5 * 86_400_000 + 3_600_000));
}

#[test]
fn per_day_plans_and_queue_plans() {
    let t = parse(
        r#"{"timezone":"UTC",
            "business_hours":{"mon":["08:00-12:00","13:00-24:00"]},
            "queues":{"night":{"business_hours":{"sun":["00:00-06:00"]}}}}"#,
    )
    .unwrap();
    let monday = 1_794_787_200_000; // 2026-11-16T00:00Z, a Monday
    assert!(t.in_business_hours(None, monday + 8 * 3_600_000));
    assert!(!t.in_business_hours(None, monday + 12 * 3_600_000 + 1));
    assert!(t.in_business_hours(None, monday + 24 * 3_600_000 - 1));
    assert!(!t.in_business_hours(Some("night"), monday + 9 * 3_600_000));
    assert!(t.in_business_hours(Some("night"), monday - 20 * 3_600_000));
    let round_trip: TenantSettings =
        serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    assert_eq!(round_trip, t);
}

#[test]
fn invalid_values_have_clear_messages() {
    let cases = [
        (r#"{"timezone":"Mars/Olympus"}"#, "not an IANA time zone"),
        (
            r#"{"business_hours":{"days":["funday"],"open":"08:00","close":"20:00"}}"#,
            "`funday` is not a weekday",
        ),
        (
            r#"{"business_hours":{"days":["mon"],"open":"20:00","close":"08:00"}}"#,
            "is not before closing",
        ),
        (
            r#"{"business_hours":{"mon":["8-20"]}}"#,
            "is not a time of day",
        ),
        (
            r#"{"queues":{"q":{"sl_formula":"magic"}}}"#,
            "unknown variant",
        ),
        (r#"{"queues":{"q":{"threshold":5}}}"#, "unknown field"),
    ];
    for (input, expected) in cases {
        let err = parse(input).expect_err(input);
        assert!(err.contains(expected), "{input}: {err}");
    }
    let t = parse(r#"{"queues":{"q":{"sl_target_pct":120}}}"#).unwrap();
    assert_eq!(
        t.validate().unwrap_err(),
        "queues.q.sl_target_pct: 120 is not a percentage (0 to 100)"
    );
}
