//! Release binary sizes (the release profile strips them).

use std::collections::BTreeMap;

use crate::context::Context;
use crate::Result;

/// Bytes of each binary in `target/release`.
pub fn measure(ctx: &Context, names: &[&str]) -> Result<BTreeMap<String, u64>> {
    names
        .iter()
        .map(|name| {
            let path = ctx.binary(name);
            let bytes = std::fs::metadata(&path)
                .map_err(|e| format!("{}: {e} (build it first)", path.display()))?
                .len();
            Ok((name.to_string(), bytes))
        })
        .collect()
}
