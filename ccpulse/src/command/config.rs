//! `ccpulse config check`: loads the configuration as a service would (file, then
//! `CCPULSE__…` variables), validates it and prints it as in effect, secrets redacted;
//! then checks the alert rules file of the data directory, as `serve` would at start.

use std::process::ExitCode;

use anyhow::Result;
use ccpulse_dashboard_api::alerts::{AlertsConfig, check_rules_file};

use crate::cli::ConfigCheckArgs;
use crate::config::{self, Config};

/// Exit status for a configuration that cannot be loaded or is invalid.
const INVALID: u8 = 2;

pub(crate) async fn check(args: ConfigCheckArgs) -> Result<ExitCode> {
    let path = args.config.config.as_deref();
    let loaded = config::load_from_process(path)
        .and_then(|config| config.to_redacted_toml().map(|text| (config, text)));
    match loaded {
        Ok((config, text)) => {
            print!("{}{text}", header(&config));
            eprintln!("configuration is valid");
            let rules = AlertsConfig::in_data_dir(&config.data_dir).rules_file;
            match check_rules_file(&rules) {
                Ok(set) => {
                    eprintln!(
                        "alert rules: {} rules, {} destinations ({})",
                        set.rules.len(),
                        set.destinations.len(),
                        rules.display()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => {
                    eprintln!("error: alert rules: {error}");
                    Ok(ExitCode::from(INVALID))
                }
            }
        }
        Err(error) => {
            // The TOML parser's message ends with a newline of its own.
            let report = format!("{:#}", anyhow::Error::new(error));
            eprintln!("error: {}", report.trim_end());
            Ok(ExitCode::from(INVALID))
        }
    }
}

/// TOML comments saying where the values came from.
fn header(config: &Config) -> String {
    let mut layers = vec!["built-in defaults".to_owned()];
    if let Some(path) = &config.source_file {
        layers.push(format!("{}", path.display()));
    }
    if !config.env_vars.is_empty() {
        layers.push(format!("environment ({})", config.env_vars.join(", ")));
    }
    format!(
        "# ccpulse configuration in effect; secret values redacted.\n# Layers: {}\n\n",
        layers.join(" < ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_the_layers() {
        let config = config::load(None, vec![("CCPULSE__KAFKA__BROKERS".into(), "b:1".into())])
            .expect("valid");
        let text = header(&config);
        assert!(
            text.contains("built-in defaults < environment (CCPULSE__KAFKA__BROKERS)"),
            "{text}"
        );
    }
}
