//! One `acs-plugin-manager` call (SPEC section 9.5): its words read as the agent reads its
//! flags, and what it prints, exits with and reports on the emulated instance.
//!
//! Flags follow the agent's parser: `--name value`, `--name=value` (or `--name:value`), `-X
//! value`; a flag that takes a value takes the next word whatever it is (so `--params
//! --start`), and `--name=` with nothing after `=` too. Unknown flags and plain words are
//! ignored; a repeated flag keeps its last value. The agent's other value flags (`--url/-u`,
//! `--pluginId`, `--fetchTimeout`, `--timeout`) take their word and are otherwise ignored.

use std::cmp::Ordering;

use super::shell::split_words;
use super::table::{plugin_table, status_json, Row, StatusEntry};
use super::{LocalPlugin, Machine, Report};
use crate::engine::version;
use crate::engine::{OsType, PluginStatus, PluginType};

/// The manager's exit code when it cannot find the plug-in (agent: `PACKAGE_NOT_FOUND`).
const PACKAGE_NOT_FOUND: i32 = 234;

/// What `--verify` and `--file` answer, with exit code 1.
const NOT_EMULATED: &str = "acs-plugin-manager: --verify and --file are not emulated\n";

/// The plug-in params after which the agent reports a Persist plug-in's status.
const STATUS_CHANGING_PARAMS: [&str; 6] = [
    "--install",
    "--uninstall",
    "--start",
    "--stop",
    "--upgrade",
    "--restart",
];

/// What a call does: the first flag present by the agent's precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    /// `--version`: the agent's version.
    Version,
    /// `--list`: a table of plug-ins.
    List,
    /// `--verify`: not emulated.
    Verify,
    /// `--status`: the Persist plug-ins' states as JSON.
    Status,
    /// `--exec`: run a plug-in.
    Exec,
    /// `--remove`: remove a plug-in.
    Remove,
    /// None of them: nothing happens.
    Nothing,
}

/// A call's flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Call {
    version: bool,
    list: bool,
    verify: bool,
    status: bool,
    exec: bool,
    remove: bool,
    /// `--local`: installed plug-ins only.
    local: bool,
    /// `--plugin`: the plug-in's name.
    plugin: String,
    /// `--pluginVersion`: the version asked for, `""` when not given.
    plugin_version: String,
    /// `--params`: the plug-in's params, split by the separator.
    params: String,
    /// `--paramsV2`: the plug-in's params, split like `sh`; wins over `--params`.
    params_v2: String,
    /// `--separator`: of `--params`, `,` when empty.
    separator: String,
    /// `--file`: a plug-in package file (not emulated).
    file: String,
}

impl Call {
    /// The action, by the agent's precedence: version, list, verify, status, exec, remove.
    pub(super) fn action(&self) -> Action {
        if self.version {
            Action::Version
        } else if self.list {
            Action::List
        } else if self.verify {
            Action::Verify
        } else if self.status {
            Action::Status
        } else if self.exec {
            Action::Exec
        } else if self.remove {
            Action::Remove
        } else {
            Action::Nothing
        }
    }

    fn set(&mut self, flag: Flag, value: &str) {
        match flag {
            Flag::Version => self.version = true,
            Flag::List => self.list = true,
            Flag::Local => self.local = true,
            Flag::Verify => self.verify = true,
            Flag::Status => self.status = true,
            Flag::Exec => self.exec = true,
            Flag::Remove => self.remove = true,
            Flag::Plugin => value.clone_into(&mut self.plugin),
            Flag::PluginVersion => value.clone_into(&mut self.plugin_version),
            Flag::Params => value.clone_into(&mut self.params),
            Flag::ParamsV2 => value.clone_into(&mut self.params_v2),
            Flag::Separator => value.clone_into(&mut self.separator),
            Flag::File => value.clone_into(&mut self.file),
            Flag::OtherValue => {}
        }
    }

    /// The words the plug-in is run with: `--paramsV2` split like `sh`, else `--params` with
    /// its separator made spaces, split like `sh`.
    fn plugin_args(&self) -> Vec<String> {
        if !self.params_v2.is_empty() {
            return split_words(&self.params_v2);
        }
        let separator = if self.separator.is_empty() {
            ","
        } else {
            &self.separator
        };
        split_words(&self.params.replace(separator, " "))
    }
}

/// A flag the emulated manager knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Version,
    List,
    Local,
    Verify,
    Status,
    Exec,
    Remove,
    Plugin,
    PluginVersion,
    Params,
    ParamsV2,
    Separator,
    File,
    /// A value flag of the agent's that changes nothing here.
    OtherValue,
}

impl Flag {
    fn long(name: &str) -> Option<Flag> {
        Some(match name {
            "version" => Flag::Version,
            "list" => Flag::List,
            "local" => Flag::Local,
            "verify" => Flag::Verify,
            "status" => Flag::Status,
            "exec" => Flag::Exec,
            "remove" => Flag::Remove,
            "plugin" => Flag::Plugin,
            "pluginVersion" => Flag::PluginVersion,
            "params" => Flag::Params,
            "paramsV2" => Flag::ParamsV2,
            "separator" => Flag::Separator,
            "file" => Flag::File,
            "url" | "pluginId" | "fetchTimeout" | "timeout" => Flag::OtherValue,
            _ => return None,
        })
    }

    fn short(letter: char) -> Option<Flag> {
        Some(match letter {
            'v' => Flag::Version,
            'l' => Flag::List,
            'L' => Flag::Local,
            'f' => Flag::Verify,
            'S' => Flag::Status,
            'e' => Flag::Exec,
            'r' => Flag::Remove,
            'P' => Flag::Plugin,
            'n' => Flag::PluginVersion,
            'p' => Flag::Params,
            's' => Flag::Separator,
            'F' => Flag::File,
            'u' => Flag::OtherValue,
            _ => return None,
        })
    }

    fn takes_value(self) -> bool {
        matches!(
            self,
            Flag::Plugin
                | Flag::PluginVersion
                | Flag::Params
                | Flag::ParamsV2
                | Flag::Separator
                | Flag::File
                | Flag::OtherValue
        )
    }
}

/// True when `word` names the program `name`: its last path segment is `name`; on Windows
/// `\` separates segments too, and `name` or `name.exe` match in any case.
pub(super) fn names_program(word: &str, name: &str, os: OsType) -> bool {
    if os == OsType::Windows {
        let segment = word.rsplit(['/', '\\']).next().unwrap_or(word);
        segment.eq_ignore_ascii_case(name)
            || segment
                .strip_suffix_ignore_ascii_case(".exe")
                .is_some_and(|stem| stem.eq_ignore_ascii_case(name))
    } else {
        word.rsplit('/').next().unwrap_or(word) == name
    }
}

/// `str::strip_suffix` ignoring ASCII case.
trait StripSuffixIgnoreCase {
    fn strip_suffix_ignore_ascii_case(&self, suffix: &str) -> Option<&str>;
}

impl StripSuffixIgnoreCase for str {
    fn strip_suffix_ignore_ascii_case(&self, suffix: &str) -> Option<&str> {
        let cut = self.len().checked_sub(suffix.len())?;
        let (stem, tail) = (self.get(..cut)?, self.get(cut..)?);
        tail.eq_ignore_ascii_case(suffix).then_some(stem)
    }
}

/// Reads a statement's words as a manager call, `[sudo] MANAGER FLAGS...`; `None` when they
/// are not one.
pub(super) fn parse(words: &[String], os: OsType) -> Option<Call> {
    let words = match words {
        [sudo, rest @ ..] if sudo == "sudo" => rest,
        _ => words,
    };
    let (program, args) = words.split_first()?;
    if !names_program(program, "acs-plugin-manager", os) {
        return None;
    }
    let mut call = Call::default();
    let mut pending: Option<Flag> = None;
    for word in args {
        if let Some(flag) = pending.take() {
            call.set(flag, word);
            continue;
        }
        let (head, inline) = match word.split_once(['=', ':']) {
            Some((head, value)) => (head, Some(value)),
            None => (word.as_str(), None),
        };
        let flag = if let Some(name) = head.strip_prefix("--") {
            Flag::long(name)
        } else if let Some(letters) = head.strip_prefix('-') {
            let mut letters = letters.chars();
            match (letters.next(), letters.next()) {
                (Some(letter), None) => Flag::short(letter),
                _ => None,
            }
        } else {
            None
        };
        let Some(flag) = flag else { continue };
        match inline {
            Some(value) if !value.is_empty() || !flag.takes_value() => call.set(flag, value),
            _ if flag.takes_value() => pending = Some(flag),
            _ => call.set(flag, ""),
        }
    }
    if let Some(flag) = pending {
        call.set(flag, "");
    }
    Some(call)
}

/// Runs `call` on `machine`: its exit code and output; what the agent reports is appended to
/// `reports` and applied to `machine.plugins`.
pub(super) fn execute(
    call: &Call,
    machine: &mut Machine<'_>,
    reports: &mut Vec<Report>,
) -> (i32, String) {
    match call.action() {
        Action::Version => (0, format!("{}\n", machine.agent_version)),
        Action::List => (0, list(call, machine)),
        Action::Verify => (1, NOT_EMULATED.to_owned()),
        Action::Status => (0, status(machine)),
        Action::Exec if !call.file.is_empty() => (1, NOT_EMULATED.to_owned()),
        Action::Exec => exec(call, machine, reports),
        Action::Remove => remove(call, machine, reports),
        Action::Nothing => (0, String::new()),
    }
}

/// The `--list` table: the catalog's plug-ins at their highest version in catalog order, or
/// with `--local` the installed ones by name; with `--plugin` that one only.
pub(super) fn list(call: &Call, machine: &Machine<'_>) -> String {
    let os = os_name(machine.os);
    let wanted = |name: &str| call.plugin.is_empty() || name == call.plugin;
    let rows: Vec<Row<'_>> = if call.local {
        machine
            .plugins
            .iter()
            .filter(|(name, plugin)| is_installed(plugin) && wanted(name))
            .map(|(name, plugin)| {
                let plugin_type = type_name(machine.plugin_type(name));
                [
                    name.as_str(),
                    &plugin.version,
                    "aliyun",
                    os,
                    "all",
                    plugin_type,
                ]
            })
            .collect()
    } else {
        machine
            .catalog
            .iter()
            .filter(|entry| wanted(&entry.name))
            .filter_map(|entry| {
                let latest = version::highest(entry.versions.iter().map(String::as_str))?;
                let plugin_type = type_name(entry.plugin_type);
                Some([
                    entry.name.as_str(),
                    latest,
                    "aliyun",
                    os,
                    "all",
                    plugin_type,
                ])
            })
            .collect()
    };
    plugin_table(&rows)
}

/// The `--status` answer: the Persist plug-ins installed or removed, by name.
fn status(machine: &Machine<'_>) -> String {
    let entries: Vec<StatusEntry<'_>> = machine
        .plugins
        .iter()
        .filter(|(name, plugin)| {
            plugin.status != PluginStatus::NotInstalled
                && machine.plugin_type(name) == PluginType::Persist
        })
        .map(|(name, plugin)| StatusEntry {
            name,
            status: match plugin.status {
                PluginStatus::Running => "PERSIST_RUNNING",
                PluginStatus::Removed => "REMOVED",
                _ => "PERSIST_FAIL",
            },
            version: &plugin.version,
        })
        .collect();
    status_json(&entries)
}

/// `--exec`: finds the plug-in locally or online (agent `executePluginOnlineOrLocal`), runs
/// it, and reports what the agent reports.
fn exec(call: &Call, machine: &mut Machine<'_>, reports: &mut Vec<Report>) -> (i32, String) {
    let name = call.plugin.as_str();
    let asked = call.plugin_version.as_str();
    let local = machine
        .installed(name)
        .filter(|plugin| asked.is_empty() || plugin.version == asked)
        .map(|plugin| plugin.version.clone());
    // The version fetched from online, if it is; else the plug-in runs at `local`.
    let fetched: Option<String> = if call.local {
        if local.is_none() {
            let output = format!(
                "ExecutePluginOnlineOrLocal PACKAGE_NOT_FOUND: Could not found local package [{name}]\n"
            );
            return (PACKAGE_NOT_FOUND, output);
        }
        None
    } else {
        match (&local, machine.online_version(name, asked)) {
            (Some(at), Some(online)) if version::compare(at, online) != Ordering::Equal => {
                Some(online.to_owned())
            }
            (Some(_), _) => None,
            (None, Some(online)) => Some(online.to_owned()),
            (None, None) => {
                let output = format!(
                    "ExecutePluginOnlineOrLocal PACKAGE_NOT_FOUND: Could not found both local and online, package[{name}] version[{asked}]\n\n"
                );
                return (PACKAGE_NOT_FOUND, output);
            }
        }
    };
    let args = call.plugin_args();
    let before = machine.plugins.get(name).map(|plugin| plugin.status);
    let reported = match machine.plugin_type(name) {
        PluginType::Persist => persist_report(&args, fetched.is_some(), before),
        PluginType::Once => fetched.is_some().then_some(PluginStatus::Installed),
    };
    if let Some(status) = reported {
        let version = fetched.or(local).unwrap_or_default();
        reports.push(Report::new(name, status, &version));
        machine
            .plugins
            .insert(name.to_owned(), LocalPlugin { status, version });
    }
    // The emulated plug-in prints nothing; its own `--status` fails unless it runs.
    let state = reported.or(before);
    let exit_code =
        i32::from(args.iter().any(|arg| arg == "--status") && state != Some(PluginStatus::Running));
    (exit_code, String::new())
}

/// What the agent reports for a Persist plug-in after running it with `args`, if anything:
/// after a status-changing param the status it leads to (the last such param wins); else
/// after a fetch `Running` when there were no params at all or the record ran, else `Stopped`.
fn persist_report(
    args: &[String],
    fetched: bool,
    before: Option<PluginStatus>,
) -> Option<PluginStatus> {
    let last_change = args
        .iter()
        .rev()
        .find(|arg| STATUS_CHANGING_PARAMS.contains(&arg.as_str()));
    match last_change.map(String::as_str) {
        Some("--stop" | "--uninstall") => Some(PluginStatus::Stopped),
        Some(_) => Some(PluginStatus::Running),
        None if !fetched => None,
        None if args.is_empty() || before == Some(PluginStatus::Running) => {
            Some(PluginStatus::Running)
        }
        None => Some(PluginStatus::Stopped),
    }
}

/// `--remove`: an installed plug-in becomes `Removed`, and is reported so.
fn remove(call: &Call, machine: &mut Machine<'_>, reports: &mut Vec<Report>) -> (i32, String) {
    let name = call.plugin.as_str();
    let Some(version) = machine.installed(name).map(|plugin| plugin.version.clone()) else {
        let output = format!(
            "RemovePlugin PACKAGE_NOT_FOUND: plugin not exist {name}\n\
             RemovePlugin error, plugin[{name}], err: Plugin {name} not found in installed_plugins\n"
        );
        return (PACKAGE_NOT_FOUND, output);
    };
    reports.push(Report::new(name, PluginStatus::Removed, &version));
    machine.plugins.insert(
        name.to_owned(),
        LocalPlugin {
            status: PluginStatus::Removed,
            version,
        },
    );
    (0, format!("RemovePlugin success, plugin[{name}]\n"))
}

/// Installed: neither `NotInstalled` nor `Removed`.
pub(super) fn is_installed(plugin: &LocalPlugin) -> bool {
    !matches!(
        plugin.status,
        PluginStatus::NotInstalled | PluginStatus::Removed
    )
}

/// The OS as the `--list` table names it.
fn os_name(os: OsType) -> &'static str {
    match os {
        OsType::Linux => "linux",
        OsType::Windows => "windows",
        OsType::FreeBSD => "freebsd",
    }
}

/// A plug-in type as the `--list` table names it.
fn type_name(plugin_type: PluginType) -> &'static str {
    match plugin_type {
        PluginType::Once => "Once",
        PluginType::Persist => "Persist",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(words: &str, os: OsType) -> Option<Call> {
        let words: Vec<String> = words.split(' ').map(str::to_owned).collect();
        parse(&words, os)
    }

    #[test]
    fn reads_long_short_and_inline_flags() {
        let got = call(
            "acs-plugin-manager -e -P=a --pluginVersion 1.2 -p:--start --separator ; --local --paramsV2=x=y -s",
            OsType::Linux,
        )
        .unwrap();
        assert_eq!(
            got,
            Call {
                exec: true,
                local: true,
                plugin: "a".into(),
                plugin_version: "1.2".into(),
                params: "--start".into(),
                params_v2: "x=y".into(),
                separator: "".into(),
                ..Call::default()
            }
        );
    }

    #[test]
    fn a_value_flag_takes_the_next_word_whatever_it_is() {
        let got = call(
            "acs-plugin-manager --exec --plugin= --list --params --status",
            OsType::Linux,
        )
        .unwrap();
        assert_eq!(got.plugin, "--list");
        assert_eq!(got.params, "--status");
        assert!(!got.list && !got.status);
        assert_eq!(got.action(), Action::Exec);
    }

    #[test]
    fn ignores_unknown_flags_and_plain_words() {
        let got = call(
            "acs-plugin-manager --help -x -lL -- hello --timeout --list --url u --exec",
            OsType::Linux,
        )
        .unwrap();
        assert_eq!(
            got,
            Call {
                exec: true,
                ..Call::default()
            }
        );
    }

    #[test]
    fn the_action_follows_the_agents_precedence() {
        let cases = [
            (
                "--remove --exec --status --verify --list --version",
                Action::Version,
            ),
            ("--remove --exec --status --verify --list", Action::List),
            ("--remove --exec --status --verify", Action::Verify),
            ("--remove --exec --status", Action::Status),
            ("--remove --exec", Action::Exec),
            ("--remove", Action::Remove),
            ("--local --plugin x", Action::Nothing),
        ];
        for (flags, action) in cases {
            let got = call(&format!("acs-plugin-manager {flags}"), OsType::Linux).unwrap();
            assert_eq!(got.action(), action, "{flags}");
        }
    }

    #[test]
    fn names_the_manager_by_its_last_path_segment() {
        for (word, os, expected) in [
            ("acs-plugin-manager", OsType::Linux, true),
            ("/usr/local/bin/acs-plugin-manager", OsType::Linux, true),
            ("./acs-plugin-manager", OsType::FreeBSD, true),
            ("ACS-PLUGIN-MANAGER", OsType::Linux, false),
            ("acs-plugin-manager.exe", OsType::Linux, false),
            ("acs-plugin-manager-x", OsType::Linux, false),
            (r"C:\a\acs-plugin-manager", OsType::Linux, false),
            (
                r"C:\ProgramData\aliyun\assist\2.1.3.344\acs-plugin-manager.exe",
                OsType::Windows,
                true,
            ),
            ("ACS-Plugin-Manager.EXE", OsType::Windows, true),
            ("acs-plugin-manager", OsType::Windows, true),
            ("C:/x/acs-plugin-manager.exe", OsType::Windows, true),
            ("acs-plugin-manager.exe.bak", OsType::Windows, false),
            ("é.exe", OsType::Windows, false),
        ] {
            assert_eq!(
                names_program(word, "acs-plugin-manager", os),
                expected,
                "{word} on {os:?}"
            );
        }
    }

    #[test]
    fn sudo_is_optional_and_only_first() {
        assert!(call("sudo acs-plugin-manager --list", OsType::Linux).is_some());
        assert!(call("sudo sudo acs-plugin-manager --list", OsType::Linux).is_none());
        assert!(call("sudo", OsType::Linux).is_none());
        assert!(call("echo acs-plugin-manager --list", OsType::Linux).is_none());
    }

    #[test]
    fn splits_params_by_the_separator_or_takes_params_v2() {
        let with = |params: &str, separator: &str, params_v2: &str| Call {
            params: params.into(),
            separator: separator.into(),
            params_v2: params_v2.into(),
            ..Call::default()
        };
        assert_eq!(
            with("--a,--b 'c d'", "", "").plugin_args(),
            ["--a", "--b", "c d"]
        );
        assert_eq!(with("--a;--b,c", ";", "").plugin_args(), ["--a", "--b,c"]);
        assert_eq!(with("--a::--b", "::", "").plugin_args(), ["--a", "--b"]);
        assert_eq!(with("--a,--b", "", "'x y' z").plugin_args(), ["x y", "z"]);
        assert_eq!(with("", "", "").plugin_args(), Vec::<String>::new());
    }

    #[test]
    fn reports_persist_status_from_params() {
        use PluginStatus::{Running, Stopped};
        let args = |s: &str| split_words(s);
        let cases: [(&str, bool, Option<PluginStatus>, Option<PluginStatus>); 12] = [
            ("--start", false, Some(Stopped), Some(Running)),
            ("--install", false, None, Some(Running)),
            ("--restart", false, Some(Stopped), Some(Running)),
            ("--upgrade", false, Some(Stopped), Some(Running)),
            ("--stop", false, Some(Running), Some(Stopped)),
            ("--uninstall", false, Some(Running), Some(Stopped)),
            ("--stop --start", false, Some(Running), Some(Running)),
            ("--start x --stop", false, Some(Running), Some(Stopped)),
            ("--other", false, Some(Running), None),
            ("", true, None, Some(Running)),
            ("--other", true, Some(Running), Some(Running)),
            ("--other", true, Some(PluginStatus::Removed), Some(Stopped)),
        ];
        for (params, fetched, before, expected) in cases {
            assert_eq!(
                persist_report(&args(params), fetched, before),
                expected,
                "{params:?} fetched={fetched} before={before:?}"
            );
        }
    }
}
