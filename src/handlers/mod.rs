//! Protocol handlers (pyftpdlib `handlers`): the plain FTP handler; the TLS
//! one joins here behind the `tls` feature.

pub mod ftp;
#[cfg(feature = "tls")]
pub mod ftps;
