//! What `acs-plugin-manager` prints for `--list` and `--status` (SPEC section 9.5).

use serde::Serialize;

/// The `--list` table's header.
const HEADER: [&str; 6] = [
    "Name",
    "Version",
    "Publisher",
    "OsType",
    "Arch",
    "PluginType",
];

/// Spaces after a column's widest cell, the last column's too.
const PADDING: usize = 2;

/// One row of the `--list` table, in the header's order.
pub(super) type Row<'a> = [&'a str; 6];

/// The `--list` table: the header and the rows, every cell padded with spaces to its column's
/// widest cell (in characters) + 2, each line ended by `\n`, then an empty line.
pub(super) fn plugin_table(rows: &[Row<'_>]) -> String {
    let mut widths = HEADER.map(|cell| cell.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&HEADER).chain(rows) {
        for (cell, width) in row.iter().zip(widths) {
            out.push_str(cell);
            let pad = width + PADDING - cell.chars().count();
            out.extend(std::iter::repeat_n(' ', pad));
        }
        out.push('\n');
    }
    out.push('\n');
    out
}

/// One entry of the `--status` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(super) struct StatusEntry<'a> {
    /// The plug-in's name.
    pub name: &'a str,
    /// `PERSIST_RUNNING`, `PERSIST_FAIL` or `REMOVED`.
    pub status: &'a str,
    /// The installed version.
    pub version: &'a str,
}

/// The `--status` answer: a JSON array indented by 4 spaces (`[]` when empty), then two line
/// ends.
pub(super) fn status_json(entries: &[StatusEntry<'_>]) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    entries
        .serialize(&mut serializer)
        .expect("strings serialize into a Vec");
    let mut text = String::from_utf8(out).expect("serde_json writes UTF-8");
    text.push_str("\n\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_table_is_the_header_and_an_empty_line() {
        assert_eq!(
            plugin_table(&[]),
            "Name  Version  Publisher  OsType  Arch  PluginType  \n\n"
        );
    }

    #[test]
    fn pads_every_cell_to_its_column_width_plus_two() {
        let rows = [
            ["ecs-tool", "1.10", "aliyun", "linux", "all", "Persist"],
            ["x", "2", "aliyun", "linux", "all", "Once"],
        ];
        assert_eq!(
            plugin_table(&rows),
            "Name      Version  Publisher  OsType  Arch  PluginType  \n\
             ecs-tool  1.10     aliyun     linux   all   Persist     \n\
             x         2        aliyun     linux   all   Once        \n\
             \n"
        );
    }

    #[test]
    fn measures_width_in_characters() {
        let rows = [["插件", "1", "aliyun", "windows", "all", "Once"]];
        assert_eq!(
            plugin_table(&rows),
            "Name  Version  Publisher  OsType   Arch  PluginType  \n\
             插件    1        aliyun     windows  all   Once        \n\
             \n"
        );
    }

    #[test]
    fn status_is_indented_json_then_two_line_ends() {
        assert_eq!(status_json(&[]), "[]\n\n");
        let entries = [
            StatusEntry {
                name: "a",
                status: "PERSIST_RUNNING",
                version: "1.0",
            },
            StatusEntry {
                name: "b<&>\"",
                status: "REMOVED",
                version: "2",
            },
        ];
        assert_eq!(
            status_json(&entries),
            "[\n    {\n        \"name\": \"a\",\n        \"status\": \"PERSIST_RUNNING\",\n        \"version\": \"1.0\"\n    },\n    {\n        \"name\": \"b<&>\\\"\",\n        \"status\": \"REMOVED\",\n        \"version\": \"2\"\n    }\n]\n\n"
        );
    }
}
