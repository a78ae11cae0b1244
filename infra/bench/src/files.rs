//! Peak RSS of the release result-publisher delivering one SQS event of ten results that each
//! carry a 10 MiB `data_url` file (downloaded, then uploaded to SR as multipart), beside the same
//! binary delivering ten results without files, measured in the same run: the difference is what
//! the files cost in memory. The files come from the SR simulator (one 10 MiB upload it then
//! serves), so every byte crosses the loopback as it would cross the internet.

use serde::Serialize;

use crate::context::Context;
use crate::fixtures::{self, Tenant};
use crate::launch::Instance;
use crate::Result;

#[derive(Debug, Serialize)]
pub struct FilesRss {
    pub results: usize,
    pub file_bytes: usize,
    /// `VmHWM` after the batch with files, KiB.
    pub with_files_kib: Option<u64>,
    /// `VmHWM` after the same batch without files (the baseline), KiB.
    pub without_files_kib: Option<u64>,
    /// Files the simulator received with the full size.
    pub uploaded: usize,
}

pub async fn measure(ctx: &Context, results: usize, file_bytes: usize) -> Result<FilesRss> {
    let stack = &ctx.stack;
    let tenant = Tenant::create(stack, "bench-files").await?;
    let data_url = hosted_file(ctx, &tenant, file_bytes).await?;
    let with_files =
        fixtures::stored_results_with(stack, &tenant, results, Some(&data_url)).await?;
    let without_files = fixtures::stored_results(stack, &tenant, results).await?;
    let without_files_kib = peak_rss_of_one_batch(ctx, &without_files).await?;
    let with_files_kib = peak_rss_of_one_batch(ctx, &with_files).await?;
    let mut uploaded = 0;
    for (order_id, _) in &with_files {
        let order = stack.sim.order(order_id).await.unwrap_or_default();
        let full = order["attachments"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["size"].as_u64() == Some(file_bytes as u64));
        uploaded += usize::from(full);
    }
    Ok(FilesRss {
        results,
        file_bytes,
        with_files_kib,
        without_files_kib,
        uploaded,
    })
}

/// A fresh publisher process handles one event of `results`; its peak RSS afterwards.
async fn peak_rss_of_one_batch(ctx: &Context, results: &[(String, String)]) -> Result<Option<u64>> {
    let spec = ctx.publisher_spec(&ctx.sim_url);
    let mut instance = Instance::start(&spec, &ctx.logs).await?;
    instance.init_time().await?;
    fixtures::deliver_event(&mut instance, results, "files").await?;
    Ok(instance.peak_rss_kib())
}

/// Puts `size` bytes on the simulator (as an upload to an order of `tenant`): the URL it serves
/// them at.
async fn hosted_file(ctx: &Context, tenant: &Tenant, size: usize) -> Result<String> {
    let stack = &ctx.stack;
    let (host_order, call, _) = stack
        .sim
        .place_order(&tenant.company.company_id, "culture-fit")
        .await;
    if call.status != 202 {
        return Err(format!("SR's order was answered {}", call.status).into());
    }
    let credentials = stack
        .secrets
        .company_credentials(&tenant.company.company_id)
        .await?;
    let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let answer = stack
        .sr
        .upload_attachment(
            &credentials.outbound,
            &host_order,
            "interview.mp4",
            "video/mp4",
            bytes.into(),
            connector::sr::client::UPLOAD_TIMEOUT,
        )
        .await?;
    answer
        .body
        .map(|file| file.url)
        .ok_or_else(|| "the simulator answered no file URL".into())
}
