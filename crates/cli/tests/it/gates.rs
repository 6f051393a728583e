//! `warrant grant --require-balance` and `warrant check --holding` (docs/gating.md): each form of gate parses into
//! the signed grant, what a gate can't be is refused with what would work, a gated grant is never signed unprobed
//! without being told, and the pre-flight judges the holdings it is given.

use warrant_core::{
    grant::{Gate, gate_kind},
    token::SignedGrant,
};

use crate::{grant::ACCOUNT, stderr, warrant_env};

const PASS: &str = "0x4000000000000000000000000000000000000004";
const RECIPIENT: &str = "0x000000000000000000000000000000000000b0b0";

/// `warrant grant` (see `grant.rs`) with plain ETH to [`RECIPIENT`] and a native budget, then `extra`.
fn grant(extra: &[&str]) -> std::process::Output {
    let allow = format!("{RECIPIENT}:receive:value<=0.01ether");
    let mut args = vec!["--allow", &allow, "--max-value", "0.05ether"];
    args.extend_from_slice(extra);
    crate::grant::grant(&args)
}

fn refused(extra: &[&str], expected: &str) {
    let out = grant(extra);
    assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
    assert!(stderr(&out).contains(expected), "{extra:?}: expected {expected:?} in {}", stderr(&out));
    assert!(out.stdout.is_empty(), "nothing signed: {extra:?}");
}

#[test]
fn every_gate_form_lands_in_the_signed_grant() {
    let out = grant(&[
        "--require-balance",
        &format!("erc20:{PASS}:100e18"),
        "--require-balance",
        &format!("erc721:{PASS}:1"),
        "--require-balance",
        &format!("erc1155:{PASS}:42:3"),
        "--skip-gate-probe",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--skip-gate-probe: the gates' tokens were not checked"),
        "{}",
        stderr(&out)
    );
    let text = stderr(&out);
    assert!(text.contains("only while the account holds at least 1 NFT of collection"), "{text}");
    assert!(text.contains("anyone who can give the account that much satisfies it"), "{text}");
    let token = String::from_utf8(out.stdout).unwrap();
    let signed = SignedGrant::from_token(token.trim()).unwrap();
    let pass = PASS.parse().unwrap();
    let u = alloy::primitives::U256::from;
    assert_eq!(
        signed.grant.session.scope.gates,
        vec![
            Gate {
                token: pass,
                kind: gate_kind::ERC20,
                tokenId: u(0),
                minBalance: u(100) * u(10).pow(u(18))
            },
            Gate { token: pass, kind: gate_kind::ERC721, tokenId: u(0), minBalance: u(1) },
            Gate { token: pass, kind: gate_kind::ERC1155, tokenId: u(42), minBalance: u(3) },
        ]
    );
}

#[test]
fn what_a_gate_cannot_be_is_refused_with_what_would_work() {
    refused(&["--require-balance", &format!("erc721:{PASS}:7:1"), "--skip-gate-probe"], "ownerOf(id)");
    refused(&["--require-balance", &format!("erc721:{PASS}:7:1"), "--skip-gate-probe"], "STO-021");
    refused(&["--require-balance", &format!("eth:{PASS}:1"), "--skip-gate-probe"], "OP-080");
    refused(
        &["--require-balance", "erc20:0x0000000000000000000000000000000000000000:1", "--skip-gate-probe"],
        "address 0 is not a token",
    );
    refused(
        &["--require-balance", &format!("erc20:{PASS}:0"), "--skip-gate-probe"],
        "a minimum of 0 holds always",
    );
    refused(&["--require-balance", &format!("erc20:{PASS}:"), "--skip-gate-probe"], "the number is missing");
    refused(
        &["--require-balance", &format!("erc20:{PASS}"), "--skip-gate-probe"],
        "expected erc20:TOKEN:MIN",
    );
    refused(
        &["--require-balance", "erc20:0x4000000000000000000000000000000000000004:1", "--require-balance"],
        "--require-balance",
    );
    refused(&["--require-balance", &format!("erc20:{ACCOUNT}:1"), "--skip-gate-probe"], "the account itself");
    let nine: Vec<String> = (0..9).map(|_| format!("erc721:{PASS}:1")).collect();
    let mut args: Vec<&str> = nine.iter().flat_map(|g| ["--require-balance", g.as_str()]).collect();
    args.push("--skip-gate-probe");
    refused(&args, "at most 8");
}

#[test]
fn a_gated_grant_needs_a_probe_or_an_explicit_skip() {
    refused(&["--require-balance", &format!("erc721:{PASS}:1")], "needs a node to probe the tokens on");
}

#[test]
fn check_judges_the_holdings_given() {
    let out = grant(&["--require-balance", &format!("erc721:{PASS}:2"), "--skip-gate-probe"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let check = |extra: &[&str]| {
        let mut args = vec!["check", token.as_str(), "--to", RECIPIENT, "--value", "0.001ether"];
        args.extend_from_slice(extra);
        warrant_env(&args, &[])
    };
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("pass one --holding per gate"), "{}", stderr(&out));
    let out = check(&["--holding", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // A denial is printed the one way: on stderr, naming the rule.
    let verdict = stderr(&out);
    assert!(
        verdict.contains("pre-flight: denied — GateNotHeld: gate 0 needs the account to hold at least 2"),
        "{verdict}"
    );
    let out = check(&["--holding", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
