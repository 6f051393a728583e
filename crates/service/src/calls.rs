//! Calls as the API takes them and the jobs table stores them: `{"to", "value", "data"}` with the value in
//! decimal wei (a string: U256 does not fit a JSON number) and the data in hex.

use alloy::primitives::{Address, Bytes, U256};
use serde::{Deserialize, Serialize};
use warrant_core::policy::Call;

/// One call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallSpec {
    /// The callee, 0x-hex.
    pub to: String,
    /// Native value in wei, decimal (default 0).
    #[serde(default)]
    pub value: Option<String>,
    /// Calldata, 0x-hex (default empty).
    #[serde(default)]
    pub data: Option<String>,
}

impl CallSpec {
    /// The call; the error names the field and the call's index.
    pub fn to_call(&self, index: usize) -> Result<Call, String> {
        let target: Address = self
            .to
            .parse()
            .map_err(|_| format!("calls[{index}].to: {:?} is not a 20-byte 0x-hex address", self.to))?;
        let value = match &self.value {
            None => U256::ZERO,
            Some(v) => U256::from_str_radix(v, 10).map_err(|_| {
                format!("calls[{index}].value: {v:?} is not a decimal amount of wei below 2^256")
            })?,
        };
        let data = match &self.data {
            None => Vec::new(),
            Some(d) => {
                d.parse::<Bytes>().map_err(|_| format!("calls[{index}].data: {d:?} is not 0x-hex"))?.to_vec()
            }
        };
        Ok(Call { target, value, data })
    }
}

/// Parses and checks a list of calls (at least one).
pub fn parse_calls(specs: &[CallSpec]) -> Result<Vec<Call>, String> {
    if specs.is_empty() {
        return Err("calls: at least one call is needed".into());
    }
    specs.iter().enumerate().map(|(i, c)| c.to_call(i)).collect()
}
