//! Reading OFAC's SDN list in its published CSV format.
//!
//! `sdn.csv`: ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign,
//! Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks. `alt.csv`:
//! ent_num, alt_num, alt_type, alt_name, alt_remarks. No header row; `-0-`
//! (often with a trailing space) is null; text fields are quoted and may
//! hold commas; lines end with CR LF; the published file ends with a line
//! holding only the byte 0x1A (DOS end of file), skipped here, and nothing
//! may follow it. The files are ASCII; a byte that is not UTF-8 is read as
//! Latin-1 rather than refused.
//!
//! Anything else is refused with the file and the line named, before
//! anything is stored: a wrong number of fields, a missing or bad number, a
//! null name, a field over its bound, a listing or alias given twice, an
//! alias of a listing not in `sdn.csv`.

use std::collections::{HashMap, HashSet};
use std::fmt;

use super::{EntNum, SdnAlias, SdnEntry};

/// The largest file read (`sdn.csv` or `alt.csv`), in bytes. The real
/// files are a few megabytes.
pub const SDN_FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Most listings in `sdn.csv` (the real list has under 20,000).
pub const SDN_ENTRIES_MAX: usize = 100_000;
/// Most aliases in `alt.csv` (the real list has under 25,000).
pub const SDN_ALIASES_MAX: usize = 200_000;
/// The longest `SDN_Name`, in characters (OFAC's specification: 350).
pub const SDN_NAME_CHARS_MAX: usize = 350;
/// The longest `alt_name`, in characters (OFAC's specification: 350).
pub const ALIAS_NAME_CHARS_MAX: usize = 350;
/// The longest `SDN_Type` or `alt_type`, in characters (specification: 12).
pub const SDN_TYPE_CHARS_MAX: usize = 12;
/// The longest `Program`, in characters (specification: 200).
pub const SDN_PROGRAM_CHARS_MAX: usize = 200;

/// The fields of a line of `sdn.csv`.
const SDN_FIELDS: usize = 12;
/// The fields of a line of `alt.csv`.
const ALT_FIELDS: usize = 5;
/// The DOS end-of-file byte the published files end with.
const END_OF_FILE: u8 = 0x1A;
/// OFAC's null.
const NULL: &str = "-0-";

/// A file refused: which file, which line (1-based; `None` for the file as
/// a whole) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    pub file: String,
    pub line: Option<u64>,
    pub problem: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} line {line}: {}", self.file, self.problem),
            None => write!(f, "{}: {}", self.file, self.problem),
        }
    }
}

/// One file being read: its label for errors, and the current line.
struct Reading<'a> {
    file: &'a str,
    line: u64,
}

impl Reading<'_> {
    fn refuse(&self, problem: impl Into<String>) -> ParseError {
        ParseError {
            file: self.file.to_owned(),
            line: Some(self.line),
            problem: problem.into(),
        }
    }

    /// Field `index` (0-based) as text, trimmed; `None` when null or empty.
    fn text(
        &self,
        record: &csv::ByteRecord,
        index: usize,
        column: &str,
        chars_max: usize,
    ) -> Result<Option<String>, ParseError> {
        let bytes = record
            .get(index)
            .ok_or_else(|| self.refuse(format!("no {column}")))?;
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text.trim().to_owned(),
            // Latin-1: every byte is the code point of the same number.
            Err(_) => bytes
                .iter()
                .map(|&b| char::from(b))
                .collect::<String>()
                .trim()
                .to_owned(),
        };
        if text.is_empty() || text == NULL {
            return Ok(None);
        }
        if text.chars().count() > chars_max {
            return Err(self.refuse(format!("{column} is over {chars_max} characters")));
        }
        if text.chars().any(char::is_control) {
            return Err(self.refuse(format!("{column} holds a control character")));
        }
        Ok(Some(text))
    }

    fn required(
        &self,
        record: &csv::ByteRecord,
        index: usize,
        column: &str,
        chars_max: usize,
    ) -> Result<String, ParseError> {
        self.text(record, index, column, chars_max)?
            .ok_or_else(|| self.refuse(format!("{column} is missing (null)")))
    }

    fn number(
        &self,
        record: &csv::ByteRecord,
        index: usize,
        column: &str,
    ) -> Result<i64, ParseError> {
        let text = self.required(record, index, column, 20)?;
        text.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            self.refuse(format!("{column} is not a positive whole number: {text:?}"))
        })
    }
}

/// Reads every record of `bytes`, calling `each` with its line and fields,
/// and checks the end-of-file mark and the number of fields.
fn records(
    file: &str,
    bytes: &[u8],
    fields: usize,
    mut each: impl FnMut(&Reading<'_>, &csv::ByteRecord) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let whole = |problem: String| ParseError {
        file: file.to_owned(),
        line: None,
        problem,
    };
    if u64::try_from(bytes.len()).map_or(true, |n| n > SDN_FILE_BYTES_MAX) {
        return Err(whole(format!("over {SDN_FILE_BYTES_MAX} bytes")));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut ended_at: Option<u64> = None;
    let (mut line, mut counted) = (1_u64, 0_usize);
    loop {
        let more = reader.read_byte_record(&mut record).map_err(|e| {
            let line = e.position().map(csv::Position::line);
            ParseError {
                file: file.to_owned(),
                line,
                problem: format!("not CSV: {e}"),
            }
        })?;
        if !more {
            return Ok(());
        }
        // The line the record starts on, counted here: csv puts a record's
        // start at the end of the line before it (on the LF of a CR LF).
        let mut start = record
            .position()
            .and_then(|p| usize::try_from(p.byte()).ok())
            .unwrap_or(0);
        while bytes.get(start).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
            start += 1;
        }
        let newlines = bytes
            .get(counted..start)
            .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
        line += u64::try_from(newlines).unwrap_or(0);
        counted = counted.max(start);
        let reading = Reading { file, line };
        let is_end_mark = record.len() == 1
            && record
                .get(0)
                .is_some_and(|f| f.trim_ascii() == [END_OF_FILE]);
        if let Some(line) = ended_at {
            return Err(reading.refuse(format!("data after the end-of-file mark on line {line}")));
        }
        if is_end_mark {
            ended_at = Some(reading.line);
            continue;
        }
        if record.len() != fields {
            return Err(reading.refuse(format!("{} fields, expected {fields}", record.len())));
        }
        each(&reading, &record)?;
    }
}

/// Reads `sdn.csv`; `file` names it in errors.
pub fn parse_sdn(file: &str, bytes: &[u8]) -> Result<Vec<SdnEntry>, ParseError> {
    let mut entries = Vec::new();
    let mut lines: HashMap<EntNum, u64> = HashMap::new();
    records(file, bytes, SDN_FIELDS, |reading, record| {
        if entries.len() >= SDN_ENTRIES_MAX {
            return Err(reading.refuse(format!("over {SDN_ENTRIES_MAX} entries")));
        }
        let ent_num = EntNum::new(reading.number(record, 0, "ent_num")?)
            .ok_or_else(|| reading.refuse("ent_num is not positive"))?;
        if let Some(first) = lines.insert(ent_num, reading.line) {
            return Err(reading.refuse(format!("ent_num {ent_num} again (first on line {first})")));
        }
        entries.push(SdnEntry {
            ent_num,
            name: reading.required(record, 1, "SDN_Name", SDN_NAME_CHARS_MAX)?,
            sdn_type: reading.text(record, 2, "SDN_Type", SDN_TYPE_CHARS_MAX)?,
            program: reading.text(record, 3, "Program", SDN_PROGRAM_CHARS_MAX)?,
        });
        Ok(())
    })?;
    if entries.is_empty() {
        return Err(ParseError {
            file: file.to_owned(),
            line: None,
            problem: "no entries".to_owned(),
        });
    }
    Ok(entries)
}

/// Reads `alt.csv`, whose every alias must belong to one of `entries`;
/// `file` names it in errors. An empty file is no aliases.
pub fn parse_alt(
    file: &str,
    bytes: &[u8],
    entries: &[SdnEntry],
) -> Result<Vec<SdnAlias>, ParseError> {
    let known: HashSet<EntNum> = entries.iter().map(|e| e.ent_num).collect();
    let mut aliases = Vec::new();
    let mut lines: HashMap<i64, u64> = HashMap::new();
    records(file, bytes, ALT_FIELDS, |reading, record| {
        if aliases.len() >= SDN_ALIASES_MAX {
            return Err(reading.refuse(format!("over {SDN_ALIASES_MAX} aliases")));
        }
        let ent_num = EntNum::new(reading.number(record, 0, "ent_num")?)
            .ok_or_else(|| reading.refuse("ent_num is not positive"))?;
        if !known.contains(&ent_num) {
            return Err(reading.refuse(format!("ent_num {ent_num} is not in the SDN file")));
        }
        let alt_num = reading.number(record, 1, "alt_num")?;
        if let Some(first) = lines.insert(alt_num, reading.line) {
            return Err(reading.refuse(format!("alt_num {alt_num} again (first on line {first})")));
        }
        aliases.push(SdnAlias {
            ent_num,
            alt_num,
            alt_type: reading.text(record, 2, "alt_type", SDN_TYPE_CHARS_MAX)?,
            name: reading.required(record, 3, "alt_name", ALIAS_NAME_CHARS_MAX)?,
        });
        Ok(())
    })?;
    Ok(aliases)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDN: &[u8] = b"101,\"QUILLFEATHER, Bartholomew Zephyr\",\"individual\",\"SDGT] [FICTION\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 01 Jan 1970; fictional, for tests.\"\r\n\
102,\"GLIMMERWICK TRADING, LTD.\",-0- ,\"FICTION\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n\
\x1a\r\n";

    #[test]
    fn sdn_lines_are_read_with_nulls_commas_and_the_end_mark() {
        let entries = parse_sdn("sdn.csv", SDN).unwrap();
        assert_eq!(entries.len(), 2);
        let first = entries.first().unwrap();
        assert_eq!(first.ent_num.get(), 101);
        assert_eq!(first.name, "QUILLFEATHER, Bartholomew Zephyr");
        assert_eq!(first.sdn_type.as_deref(), Some("individual"));
        assert_eq!(first.program.as_deref(), Some("SDGT] [FICTION"));
        let second = entries.get(1).unwrap();
        assert_eq!(second.name, "GLIMMERWICK TRADING, LTD.");
        assert_eq!(second.sdn_type, None, "-0- with a trailing space is null");
    }

    #[test]
    fn aliases_belong_to_listings() {
        let entries = parse_sdn("sdn.csv", SDN).unwrap();
        let alt = b"101,201,\"aka\",\"QUILLFEATHER, Bart\",-0- \r\n102,202,\"fka\",\"GLIMMERWICK LTD\",-0- \r\n\x1a";
        let aliases = parse_alt("alt.csv", alt, &entries).unwrap();
        assert_eq!(aliases.len(), 2);
        assert_eq!(aliases.first().unwrap().alt_type.as_deref(), Some("aka"));
        let orphan = b"101,201,\"aka\",\"X Y\",-0- \r\n999,202,\"aka\",\"Z W\",-0- \r\n";
        let error = parse_alt("alt.csv", orphan, &entries).unwrap_err();
        assert_eq!(
            error.to_string(),
            "alt.csv line 2: ent_num 999 is not in the SDN file"
        );
        assert_eq!(parse_alt("alt.csv", b"", &entries).unwrap(), vec![]);
    }

    #[test]
    fn malformed_lines_are_named() {
        let cases: [(&[u8], &str); 7] = [
            (
                b"101,\"A B\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\r\n102,\"C D\",-0-\r\n",
                "sdn.csv line 2: 3 fields, expected 12",
            ),
            (
                b"x1,\"A B\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\r\n",
                "sdn.csv line 1: ent_num is not a positive whole number: \"x1\"",
            ),
            (
                b"1,-0- ,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\r\n",
                "sdn.csv line 1: SDN_Name is missing (null)",
            ),
            (
                b"1,\"A B\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\r\n\r\n1,\"C D\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\r\n",
                "sdn.csv line 3: ent_num 1 again (first on line 1)",
            ),
            (
                b"1,\"A B\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\r\n\x1a\r\n2,\"C D\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\r\n",
                "sdn.csv line 3: data after the end-of-file mark on line 2",
            ),
            (b"\x1a\r\n", "sdn.csv: no entries"),
            (
                b"1,\"A B\",\"a type far too long\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\r\n",
                "sdn.csv line 1: SDN_Type is over 12 characters",
            ),
        ];
        for (bytes, message) in cases {
            let error = parse_sdn("sdn.csv", bytes).unwrap_err();
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn latin1_bytes_are_read_not_refused() {
        let bytes =
            b"7,\"M\xdcLLER, J\xfcrgen\",\"individual\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\r\n";
        let entries = parse_sdn("sdn.csv", bytes).unwrap();
        assert_eq!(entries.first().unwrap().name, "MÜLLER, Jürgen");
    }

    #[test]
    fn overlong_names_are_refused() {
        let name = "A".repeat(SDN_NAME_CHARS_MAX + 1);
        let line = format!("1,\"{name}\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\r\n");
        let error = parse_sdn("sdn.csv", line.as_bytes()).unwrap_err();
        assert_eq!(error.line, Some(1));
        assert!(error.problem.contains("SDN_Name is over 350"), "{error}");
    }
}
