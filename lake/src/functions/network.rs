//! `cidr_contains(address, cidr)`: whether a text IP address lies in a network. trailhound's
//! own (Trino has `contains(IPPREFIX, IPADDRESS)` on its own types); Sigma's `|cidr`
//! compiles to it. A value that is not an address (CloudTrail's `sourceIPAddress` can be a
//! service name) is simply not contained; an invalid network is an error.

use std::sync::Arc;

use arrow::array::{Array, BooleanArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{arg_arrays, as_utf8, columnar_result};
use crate::net::Cidr;

/// The `cidr_contains` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CidrContains {
    signature: Signature,
}

impl CidrContains {
    /// The function, over two strings.
    pub fn new() -> Self {
        Self { signature: Signature::string(2, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for CidrContains {
    fn name(&self) -> &str {
        "cidr_contains"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [addresses, networks] = arg_arrays(&args.args)?;
        let (addresses, networks) = (as_utf8(&addresses)?, as_utf8(&networks)?);
        let mut parsed: Option<(String, Cidr)> = None;
        let mut result = Vec::with_capacity(addresses.len());
        for (address, network) in addresses.iter().zip(networks.iter()) {
            let (Some(address), Some(network)) = (address, network) else {
                result.push(None);
                continue;
            };
            if parsed.as_ref().is_none_or(|(text, _)| text != network) {
                match Cidr::parse(network) {
                    Ok(cidr) => parsed = Some((network.to_string(), cidr)),
                    Err(reason) => return exec_err!("cidr_contains: {reason}"),
                }
            }
            let cidr = &parsed.as_ref().expect("parsed above").1;
            result.push(Some(address.trim().parse().is_ok_and(|ip| cidr.contains(ip))));
        }
        columnar_result(&args.args, Arc::new(BooleanArray::from(result)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::text;

    #[tokio::test]
    async fn addresses_in_networks() {
        for (address, network, expected) in [
            ("10.1.2.3", "10.0.0.0/8", Some("true")),
            ("11.1.2.3", "10.0.0.0/8", Some("false")),
            ("2600:1f00::1", "2600:1f00::/24", Some("true")),
            ("cloudformation.amazonaws.com", "10.0.0.0/8", Some("false")),
        ] {
            let got = text(&format!("SELECT cidr_contains('{address}', '{network}')")).await;
            assert_eq!(got.as_deref(), expected, "{address} in {network}");
        }
    }
}
