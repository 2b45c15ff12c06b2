//! The text tables `replay` prints, laid out by comfy-table: the summary's rules (with the
//! actors each flagged) and the sweep's combinations. No borders, two blanks between columns,
//! numbers right-aligned, no blanks at the ends of lines: columns split on whitespace.

use super::lane::RuleSummary;
use comfy_table::presets::NOTHING;
use comfy_table::{CellAlignment, Table};

/// A table with `header`, whose columns from `numbers_from` on hold numbers.
pub fn new(header: &[&str], numbers_from: usize) -> Table {
    let mut table = Table::new();
    table.load_preset(NOTHING).set_header(header.to_vec());
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, 2));
        if i >= numbers_from {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// The table's lines, each ended by a newline.
pub fn render(table: &Table) -> String {
    table.trim_fmt() + "\n"
}

/// The summary's rules: id, action, actors flagged, events; the actors a rule flagged on rows
/// of their own below it, indented (the first column is as wide as the widest of them).
pub fn rules<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str, RuleSummary)>) -> String {
    let mut table = new(&["rule", "action", "actors flagged", "events"], 2);
    for (id, action, summary) in rows {
        table.add_row(vec![
            id.to_string(),
            action.to_string(),
            summary.actors.len().to_string(),
            summary.events.to_string(),
        ]);
        for actor in summary.actors {
            table.add_row(vec![format!("    {actor}")]);
        }
    }
    render(&table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_list_their_actors_below_them_in_aligned_columns() {
        let mut flagged = RuleSummary::default();
        flagged.actors.insert("203.0.113.7".into());
        flagged.actors.insert("2001:db8::/64".into());
        flagged.events = 3;
        let text = rules([
            ("4XX_FILTER", "alert", flagged),
            ("SQLInjection", "block", RuleSummary::default()),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "rule               action  actors flagged  events",
                "4XX_FILTER         alert                2       3",
                "    2001:db8::/64",
                "    203.0.113.7",
                "SQLInjection       block                0       0",
            ]
        );
        assert!(text.ends_with("0\n"));
    }
}
