//! `warrant auth`: sign and recover EIP-7702 authorizations.
//!
//! JSON form (what `sign --json` prints and `recover` reads): the JSON-RPC authorization object with every
//! number a hex quantity — `{"chainId","address","nonce","yParity","r","s"}` — plus `"authority"` on output.

use std::process::ExitCode;

use alloy::primitives::{Address, hex};
use warrant_core::eip7702::{
    ChainScope, SignedAuthorization, authorization, decode_signed_authorization, encode_signed_authorization,
    recover_authority, sign_authorization,
};

use crate::{CliError, args::SignerArgs};

/// `warrant auth` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AuthCommand {
    /// Sign an EIP-7702 authorization delegating the key's EOA to `--address`.
    Sign(SignArgs),
    /// Print the authority (the signing EOA) of a signed authorization; fails for an invalid one.
    Recover(RecoverArgs),
}

/// Arguments of `warrant auth sign`.
#[derive(Debug, clap::Args)]
pub(crate) struct SignArgs {
    /// The EOA's key, as every command takes it: `--key NAME` (keystore), else `--private-key` or
    /// `WARRANT_PRIVATE_KEY`.
    #[command(flatten)]
    key: SignerArgs,
    /// Chain the authorization is valid on. 0 (every chain) is refused without `--any-chain`.
    #[arg(long)]
    chain_id: u64,
    /// The delegate: the contract whose code the EOA will run.
    #[arg(long)]
    address: Address,
    /// The EOA's nonce when the authorization is processed (its current nonce + 1 if it sends the transaction).
    #[arg(long)]
    nonce: u64,
    /// Allow chain id 0: the authorization is then valid on every EVM chain.
    #[arg(long)]
    any_chain: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `warrant auth recover`.
#[derive(Debug, clap::Args)]
pub(crate) struct RecoverArgs {
    /// The signed authorization: its JSON, the hex RLP of the tuple, or a file holding either.
    auth: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: &AuthCommand) -> Result<ExitCode, CliError> {
    match command {
        AuthCommand::Sign(args) => sign(args),
        AuthCommand::Recover(args) => recover(args),
    }
}

fn print(auth: &SignedAuthorization, authority: Address, json: bool) -> Result<(), CliError> {
    if json {
        let mut value = serde_json::to_value(auth)?;
        value["authority"] = serde_json::Value::String(authority.to_checksum(None));
        crate::args::print_json(&value)?;
    } else {
        println!("authority  {authority}");
        println!("delegate   {}", auth.address);
        println!(
            "chain id   {}{}",
            auth.chain_id,
            if auth.chain_id.is_zero() { " (every chain)" } else { "" }
        );
        println!("nonce      {}", auth.nonce);
        println!("rlp        0x{}", hex::encode(encode_signed_authorization(auth)));
    }
    Ok(())
}

fn sign(args: &SignArgs) -> Result<ExitCode, CliError> {
    let signer = args.key.signer("EOA")?;
    let scope = if args.any_chain { ChainScope::AnyChain } else { ChainScope::ThisChainOnly };
    let auth = authorization(args.chain_id, args.address, args.nonce, scope).map_err(|e| match e {
        warrant_core::CoreError::AnyChainAuthorizationRefused => {
            CliError::InvalidInput(format!("{e}: pass --any-chain to sign one valid on every chain"))
        }
        e => e.into(),
    })?;
    let signed = sign_authorization(&signer, auth)?;
    print(&signed, signer.address(), args.json)?;
    Ok(ExitCode::SUCCESS)
}

fn parse_signed(input: &str) -> Result<SignedAuthorization, CliError> {
    let text = crate::input::file_or_text(input, "authorization file")?;
    let text = text.trim();
    if text.starts_with('{') {
        serde_json::from_str(text).map_err(|e| CliError::InvalidInput(format!("authorization JSON: {e}")))
    } else {
        let bytes = hex::decode(text)
            .map_err(|e| CliError::InvalidInput(format!("authorization is neither JSON nor hex RLP: {e}")))?;
        Ok(decode_signed_authorization(&bytes)?)
    }
}

fn recover(args: &RecoverArgs) -> Result<ExitCode, CliError> {
    let signed = parse_signed(&args.auth)?;
    let authority = recover_authority(&signed)?;
    print(&signed, authority, args.json)?;
    Ok(ExitCode::SUCCESS)
}
