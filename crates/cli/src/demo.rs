//! `warrant demo`: the end-to-end story on an in-process chain, each step with its expected outcome.
//!
//! Today the story covers the foundation every later step stands on: an EOA delegates with EIP-7702, its
//! owner sends a user operation through the real EntryPoint v0.8, forged and replayed operations are refused,
//! and a zero-address authorization restores the plain EOA.

use std::process::ExitCode;

use alloy::{
    primitives::{Address, Bytes, U128, U256, address},
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::SolCall,
};
use serde::Serialize;
use warrant_chain::{ChainConfig, DevChain, HandleOpsOutcome, TxRequest, artifacts};
use warrant_core::{IEntryPoint, UserOperation, constants::ENTRY_POINT_V08};

use crate::CliError;

sol! {
    /// The execution entry of eth-infinitism's Simple7702Account, the delegate the demo uses until
    /// WarrantAccount lands.
    function execute(address target, uint256 value, bytes data);
}

const EIP7702_MARKER: Address = address!("0x7702000000000000000000000000000000000000");
const ONE_ETH: u128 = 1_000_000_000_000_000_000;

/// Arguments of `warrant demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Print one JSON object instead of the narrated story.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    Accepted,
    Rejected,
}

#[derive(Debug, Serialize)]
struct Step {
    name: &'static str,
    #[serde(skip)]
    story: &'static str,
    expected: Outcome,
    outcome: Outcome,
    gas_used: u64,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    steps: Vec<Step>,
}

struct Demo {
    chain: DevChain,
    owner: PrivateKeySigner,
    delegate: Address,
    recipient: Address,
    steps: Vec<Step>,
}

impl Demo {
    fn record(
        &mut self,
        name: &'static str,
        story: &'static str,
        expected: Outcome,
        (outcome, gas_used, error): (Outcome, u64, Option<String>),
    ) {
        self.steps.push(Step { name, story, expected, outcome, gas_used, error });
    }

    fn transfer_op(&mut self, amount: u128) -> Result<UserOperation, CliError> {
        let nonce = self.chain.entry_point_nonce(self.owner.address(), Default::default())?;
        Ok(UserOperation {
            sender: self.owner.address(),
            nonce,
            factory: Some(EIP7702_MARKER),
            call_data: executeCall { target: self.recipient, value: U256::from(amount), data: Bytes::new() }
                .abi_encode()
                .into(),
            call_gas_limit: U128::from(100_000),
            verification_gas_limit: U128::from(150_000),
            pre_verification_gas: U256::from(50_000),
            max_fee_per_gas: U128::from(3_000_000_000u64),
            max_priority_fee_per_gas: U128::from(1_000_000_000u64),
            ..Default::default()
        })
    }

    fn sign(&mut self, mut op: UserOperation, key: &PrivateKeySigner) -> Result<UserOperation, CliError> {
        let hash = op.hash(ENTRY_POINT_V08, self.chain.chain_id(), Some(self.delegate))?;
        op.signature =
            key.sign_hash_sync(&hash).map_err(|e| CliError::Signing(e.to_string()))?.as_bytes().into();
        Ok(op)
    }

    fn bundle(&mut self, op: &UserOperation) -> Result<(Outcome, u64, Option<String>), CliError> {
        let beneficiary = self.chain.dev_account(0);
        let outcome = self.chain.handle_ops(vec![op.pack()], beneficiary)?;
        Ok(verdict(&outcome))
    }

    fn authorize(&mut self, delegate: Address) -> Result<(Outcome, u64, Option<String>), CliError> {
        let nonce = self.chain.nonce(self.owner.address());
        let auth = self.chain.sign_authorization(&self.owner, delegate, nonce)?;
        let relayer = self.chain.dev_account(1);
        let receipt = self.chain.transact(TxRequest {
            from: relayer,
            to: Some(relayer),
            authorization_list: vec![auth],
            gas_limit: Some(100_000),
            ..Default::default()
        })?;
        let installed =
            self.chain.delegate_of(self.owner.address()) == (delegate != Address::ZERO).then_some(delegate);
        Ok(if receipt.success && installed {
            (Outcome::Accepted, receipt.gas_used, None)
        } else {
            (Outcome::Rejected, receipt.gas_used, Some("authorization not applied".into()))
        })
    }
}

fn verdict(outcome: &HandleOpsOutcome) -> (Outcome, u64, Option<String>) {
    let gas = outcome.receipt.gas_used;
    match (&outcome.failure, outcome.user_operation_events.first()) {
        (None, Some(event)) if outcome.receipt.success && event.success => (Outcome::Accepted, gas, None),
        (Some(IEntryPoint::IEntryPointErrors::FailedOp(e)), _) => {
            (Outcome::Rejected, gas, Some(e.reason.clone()))
        }
        (Some(IEntryPoint::IEntryPointErrors::FailedOpWithRevert(e)), _) => (
            Outcome::Rejected,
            gas,
            Some(format!("{} (inner 0x{})", e.reason, alloy::primitives::hex::encode(&e.inner))),
        ),
        _ => (Outcome::Rejected, gas, Some("execution reverted".into())),
    }
}

pub(crate) fn run(args: &DemoArgs) -> Result<ExitCode, CliError> {
    let mut chain = DevChain::new(ChainConfig::default())?;
    let delegate = chain.deploy(artifacts::simple_7702_account_creation_code()?)?;
    let owner = PrivateKeySigner::random();
    chain.set_balance(owner.address(), U256::from(10 * ONE_ETH));
    let mut demo =
        Demo { chain, owner, delegate, recipient: Address::with_last_byte(0xb0), steps: Vec::new() };

    let result = demo.authorize(delegate)?;
    demo.record(
        "delegate_eoa",
        "The EOA signs an EIP-7702 authorization; a relayer's type-4 transaction installs the delegation.",
        Outcome::Accepted,
        result,
    );

    let op = demo.transfer_op(ONE_ETH / 10)?;
    let owner_key = demo.owner.clone();
    let op = demo.sign(op, &owner_key)?;
    let result = demo.bundle(&op)?;
    demo.record(
        "owner_transfer",
        "The owner signs a user operation sending 0.1 ETH; EntryPoint v0.8 validates and executes it.",
        Outcome::Accepted,
        result,
    );

    let replay = demo.bundle(&op)?;
    demo.record(
        "replayed_op",
        "The same signed operation is submitted again; the EntryPoint's nonce refuses it.",
        Outcome::Rejected,
        replay,
    );

    let forged = demo.transfer_op(ONE_ETH)?;
    let forged = demo.sign(forged, &PrivateKeySigner::random())?;
    let result = demo.bundle(&forged)?;
    demo.record(
        "forged_signature",
        "A stranger signs an operation for the EOA; validation refuses the signature.",
        Outcome::Rejected,
        result,
    );

    let result = demo.authorize(Address::ZERO)?;
    demo.record(
        "restore_eoa",
        "A zero-address authorization clears the delegation: a plain EOA again.",
        Outcome::Accepted,
        result,
    );

    let all_as_expected = demo.steps.iter().all(|s| s.outcome == s.expected);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&Report { steps: demo.steps })?);
    } else {
        println!(
            "Warrant demo on an in-process chain (revm, chain id {}), EntryPoint v0.8 at {ENTRY_POINT_V08}\n",
            demo.chain.chain_id()
        );
        for (i, step) in demo.steps.iter().enumerate() {
            let mark = if step.outcome == step.expected { "ok  " } else { "FAIL" };
            println!("{mark} {}. {} — {}", i + 1, step.name, step.story);
            let verdict = match step.outcome {
                Outcome::Accepted => "accepted".to_string(),
                Outcome::Rejected => format!("rejected: {}", step.error.as_deref().unwrap_or("?")),
            };
            println!("        {verdict}; {} gas\n", step.gas_used);
        }
        println!(
            "{}",
            if all_as_expected {
                "Every step ended as expected."
            } else {
                "Some steps did NOT end as expected."
            }
        );
    }
    Ok(if all_as_expected { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
