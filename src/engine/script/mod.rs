//! What a Cloud Assistant command does on one instance (SPEC section 9.5): its content read as
//! a script in a small shell subset, whose `acs-plugin-manager` calls print, exit and report
//! plug-in states as the agent does. Pure and synchronous: the caller supplies the instance
//! as a [`Machine`] and applies the [`Report`]s at the run's `FinishTime`.
//!
//! A statement is a manager call (`[sudo] acs-plugin-manager FLAGS`, see `manager`), the
//! guard idiom `if [!] MANAGER --list [--local] | grep [-q] NAME [redirections]; then SCRIPT;
//! [else SCRIPT;] fi` (true when a line of the table that call prints contains NAME as a fixed
//! string; the condition prints nothing), or anything else: a no-op with exit code 0 and no
//! output. Statements run in order; `a && b` runs `b` only when `a` exits 0, `a || b` only when
//! it does not; `! a` negates. A pipeline outside the guard, a list sent to the background
//! with `&`, and an `if` whose condition is not the guard are anything else as a whole. The
//! run's exit code is the last statement's (0 when none ran), its output the outputs
//! concatenated.
//!
//! The content is bytes: content that is not UTF-8, or that the subset cannot read (see
//! `shell`), is anything else. A leading byte-order mark is ignored.

mod manager;
mod shell;
mod table;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::version;
use super::{OsType, PluginStatus, PluginType, MAX_NAME_CHARS};
use shell::{Backslash, Command, Connector, Script};

/// The longest version the agent reports, in characters; longer ones are cut.
pub const MAX_REPORTED_VERSION_CHARS: usize = 32;

/// A catalog plug-in as the agent sees it online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogPlugin {
    /// The plug-in's name.
    pub name: String,
    /// Once or Persist.
    pub plugin_type: PluginType,
    /// The versions online, in any order; `--exec` fetches the one asked for, else the
    /// highest by [`version::compare`].
    pub versions: Vec<String>,
}

/// A plug-in as the instance itself knows it (the agent's list of installed plug-ins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPlugin {
    /// The record's status; `NotInstalled` and `Removed` ones are not installed.
    pub status: PluginStatus,
    /// The record's version.
    pub version: String,
}

/// The instance as a script sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine<'a> {
    /// The instance's operating system: a Windows instance reads backslashes literally and
    /// knows `acs-plugin-manager.exe`.
    pub os: OsType,
    /// The agent's version, printed by `--version`.
    pub agent_version: &'a str,
    /// The plug-in catalog, in catalog order.
    pub catalog: &'a [CatalogPlugin],
    /// The instance's plug-in records by name. A run changes them as it goes, so a later
    /// statement sees what an earlier one did.
    pub plugins: BTreeMap<String, LocalPlugin>,
}

impl<'a> Machine<'a> {
    /// The catalog's entry named `name`.
    fn catalog_entry(&self, name: &str) -> Option<&'a CatalogPlugin> {
        self.catalog.iter().find(|entry| entry.name == name)
    }

    /// A plug-in's type: the catalog's, else Persist.
    fn plugin_type(&self, name: &str) -> PluginType {
        self.catalog_entry(name)
            .map_or(PluginType::Persist, |entry| entry.plugin_type)
    }

    /// The plug-in's record when it is installed (neither `NotInstalled` nor `Removed`).
    fn installed(&self, name: &str) -> Option<&LocalPlugin> {
        self.plugins
            .get(name)
            .filter(|plugin| manager::is_installed(plugin))
    }

    /// The version `--exec` would fetch: `asked` when the catalog has it (`""`: not asked),
    /// else the highest.
    fn online_version(&self, name: &str, asked: &str) -> Option<&'a str> {
        let versions = self
            .catalog_entry(name)?
            .versions
            .iter()
            .map(String::as_str);
        if asked.is_empty() {
            version::highest(versions)
        } else {
            versions.into_iter().find(|v| *v == asked)
        }
    }
}

/// What a run did on one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The last statement's exit code.
    pub exit_code: i32,
    /// Everything the statements printed, in order.
    pub output: String,
    /// What the agent reported, in order; the last report of a name wins when applied.
    pub reports: Vec<Report>,
}

/// What the agent reports for one plug-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The plug-in's name, cut to [`MAX_NAME_CHARS`] characters.
    pub name: String,
    /// `Running` (agent `PERSIST_RUNNING`), `Stopped` (`PERSIST_FAIL`), `Installed`
    /// (`ONCE_INSTALLED`) or `Removed` (`REMOVED`).
    pub status: PluginStatus,
    /// The plug-in's version, cut to [`MAX_REPORTED_VERSION_CHARS`] characters.
    pub version: String,
}

impl Report {
    /// A report, its name and version cut as the agent cuts them.
    fn new(name: &str, status: PluginStatus, version: &str) -> Self {
        Report {
            name: name.chars().take(MAX_NAME_CHARS).collect(),
            status,
            version: version.chars().take(MAX_REPORTED_VERSION_CHARS).collect(),
        }
    }
}

/// The oldest agent whose plug-in reports reach ListPluginStatus: 2.2.3.344 on Linux and
/// FreeBSD, 2.1.3.344 on Windows (the vendor's ListPluginStatus minimum); also the default
/// agent version of a fixture instance (SPEC section 9.6).
pub fn minimum_agent_version(os: OsType) -> &'static str {
    super::default_agent_version(os)
}

/// True when an agent at `agent_version` on `os` has its reports applied: it is at least
/// [`minimum_agent_version`]. An older one prints and exits the same, but reports nothing.
pub fn reports_allowed(os: OsType, agent_version: &str) -> bool {
    version::compare(agent_version, minimum_agent_version(os)) != Ordering::Less
}

/// Runs `content` on `machine`: the exit code, the output and the reports, with
/// `machine.plugins` changed as the reports say.
pub fn run(content: &[u8], machine: &mut Machine<'_>) -> Outcome {
    let Ok(text) = std::str::from_utf8(content) else {
        return Outcome::default();
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let backslash = match machine.os {
        OsType::Windows => Backslash::Literal,
        OsType::Linux | OsType::FreeBSD => Backslash::Escapes,
    };
    let Ok(script) = shell::parse(text, backslash) else {
        return Outcome::default();
    };
    let mut run = Run {
        machine,
        output: String::new(),
        reports: Vec::new(),
    };
    let exit_code = run.script(&script);
    Outcome {
        exit_code,
        output: run.output,
        reports: run.reports,
    }
}

/// A run in progress.
struct Run<'m, 'a> {
    machine: &'m mut Machine<'a>,
    output: String,
    reports: Vec<Report>,
}

impl Run<'_, '_> {
    fn script(&mut self, script: &Script) -> i32 {
        let mut status = 0;
        for item in &script.items {
            status = self.and_or(item);
        }
        status
    }

    fn and_or(&mut self, item: &shell::AndOr) -> i32 {
        if item.background {
            return 0;
        }
        let mut status = self.pipeline(&item.first);
        for (connector, pipeline) in &item.rest {
            let runs = match connector {
                Connector::And => status == 0,
                Connector::Or => status != 0,
            };
            if runs {
                status = self.pipeline(pipeline);
            }
        }
        status
    }

    fn pipeline(&mut self, pipeline: &shell::Pipeline) -> i32 {
        let [command] = pipeline.commands.as_slice() else {
            return 0;
        };
        let status = self.command(command);
        if pipeline.negated {
            i32::from(status == 0)
        } else {
            status
        }
    }

    fn command(&mut self, command: &Command) -> i32 {
        match command {
            Command::Simple(words) => {
                let Some(call) = manager::parse(words, self.machine.os) else {
                    return 0;
                };
                let (exit_code, output) = manager::execute(&call, self.machine, &mut self.reports);
                self.output.push_str(&output);
                exit_code
            }
            Command::If(clause) => match self.guard(&clause.condition) {
                None => 0,
                Some(true) => self.script(&clause.then_branch),
                Some(false) => clause
                    .else_branch
                    .as_ref()
                    .map_or(0, |branch| self.script(branch)),
            },
        }
    }

    /// The value of a guard condition, `[!] MANAGER --list ... | grep [-q] NAME`; `None` when
    /// the condition is anything else.
    fn guard(&self, condition: &Script) -> Option<bool> {
        let [item] = condition.items.as_slice() else {
            return None;
        };
        if item.background || !item.rest.is_empty() {
            return None;
        }
        let [Command::Simple(left), Command::Simple(right)] = item.first.commands.as_slice() else {
            return None;
        };
        let call = manager::parse(left, self.machine.os)?;
        if call.action() != manager::Action::List {
            return None;
        }
        let pattern = grep_pattern(right, self.machine.os)?;
        let table = manager::list(&call, self.machine);
        let found = table.lines().any(|line| line.contains(pattern));
        Some(found != item.first.negated)
    }
}

/// The fixed string of `grep [OPTIONS] NAME`, where the options may only be `-q`, `-s`, `-F`
/// (alone or together), `--quiet`, `--silent`, `--fixed-strings` and `--`, which leave the
/// answer as it is; `None` for any other shape.
fn grep_pattern(words: &[String], os: OsType) -> Option<&str> {
    let (program, args) = words.split_first()?;
    if !manager::names_program(program, "grep", os) {
        return None;
    }
    let mut operands = Vec::new();
    let mut options_end = false;
    for arg in args {
        if options_end || arg == "-" || !arg.starts_with('-') {
            operands.push(arg.as_str());
        } else if arg == "--" {
            options_end = true;
        } else if let Some(long) = arg.strip_prefix("--") {
            if !matches!(long, "quiet" | "silent" | "fixed-strings") {
                return None;
            }
        } else if !arg[1..].chars().all(|c| matches!(c, 'q' | 's' | 'F')) {
            return None;
        }
    }
    match operands.as_slice() {
        [pattern] => Some(pattern),
        _ => None,
    }
}
