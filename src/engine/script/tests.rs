//! SPEC section 9.5 as tests: every row of the call table with its exact output and exit code,
//! the tables and the JSON, the guard idiom, the shell subset and what is reported.

use super::*;
use PluginStatus::{Crashed, Installed, NotInstalled, Removed, Running, Stopped};

const AGENT: &str = "2.2.3.344";

/// Catalog order on purpose not by name.
fn catalog() -> Vec<CatalogPlugin> {
    let entry = |name: &str, plugin_type, versions: &[&str]| CatalogPlugin {
        name: name.into(),
        plugin_type,
        versions: versions.iter().map(|v| v.to_string()).collect(),
    };
    vec![
        entry("ecs-tool", PluginType::Persist, &["1.0", "1.10", "1.9"]),
        entry("once-tool", PluginType::Once, &["2.0"]),
        entry("agent-x", PluginType::Persist, &["3.0", "3.1"]),
    ]
}

/// The instance's records in most tests: every status, in and out of the catalog.
const RECORDS: &[(&str, PluginStatus, &str)] = &[
    ("agent-x", Stopped, "3.0"),
    ("crashy", Crashed, "4.0"),
    ("ecs-tool", Running, "1.9"),
    ("gone", Removed, "1.0"),
    ("local-only", Running, "0.5"),
    ("ni", NotInstalled, "1.0"),
    ("once-tool", Installed, "2.0"),
];

fn plugins(records: &[(&str, PluginStatus, &str)]) -> BTreeMap<String, LocalPlugin> {
    records
        .iter()
        .map(|&(name, status, version)| {
            let plugin = LocalPlugin {
                status,
                version: version.into(),
            };
            (name.to_owned(), plugin)
        })
        .collect()
}

/// Runs `content` on an instance with `records`; the outcome and the records after.
fn run_on(
    os: OsType,
    records: &[(&str, PluginStatus, &str)],
    content: &str,
) -> (Outcome, BTreeMap<String, LocalPlugin>) {
    let catalog = catalog();
    let mut machine = Machine {
        os,
        agent_version: AGENT,
        catalog: &catalog,
        plugins: plugins(records),
    };
    let outcome = run(content.as_bytes(), &mut machine);
    (outcome, machine.plugins)
}

fn linux(records: &[(&str, PluginStatus, &str)], content: &str) -> Outcome {
    run_on(OsType::Linux, records, content).0
}

fn report(name: &str, status: PluginStatus, version: &str) -> Report {
    Report {
        name: name.into(),
        status,
        version: version.into(),
    }
}

fn outcome(exit_code: i32, output: &str, reports: Vec<Report>) -> Outcome {
    Outcome {
        exit_code,
        output: output.into(),
        reports,
    }
}

fn record(status: PluginStatus, version: &str) -> LocalPlugin {
    LocalPlugin {
        status,
        version: version.into(),
    }
}

const NOT_FOUND_NOPE: &str = "ExecutePluginOnlineOrLocal PACKAGE_NOT_FOUND: Could not found both local and online, package[nope] version[]\n\n";

const CATALOG_TABLE: &str = concat!(
    "Name       Version  Publisher  OsType  Arch  PluginType  \n",
    "ecs-tool   1.10     aliyun     linux   all   Persist     \n",
    "once-tool  2.0      aliyun     linux   all   Once        \n",
    "agent-x    3.1      aliyun     linux   all   Persist     \n",
    "\n",
);

const LOCAL_TABLE: &str = concat!(
    "Name        Version  Publisher  OsType  Arch  PluginType  \n",
    "agent-x     3.0      aliyun     linux   all   Persist     \n",
    "crashy      4.0      aliyun     linux   all   Persist     \n",
    "ecs-tool    1.9      aliyun     linux   all   Persist     \n",
    "local-only  0.5      aliyun     linux   all   Persist     \n",
    "once-tool   2.0      aliyun     linux   all   Once        \n",
    "\n",
);

// ---- the call table ----

#[test]
fn version_prints_the_agent_version() {
    for content in ["acs-plugin-manager --version", "acs-plugin-manager -v"] {
        assert_eq!(linux(RECORDS, content), outcome(0, "2.2.3.344\n", vec![]));
    }
}

#[test]
fn list_prints_the_catalog_at_latest_versions_in_catalog_order() {
    for content in ["acs-plugin-manager --list", "acs-plugin-manager -l"] {
        assert_eq!(linux(RECORDS, content), outcome(0, CATALOG_TABLE, vec![]));
    }
}

#[test]
fn list_local_prints_installed_plugins_by_name() {
    for content in [
        "acs-plugin-manager --list --local",
        "acs-plugin-manager -L -l",
    ] {
        assert_eq!(linux(RECORDS, content), outcome(0, LOCAL_TABLE, vec![]));
    }
}

#[test]
fn list_with_plugin_shows_that_one_only() {
    let got = linux(RECORDS, "acs-plugin-manager --list --plugin once-tool");
    let expected = concat!(
        "Name       Version  Publisher  OsType  Arch  PluginType  \n",
        "once-tool  2.0      aliyun     linux   all   Once        \n",
        "\n",
    );
    assert_eq!(got, outcome(0, expected, vec![]));

    let got = linux(
        RECORDS,
        "acs-plugin-manager --list --local --plugin ecs-tool",
    );
    let expected = concat!(
        "Name      Version  Publisher  OsType  Arch  PluginType  \n",
        "ecs-tool  1.9      aliyun     linux   all   Persist     \n",
        "\n",
    );
    assert_eq!(got, outcome(0, expected, vec![]));

    let header_only = "Name  Version  Publisher  OsType  Arch  PluginType  \n\n";
    for content in [
        "acs-plugin-manager --list --plugin nope",
        "acs-plugin-manager --list --local --plugin gone",
        "acs-plugin-manager --list --local --plugin ni",
    ] {
        assert_eq!(
            linux(RECORDS, content),
            outcome(0, header_only, vec![]),
            "{content}"
        );
    }
    assert_eq!(
        linux(&[], "acs-plugin-manager --list --local"),
        outcome(0, header_only, vec![])
    );
}

#[test]
fn list_names_the_instance_os() {
    let (got, _) = run_on(
        OsType::Windows,
        RECORDS,
        "acs-plugin-manager.exe --list --plugin agent-x",
    );
    let expected = concat!(
        "Name     Version  Publisher  OsType   Arch  PluginType  \n",
        "agent-x  3.1      aliyun     windows  all   Persist     \n",
        "\n",
    );
    assert_eq!(got, outcome(0, expected, vec![]));

    let (got, _) = run_on(
        OsType::FreeBSD,
        RECORDS,
        "acs-plugin-manager --list --plugin agent-x",
    );
    assert!(got.output.contains(" freebsd  "), "{}", got.output);
}

#[test]
fn status_prints_persist_plugins_installed_or_removed_as_json() {
    let expected = r#"[
    {
        "name": "agent-x",
        "status": "PERSIST_FAIL",
        "version": "3.0"
    },
    {
        "name": "crashy",
        "status": "PERSIST_FAIL",
        "version": "4.0"
    },
    {
        "name": "ecs-tool",
        "status": "PERSIST_RUNNING",
        "version": "1.9"
    },
    {
        "name": "gone",
        "status": "REMOVED",
        "version": "1.0"
    },
    {
        "name": "local-only",
        "status": "PERSIST_RUNNING",
        "version": "0.5"
    }
]

"#;
    for content in ["acs-plugin-manager --status", "acs-plugin-manager -S"] {
        assert_eq!(linux(RECORDS, content), outcome(0, expected, vec![]));
    }
}

#[test]
fn status_without_persist_plugins_is_an_empty_array() {
    let records = [("once-tool", Installed, "2.0"), ("ni", NotInstalled, "1.0")];
    assert_eq!(
        linux(&records, "acs-plugin-manager --status"),
        outcome(0, "[]\n\n", vec![])
    );
}

#[test]
fn exec_of_a_plugin_neither_installed_nor_in_the_catalog_is_not_found() {
    assert_eq!(
        linux(RECORDS, "acs-plugin-manager --exec --plugin nope"),
        outcome(234, NOT_FOUND_NOPE, vec![])
    );
    // A removed or NotInstalled record is not installed.
    for name in ["gone", "ni"] {
        let expected = format!("ExecutePluginOnlineOrLocal PACKAGE_NOT_FOUND: Could not found both local and online, package[{name}] version[]\n\n");
        assert_eq!(
            linux(RECORDS, &format!("acs-plugin-manager -e -P {name}")),
            outcome(234, &expected, vec![])
        );
    }
}

#[test]
fn exec_at_a_version_neither_installed_nor_online_is_not_found() {
    let expected = "ExecutePluginOnlineOrLocal PACKAGE_NOT_FOUND: Could not found both local and online, package[ecs-tool] version[9.9]\n\n";
    // ecs-tool is installed at 1.9, not at 9.9, and the catalog has no 9.9.
    let (got, after) = run_on(
        OsType::Linux,
        RECORDS,
        "acs-plugin-manager --exec --plugin ecs-tool --pluginVersion 9.9",
    );
    assert_eq!(got, outcome(234, expected, vec![]));
    assert_eq!(after, plugins(RECORDS));
}

#[test]
fn exec_local_of_a_plugin_not_installed_is_not_found() {
    for (name, flags) in [
        ("nope", ""),
        ("gone", ""),
        ("ni", ""),
        ("ecs-tool", "--pluginVersion 1.10"),
    ] {
        let expected = format!(
            "ExecutePluginOnlineOrLocal PACKAGE_NOT_FOUND: Could not found local package [{name}]\n"
        );
        let content = format!("acs-plugin-manager --exec --local --plugin {name} {flags}");
        assert_eq!(
            linux(RECORDS, &content),
            outcome(234, &expected, vec![]),
            "{content}"
        );
    }
}

#[test]
fn exec_local_runs_the_installed_version_without_fetching() {
    // The catalog has 1.10, but --local runs 1.9 and reports only for a status param.
    let (got, after) = run_on(
        OsType::Linux,
        RECORDS,
        "acs-plugin-manager --exec --local --plugin ecs-tool",
    );
    assert_eq!(got, outcome(0, "", vec![]));
    assert_eq!(after, plugins(RECORDS));

    let (got, after) = run_on(
        OsType::Linux,
        RECORDS,
        "acs-plugin-manager --exec --local --plugin ecs-tool --pluginVersion 1.9 --params --stop",
    );
    assert_eq!(
        got,
        outcome(0, "", vec![report("ecs-tool", Stopped, "1.9")])
    );
    assert_eq!(after["ecs-tool"], record(Stopped, "1.9"));
}

#[test]
fn exec_fetches_a_plugin_not_installed_at_the_highest_version() {
    let (got, after) = run_on(
        OsType::Linux,
        &[],
        "acs-plugin-manager --exec --plugin ecs-tool",
    );
    assert_eq!(
        got,
        outcome(0, "", vec![report("ecs-tool", Running, "1.10")])
    );
    assert_eq!(after["ecs-tool"], record(Running, "1.10"));
}

#[test]
fn exec_fetches_the_version_asked_for() {
    let (got, after) = run_on(
        OsType::Linux,
        &[],
        "acs-plugin-manager --exec --plugin ecs-tool --pluginVersion 1.0",
    );
    assert_eq!(
        got,
        outcome(0, "", vec![report("ecs-tool", Running, "1.0")])
    );
    assert_eq!(after["ecs-tool"], record(Running, "1.0"));
}

#[test]
fn exec_upgrades_an_installed_plugin_to_the_online_version() {
    // Running at 1.9, fetched at 1.10 with other params: stays Running.
    let (got, after) = run_on(
        OsType::Linux,
        RECORDS,
        "acs-plugin-manager --exec --plugin ecs-tool --params --foo",
    );
    assert_eq!(
        got,
        outcome(0, "", vec![report("ecs-tool", Running, "1.10")])
    );
    assert_eq!(after["ecs-tool"], record(Running, "1.10"));

    // Stopped at 3.0, fetched at 3.1 with other params: reports Stopped.
    let (got, after) = run_on(
        OsType::Linux,
        RECORDS,
        "acs-plugin-manager --exec --plugin agent-x --params --foo",
    );
    assert_eq!(got, outcome(0, "", vec![report("agent-x", Stopped, "3.1")]));
    assert_eq!(after["agent-x"], record(Stopped, "3.1"));
}

#[test]
fn exec_downgrades_to_the_version_asked_for() {
    let records = [("ecs-tool", Running, "1.10")];
    let (got, after) = run_on(
        OsType::Linux,
        &records,
        "acs-plugin-manager --exec --plugin ecs-tool --pluginVersion 1.0",
    );
    assert_eq!(
        got,
        outcome(0, "", vec![report("ecs-tool", Running, "1.0")])
    );
    assert_eq!(after["ecs-tool"], record(Running, "1.0"));
}

#[test]
fn exec_reinstalls_a_removed_plugin() {
    let records = [("ecs-tool", Removed, "1.10"), ("once-tool", Removed, "2.0")];
    let (got, after) = run_on(
        OsType::Linux,
        &records,
        "acs-plugin-manager --exec --plugin ecs-tool; acs-plugin-manager --exec --plugin once-tool",
    );
    assert_eq!(
        got,
        outcome(
            0,
            "",
            vec![
                report("ecs-tool", Running, "1.10"),
                report("once-tool", Installed, "2.0"),
            ]
        )
    );
    assert_eq!(after["ecs-tool"], record(Running, "1.10"));
    assert_eq!(after["once-tool"], record(Installed, "2.0"));
}

#[test]
fn exec_of_a_plugin_installed_at_the_online_version_runs_locally() {
    let records = [("ecs-tool", Stopped, "1.10")];
    let (got, after) = run_on(
        OsType::Linux,
        &records,
        "acs-plugin-manager --exec --plugin ecs-tool",
    );
    assert_eq!(got, outcome(0, "", vec![]));
    assert_eq!(after["ecs-tool"], record(Stopped, "1.10"));

    // Numerically equal versions count as the same (agent: CompareVersion == 0).
    let records = [("ecs-tool", Stopped, "1.010")];
    assert_eq!(
        linux(&records, "acs-plugin-manager --exec --plugin ecs-tool"),
        outcome(0, "", vec![])
    );
}

#[test]
fn exec_without_an_online_version_runs_the_installed_plugin_locally() {
    let (got, after) = run_on(
        OsType::Linux,
        RECORDS,
        "acs-plugin-manager --exec --plugin local-only",
    );
    assert_eq!(got, outcome(0, "", vec![]));
    assert_eq!(after, plugins(RECORDS));

    let (got, after) = run_on(
        OsType::Linux,
        RECORDS,
        "acs-plugin-manager --exec --plugin local-only --params --stop",
    );
    assert_eq!(
        got,
        outcome(0, "", vec![report("local-only", Stopped, "0.5")])
    );
    assert_eq!(after["local-only"], record(Stopped, "0.5"));

    // Installed at the version asked for, which the catalog lacks: runs locally.
    let records = [("ecs-tool", Running, "0.1")];
    assert_eq!(
        linux(
            &records,
            "acs-plugin-manager --exec --plugin ecs-tool --pluginVersion 0.1 --params --restart"
        ),
        outcome(0, "", vec![report("ecs-tool", Running, "0.1")])
    );
}

#[test]
fn persist_status_follows_the_last_status_changing_param() {
    let cases = [
        ("--install", Running),
        ("--start", Running),
        ("--restart", Running),
        ("--upgrade", Running),
        ("--stop", Stopped),
        ("--uninstall", Stopped),
        ("--stop,--start", Running),
        ("--start,--foo,--stop", Stopped),
    ];
    for (params, status) in cases {
        // A local run at the online version reports only because of the param.
        let records = [("agent-x", Crashed, "3.1")];
        let content = format!("acs-plugin-manager --exec --plugin agent-x --params {params}");
        assert_eq!(
            linux(&records, &content),
            outcome(0, "", vec![report("agent-x", status, "3.1")]),
            "{params}"
        );
    }
}

#[test]
fn a_fetch_with_no_params_reports_running_and_with_other_params_stopped() {
    assert_eq!(
        linux(
            &[],
            "acs-plugin-manager --exec --plugin agent-x --params ''"
        ),
        outcome(0, "", vec![report("agent-x", Running, "3.1")])
    );
    assert_eq!(
        linux(
            &[],
            "acs-plugin-manager --exec --plugin agent-x --params --foo,bar"
        ),
        outcome(0, "", vec![report("agent-x", Stopped, "3.1")])
    );
}

#[test]
fn a_local_persist_run_with_other_params_reports_nothing() {
    let records = [("agent-x", Running, "3.1")];
    assert_eq!(
        linux(
            &records,
            "acs-plugin-manager --exec --plugin agent-x --params --foo"
        ),
        outcome(0, "", vec![])
    );
}

#[test]
fn once_plugins_report_installed_only_when_fetched() {
    let (got, after) = run_on(
        OsType::Linux,
        &[],
        "acs-plugin-manager --exec --plugin once-tool --params --start",
    );
    assert_eq!(
        got,
        outcome(0, "", vec![report("once-tool", Installed, "2.0")])
    );
    assert_eq!(after["once-tool"], record(Installed, "2.0"));

    // Installed at the online version: runs locally, reports nothing, whatever the params.
    for params in ["", "--params --start", "--params --stop"] {
        let content = format!("acs-plugin-manager --exec --plugin once-tool {params}");
        let (got, after) = run_on(OsType::Linux, RECORDS, &content);
        assert_eq!(got, outcome(0, "", vec![]), "{params}");
        assert_eq!(after, plugins(RECORDS));
    }
}

#[test]
fn the_plugins_own_status_param_fails_unless_it_runs() {
    let cases = [
        ("--exec --local --plugin ecs-tool --params --status", 0),
        ("--exec --local --plugin agent-x --params --status", 1),
        (
            "--exec --local --plugin agent-x --params --start,--status",
            0,
        ),
        (
            "--exec --local --plugin ecs-tool --params --status,--stop",
            1,
        ),
        // A Once plug-in never runs in the emulator's sense.
        ("--exec --plugin once-tool --params --status", 1),
        // Fetched with other params: a Running record stays Running, another is Stopped.
        ("--exec --plugin ecs-tool --paramsV2 --status", 0),
        ("--exec --plugin agent-x --paramsV2 --status", 1),
    ];
    for (flags, exit_code) in cases {
        let got = linux(RECORDS, &format!("acs-plugin-manager {flags}"));
        assert_eq!(
            (got.exit_code, got.output.as_str()),
            (exit_code, ""),
            "{flags}"
        );
    }
}

#[test]
fn remove_of_a_plugin_not_installed_is_not_found() {
    for name in ["nope", "gone", "ni"] {
        let expected = format!(
            "RemovePlugin PACKAGE_NOT_FOUND: plugin not exist {name}\n\
             RemovePlugin error, plugin[{name}], err: Plugin {name} not found in installed_plugins\n"
        );
        let (got, after) = run_on(
            OsType::Linux,
            RECORDS,
            &format!("acs-plugin-manager --remove --plugin {name}"),
        );
        assert_eq!(got, outcome(234, &expected, vec![]), "{name}");
        assert_eq!(after, plugins(RECORDS));
    }
}

#[test]
fn remove_of_an_installed_plugin_reports_removed() {
    for (name, version) in [("ecs-tool", "1.9"), ("once-tool", "2.0"), ("crashy", "4.0")] {
        let (got, after) = run_on(
            OsType::Linux,
            RECORDS,
            &format!("acs-plugin-manager -r -P {name}"),
        );
        let expected = format!("RemovePlugin success, plugin[{name}]\n");
        assert_eq!(
            got,
            outcome(0, &expected, vec![report(name, Removed, version)])
        );
        assert_eq!(after[name], record(Removed, version));
    }
}

#[test]
fn verify_and_file_are_not_emulated() {
    let message = "acs-plugin-manager: --verify and --file are not emulated\n";
    for content in [
        "acs-plugin-manager --verify --url file:///x.zip",
        "acs-plugin-manager -f --status",
        "acs-plugin-manager --exec --file /tmp/p.zip --plugin ecs-tool",
        "acs-plugin-manager -e -F=p.zip",
    ] {
        let (got, after) = run_on(OsType::Linux, RECORDS, content);
        assert_eq!(got, outcome(1, message, vec![]), "{content}");
        assert_eq!(after, plugins(RECORDS));
    }
    // By the agent's precedence --list comes before --verify; --file only matters to --exec.
    assert_eq!(
        linux(RECORDS, "acs-plugin-manager --verify --list"),
        outcome(0, CATALOG_TABLE, vec![])
    );
    assert_eq!(
        linux(RECORDS, "acs-plugin-manager --list --file p.zip"),
        outcome(0, CATALOG_TABLE, vec![])
    );
    assert_eq!(
        linux(&[], "acs-plugin-manager --exec --file '' --plugin ecs-tool"),
        outcome(0, "", vec![report("ecs-tool", Running, "1.10")])
    );
}

#[test]
fn no_action_does_nothing() {
    for content in [
        "acs-plugin-manager",
        "acs-plugin-manager --plugin ecs-tool --local",
        "acs-plugin-manager --help",
    ] {
        assert_eq!(linux(RECORDS, content), outcome(0, "", vec![]), "{content}");
    }
}

// ---- flags ----

#[test]
fn flags_take_values_after_equals_signs() {
    assert_eq!(
        linux(
            RECORDS,
            "acs-plugin-manager --exec --plugin=ecs-tool --pluginVersion=1.9 --params=--stop"
        ),
        outcome(0, "", vec![report("ecs-tool", Stopped, "1.9")])
    );
}

#[test]
fn the_word_after_params_is_its_value() {
    // `--start` is the plug-in's, not a flag; `--status` likewise does not pick the action.
    assert_eq!(
        linux(
            RECORDS,
            "acs-plugin-manager --exec --plugin agent-x --pluginVersion 3.0 --params --start"
        ),
        outcome(0, "", vec![report("agent-x", Running, "3.0")])
    );
    assert_eq!(
        linux(
            RECORDS,
            "acs-plugin-manager --exec --plugin ecs-tool --pluginVersion 1.9 -p --status"
        ),
        outcome(0, "", vec![])
    );
}

#[test]
fn params_split_by_the_separator() {
    assert_eq!(
        linux(
            RECORDS,
            "acs-plugin-manager --exec --plugin ecs-tool --pluginVersion 1.9 --params '--foo;--stop' --separator ';'"
        ),
        outcome(0, "", vec![report("ecs-tool", Stopped, "1.9")])
    );
    // With the default `,`, `--foo;--stop` is one param.
    assert_eq!(
        linux(
            RECORDS,
            "acs-plugin-manager --exec --plugin ecs-tool --pluginVersion 1.9 --params '--foo;--stop'"
        ),
        outcome(0, "", vec![])
    );
}

#[test]
fn params_v2_split_like_sh_and_win_over_params() {
    assert_eq!(
        linux(
            RECORDS,
            r#"acs-plugin-manager --exec --plugin ecs-tool --pluginVersion 1.9 --params --stop --paramsV2 "--config 'a b' --restart""#
        ),
        outcome(0, "", vec![report("ecs-tool", Running, "1.9")])
    );
    // Quoted, `--stop` is not a param of its own.
    assert_eq!(
        linux(
            RECORDS,
            r#"acs-plugin-manager --exec --plugin ecs-tool --pluginVersion 1.9 --paramsV2 "'--stop now'""#
        ),
        outcome(0, "", vec![])
    );
}

#[test]
fn unknown_flags_are_ignored() {
    assert_eq!(
        linux(
            RECORDS,
            "acs-plugin-manager --verbose --fetchTimeout 30 --version"
        ),
        outcome(0, "2.2.3.344\n", vec![])
    );
}

// ---- the manager's name ----

#[test]
fn sudo_and_a_full_path_call_the_manager() {
    for content in [
        "sudo acs-plugin-manager --version",
        "/usr/local/bin/acs-plugin-manager --version",
        "sudo /usr/local/bin/acs-plugin-manager --version",
        "'/opt/my dir/acs-plugin-manager' --version",
    ] {
        assert_eq!(
            linux(RECORDS, content),
            outcome(0, "2.2.3.344\n", vec![]),
            "{content}"
        );
    }
}

#[test]
fn windows_calls_acs_plugin_manager_exe_with_backslashes_in_paths() {
    let content = r#"C:\ProgramData\aliyun\assist\2.1.3.344\acs-plugin-manager.exe --exec --plugin ecs-tool --paramsV2 "C:\dir\x --start""#;
    let (got, after) = run_on(OsType::Windows, &[], content);
    assert_eq!(
        got,
        outcome(0, "", vec![report("ecs-tool", Running, "1.10")])
    );
    assert_eq!(after["ecs-tool"], record(Running, "1.10"));

    for content in [
        "ACS-PLUGIN-MANAGER.EXE --version",
        "acs-plugin-manager --version",
        r"C:\x\Acs-Plugin-Manager.exe -v",
    ] {
        let (got, _) = run_on(OsType::Windows, RECORDS, content);
        assert_eq!(got, outcome(0, "2.2.3.344\n", vec![]), "{content}");
    }
    // Not the manager elsewhere.
    assert_eq!(
        linux(RECORDS, "acs-plugin-manager.exe --version"),
        outcome(0, "", vec![])
    );
}

#[test]
fn windows_line_ends_read_like_newlines() {
    let (got, _) = run_on(
        OsType::Windows,
        RECORDS,
        "acs-plugin-manager.exe --version\r\nacs-plugin-manager.exe --version\r\n",
    );
    assert_eq!(got, outcome(0, "2.2.3.344\n2.2.3.344\n", vec![]));
}

// ---- the guard idiom ----

const GUARD: &str = "if acs-plugin-manager --list --local | grep ecs-tool > /dev/null 2>&1; then
  acs-plugin-manager --exec --plugin ecs-tool --params --stop
else
  acs-plugin-manager --exec --plugin ecs-tool
fi
";

#[test]
fn guard_runs_the_then_branch_when_the_plugin_is_listed() {
    let records = [("ecs-tool", Running, "1.10")];
    assert_eq!(
        linux(&records, GUARD),
        outcome(0, "", vec![report("ecs-tool", Stopped, "1.10")])
    );
}

#[test]
fn guard_runs_the_else_branch_when_the_plugin_is_not_listed() {
    // A removed plug-in is not in the `--list --local` table.
    for records in [&[][..], &[("ecs-tool", Removed, "1.10")][..]] {
        assert_eq!(
            linux(records, GUARD),
            outcome(0, "", vec![report("ecs-tool", Running, "1.10")])
        );
    }
}

#[test]
fn guard_without_else_does_nothing_when_false() {
    let content = "if acs-plugin-manager --list --local | grep -q ecs-tool; then acs-plugin-manager --remove --plugin ecs-tool; fi";
    assert_eq!(linux(&[], content), outcome(0, "", vec![]));
    assert_eq!(
        linux(&[("ecs-tool", Stopped, "1.0")], content),
        outcome(
            0,
            "RemovePlugin success, plugin[ecs-tool]\n",
            vec![report("ecs-tool", Removed, "1.0")]
        )
    );
}

#[test]
fn guard_condition_prints_nothing_and_matches_any_line() {
    let content = "if sudo acs-plugin-manager -l -L | grep Publisher\nthen\n  acs-plugin-manager --version\nfi";
    // The header line holds `Publisher`, so even an empty table matches.
    assert_eq!(linux(&[], content), outcome(0, "2.2.3.344\n", vec![]));
    // A fixed string, anywhere in a line.
    let content = "if acs-plugin-manager --list --local | grep -q 'local-only  0.5'; then acs-plugin-manager -v; fi";
    assert_eq!(linux(RECORDS, content), outcome(0, "2.2.3.344\n", vec![]));
    let content =
        "if acs-plugin-manager --list --local | grep -q 'ecs.tool'; then acs-plugin-manager -v; fi";
    assert_eq!(linux(RECORDS, content), outcome(0, "", vec![]));
}

#[test]
fn guard_can_look_at_the_catalog_and_be_negated() {
    let content = "if ! acs-plugin-manager --list | grep -qF once-tool; then acs-plugin-manager -v; else acs-plugin-manager --status; fi";
    assert_eq!(linux(&[], content), outcome(0, "[]\n\n", vec![]));
    let content = "if ! acs-plugin-manager --list --local | grep -q -- once-tool; then acs-plugin-manager -v; fi";
    assert_eq!(linux(&[], content), outcome(0, "2.2.3.344\n", vec![]));
}

#[test]
fn guard_branches_are_scripts() {
    let content = "if acs-plugin-manager --list --local | grep -q ecs-tool; then
  acs-plugin-manager --exec --plugin nope && acs-plugin-manager --version
  acs-plugin-manager --remove --plugin ecs-tool; acs-plugin-manager --list --local
fi";
    let header_only = "Name  Version  Publisher  OsType  Arch  PluginType  \n\n";
    let expected = format!("{NOT_FOUND_NOPE}RemovePlugin success, plugin[ecs-tool]\n{header_only}");
    assert_eq!(
        linux(&[("ecs-tool", Running, "1.9")], content),
        outcome(0, &expected, vec![report("ecs-tool", Removed, "1.9")])
    );
}

#[test]
fn an_if_that_is_not_the_guard_is_a_no_op() {
    for content in [
        // Not a list call on the left.
        "if acs-plugin-manager --status | grep -q x; then acs-plugin-manager -v; else acs-plugin-manager -v; fi",
        // A grep option that changes the answer.
        "if acs-plugin-manager --list --local | grep -i ECS-TOOL; then acs-plugin-manager -v; else acs-plugin-manager -v; fi",
        // Not grep, or two patterns.
        "if acs-plugin-manager --list --local | findstr x; then acs-plugin-manager -v; else acs-plugin-manager -v; fi",
        "if acs-plugin-manager --list --local | grep a b; then acs-plugin-manager -v; else acs-plugin-manager -v; fi",
        // Another condition.
        "if [ -f /x ]; then acs-plugin-manager -v; else acs-plugin-manager -v; fi",
        "if acs-plugin-manager --exec --plugin ecs-tool; then acs-plugin-manager -v; else acs-plugin-manager -v; fi",
    ] {
        let (got, after) = run_on(OsType::Linux, RECORDS, content);
        assert_eq!(got, outcome(0, "", vec![]), "{content}");
        assert_eq!(after, plugins(RECORDS));
    }
}

// ---- statements ----

#[test]
fn a_failure_skips_the_rest_of_an_and_chain() {
    let content = "acs-plugin-manager --exec --plugin nope && acs-plugin-manager --version && acs-plugin-manager --remove --plugin ecs-tool";
    let (got, after) = run_on(OsType::Linux, RECORDS, content);
    assert_eq!(got, outcome(234, NOT_FOUND_NOPE, vec![]));
    assert_eq!(after, plugins(RECORDS));

    let content = "acs-plugin-manager --version && acs-plugin-manager --exec --plugin nope";
    assert_eq!(
        linux(RECORDS, content),
        outcome(234, &format!("2.2.3.344\n{NOT_FOUND_NOPE}"), vec![])
    );
}

#[test]
fn or_runs_the_right_side_only_after_a_failure() {
    let content = "acs-plugin-manager --exec --plugin nope || acs-plugin-manager --version";
    assert_eq!(
        linux(RECORDS, content),
        outcome(0, &format!("{NOT_FOUND_NOPE}2.2.3.344\n"), vec![])
    );
    let content = "acs-plugin-manager --version || acs-plugin-manager --exec --plugin nope";
    assert_eq!(linux(RECORDS, content), outcome(0, "2.2.3.344\n", vec![]));
}

#[test]
fn semicolons_and_newlines_run_every_statement_and_the_last_exit_code_wins() {
    for content in [
        "acs-plugin-manager --exec --plugin nope; acs-plugin-manager --version",
        "acs-plugin-manager --exec --plugin nope\n\nacs-plugin-manager --version\n",
    ] {
        assert_eq!(
            linux(RECORDS, content),
            outcome(0, &format!("{NOT_FOUND_NOPE}2.2.3.344\n"), vec![])
        );
    }
    // The last statement is a no-op: exit 0.
    assert_eq!(
        linux(
            RECORDS,
            "acs-plugin-manager --exec --plugin nope\necho done"
        ),
        outcome(0, NOT_FOUND_NOPE, vec![])
    );
    // The last statement fails.
    assert_eq!(
        linux(
            RECORDS,
            "echo start; acs-plugin-manager --exec --plugin nope"
        ),
        outcome(234, NOT_FOUND_NOPE, vec![])
    );
}

#[test]
fn a_later_statement_sees_an_earlier_ones_effect() {
    let content = "acs-plugin-manager --exec --plugin ecs-tool
acs-plugin-manager --list --local
acs-plugin-manager --remove --plugin ecs-tool
acs-plugin-manager --exec --local --plugin ecs-tool";
    let table = concat!(
        "Name      Version  Publisher  OsType  Arch  PluginType  \n",
        "ecs-tool  1.10     aliyun     linux   all   Persist     \n",
        "\n",
    );
    let expected = format!(
        "{table}RemovePlugin success, plugin[ecs-tool]\n\
         ExecutePluginOnlineOrLocal PACKAGE_NOT_FOUND: Could not found local package [ecs-tool]\n"
    );
    let (got, after) = run_on(OsType::Linux, &[], content);
    assert_eq!(
        got,
        outcome(
            234,
            &expected,
            vec![
                report("ecs-tool", Running, "1.10"),
                report("ecs-tool", Removed, "1.10"),
            ]
        )
    );
    assert_eq!(after["ecs-tool"], record(Removed, "1.10"));
}

#[test]
fn redirections_and_comments_are_ignored() {
    let content = "#!/bin/bash\n# acs-plugin-manager --remove --plugin ecs-tool\nacs-plugin-manager --version 2>&1 > /tmp/out # trailing\n";
    assert_eq!(linux(RECORDS, content), outcome(0, "2.2.3.344\n", vec![]));
}

#[test]
fn anything_else_is_a_no_op() {
    for content in [
        "echo hello",
        "ls /nope",
        "yum install -y something",
        "acs-plugin-manager-helper --version",
        "bash acs-plugin-manager --version",
        "ACS-PLUGIN-MANAGER --version",
        // A pipeline outside the guard, and a background list.
        "acs-plugin-manager --exec --plugin ecs-tool | tee /tmp/log",
        "acs-plugin-manager --exec --plugin ecs-tool &",
    ] {
        let (got, after) = run_on(OsType::Linux, RECORDS, content);
        assert_eq!(got, outcome(0, "", vec![]), "{content}");
        assert_eq!(after, plugins(RECORDS));
    }
}

#[test]
fn negation_inverts_a_calls_exit_code() {
    assert_eq!(
        linux(RECORDS, "! acs-plugin-manager --exec --plugin nope"),
        outcome(0, NOT_FOUND_NOPE, vec![])
    );
    assert_eq!(
        linux(RECORDS, "! acs-plugin-manager --version"),
        outcome(1, "2.2.3.344\n", vec![])
    );
}

#[test]
fn empty_content_does_nothing() {
    for content in ["", "\n", "   \n\t\n", "# nothing\n"] {
        assert_eq!(
            linux(RECORDS, content),
            outcome(0, "", vec![]),
            "{content:?}"
        );
    }
}

#[test]
fn unparsable_content_is_a_no_op_as_a_whole() {
    for content in [
        "acs-plugin-manager --remove --plugin ecs-tool\necho 'unclosed",
        "acs-plugin-manager --remove --plugin ecs-tool;; acs-plugin-manager -v",
        "acs-plugin-manager --remove --plugin ecs-tool\nif x; then y",
        "acs-plugin-manager --remove --plugin ecs-tool &&",
    ] {
        let (got, after) = run_on(OsType::Linux, RECORDS, content);
        assert_eq!(got, outcome(0, "", vec![]), "{content:?}");
        assert_eq!(after, plugins(RECORDS));
    }
}

#[test]
fn non_utf8_content_is_a_no_op() {
    let catalog = catalog();
    let mut machine = Machine {
        os: OsType::Linux,
        agent_version: AGENT,
        catalog: &catalog,
        plugins: plugins(RECORDS),
    };
    let content = b"acs-plugin-manager --remove --plugin ecs-tool\n# \xff\xfe\n";
    assert_eq!(run(content, &mut machine), Outcome::default());
    assert_eq!(machine.plugins, plugins(RECORDS));
}

#[test]
fn a_leading_byte_order_mark_is_ignored() {
    assert_eq!(
        linux(RECORDS, "\u{feff}acs-plugin-manager --version"),
        outcome(0, "2.2.3.344\n", vec![])
    );
}

// ---- reports ----

#[test]
fn reports_cut_names_and_versions_as_the_agent_does() {
    let name = "n".repeat(300);
    let version = "1.".repeat(20) + "0";
    let catalog = vec![CatalogPlugin {
        name: name.clone(),
        plugin_type: PluginType::Once,
        versions: vec![version.clone()],
    }];
    let mut machine = Machine {
        os: OsType::Linux,
        agent_version: AGENT,
        catalog: &catalog,
        plugins: BTreeMap::new(),
    };
    let content = format!("acs-plugin-manager --exec --plugin {name}");
    let got = run(content.as_bytes(), &mut machine);
    assert_eq!(
        got.reports,
        vec![report(&"n".repeat(255), Installed, &version[..32])]
    );
    // The instance itself keeps the whole name and version.
    assert_eq!(machine.plugins[&name], record(Installed, &version));
}

#[test]
fn reports_reach_list_plugin_status_from_the_minimum_agent_on() {
    let cases = [
        (OsType::Linux, "2.2.3.344", true),
        (OsType::Linux, "2.2.3.343", false),
        (OsType::Linux, "2.10.0.1", true),
        (OsType::Linux, "2.1.3.344", false),
        (OsType::FreeBSD, "2.2.3.344", true),
        (OsType::FreeBSD, "2.2.2.999", false),
        (OsType::Windows, "2.1.3.344", true),
        (OsType::Windows, "2.1.3.343", false),
        (OsType::Windows, "2.2.0.0", true),
        (OsType::Linux, "", false),
    ];
    for (os, agent_version, allowed) in cases {
        assert_eq!(
            reports_allowed(os, agent_version),
            allowed,
            "{os:?} {agent_version}"
        );
    }
    assert_eq!(minimum_agent_version(OsType::Linux), "2.2.3.344");
    assert_eq!(minimum_agent_version(OsType::FreeBSD), "2.2.3.344");
    assert_eq!(minimum_agent_version(OsType::Windows), "2.1.3.344");
}
