//! One line of an Anonymous Bank file, split into its 17 columns and checked field by field.
//!
//! Parsing is strict about form (a time is `H:MM:SS`, a date is `YYMMDD` in 1999, a count is
//! an integer) and says nothing about meaning: whether the times make sense together is
//! decided in [`super::convert`]. A line that fails here is skipped by the importer with the
//! [`LineError`] as its reason; nothing in this module panics on any input.

use chrono::NaiveDate;

/// Number of tab-separated columns of a record (and of the header).
pub(crate) const FIELD_COUNT: usize = 17;

/// Seconds in a day.
pub(crate) const DAY_SECS: u32 = 86_400;

/// The columns of the file, in file order; the header must name them exactly so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// `vru+line`: VRU and line, e.g. `AA0101`.
    VruLine,
    /// `call_id`: a per-line counter, not unique across lines.
    CallId,
    /// `customer_id`: `0` when the caller was not identified.
    CustomerId,
    /// `priority`: 0, 1 (regular) or 2 (high).
    Priority,
    /// `type`: the service type, e.g. `PS`.
    Type,
    /// `date`: `YYMMDD`.
    Date,
    /// `vru_entry`: the call reached the VRU.
    VruEntry,
    /// `vru_exit`: the call left the VRU.
    VruExit,
    /// `vru_time`: seconds in the VRU.
    VruTime,
    /// `q_start`: joined the queue; `0:00:00` if never queued.
    QStart,
    /// `q_exit`: left the queue.
    QExit,
    /// `q_time`: seconds in the queue.
    QTime,
    /// `outcome`: `AGENT`, `HANG` or `PHANTOM`.
    Outcome,
    /// `ser_start`: service began; `0:00:00` if never served.
    SerStart,
    /// `ser_exit`: service ended.
    SerExit,
    /// `ser_time`: seconds of service.
    SerTime,
    /// `server`: the agent's name, or `NO_SERVER`.
    Server,
}

impl Field {
    /// Every column, in file order.
    pub const ALL: [Field; FIELD_COUNT] = [
        Field::VruLine,
        Field::CallId,
        Field::CustomerId,
        Field::Priority,
        Field::Type,
        Field::Date,
        Field::VruEntry,
        Field::VruExit,
        Field::VruTime,
        Field::QStart,
        Field::QExit,
        Field::QTime,
        Field::Outcome,
        Field::SerStart,
        Field::SerExit,
        Field::SerTime,
        Field::Server,
    ];

    /// The column name as the header spells it.
    pub fn name(self) -> &'static str {
        match self {
            Field::VruLine => "vru+line",
            Field::CallId => "call_id",
            Field::CustomerId => "customer_id",
            Field::Priority => "priority",
            Field::Type => "type",
            Field::Date => "date",
            Field::VruEntry => "vru_entry",
            Field::VruExit => "vru_exit",
            Field::VruTime => "vru_time",
            Field::QStart => "q_start",
            Field::QExit => "q_exit",
            Field::QTime => "q_time",
            Field::Outcome => "outcome",
            Field::SerStart => "ser_start",
            Field::SerExit => "ser_exit",
            Field::SerTime => "ser_time",
            Field::Server => "server",
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A clock time of the record's day, in seconds since local midnight (`0..86_400`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Clock(pub(crate) u32);

impl Clock {
    /// `0:00:00`, which the data uses for "this stage did not happen".
    pub(crate) const ZERO: Clock = Clock(0);

    pub(crate) fn is_zero(self) -> bool {
        self == Clock::ZERO
    }
}

impl std::fmt::Display for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0;
        write!(f, "{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    }
}

/// The `outcome` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `AGENT`: served.
    Agent,
    /// `HANG`: hung up, in the queue if it queued, otherwise in the VRU.
    Hang,
    /// `PHANTOM`: a spurious record the data's authors say to ignore.
    Phantom,
}

/// The `customer_id` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Customer<'a> {
    /// `0`: not identified by the VRU.
    Unknown,
    /// A numeric id.
    Id(&'a str),
    /// A number in spreadsheet scientific notation (`6.02E+11`): the digits are lost.
    Scientific(&'a str),
}

/// One record, every field parsed; string fields borrow from the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    pub(crate) vru_line: &'a str,
    pub(crate) call_id: u32,
    pub(crate) customer: Customer<'a>,
    pub(crate) priority: u8,
    pub(crate) call_type: &'a str,
    pub(crate) date: NaiveDate,
    pub(crate) vru_entry: Clock,
    pub(crate) vru_exit: Clock,
    pub(crate) vru_time: i64,
    pub(crate) q_start: Clock,
    pub(crate) q_exit: Clock,
    pub(crate) q_time: i64,
    pub(crate) outcome: Outcome,
    pub(crate) ser_start: Clock,
    pub(crate) ser_exit: Clock,
    pub(crate) ser_time: i64,
    /// `None` for `NO_SERVER`.
    pub(crate) server: Option<&'a str>,
}

/// Why a line is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineError {
    /// Not 17 tab-separated fields.
    FieldCount(usize),
    /// One field does not have its form.
    Field {
        field: Field,
        value: String,
        problem: &'static str,
    },
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineError::FieldCount(found) => {
                write!(
                    f,
                    "expected {FIELD_COUNT} tab-separated fields, found {found}"
                )
            }
            LineError::Field {
                field,
                value,
                problem,
            } => write!(f, "`{field}` = {value:?}: {problem}"),
        }
    }
}

/// Parses one line (without its line ending).
pub(crate) fn parse_line(line: &str) -> Result<Record<'_>, LineError> {
    let mut cols = [""; FIELD_COUNT];
    let mut found = 0;
    for col in line.split('\t') {
        if found < FIELD_COUNT {
            cols[found] = col.trim();
        }
        found += 1;
    }
    if found != FIELD_COUNT {
        return Err(LineError::FieldCount(found));
    }
    let col = |field: Field| cols[field as usize];

    Ok(Record {
        vru_line: name(col(Field::VruLine), Field::VruLine)?,
        call_id: unsigned(col(Field::CallId), Field::CallId)?,
        customer: customer(col(Field::CustomerId))?,
        priority: priority(col(Field::Priority))?,
        call_type: name(col(Field::Type), Field::Type)?,
        date: date(col(Field::Date))?,
        vru_entry: clock(col(Field::VruEntry), Field::VruEntry)?,
        vru_exit: clock(col(Field::VruExit), Field::VruExit)?,
        vru_time: seconds(col(Field::VruTime), Field::VruTime)?,
        q_start: clock(col(Field::QStart), Field::QStart)?,
        q_exit: clock(col(Field::QExit), Field::QExit)?,
        q_time: seconds(col(Field::QTime), Field::QTime)?,
        outcome: outcome(col(Field::Outcome))?,
        ser_start: clock(col(Field::SerStart), Field::SerStart)?,
        ser_exit: clock(col(Field::SerExit), Field::SerExit)?,
        ser_time: seconds(col(Field::SerTime), Field::SerTime)?,
        server: server(col(Field::Server))?,
    })
}

fn invalid(field: Field, value: &str, problem: &'static str) -> LineError {
    LineError::Field {
        field,
        value: value.chars().take(40).collect(),
        problem,
    }
}

/// A code used in ids: 1 to 16 ASCII letters and digits.
fn name(value: &str, field: Field) -> Result<&str, LineError> {
    if value.is_empty() || value.len() > 16 || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid(
            field,
            value,
            "expected 1-16 ASCII letters or digits",
        ));
    }
    Ok(value)
}

fn all_digits(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

fn unsigned(value: &str, field: Field) -> Result<u32, LineError> {
    if !all_digits(value) {
        return Err(invalid(field, value, "expected a number"));
    }
    value
        .parse()
        .map_err(|_| invalid(field, value, "number too large"))
}

fn customer(value: &str) -> Result<Customer<'_>, LineError> {
    if all_digits(value) {
        if value.len() > 20 {
            return Err(invalid(Field::CustomerId, value, "more than 20 digits"));
        }
        if value.bytes().all(|b| b == b'0') {
            return Ok(Customer::Unknown);
        }
        return Ok(Customer::Id(value));
    }
    if is_scientific(value) {
        return Ok(Customer::Scientific(value));
    }
    Err(invalid(
        Field::CustomerId,
        value,
        "expected digits (0 = unknown customer)",
    ))
}

/// `d.ddE+dd`, as a spreadsheet writes a large number.
fn is_scientific(value: &str) -> bool {
    let Some((mantissa, exponent)) = value.split_once(['E', 'e']) else {
        return false;
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, "0"));
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    all_digits(int) && all_digits(frac) && all_digits(exponent) && exponent.len() <= 2
}

fn priority(value: &str) -> Result<u8, LineError> {
    match value.as_bytes() {
        [digit @ b'0'..=b'9'] => Ok(digit - b'0'),
        _ => Err(invalid(Field::Priority, value, "expected one digit")),
    }
}

/// `YYMMDD` of 1999.
fn date(value: &str) -> Result<NaiveDate, LineError> {
    if value.len() != 6 || !all_digits(value) {
        return Err(invalid(Field::Date, value, "expected YYMMDD"));
    }
    let num = |range: std::ops::Range<usize>| value[range].parse::<u32>().unwrap_or(0);
    if num(0..2) != 99 {
        return Err(invalid(Field::Date, value, "not in 1999 (expected 99MMDD)"));
    }
    NaiveDate::from_ymd_opt(1999, num(2..4), num(4..6))
        .ok_or_else(|| invalid(Field::Date, value, "no such calendar date"))
}

/// `H:MM:SS` or `HH:MM:SS`, 0:00:00 to 23:59:59.
fn clock(value: &str, field: Field) -> Result<Clock, LineError> {
    let bad = || invalid(field, value, "expected a time H:MM:SS");
    let mut parts = value.split(':');
    let (Some(h), Some(m), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if !(1..=2).contains(&h.len()) || m.len() != 2 || s.len() != 2 {
        return Err(bad());
    }
    if !all_digits(h) || !all_digits(m) || !all_digits(s) {
        return Err(bad());
    }
    let (h, m, s): (u32, u32, u32) = (
        h.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        s.parse().map_err(|_| bad())?,
    );
    if h > 23 || m > 59 || s > 59 {
        return Err(invalid(field, value, "time out of range"));
    }
    Ok(Clock(h * 3600 + m * 60 + s))
}

/// A whole number of seconds, possibly negative (`vru_time` has negative values).
fn seconds(value: &str, field: Field) -> Result<i64, LineError> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if !all_digits(digits) || digits.len() > 6 {
        return Err(invalid(field, value, "expected a whole number of seconds"));
    }
    value
        .parse()
        .map_err(|_| invalid(field, value, "expected a whole number of seconds"))
}

fn outcome(value: &str) -> Result<Outcome, LineError> {
    match value {
        "AGENT" => Ok(Outcome::Agent),
        "HANG" => Ok(Outcome::Hang),
        "PHANTOM" => Ok(Outcome::Phantom),
        _ => Err(invalid(
            Field::Outcome,
            value,
            "expected AGENT, HANG or PHANTOM",
        )),
    }
}

fn server(value: &str) -> Result<Option<&str>, LineError> {
    if value == "NO_SERVER" {
        return Ok(None);
    }
    if value.is_empty() || value.len() > 64 || value.chars().any(char::is_control) {
        return Err(invalid(
            Field::Server,
            value,
            "expected an agent name or NO_SERVER",
        ));
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVED: &str = "AA0101\t33118\t27997683\t2\tPS\t990101\t6:55:20\t6:55:26\t6\t6:55:26\t6:55:43\t17\tAGENT\t6:55:43\t6:56:37\t54\tMICHAL";

    fn with(field: Field, value: &str) -> String {
        let mut cols: Vec<&str> = SERVED.split('\t').collect();
        cols[field as usize] = value;
        cols.join("\t")
    }

    fn problem(line: &str) -> (Field, &'static str) {
        match parse_line(line) {
            Err(LineError::Field { field, problem, .. }) => (field, problem),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_served_call() {
        let record = parse_line(SERVED).unwrap();
        assert_eq!(record.vru_line, "AA0101");
        assert_eq!(record.call_id, 33118);
        assert_eq!(record.customer, Customer::Id("27997683"));
        assert_eq!(record.priority, 2);
        assert_eq!(record.call_type, "PS");
        assert_eq!(record.date, NaiveDate::from_ymd_opt(1999, 1, 1).unwrap());
        assert_eq!(record.vru_entry, Clock(6 * 3600 + 55 * 60 + 20));
        assert_eq!(record.q_time, 17);
        assert_eq!(record.outcome, Outcome::Agent);
        assert_eq!(record.server, Some("MICHAL"));
        assert_eq!(record.ser_exit.to_string(), "6:56:37");
    }

    #[test]
    fn reads_the_special_values() {
        let line = with(Field::Server, "NO_SERVER");
        assert_eq!(parse_line(&line).unwrap().server, None);
        let line = with(Field::CustomerId, "0");
        assert_eq!(parse_line(&line).unwrap().customer, Customer::Unknown);
        let line = with(Field::CustomerId, "6.02E+11");
        assert_eq!(
            parse_line(&line).unwrap().customer,
            Customer::Scientific("6.02E+11")
        );
        let line = with(Field::VruTime, "-37");
        assert_eq!(parse_line(&line).unwrap().vru_time, -37);
        let line = with(Field::QStart, "00:00:00");
        assert!(parse_line(&line).unwrap().q_start.is_zero());
    }

    #[test]
    fn counts_fields() {
        assert_eq!(
            parse_line("AA0101\t33118\t0"),
            Err(LineError::FieldCount(3))
        );
        assert_eq!(
            parse_line(&format!("{SERVED}\textra")),
            Err(LineError::FieldCount(18))
        );
        assert_eq!(parse_line(""), Err(LineError::FieldCount(1)));
    }

    #[test]
    fn rejects_malformed_fields() {
        assert_eq!(
            problem(&with(Field::VruEntry, "7:4x:16")).0,
            Field::VruEntry
        );
        assert_eq!(
            problem(&with(Field::QExit, "24:00:00")).1,
            "time out of range"
        );
        assert_eq!(problem(&with(Field::SerStart, "7:41")).0, Field::SerStart);
        assert_eq!(
            problem(&with(Field::SerExit, "7:41:16:00")).0,
            Field::SerExit
        );
        assert_eq!(
            problem(&with(Field::Date, "991332")).1,
            "no such calendar date"
        );
        assert_eq!(
            problem(&with(Field::Date, "990229")).1,
            "no such calendar date"
        );
        assert_eq!(
            problem(&with(Field::Date, "000101")).1,
            "not in 1999 (expected 99MMDD)"
        );
        assert_eq!(problem(&with(Field::Date, "99011")).0, Field::Date);
        assert_eq!(problem(&with(Field::Outcome, "agent")).0, Field::Outcome);
        assert_eq!(problem(&with(Field::CallId, "-5")).0, Field::CallId);
        assert_eq!(
            problem(&with(Field::CallId, "99999999999")).0,
            Field::CallId
        );
        assert_eq!(problem(&with(Field::Priority, "12")).0, Field::Priority);
        assert_eq!(problem(&with(Field::QTime, "1.5")).0, Field::QTime);
        assert_eq!(problem(&with(Field::VruTime, "-")).0, Field::VruTime);
        assert_eq!(
            problem(&with(Field::CustomerId, "abc")).0,
            Field::CustomerId
        );
        assert_eq!(
            problem(&with(Field::CustomerId, "1.2E")).0,
            Field::CustomerId
        );
        assert_eq!(problem(&with(Field::Type, "")).0, Field::Type);
        assert_eq!(problem(&with(Field::VruLine, "AA 01")).0, Field::VruLine);
        assert_eq!(problem(&with(Field::Server, "")).0, Field::Server);
    }

    #[test]
    fn error_messages_name_the_field_and_value() {
        let err = parse_line(&with(Field::VruEntry, "7:4x:16")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`vru_entry` = \"7:4x:16\": expected a time H:MM:SS"
        );
    }

    #[test]
    fn clock_displays_like_the_file() {
        assert_eq!(Clock(0).to_string(), "0:00:00");
        assert_eq!(Clock(DAY_SECS - 1).to_string(), "23:59:59");
    }
}
