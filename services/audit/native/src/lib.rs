//! The audit log's hot path: `data.accessed` records to leaf hashes and COPY rows.
//!
//! `prepare` does for a batch what `services.audit.records.decode`, `service.to_entry`,
//! `Entry.leaf` and `pgcopy.entry_row` do in Python, with the event loop's lock (the
//! GIL) released. It is a fast path only: a record it is not certain about (any
//! validation failure, a time in a spelling other than the plain RFC 3339 one, a NUL in
//! a text) is handed back by index, and Python reads it, refuses it with the reason, or
//! takes it. So it may be stricter than Python, never looser, and for every record it
//! takes its bytes must equal Python's; `tests/services/audit/test_audit_native.py`
//! checks both on random records.

use std::borrow::Cow;
use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Deserialize)]
struct Access<'a> {
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    schema_version: i64,
    #[serde(borrow)]
    occurred_at: Cow<'a, str>,
    #[serde(borrow)]
    producer: Cow<'a, str>,
    #[serde(borrow)]
    subject_id: Cow<'a, str>,
    #[serde(borrow)]
    payload: Payload<'a>,
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    organisation_id: Cow<'a, str>,
    #[serde(borrow, default)]
    organisation_country: Option<Cow<'a, str>>,
    #[serde(borrow)]
    actor: Cow<'a, str>,
    #[serde(borrow)]
    subject_id: Cow<'a, str>,
    #[serde(borrow, default)]
    subject_country: Option<Cow<'a, str>>,
    #[serde(borrow)]
    fields: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    purpose: Cow<'a, str>,
    #[serde(borrow)]
    legal_basis: Cow<'a, str>,
    #[serde(borrow, default)]
    legal_reference: Option<Cow<'a, str>>,
    #[serde(borrow)]
    channel: Cow<'a, str>,
    #[serde(borrow)]
    accessed_at: Cow<'a, str>,
    #[serde(borrow)]
    decision: Cow<'a, str>,
    #[serde(borrow, default)]
    decision_reason: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    consent_id: Option<Cow<'a, str>>,
    #[serde(default)]
    consent_version: Option<i64>,
    #[serde(borrow, default)]
    grant_id: Option<Cow<'a, str>>,
}

const LEGAL_BASES: [&str; 6] = [
    "consent",
    "contract",
    "legal_obligation",
    "legitimate_interest",
    "vital_interest",
    "public_task",
];
const DECISIONS: [&str; 2] = ["allow", "deny"];
/// 2000-01-01T00:00:00Z, PostgreSQL's epoch, in microseconds since 1970's.
const PG_EPOCH_US: i64 = 946_684_800_000_000;
const DAY_US: i64 = 86_400_000_000;
/// 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z, in microseconds since 1970's.
const FIRST_US: i64 = -62_135_596_800_000_000;
const END_US: i64 = 253_402_300_800_000_000;

/// One record, ready for the log.
struct Ready {
    event_id: String,
    leaf_hash: [u8; 32],
    row: Vec<u8>,
    personal: Vec<u8>,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn digits(text: &[u8]) -> Option<i64> {
    let mut value = 0i64;
    for &b in text {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(b - b'0');
    }
    Some(value)
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff][Z|+HH:MM|-HH:MM]` as microseconds since 1970 in UTC (a
/// time without a zone is UTC), and whether it had a zone. Any other spelling is left to
/// Python, which reads more of them.
fn parse_time(text: &str) -> Option<(i64, bool)> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if year < 1 || !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if day < 1 || day > month_days[(month - 1) as usize] {
        return None;
    }
    let mut rest = &b[19..];
    let mut micros = 0i64;
    if let Some((b'.', tail)) = rest.split_first() {
        let count = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if count == 0 || count > 6 {
            return None;
        }
        micros = digits(&tail[..count])? * 10i64.pow((6 - count) as u32);
        rest = &tail[count..];
    }
    let (offset_minutes, zoned) = match rest {
        [] => (0, false),
        [b'Z'] => (0, true),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if h > 23 || m > 59 || (*sign == b'-' && h == 0 && m == 0) {
                return None;
            }
            let minutes = h * 60 + m;
            (if *sign == b'-' { -minutes } else { minutes }, true)
        }
        _ => return None,
    };
    let local = (days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
        * 1_000_000
        + micros;
    Some((local - offset_minutes * 60_000_000, zoned))
}

/// ``2026-11-23T09:30:00.000000Z``, as ``services.audit.domain.timestamp`` writes it.
fn write_time(out: &mut Vec<u8>, unix_us: i64) {
    let (days, of_day) = (unix_us.div_euclid(DAY_US), unix_us.rem_euclid(DAY_US));
    let (year, month, day) = civil_from_days(days);
    let seconds = of_day / 1_000_000;
    for (value, width, after) in [
        (year, 4, b'-'),
        (month, 2, b'-'),
        (day, 2, b'T'),
        (seconds / 3600, 2, b':'),
        (seconds / 60 % 60, 2, b':'),
        (seconds % 60, 2, b'.'),
        (of_day % 1_000_000, 6, b'Z'),
    ] {
        write_digits(out, value, width);
        out.push(after);
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A JSON string as Python's ``json.dumps(..., ensure_ascii=False)`` writes it.
fn write_json_text(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]),
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_digits(out: &mut Vec<u8>, value: i64, width: usize) {
    let mut buffer = [b'0'; 20];
    let mut v = value;
    let mut i = buffer.len();
    while v > 0 || buffer.len() - i < width {
        i -= 1;
        buffer[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&buffer[i..]);
}

fn write_json_option(out: &mut Vec<u8>, text: &Option<Cow<str>>) {
    match text {
        Some(text) => write_json_text(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

fn is_country(text: &Option<Cow<str>>) -> bool {
    match text {
        Some(text) => text.len() == 2 && text.bytes().all(|b| b.is_ascii_uppercase()),
        None => true,
    }
}

fn is_event_id(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

fn hex_value(c: u8) -> u8 {
    if c.is_ascii_digit() {
        c - b'0'
    } else {
        c - b'a' + 10
    }
}

/// COPY BINARY fields: a big-endian length, then the bytes; -1 for NULL.
fn field(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as i32).to_be_bytes());
    out.extend_from_slice(data);
}

fn field_option(out: &mut Vec<u8>, text: &Option<Cow<str>>) {
    match text {
        Some(text) => field(out, text.as_bytes()),
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

/// A one-dimensional ``text[]`` in PostgreSQL's binary array format.
fn field_texts(out: &mut Vec<u8>, texts: &[&str]) {
    let mut array: Vec<u8> = Vec::with_capacity(20 + texts.iter().map(|t| 4 + t.len()).sum::<usize>());
    let dimensions: i32 = if texts.is_empty() { 0 } else { 1 };
    array.extend_from_slice(&dimensions.to_be_bytes());
    array.extend_from_slice(&0i32.to_be_bytes()); // no NULL elements
    array.extend_from_slice(&25i32.to_be_bytes()); // of text
    if !texts.is_empty() {
        array.extend_from_slice(&(texts.len() as i32).to_be_bytes());
        array.extend_from_slice(&1i32.to_be_bytes()); // numbered from 1
        for text in texts {
            field(&mut array, text.as_bytes());
        }
    }
    field(out, &array);
}

fn has_nul(access: &Access) -> bool {
    let p = &access.payload;
    let texts = [
        &access.producer,
        &access.subject_id,
        &p.organisation_id,
        &p.actor,
        &p.subject_id,
        &p.purpose,
        &p.channel,
    ];
    let optional = [&p.legal_reference, &p.decision_reason, &p.consent_id, &p.grant_id];
    texts.iter().any(|t| t.contains('\0'))
        || optional.iter().any(|t| t.as_ref().is_some_and(|t| t.contains('\0')))
        || p.fields.iter().any(|t| t.contains('\0'))
}

/// One record for the log, or None to leave it to Python.
fn read_one(value: &[u8], recorded_us: i64, recorded_text: &[u8], salt: &[u8]) -> Option<Ready> {
    let access: Access = serde_json::from_slice(value).ok()?;
    let p = &access.payload;
    if !is_event_id(&access.event_id)
        || access.event_type != "data.accessed"
        || access.schema_version != 1
        || !LEGAL_BASES.contains(&p.legal_basis.as_ref())
        || !DECISIONS.contains(&p.decision.as_ref())
        || !is_country(&p.organisation_country)
        || !is_country(&p.subject_country)
        || p.consent_version.is_some_and(|v| !(0..=i64::from(i32::MAX)).contains(&v))
        || has_nul(&access)
    {
        return None;
    }
    let (_, zoned) = parse_time(&access.occurred_at)?;
    if !zoned {
        return None;
    }
    let (accessed_us, _) = parse_time(&p.accessed_at)?;
    if !(FIRST_US..END_US).contains(&accessed_us) {
        return None;
    }
    let mut fields: Vec<&str> = p.fields.iter().map(|f| f.as_ref()).collect();
    fields.sort_unstable();

    let country = p.subject_country.as_deref().unwrap_or("");
    let digest: [u8; 32] = Sha256::new()
        .chain_update(salt)
        .chain_update([0u8])
        .chain_update(country.as_bytes())
        .finalize()
        .into();

    // The leaf: canonical JSON, keys sorted (see services.audit.domain.Entry.leaf).
    let mut leaf: Vec<u8> = Vec::with_capacity(value.len() + 128);
    leaf.push(0); // RFC 6962's leaf prefix, hashed with the leaf's data
    leaf.extend_from_slice(b"{\"accessed_at\":\"");
    write_time(&mut leaf, accessed_us);
    leaf.extend_from_slice(b"\",\"actor\":");
    write_json_text(&mut leaf, &p.actor);
    leaf.extend_from_slice(b",\"channel\":");
    write_json_text(&mut leaf, &p.channel);
    leaf.extend_from_slice(b",\"consent_id\":");
    write_json_option(&mut leaf, &p.consent_id);
    leaf.extend_from_slice(b",\"consent_version\":");
    match p.consent_version {
        Some(version) => write_digits(&mut leaf, version, 1),
        None => leaf.extend_from_slice(b"null"),
    }
    leaf.extend_from_slice(b",\"decision\":");
    write_json_text(&mut leaf, &p.decision);
    leaf.extend_from_slice(b",\"decision_reason\":");
    write_json_option(&mut leaf, &p.decision_reason);
    leaf.extend_from_slice(b",\"event_id\":");
    write_json_text(&mut leaf, &access.event_id);
    leaf.extend_from_slice(b",\"fields\":[");
    for (i, name) in fields.iter().enumerate() {
        if i > 0 {
            leaf.push(b',');
        }
        write_json_text(&mut leaf, name);
    }
    leaf.extend_from_slice(b"],\"grant_id\":");
    write_json_option(&mut leaf, &p.grant_id);
    leaf.extend_from_slice(b",\"legal_basis\":");
    write_json_text(&mut leaf, &p.legal_basis);
    leaf.extend_from_slice(b",\"legal_reference\":");
    write_json_option(&mut leaf, &p.legal_reference);
    leaf.extend_from_slice(b",\"organisation_country\":");
    write_json_option(&mut leaf, &p.organisation_country);
    leaf.extend_from_slice(b",\"organisation_id\":");
    write_json_text(&mut leaf, &p.organisation_id);
    leaf.extend_from_slice(b",\"personal_digest\":\"");
    for byte in digest {
        leaf.extend_from_slice(&[HEX[(byte >> 4) as usize], HEX[(byte & 15) as usize]]);
    }
    leaf.extend_from_slice(b"\",\"producer\":");
    write_json_text(&mut leaf, &access.producer);
    leaf.extend_from_slice(b",\"purpose\":");
    write_json_text(&mut leaf, &p.purpose);
    leaf.extend_from_slice(b",\"recorded_at\":\"");
    leaf.extend_from_slice(recorded_text);
    leaf.extend_from_slice(b"\",\"subject_id\":");
    write_json_text(&mut leaf, &p.subject_id);
    leaf.push(b'}');
    let leaf_hash: [u8; 32] = Sha256::digest(&leaf).into();

    // The row of `entries` after its seq, in services.audit.repository.ENTRY_COLUMNS order.
    let mut row: Vec<u8> = Vec::with_capacity(value.len() + 160);
    let mut uuid = [0u8; 16];
    let hex: Vec<u8> = access.event_id.bytes().filter(|c| *c != b'-').collect();
    for (i, pair) in hex.chunks(2).enumerate() {
        uuid[i] = hex_value(pair[0]) << 4 | hex_value(pair[1]);
    }
    field(&mut row, &uuid);
    field(&mut row, access.producer.as_bytes());
    field(&mut row, &(accessed_us - PG_EPOCH_US).to_be_bytes());
    field(&mut row, &(recorded_us - PG_EPOCH_US).to_be_bytes());
    field(&mut row, p.organisation_id.as_bytes());
    field_option(&mut row, &p.organisation_country);
    field(&mut row, p.actor.as_bytes());
    field(&mut row, p.subject_id.as_bytes());
    field_texts(&mut row, &fields);
    field(&mut row, p.purpose.as_bytes());
    field(&mut row, p.legal_basis.as_bytes());
    field_option(&mut row, &p.legal_reference);
    field(&mut row, p.channel.as_bytes());
    field(&mut row, p.decision.as_bytes());
    field_option(&mut row, &p.decision_reason);
    field_option(&mut row, &p.consent_id);
    match p.consent_version {
        Some(version) => field(&mut row, &(version as i32).to_be_bytes()),
        None => row.extend_from_slice(&(-1i32).to_be_bytes()),
    }
    field_option(&mut row, &p.grant_id);
    field(&mut row, &digest);
    field(&mut row, &leaf_hash);

    let mut personal: Vec<u8> = Vec::with_capacity(30);
    field(&mut personal, salt);
    field_option(&mut personal, &p.subject_country);

    Some(Ready { event_id: access.event_id.into_owned(), leaf_hash, row, personal })
}

type Prepared = (Vec<usize>, Vec<String>, Vec<Py<PyBytes>>, Vec<Py<PyBytes>>, Vec<Py<PyBytes>>);

/// Read a batch of ``data.accessed`` records.
///
/// ``recorded_at`` is the batch's time in microseconds since 1970 (UTC); ``salts`` holds
/// 16 bytes for each record. Returns the indexes left to Python, then for the others,
/// in order: event ids, leaf hashes, ``entries`` rows and ``entry_personal`` rows (COPY
/// BINARY fields after the leading seq).
#[pyfunction]
fn prepare(
    py: Python<'_>,
    values: Vec<Bound<'_, PyBytes>>,
    recorded_at: i64,
    salts: &[u8],
) -> PyResult<Prepared> {
    if salts.len() != 16 * values.len() {
        return Err(pyo3::exceptions::PyValueError::new_err("salts: need 16 bytes per record"));
    }
    if !(FIRST_US..END_US).contains(&recorded_at) {
        return Err(pyo3::exceptions::PyValueError::new_err("recorded_at: out of range"));
    }
    let buffers: Vec<Vec<u8>> = values.iter().map(|v| v.as_bytes().to_vec()).collect();
    let salts = salts.to_vec();
    let results: Vec<Option<Ready>> = py.allow_threads(|| {
        let mut recorded_text = Vec::with_capacity(27);
        write_time(&mut recorded_text, recorded_at);
        buffers
            .iter()
            .enumerate()
            .map(|(i, value)| read_one(value, recorded_at, &recorded_text, &salts[16 * i..16 * i + 16]))
            .collect()
    });
    let mut prepared: Prepared = (vec![], vec![], vec![], vec![], vec![]);
    for (index, result) in results.into_iter().enumerate() {
        match result {
            None => prepared.0.push(index),
            Some(ready) => {
                prepared.1.push(ready.event_id);
                prepared.2.push(PyBytes::new(py, &ready.leaf_hash).unbind());
                prepared.3.push(PyBytes::new(py, &ready.row).unbind());
                prepared.4.push(PyBytes::new(py, &ready.personal).unbind());
            }
        }
    }
    Ok(prepared)
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    Sha256::new().chain_update([1u8]).chain_update(left).chain_update(right).finalize().into()
}

/// The COPY BINARY header: signature, flags, no extension.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00";

/// Grow the right edge of a tree of ``size`` leaves (``roots``: level to hash) by
/// ``leaves``, as ``services.audit.merkle.Frontier.append`` does. Returns the new edge
/// and the perfect nodes completed from level ``lowest`` up, as a COPY BINARY stream of
/// ``tree_nodes`` rows (level, idx, hash), as ``pgcopy.node_data`` writes it.
#[pyfunction]
fn grow(
    py: Python<'_>,
    size: i64,
    roots: HashMap<u32, Bound<'_, PyBytes>>,
    leaves: Vec<Bound<'_, PyBytes>>,
    lowest: u32,
) -> PyResult<(HashMap<u32, Py<PyBytes>>, Py<PyBytes>)> {
    let digest = |bytes: &Bound<'_, PyBytes>, name: &str| -> PyResult<[u8; 32]> {
        bytes.as_bytes().try_into().map_err(|_| {
            pyo3::exceptions::PyValueError::new_err(format!("{name}: hashes are 32 bytes"))
        })
    };
    let mut edge: HashMap<u32, [u8; 32]> = HashMap::new();
    for (level, hash) in &roots {
        edge.insert(*level, digest(hash, "roots")?);
    }
    let leaves: Vec<[u8; 32]> = leaves.iter().map(|l| digest(l, "leaves")).collect::<PyResult<_>>()?;
    if size < 0 {
        return Err(pyo3::exceptions::PyValueError::new_err("size: must not be negative"));
    }
    let data = py.allow_threads(|| {
        let mut data: Vec<u8> = Vec::with_capacity(COPY_HEADER.len() + 2 + leaves.len() * 60);
        data.extend_from_slice(COPY_HEADER);
        let mut size = size;
        for leaf in &leaves {
            let (mut level, mut current) = (0u32, *leaf);
            while let Some(left) = edge.remove(&level) {
                current = node_hash(&left, &current);
                level += 1;
                if level < lowest {
                    continue;
                }
                data.extend_from_slice(&3i16.to_be_bytes());
                data.extend_from_slice(&2i32.to_be_bytes());
                data.extend_from_slice(&(level as i16).to_be_bytes());
                data.extend_from_slice(&8i32.to_be_bytes());
                data.extend_from_slice(&(size >> level).to_be_bytes());
                data.extend_from_slice(&32i32.to_be_bytes());
                data.extend_from_slice(&current);
            }
            edge.insert(level, current);
            size += 1;
        }
        data.extend_from_slice(&(-1i16).to_be_bytes());
        data
    });
    let edge = edge.into_iter().map(|(level, hash)| (level, PyBytes::new(py, &hash).unbind()));
    Ok((edge.collect(), PyBytes::new(py, &data).unbind()))
}

#[pymodule]
fn audit_native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(prepare, module)?)?;
    module.add_function(wrap_pyfunction!(grow, module)?)?;
    Ok(())
}
