//! `bench/results.json` and `bench/results.md` from the three sets of figures, and the README's table.

use std::{
    path::Path,
    time::{SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};

use crate::BenchError;

/// The goals of the benchmark issue.
const MAX_SESSION_OVERHEAD_GAS: f64 = 10_000.0;
const MIN_RAW_FRACTION: f64 = 0.85;
const MIN_VIEM_MULTIPLE: f64 = 20.0;
const MIN_SERVICE_OPS_PER_SEC: f64 = 5_000.0;
const MAX_SERVICE_P99_MS: f64 = 10.0;

const SERVICE_METHOD: &str = "warrant-service through its HTTP API on SQLite (WAL, synchronous = FULL), the \
     service, the load generator, anvil and Alto on the same 2-core machine (cargo bench -p warrant-service --bench \
     api). N clients, one session each, each in a loop: POST /v1/sessions/{name}/send, which pre-flights, signs and \
     records the run in the request (group commit), then, if the run has not ended, GET /v1/jobs/{id} every \
     poll_ms until it does. sign: the service runs with --dry-run (the run is recorded signed with nonce, period \
     and userOpHash, nothing sent); bundler: a live service, until the run is included (the worker sends it; anvil \
     mines on demand, Alto bundles). Latency from the POST until the client sees the end state. send_answer: the \
     POST alone; prepare_kept_basis / prepare_reading_node: Executor::prepare (pre-flight + sign) timed outside \
     the service, on the session's reading kept within the block, and reading the node and the bundler each time";

/// Where the README's benchmark section starts and ends.
pub const README_BEGIN: &str = "<!-- bench:begin (written by scripts/bench) -->";
/// See [`README_BEGIN`].
pub const README_END: &str = "<!-- bench:end -->";

const SPEND_NOT_MEASURED: &str = "not measured: periodic ERC-20 spend limits (branch `spend`) are not on main yet, \
     so a Warrant session cannot express the job";

fn read(path: &Path) -> Result<Value, BenchError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BenchError::File { path: path.to_owned(), reason: e.to_string() })?;
    serde_json::from_str(&text).map_err(|e| BenchError::File { path: path.to_owned(), reason: e.to_string() })
}

fn write(path: &Path, text: &str) -> Result<(), BenchError> {
    std::fs::write(path, text).map_err(|e| BenchError::File { path: path.to_owned(), reason: e.to_string() })
}

fn number(value: &Value, key: &str, file: &Path) -> Result<f64, BenchError> {
    value[key]
        .as_f64()
        .ok_or_else(|| BenchError::File { path: file.to_owned(), reason: format!("no number {key}") })
}

/// Today's date (UTC), `YYYY-MM-DD`, with the SDK's calendar arithmetic.
fn today() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    warrant_core::explain::format_utc(now - now % 86_400).chars().take(10).collect()
}

/// CPU model, cores, memory and kernel, from /proc.
fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| (kb / 1_048_576.0 * 10.0).round() / 10.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
    json!({ "cpu": cpu, "cores": cores, "memory_gib": mem_gib, "kernel": kernel })
}

fn fmt_int(v: f64) -> String {
    let s = format!("{}", v.round() as i64);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 && c != '-' {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Gas, signing, their goals and the notes.
type Sections = (Value, Value, Vec<Value>, serde_json::Map<String, Value>);

/// The gas and signing sections, their goals and notes, from the three files of this run.
fn gas_and_signing(gas_path: &Path, sign_path: &Path, viem_path: &Path) -> Result<Sections, BenchError> {
    let mut gas = read(gas_path)?;
    let sign = read(sign_path)?;
    let viem = read(viem_path)?;
    let mut notes = serde_json::Map::new();
    if gas.get("session_erc20_transfer_spend_limited").is_none_or(Value::is_null) {
        gas["session_erc20_transfer_spend_limited"] = Value::Null;
        notes.insert("session_erc20_transfer_spend_limited".into(), json!(SPEND_NOT_MEASURED));
    }
    notes.insert(
        "scopes".into(),
        json!(
            "session_erc20_transfer uses the scope of the project's gas goal (docs/gas.md): ERC-20 transfer on the \
             token with amount <= cap, valid until a time, no counters. The other session jobs use the full scope: \
             recipient == R and amount <= cap for ERC-20, native transfers to R capped per call and in total, at \
             most 1,000 uses (so uses and value are counted on every operation); gated_erc721 adds one gate (the \
             account holds an ERC-721 pass; session_one_gate_erc721_overhead is gated_erc721 - full_scope); \
             spend-limited adds a weekly ERC-20 cap (the nonce key names the period)"
        ),
    );
    notes.insert(
        "method".into(),
        json!(
            "total gasUsed of one transaction on anvil (Osaka): handleOps of one user operation sent directly to \
             EntryPoint v0.8 by a funded dev account, or the delegate's redeemDelegations transaction for \
             MetaMask; every account is an EIP-7702-delegated EOA; each job runs once unmeasured first (steady \
             state), except a session's first use"
        ),
    );
    notes.insert(
        "metamask".into(),
        json!(
            "MetaMask Delegation Framework from @metamask/delegation-abis 2.0.0 bytecode: DelegationManager, \
             EIP7702StatelessDeleGator as the delegator's 7702 delegate; an EOA delegate redeems directly (no \
             EntryPoint, so no user-operation overhead in its figure). Caveats mirroring the Warrant sessions: \
             ERC-20 (the goal's scope: token, transfer, amount <= cap, valid until) = AllowedTargets(token) + \
             AllowedMethods(transfer) + Timestamp(validUntil); ERC-20 full scope (adds recipient == R, a use cap \
             and a native value cap) = those + AllowedCalldata(recipient) + ValueLte(0) + LimitedCalls(maxUses); \
             the per-call `amount <= cap` rule has no enforcer and is left out of both. Spend-limited = ERC20PeriodTransfer(token, amount per week) + \
             AllowedCalldata + ValueLte + Timestamp + LimitedCalls. Native = AllowedTargets(recipient) + \
             ValueLte(per-call cap) + NativeTokenTransferAmount(total cap) + Timestamp + LimitedCalls. No batch \
             figure: the enforcers accept single-call mode only"
        ),
    );

    let g = |k: &str| gas[k].as_f64();
    let warrant = number(&sign, "warrant_ops_per_sec", sign_path)?;
    let raw = number(&sign, "raw_secp256k1_signs_per_sec", sign_path)?;
    let viem_rate = number(&viem, "viem_ops_per_sec", viem_path)?;
    let overhead = match (g("session_erc20_transfer"), g("owner_erc20_transfer")) {
        (Some(s), Some(o)) => s - o,
        _ => {
            return Err(BenchError::File {
                path: gas_path.to_owned(),
                reason: "ERC-20 figures missing".into(),
            });
        }
    };
    let goals = vec![
        json!({ "goal": "session_erc20_transfer - owner_erc20_transfer <= 10000", "value": overhead,
          "met": overhead <= MAX_SESSION_OVERHEAD_GAS }),
        json!({ "goal": "warrant_ops_per_sec >= 0.85 * raw_secp256k1_signs_per_sec", "value": warrant / raw,
          "met": warrant / raw >= MIN_RAW_FRACTION }),
        json!({ "goal": "warrant_ops_per_sec >= 20 * viem_ops_per_sec", "value": warrant / viem_rate,
          "met": warrant / viem_rate >= MIN_VIEM_MULTIPLE }),
    ];
    let signing = json!({
        "warrant_ops_per_sec": warrant,
        "raw_secp256k1_signs_per_sec": raw,
        "viem_ops_per_sec": viem_rate,
        "warrant_over_raw": warrant / raw,
        "warrant_over_viem": warrant / viem_rate,
        "warrant_ops_per_sec_k256": sign["warrant_ops_per_sec_k256"],
        "raw_k256_signs_per_sec": sign["raw_k256_signs_per_sec"],
        "warrant_ops_per_sec_sign_use_recovering": sign["warrant_ops_per_sec_sign_use_recovering"],
        "breakdown_us": sign["breakdown_us"],
        "viem_version": viem["viem_version"],
        "node_version": viem["node_version"],
    });
    Ok((gas, signing, goals, notes))
}

/// The files `report` combines. Gas, signing and viem come together or not at all; what this run did not
/// measure is carried over from `previous` (the last `results.json`) and said so in its notes.
#[derive(Debug, Default)]
pub struct Inputs<'a> {
    /// Gas figures (`gas --out`).
    pub gas: Option<&'a Path>,
    /// Signing figures (`sign --out`).
    pub sign: Option<&'a Path>,
    /// viem's figures (`bench/viem-sign.mjs`).
    pub viem: Option<&'a Path>,
    /// The service's figures (`cargo bench -p warrant-service --bench api -- --out …`), one file per path.
    pub service: &'a [std::path::PathBuf],
    /// The previous `results.json`, for the sections not measured this time.
    pub previous: Option<&'a Path>,
}

/// Writes `results.json` and `results.md` into `out_dir`, and the README's section if `readme` is given.
pub fn write_results(inputs: &Inputs<'_>, out_dir: &Path, readme: Option<&Path>) -> Result<(), BenchError> {
    let previous = inputs.previous.filter(|p| p.exists()).map(read).transpose()?;
    let carried = |what: &str| -> Result<Value, BenchError> {
        let Some(prev) = previous.as_ref().filter(|p| !p[what].is_null()) else {
            return Err(BenchError::File {
                path: inputs.previous.map(Path::to_owned).unwrap_or_else(|| out_dir.join("results.json")),
                reason: format!("no {what} figures measured now or in the previous results"),
            });
        };
        Ok(prev[what].clone())
    };
    let (gas, signing, mut goals, mut notes) = match (inputs.gas, inputs.sign, inputs.viem) {
        (Some(g), Some(s), Some(v)) => gas_and_signing(g, s, v)?,
        (None, None, None) => {
            let prev = previous.as_ref();
            let goals = carried("goals")?
                .as_array()
                .into_iter()
                .flatten()
                .filter(|g| !g["goal"].as_str().unwrap_or("").starts_with("service."))
                .cloned()
                .collect();
            let mut notes = carried("notes")?.as_object().cloned().unwrap_or_default();
            let date = prev.and_then(|p| p["gas_and_signing_date"].as_str().or(p["date"].as_str()));
            notes.insert(
                "carried_over".into(),
                json!(format!(
                    "gas and signing not measured in this run: carried over from the run of {}",
                    date.unwrap_or("?")
                )),
            );
            (carried("gas")?, carried("signing")?, goals, notes)
        }
        _ => {
            return Err(BenchError::Mismatch("--gas, --sign and --viem come together or not at all".into()));
        }
    };
    let service = if inputs.service.is_empty() {
        previous.as_ref().map(|p| p["service"].clone()).unwrap_or(Value::Null)
    } else {
        let mut merged = serde_json::Map::new();
        for path in inputs.service {
            if let Value::Object(figures) = read(path)? {
                merged.extend(figures);
            }
        }
        Value::Object(merged)
    };
    if let Some(rate) = service["sign_ops_per_sec"].as_f64() {
        goals.push(json!({ "goal": "service.sign_ops_per_sec >= 5000", "value": rate,
            "met": rate >= MIN_SERVICE_OPS_PER_SEC }));
    }
    if let Some(p99) = service["sign_p99_ms"].as_f64() {
        goals.push(json!({ "goal": "service.sign_p99_ms <= 10", "value": p99,
            "met": p99 <= MAX_SERVICE_P99_MS }));
    }
    if !service.is_null() {
        notes.insert("service".into(), json!(SERVICE_METHOD));
    }
    let date = today();
    let machine = machine();
    // Carried-over figures keep the date and machine they were measured on, so the header never claims them.
    let (gas_and_signing_date, gas_and_signing_machine) = match (inputs.gas, previous.as_ref()) {
        (Some(_), _) => (json!(date), machine.clone()),
        (None, Some(p)) => (
            p.get("gas_and_signing_date").unwrap_or(&p["date"]).clone(),
            p.get("gas_and_signing_machine").unwrap_or(&p["machine"]).clone(),
        ),
        (None, None) => (Value::Null, Value::Null),
    };
    let results = json!({
        "date": date,
        "machine": machine,
        "gas_and_signing_date": gas_and_signing_date,
        "gas_and_signing_machine": gas_and_signing_machine,
        "gas": gas,
        "signing": signing,
        "service": service,
        "goals": goals,
        "notes": notes,
    });
    std::fs::create_dir_all(out_dir)
        .map_err(|e| BenchError::File { path: out_dir.to_owned(), reason: e.to_string() })?;
    write(
        &out_dir.join("results.json"),
        &(serde_json::to_string_pretty(&results).expect("serializes") + "\n"),
    )?;

    let table = markdown(&results);
    let md = format!(
        "# Benchmark results\n\nWritten by `scripts/bench`; do not edit. Figures in `results.json`.\n\n{table}"
    );
    write(&out_dir.join("results.md"), &md)?;
    if let Some(readme) = readme {
        let text = std::fs::read_to_string(readme)
            .map_err(|e| BenchError::File { path: readme.to_owned(), reason: e.to_string() })?;
        let (Some(begin), Some(end)) = (text.find(README_BEGIN), text.find(README_END)) else {
            return Err(BenchError::File {
                path: readme.to_owned(),
                reason: format!("no section between {README_BEGIN} and {README_END}"),
            });
        };
        let updated = format!("{}{README_BEGIN}\n{table}{}", &text[..begin], &text[end..]);
        write(readme, &updated)?;
    }
    print!("{table}");
    Ok(())
}

/// The tables (gas, signing, goals) with the date and the machine.
fn markdown(r: &Value) -> String {
    let gas = &r["gas"];
    let cell = |k: &str| gas[k].as_f64().map(fmt_int).unwrap_or_else(|| "—".into());
    let m = &r["machine"];
    let s = &r["signing"];
    let on = |m: &Value| {
        format!(
            "{} ({} cores, {} GiB, Linux {})",
            m["cpu"].as_str().unwrap_or("?"),
            m["cores"],
            m["memory_gib"],
            m["kernel"].as_str().unwrap_or("?")
        )
    };
    let date = r["date"].as_str().unwrap_or("?");
    let gas_date = r["gas_and_signing_date"].as_str().unwrap_or(date);
    let gas_machine = if r["gas_and_signing_machine"].is_null() { m } else { &r["gas_and_signing_machine"] };
    let how = format!(
        "gas on anvil (Osaka) with EntryPoint v0.8; signing on one core (viem {} on Node.js {})",
        s["viem_version"].as_str().unwrap_or("?"),
        s["node_version"].as_str().unwrap_or("?"),
    );
    let mut out = if r["notes"]["carried_over"].is_null() {
        format!("Measured {date} on {}; {how}.\n\n", on(m))
    } else {
        format!(
            "The service measured {date} on {}; gas and signing carried over from {gas_date} on {} ({how}).\n\n",
            on(m),
            on(gas_machine)
        )
    };
    out.push_str("**Gas** (whole transaction, steady state)\n\n");
    out.push_str(
        "| job | WarrantAccount owner | Warrant session | Simple7702Account owner | MetaMask delegation |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|\n");
    let rows = [
        (
            "ERC-20 transfer",
            "owner_erc20_transfer",
            "session_erc20_transfer",
            "simple7702_erc20_transfer",
            "metamask_erc20_transfer",
        ),
        ("ERC-20 transfer, P-256 session key (raw)", "", "session_p256_raw_erc20_transfer", "", ""),
        (
            "ERC-20 transfer, P-256 session key (WebCrypto)",
            "",
            "session_p256_webcrypto_erc20_transfer",
            "",
            "",
        ),
        (
            "ERC-20 transfer, full scope",
            "",
            "session_erc20_transfer_full_scope",
            "",
            "metamask_erc20_transfer_full_scope",
        ),
        (
            "native transfer",
            "owner_native_transfer",
            "session_native_transfer",
            "simple7702_native_transfer",
            "metamask_native_transfer",
        ),
        ("batch of 3 ERC-20 transfers", "owner_batch3", "session_batch3", "simple7702_batch3", ""),
        ("first use, incl. enabling the grant", "", "session_enable_first_use", "", ""),
        (
            "ERC-20 transfer, full scope, gated on an ERC-721 pass",
            "",
            "session_erc20_transfer_gated_erc721",
            "",
            "",
        ),
        (
            "spend-limited ERC-20 transfer",
            "",
            "session_erc20_transfer_spend_limited",
            "",
            "metamask_erc20_transfer_spend_limited",
        ),
    ];
    for (name, a, b, c, d) in rows {
        let f = |k: &str| if k.is_empty() { "n/a".to_string() } else { cell(k) };
        out.push_str(&format!("| {name} | {} | {} | {} | {} |\n", f(a), f(b), f(c), f(d)));
    }
    out.push_str(
        "\nScopes: the first row is the gas goal's scope (token, `transfer`, amount <= cap, valid until), and so \
         are the P-256 rows (a P-256 session key verified by the P256VERIFY precompile, docs/gas.md); the \
         other session rows add recipient == R, a use cap and native caps, which the validator counts on every \
         operation; gated adds one gate (the account must hold an ERC-721 session pass; the price of one gate is \
         the difference from the full-scope row); spend-limited adds a weekly ERC-20 cap. MetaMask: an EOA delegate redeems directly (no EntryPoint overhead); its caveats mirror the session's \
         scope except the per-call amount cap, which no enforcer expresses; its enforcers take single calls only, \
         hence no batch. n/a: no such job on that path; —: not measured (see `notes` in `bench/results.json`).\n\n",
    );
    out.push_str(
        "**Sessions on other accounts** (ERC-20 transfer, the gas goal's scope; WarrantValidator installed, the \
         owner's key in Warrant's `OwnerValidator` on Nexus and Kernel)\n\n",
    );
    out.push_str("| account | owner | Warrant session | session − owner |\n|---|---:|---:|---:|\n");
    for (name, owner, session) in [
        ("WarrantAccount (EIP-7702)", "owner_erc20_transfer", "session_erc20_transfer"),
        ("Biconomy Nexus 1.0.0", "nexus_owner_erc20_transfer", "nexus_session_erc20_transfer"),
        ("ZeroDev Kernel v3.1", "kernel_owner_erc20_transfer", "kernel_session_erc20_transfer"),
    ] {
        let diff = match (gas[owner].as_f64(), gas[session].as_f64()) {
            (Some(o), Some(s)) => format!("{}{}", if s >= o { "+" } else { "−" }, fmt_int((s - o).abs())),
            _ => "—".into(),
        };
        out.push_str(&format!("| {name} | {} | {} | {diff} |\n", cell(owner), cell(session)));
    }
    out.push('\n');
    out.push_str("**Off-chain signing** (one core; session operation = pre-flight + v0.8 userOpHash + ECDSA + module signature)\n\n");
    out.push_str("| signer | ops/s | µs/op |\n|---|---:|---:|\n");
    let rate = |v: &Value| v.as_f64().unwrap_or(0.0);
    for (name, v) in [
        ("raw ECDSA, libsecp256k1 (the limit)", &s["raw_secp256k1_signs_per_sec"]),
        ("Warrant session op, libsecp256k1 signer", &s["warrant_ops_per_sec"]),
        ("raw ECDSA, k256", &s["raw_k256_signs_per_sec"]),
        ("Warrant session op, k256 signer", &s["warrant_ops_per_sec_k256"]),
        ("viem (same op, no pre-flight)", &s["viem_ops_per_sec"]),
    ] {
        out.push_str(&format!("| {name} | {} | {:.1} |\n", fmt_int(rate(v)), 1e6 / rate(v).max(1e-9)));
    }
    let b = &s["breakdown_us"];
    out.push_str(&format!(
        "\nWhere a Warrant operation's time goes (µs, each part timed alone): pre-flight incl. building and packing \
         the operation {:.1}; building + userOpHash {:.1}; USE module signature encoding {:.1}; one libsecp256k1 \
         signature {:.1}. The Warrant rows sign with a session key checked once (`SessionKey`, \
         `SessionOp::sign_use_checked`); `SessionOp::sign_use` also recovers every signature to check the key \
         (k256 recovery {:.1} µs): {} ops/s.\n",
        rate(&b["preflight_build_and_pack"]),
        rate(&b["build_and_user_op_hash"]),
        rate(&b["use_signature_encoding"]),
        rate(&b["raw_sign"]),
        rate(&b["recover_check_k256"]),
        fmt_int(rate(&s["warrant_ops_per_sec_sign_use_recovering"])),
    ));
    out.push_str(&service_table(&r["service"]));
    if let Some(carried) = r["notes"]["carried_over"].as_str() {
        out.push_str(&format!("\nGas and signing {}.\n", carried.trim_start_matches("gas and signing ")));
    }
    out.push_str("\n**Goals**\n\n| goal | value | met |\n|---|---:|---|\n");
    for goal in r["goals"].as_array().into_iter().flatten() {
        let v = goal["value"].as_f64().unwrap_or(0.0);
        let shown = if v.abs() >= 100.0 { fmt_int(v) } else { format!("{v:.2}") };
        out.push_str(&format!(
            "| `{}` | {shown} | {} |\n",
            goal["goal"].as_str().unwrap_or("?"),
            if goal["met"].as_bool() == Some(true) { "yes" } else { "**no**" }
        ));
    }
    let overhead = gas["session_erc20_transfer"].as_f64().unwrap_or(0.0)
        - gas["owner_erc20_transfer"].as_f64().unwrap_or(0.0);
    if overhead > MAX_SESSION_OVERHEAD_GAS {
        out.push_str(&format!(
            "\nGas goal missed by {}: a session operation pays, over the owner's, the validator module's cold \
             `CALL` (2,600) and dispatch, two cold storage reads (revocation epoch and session state, 2,100 each), \
             the write of the session's native debit (about 2,900: since issue 11 the gas the account pays counts \
             as native value, so every operation without a pinned paymaster writes it), the session bytes and the \
             signed period in calldata, the call and type checks and its own ECDSA over the session digest \
             (itemized in `docs/gas.md`). Closing it needs the session check inside the account (no module call) \
             or fewer cold accesses; folding the epoch into the session-state word keeps `revokeAll` O(1) only \
             with a per-account word every operation reads, so it saves nothing.\n",
            fmt_int(overhead - MAX_SESSION_OVERHEAD_GAS)
        ));
    }
    let raw_fraction = s["warrant_over_raw"].as_f64().unwrap_or(0.0);
    if raw_fraction < MIN_RAW_FRACTION {
        out.push_str(&format!(
            "\nSigning goal (0.85 of raw) missed at {raw_fraction:.2}: beyond the signature, the operation's keccak \
             permutations (calldata, struct, digest; about 0.2 µs each) dominate; the figure moves by a few \
             hundredths from run to run on a shared machine.\n"
        ));
    }
    out
}

/// The service's table (signed operations through the API), empty if it was not measured.
fn service_table(v: &Value) -> String {
    if !v.is_object() {
        return String::new();
    }
    let f = |k: &str, digits: usize| {
        v[k].as_f64().map(|x| if digits == 0 { fmt_int(x) } else { format!("{x:.digits$}") })
    };
    let mut out = format!(
        "\n**Service** (`warrant-service` through its HTTP API, {}; {} clients, one session each; service, \
         clients, anvil and Alto on this machine)\n\n",
        v["storage"].as_str().unwrap_or("sqlite"),
        v["sign_clients"].as_u64().or(v["bundler_clients"].as_u64()).unwrap_or(0),
    );
    out.push_str(
        "| path | signed ops/s | p50 ms | p99 ms | send answer p50 / p99 ms | prepare, kept / reading ms |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|\n");
    for (name, key) in [
        ("sign-only (`--dry-run`: until recorded `signed`)", "sign"),
        ("with the bundler (until `included`)", "bundler"),
    ] {
        let Some(rate) = v[format!("{key}_ops_per_sec")].as_f64() else { continue };
        let rate = if rate >= 100.0 { fmt_int(rate) } else { format!("{rate:.1}") };
        let cell = |k: &str, digits: usize| f(&format!("{key}_{k}"), digits).unwrap_or_else(|| "—".into());
        out.push_str(&format!(
            "| {name} | {rate} | {} | {} | {} / {} | {} / {} |\n",
            cell("p50_ms", 1),
            cell("p99_ms", 1),
            cell("send_answer_p50_ms", 1),
            cell("send_answer_p99_ms", 1),
            cell("prepare_kept_basis_ms", 2),
            cell("prepare_reading_node_ms", 1),
        ));
    }
    out.push_str(
        "\nLatency from `POST /v1/sessions/{name}/send` (which pre-flights, signs and records the run in the \
         request) until the client sees the run's end state: in the answer (sign-only), or polling `GET \
         /v1/jobs/{id}` (with the bundler). `prepare`: `Executor::prepare` (pre-flight, then the signature) timed \
         outside the service, on the session's reading kept within the block, and reading the node and the \
         bundler each time. Method and where the time goes: `docs/service.md`.\n",
    );
    out
}

#[cfg(test)]
mod foreign_rows {
    use serde_json::json;

    #[test]
    fn other_accounts_table_shows_the_session_overhead() {
        let results = json!({
            "gas": {
                "owner_erc20_transfer": 97502,
                "session_erc20_transfer": 115079,
                "nexus_owner_erc20_transfer": 109054,
                "nexus_session_erc20_transfer": 120881,
            },
            "machine": {}, "signing": {},
        });
        let md = super::markdown(&results);
        assert!(!md.contains("**Service**"), "no service table without service figures: {md}");
        assert!(md.contains("| WarrantAccount (EIP-7702) | 97,502 | 115,079 | +17,577 |"), "{md}");
        assert!(md.contains("| Biconomy Nexus 1.0.0 | 109,054 | 120,881 | +11,827 |"), "{md}");
        assert!(md.contains("| ZeroDev Kernel v3.1 | — | — | — |"), "{md}");
    }
}
