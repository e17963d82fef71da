//! Spinners and download bars for `resolve` on a terminal, drawn from what the solve reports.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use envlock::solve::conda::Reporter;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use rattler_conda_types::Subdir;

/// One spinner per platform, and the repodata gateway's download bars.
pub struct Spinners {
    multi: MultiProgress,
    downloads: Arc<dyn rattler_repodata_gateway::Reporter>,
    spinners: Mutex<HashMap<Subdir, ProgressBar>>,
}

impl Spinners {
    pub fn new() -> Spinners {
        let multi = MultiProgress::new();
        let downloads = Arc::new(
            rattler_repodata_gateway::IndicatifReporter::builder()
                .with_multi_progress(multi.clone())
                .clear_when_done(true)
                .finish(),
        );
        Spinners {
            multi,
            downloads,
            spinners: Mutex::default(),
        }
    }

    fn with(&self, platform: Subdir, f: impl FnOnce(&ProgressBar)) {
        if let Some(s) = self.spinners.lock().expect("not poisoned").get(&platform) {
            f(s);
        }
    }
}

impl Reporter for Spinners {
    fn platform_started(&self, platform: Subdir) {
        let spinner = self.multi.add(ProgressBar::new_spinner());
        spinner.set_style(
            ProgressStyle::with_template("{spinner} {prefix:<14} {msg}").expect("valid template"),
        );
        spinner.set_prefix(platform.to_string());
        spinner.set_message("fetching repodata");
        spinner.enable_steady_tick(std::time::Duration::from_millis(100));
        self.spinners
            .lock()
            .expect("not poisoned")
            .insert(platform, spinner);
    }

    fn platform_solving(&self, platform: Subdir) {
        self.with(platform, |s| s.set_message("solving"));
    }

    fn platform_done(&self, platform: Subdir, packages: Option<usize>) {
        self.with(platform, |s| match packages {
            Some(n) => s.finish_with_message(format!("{n} packages")),
            None => s.finish_and_clear(),
        });
    }

    fn downloads(&self) -> Option<Arc<dyn rattler_repodata_gateway::Reporter>> {
        Some(self.downloads.clone())
    }
}
