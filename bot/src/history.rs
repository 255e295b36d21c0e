//! A user's history: the list `/history` shows of their payments, newest
//! first, and the CSV `/history export` sends; both always private.
//!
//! The decision to know: the list is bounded by [`HISTORY_ENTRIES_MAX`] at
//! the grammar (`/history N` refuses more) and the export by
//! [`HISTORY_EXPORT_ROWS_MAX`] and [`HISTORY_EXPORT_BYTES_MAX`], so no
//! request can ask the store for an unbounded page; and every CSV cell goes
//! through [`csv_cell`], which quotes it (RFC 4180) and defuses what a
//! spreadsheet would run as a formula.

/// Most entries `/history N` may ask for.
pub const HISTORY_ENTRIES_MAX: u8 = 50;
/// Most payments `/history export` writes.
pub const HISTORY_EXPORT_ROWS_MAX: u32 = 5_000;
/// Most bytes of the CSV file `/history export` sends (the rest is left
/// out, and the message says so): the bound of any file a reply carries.
pub const HISTORY_EXPORT_BYTES_MAX: usize = crate::message::DOCUMENT_BYTES_MAX;

/// The CSV's first line.
pub const CSV_HEADER: [&str; 8] = [
    "date",
    "direction",
    "counterparty",
    "amount",
    "currency",
    "memo",
    "state",
    "reference",
];

/// One CSV cell: a cell starting with `=`, `+`, `-`, `@` (or a tab or
/// carriage return) gets a leading `'` so a spreadsheet shows it rather than
/// running it; a cell holding a comma, a quote or a line break is quoted,
/// its quotes doubled.
pub fn csv_cell(text: &str) -> String {
    let defused = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// One CSV line (without its line break).
pub fn csv_line<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    cells
        .into_iter()
        .map(csv_cell)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_cells_are_kept() {
        assert_eq!(csv_cell("pizza"), "pizza");
        assert_eq!(csv_cell("12.50"), "12.50");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn commas_quotes_and_line_breaks_are_quoted() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_line(["a,b", "c"]), "\"a,b\",c");
    }

    #[test]
    fn formulas_are_defused() {
        assert_eq!(csv_cell("=SUM(A1:A9)"), "'=SUM(A1:A9)");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@bob"), "'@bob");
        assert_eq!(
            csv_cell("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
    }
}
