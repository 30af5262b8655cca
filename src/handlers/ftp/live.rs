//! Live configuration of the handler: generations (ftpdlib extension;
//! pyftpdlib changes class attributes in place, which every instance then
//! reads).
//!
//! Every session holds an `Rc<FtpHandler>`, so a running server cannot
//! change the handler in place. [`FtpServer::handler_mut`](crate::FtpServer::handler_mut)
//! forks a new *generation* instead: a copy of every setting, whose
//! authorizer, file-system factory and hooks stand for those of the
//! generation that owns them (one hop, never a chain) until the program
//! replaces them. New connections get the newest generation; a session
//! moves to it at its next command ([`Session::refresh`](super::session)),
//! never in the middle of one, and a data channel keeps the generation it
//! was opened with until it closes. All generations share one [`LiveState`]:
//! the generation number, a weak link to the newest, and the ban table.

use std::cell::{Cell, RefCell};
use std::io;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};

use super::bans::Bans;
use super::{FtpHandler, Hooks, SessionInfo};
use crate::authorizers::{Authorizer, ClientCertificate, Perm, Perms, Validation};
use crate::error::{AuthenticationFailed, AuthorizerError};

/// What every generation of one handler shares.
#[derive(Debug, Default)]
pub(crate) struct LiveState {
    /// Bumped when a new generation is published.
    pub generation: Cell<u64>,
    /// The newest generation (the server holds it).
    latest: RefCell<Weak<FtpHandler>>,
    /// Failed logins across sessions (`bans.rs`).
    pub bans: RefCell<Bans>,
}

impl LiveState {
    /// The newest generation, if the server still holds it.
    pub fn latest(&self) -> Option<Rc<FtpHandler>> {
        self.latest.borrow().upgrade()
    }
}

/// A handler's link to the shared state and to the generations that own
/// the parts it inherits.
#[derive(Default)]
pub(crate) struct Live {
    pub state: Rc<LiveState>,
    owners: Owners,
}

/// Who owns the authorizer, the file-system factory and the hooks: `None`
/// for this generation itself; `Some(owner, placeholder)` when the field is
/// a stand-in (at that address) for the owner's.
#[derive(Default)]
struct Owners {
    authorizer: Option<(Rc<FtpHandler>, usize)>,
    fs: Option<(Rc<FtpHandler>, usize)>,
    hooks: Option<(Rc<FtpHandler>, usize)>,
    /// The virtual hosts' stand-ins: address, owner, index in the owner.
    sites: Vec<(usize, Rc<FtpHandler>, usize)>,
}

/// The address of a boxed value, to tell a stand-in from a replacement.
fn addr<T: ?Sized>(b: &T) -> usize {
    (b as *const T).cast::<()>() as usize
}

/// The next generation of `this`: every setting copied, the boxed parts
/// standing for their owners'.
pub(crate) fn fork(this: &Rc<FtpHandler>) -> FtpHandler {
    let h = &**this;
    // A part still at its stand-in's address is the owner's; one the
    // program replaced (another address) is this generation's own.
    let owner = |o: &Option<(Rc<FtpHandler>, usize)>, now: usize| match o {
        Some((owner, standin)) if *standin == now => Rc::clone(owner),
        _ => Rc::clone(this),
    };
    let (auth_owner, fs_owner, hooks_owner) = (
        owner(&h.live.owners.authorizer, addr(&*h.authorizer)),
        owner(&h.live.owners.fs, addr(&*h.abstracted_fs)),
        owner(&h.live.owners.hooks, addr(&*h.hooks)),
    );
    let authorizer: Box<dyn Authorizer> = Box::new(Inherited(Rc::clone(&auth_owner), None));
    let fs_from = Rc::clone(&fs_owner);
    let abstracted_fs: super::FsFactory =
        Box::new(move |root, session| (fs_from.abstracted_fs)(root, session));
    let hooks: Box<dyn Hooks> = Box::new(Inherited(Rc::clone(&hooks_owner), None));
    let (sites, site_owners) = fork_sites(this);
    let owners = Owners {
        authorizer: Some((auth_owner, addr(&*authorizer))),
        fs: Some((fs_owner, addr(&*abstracted_fs))),
        hooks: Some((hooks_owner, addr(&*hooks))),
        sites: site_owners,
    };
    // A full literal, no `..`: a new field must say how it is carried over.
    FtpHandler {
        authorizer,
        abstracted_fs,
        dtp_handler: h.dtp_handler.clone(),
        passive_dtp: h.passive_dtp.clone(),
        active_dtp: h.active_dtp.clone(),
        timeout: h.timeout,
        banner: h.banner.clone(),
        max_login_attempts: h.max_login_attempts,
        permit_foreign_addresses: h.permit_foreign_addresses,
        permit_privileged_ports: h.permit_privileged_ports,
        masquerade_address: h.masquerade_address,
        masquerade_address_map: h.masquerade_address_map.clone(),
        passive_ports: h.passive_ports.clone(),
        use_gmt_times: h.use_gmt_times,
        use_sendfile: h.use_sendfile,
        tcp_no_delay: h.tcp_no_delay,
        encoding: h.encoding.clone(),
        auth_failed_timeout: h.auth_failed_timeout,
        auth_workers: h.auth_workers,
        auth_max_in_flight: h.auth_max_in_flight,
        auth_max_in_flight_per_ip: h.auth_max_in_flight_per_ip,
        log_prefix: h.log_prefix.clone(),
        log_cmds_list: h.log_cmds_list.clone(),
        hooks,
        xferlog: h.xferlog.as_ref().and_then(|f| match f.try_clone() {
            Ok(f) => Some(f),
            Err(e) => {
                log::error!(target: crate::log::LOGERROR, "xferlog lost in a reconfiguration: {e}");
                None
            }
        }),
        proxy_protocol: h.proxy_protocol,
        trusted_proxies: h.trusted_proxies.clone(),
        proxy_data: h.proxy_data,
        proxy_header_timeout: h.proxy_header_timeout,
        passive_pool: h.passive_pool,
        ban_attempts: h.ban_attempts,
        ban_user_attempts: h.ban_user_attempts,
        ban_window: h.ban_window,
        ban_time: h.ban_time,
        ban_table_size: h.ban_table_size,
        #[cfg(feature = "tls")]
        tls: h.tls.clone(),
        commands: h.commands.clone(),
        upload_mode: h.upload_mode,
        // Quota usage and per-user buckets go on across generations.
        accounts: Rc::clone(&h.accounts),
        sites,
        live: Live {
            state: Rc::clone(&h.live.state),
            owners,
        },
    }
}

/// The virtual hosts of the next generation of `this`: each site's
/// settings copied, its authorizer a stand-in for the owner's.
#[allow(clippy::type_complexity)]
fn fork_sites(
    this: &Rc<FtpHandler>,
) -> (
    Vec<(String, super::VirtualHost)>,
    Vec<(usize, Rc<FtpHandler>, usize)>,
) {
    let mut sites = Vec::with_capacity(this.sites.len());
    let mut owners = Vec::with_capacity(this.sites.len());
    for (i, (name, site)) in this.sites.iter().enumerate() {
        let at = addr(&*site.authorizer);
        let (owner, index) = match this.live.owners.sites.iter().find(|(a, _, _)| *a == at) {
            Some((_, owner, index)) => (Rc::clone(owner), *index),
            None => (Rc::clone(this), i),
        };
        let authorizer: Box<dyn Authorizer> = Box::new(Inherited(Rc::clone(&owner), Some(index)));
        owners.push((addr(&*authorizer), owner, index));
        sites.push((
            name.clone(),
            super::VirtualHost {
                authorizer,
                banner: site.banner.clone(),
                #[cfg(feature = "tls")]
                certificate: site.certificate.clone(),
            },
        ));
    }
    (sites, owners)
}

/// Make `next` the newest generation: sessions see the bumped number at
/// their next command and move to it.
pub(crate) fn publish(next: &Rc<FtpHandler>) {
    let state = &next.live.state;
    *state.latest.borrow_mut() = Rc::downgrade(next);
    state.generation.set(state.generation.get() + 1);
}

/// A stand-in that forwards to the owner generation's part: its
/// authorizer (`None`) or that of its site at an index, its hooks.
///
/// Every method of [`Authorizer`] and [`Hooks`] must be forwarded here,
/// those with a default body included: one left out would answer with the
/// default after a reconfiguration.
struct Inherited(Rc<FtpHandler>, Option<usize>);

impl Inherited {
    fn auth(&self) -> &dyn Authorizer {
        self.0.authorizer_of(self.1)
    }
}

impl Authorizer for Inherited {
    fn validate_authentication(&self, u: &str, p: &str) -> Result<(), AuthenticationFailed> {
        self.auth().validate_authentication(u, p)
    }
    fn begin_validation(&self, u: &str, p: &str) -> Validation {
        self.auth().begin_validation(u, p)
    }
    fn has_user(&self, u: &str) -> bool {
        self.auth().has_user(u)
    }
    fn has_perm(&self, u: &str, perm: Perm, path: Option<&Path>) -> bool {
        self.auth().has_perm(u, perm, path)
    }
    fn get_perms(&self, u: &str) -> Perms {
        self.auth().get_perms(u)
    }
    fn perms_vary_by_path(&self, u: &str) -> bool {
        self.auth().perms_vary_by_path(u)
    }
    fn get_home_dir(&self, u: &str) -> Result<PathBuf, AuthorizerError> {
        self.auth().get_home_dir(u)
    }
    fn get_msg_login(&self, u: &str) -> String {
        self.auth().get_msg_login(u)
    }
    fn get_msg_quit(&self, u: &str) -> String {
        self.auth().get_msg_quit(u)
    }
    fn generation(&self) -> u64 {
        self.auth().generation()
    }
    fn impersonate_user(&self, u: &str, p: &str) -> io::Result<()> {
        self.auth().impersonate_user(u, p)
    }
    fn terminate_impersonation(&self, u: &str) -> io::Result<()> {
        self.auth().terminate_impersonation(u)
    }
    fn authenticate_certificate(&self, u: &str, cert: &ClientCertificate) -> bool {
        self.auth().authenticate_certificate(u, cert)
    }
    fn confinement(&self) -> Option<crate::hardening::Confinement> {
        self.auth().confinement()
    }
    fn user_limits(&self, u: &str) -> crate::UserLimits {
        self.auth().user_limits(u)
    }
}

impl Hooks for Inherited {
    fn pre_process_command(&self, ctx: &mut super::CommandContext<'_>) -> bool {
        self.0.hooks.pre_process_command(ctx)
    }
    fn on_connect(&self, s: &SessionInfo<'_>) {
        self.0.hooks.on_connect(s)
    }
    fn on_disconnect(&self, s: &SessionInfo<'_>) {
        self.0.hooks.on_disconnect(s)
    }
    fn on_login(&self, s: &SessionInfo<'_>, u: &str) {
        self.0.hooks.on_login(s, u)
    }
    fn on_login_failed(&self, s: &SessionInfo<'_>, u: &str, p: &str) {
        self.0.hooks.on_login_failed(s, u, p)
    }
    fn on_logout(&self, s: &SessionInfo<'_>, u: &str) {
        self.0.hooks.on_logout(s, u)
    }
    fn on_file_sent(&self, s: &SessionInfo<'_>, f: &Path) {
        self.0.hooks.on_file_sent(s, f)
    }
    fn on_file_received(&self, s: &SessionInfo<'_>, f: &Path) {
        self.0.hooks.on_file_received(s, f)
    }
    fn on_incomplete_file_sent(&self, s: &SessionInfo<'_>, f: &Path) {
        self.0.hooks.on_incomplete_file_sent(s, f)
    }
    fn on_incomplete_file_received(&self, s: &SessionInfo<'_>, f: &Path) {
        self.0.hooks.on_incomplete_file_received(s, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DummyAuthorizer;

    fn owner_of(h: &FtpHandler) -> &Rc<FtpHandler> {
        &h.live.owners.authorizer.as_ref().expect("a stand-in").0
    }

    #[test]
    fn forks_stand_in_for_the_owner_one_hop_until_replaced() {
        let dir = std::env::temp_dir();
        let mut bob = DummyAuthorizer::new();
        bob.add_user_with_perm("bob", "pw", &dir, "elr").unwrap();
        let g0 = Rc::new(FtpHandler::new(bob));
        let mut g1 = fork(&g0);
        g1.banner = "one".into();
        assert!(g1.authorizer.has_user("bob"));
        let g1 = Rc::new(g1);
        let g2 = fork(&g1);
        assert_eq!(g2.banner, "one");
        assert!(g2.authorizer.has_user("bob"));
        // Not a chain: g2 stands for g0's authorizer, not g1's stand-in.
        assert!(Rc::ptr_eq(owner_of(&g2), &g0));
        let mut g2 = g2;
        let mut carol = DummyAuthorizer::new();
        carol
            .add_user_with_perm("carol", "pw", &dir, "elr")
            .unwrap();
        g2.authorizer = Box::new(carol);
        let g2 = Rc::new(g2);
        let g3 = fork(&g2);
        assert!(g3.authorizer.has_user("carol") && !g3.authorizer.has_user("bob"));
        assert!(Rc::ptr_eq(owner_of(&g3), &g2));
        // Every generation shares one state.
        assert!(Rc::ptr_eq(&g3.live.state, &g0.live.state));
    }

    /// A method added to `Authorizer` or `Hooks` (with a default body)
    /// must be forwarded by the stand-in too, or a reconfigured server
    /// would answer with the trait's default instead of the inherited
    /// part's.
    #[test]
    fn the_stand_in_forwards_every_authorizer_and_hooks_method() {
        let this = include_str!("live.rs");
        let pairs = [
            (
                include_str!("../../authorizers.rs"),
                "pub trait Authorizer ",
                "impl Authorizer for Inherited",
            ),
            (
                include_str!("hooks.rs"),
                "pub trait Hooks ",
                "impl Hooks for Inherited",
            ),
        ];
        for (src, trait_header, impl_header) in pairs {
            let wanted = crate::source_scan::block_fns(src, trait_header);
            assert!(wanted.len() >= 9, "{trait_header}: {wanted:?}");
            let forwarded = crate::source_scan::block_fns(this, impl_header);
            for m in wanted {
                assert!(forwarded.contains(&m), "{impl_header} lacks {m}");
            }
        }
    }
}
