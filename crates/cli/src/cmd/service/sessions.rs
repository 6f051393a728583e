//! `warrant service sessions`: the sessions this token may act on, as the chain counts them: state, uses, and
//! what each spend limit has left in the period and over the session's life, with its refill time.

use std::process::ExitCode;

use serde_json::Value;

use super::{Http, show, text, time};
use crate::CliError;

pub(super) fn run(http: &Http, json: bool) -> Result<ExitCode, CliError> {
    let v = http.get("/v1/sessions")?;
    show(&v, json, |v| {
        let sessions = v.as_array().map(Vec::as_slice).unwrap_or_default();
        if sessions.is_empty() {
            println!("no sessions");
        }
        for s in sessions {
            super::key::print(s);
            match s.get("chain").filter(|c| !c.is_null()) {
                Some(chain) => print_chain(chain),
                None => match s.get("chain_error").and_then(Value::as_str) {
                    Some(e) => println!("  chain: unavailable ({e})"),
                    None => println!("  chain: no grant yet"),
                },
            }
        }
    })
}

fn print_chain(c: &Value) {
    let uses = match c.get("max_uses").and_then(Value::as_u64) {
        Some(0) | None => format!("{} uses", text(c, "uses")),
        Some(max) => format!("{} of {max} uses", text(c, "uses")),
    };
    println!("  chain: {}, {uses}, {} wei of native value spent", text(c, "state"), text(c, "value_spent"));
    for l in c.get("limits").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let period = match l.get("remaining_in_period").and_then(Value::as_str) {
            Some(left) => format!("{left} left this period"),
            None => "no per-period cap".into(),
        };
        let lifetime = match l.get("remaining_lifetime").and_then(Value::as_str) {
            Some(left) => format!("{left} left in all"),
            None => "no lifetime cap".into(),
        };
        let refill = l
            .get("refills_at")
            .is_some_and(|t| !t.is_null())
            .then(|| format!(", refills {}", time(l, "refills_at")));
        println!("  limit on {}: {period}, {lifetime}{}", text(l, "token"), refill.unwrap_or_default());
    }
}
