//! TLS to the database over rustls: the server's certificate is always verified,
//! against `sslrootcert` (a PEM file of certificate authorities) or, when none is
//! given, the system's roots.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::options::PostgresOptions;
use crate::StoreError;

fn tls_error(detail: String) -> StoreError {
    StoreError::Url(detail)
}

/// The roots to verify the server's certificate against.
fn roots(options: &PostgresOptions) -> Result<RootCertStore, StoreError> {
    let mut roots = RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = match &options.root_cert {
        Some(path) => CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                tls_error(format!(
                    "`sslrootcert={}`: cannot read certificates from it: {e}",
                    path.display()
                ))
            })?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        let from = match &options.root_cert {
            Some(path) => format!("`sslrootcert={}`", path.display()),
            None => "the system's certificate store".to_string(),
        };
        return Err(tls_error(format!(
            "no certificate authority found in {from}: name a PEM file with `sslrootcert=PATH`"
        )));
    }
    Ok(roots)
}

/// A rustls connector for the options' roots.
pub(super) fn connector(
    options: &PostgresOptions,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(format!("TLS: {e}")))?
        .with_root_certificates(roots(options)?)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}
