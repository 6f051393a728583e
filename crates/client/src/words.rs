//! A pre-flight denial in the user's words, with what the node says of the tokens involved.

use alloy::{primitives::Address, sol};
use warrant_core::{
    Scope,
    explain::{TokenHints, TokenInfo},
    explain_denial::{DenialContext, ParamNames, explain_denial},
    policy::{Call, Denial},
};

use crate::{Client, ClientError, Node};

sol! {
    /// The ERC-20 metadata a denial's amounts are shown in.
    interface IERC20Metadata {
        function decimals() external view returns (uint8);
        function symbol() external view returns (string);
    }
}

impl Node {
    /// A token's decimals and symbol from its `decimals()` and `symbol()`; `None` when it does not answer
    /// `decimals()` (not an ERC-20, or the node is unreachable): its amounts are then shown in raw units.
    pub async fn token_info(&self, token: Address) -> Option<TokenInfo> {
        let decimals = self.view(token, IERC20Metadata::decimalsCall {}).await.ok()?;
        let symbol = self.view(token, IERC20Metadata::symbolCall {}).await.ok();
        // A symbol is printed next to amounts: only a short, printable one.
        let symbol =
            symbol.filter(|s| !s.is_empty() && s.len() <= 16 && s.chars().all(|c| c.is_ascii_graphic()));
        Some(TokenInfo { symbol, decimals })
    }

    /// [`Node::token_info`] of every token a denial may show an amount of: the calls' targets, the scope's
    /// spend limits and gates.
    pub async fn token_hints(&self, scope: &Scope, calls: &[Call]) -> TokenHints {
        let mut tokens: Vec<Address> = calls.iter().map(|c| c.target).collect();
        tokens.extend(scope.limits.iter().map(|l| l.token));
        tokens.extend(scope.gates.iter().map(|g| g.token));
        tokens.retain(|t| *t != Address::ZERO);
        tokens.sort();
        tokens.dedup();
        let mut hints = TokenHints::new();
        for token in tokens {
            if let Some(info) = self.token_info(token).await {
                hints.insert(token, info);
            }
        }
        hints
    }
}

impl Client {
    /// The pre-flight's denial of `calls` under `scope` as [`ClientError::Denied`], in words with the tokens'
    /// units from the node.
    pub(crate) async fn denied(&self, denial: Denial, scope: &Scope, calls: &[Call]) -> ClientError {
        let tokens = self.node().token_hints(scope, calls).await;
        let names = ParamNames::new();
        let words = explain_denial(&denial, &DenialContext { scope, calls, tokens: &tokens, names: &names });
        ClientError::Denied { denial, words }
    }
}
