//! Who may connect and what they may run: protected mode, the ACL check of
//! each command (with its NOPERM reply and ACL LOG entry), and the effects
//! of user changes on live connections.

use std::net::IpAddr;

use bytes::Bytes;

use super::{Client, Server};
use crate::acl::{self, Acl, Denied};
use crate::commands::Command;
use crate::config::D;

pub const PROTECTED_MODE: &str = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";

const BOTH_USERS_AND_ACLFILE: &str = "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.";

/// Protected mode: with no password for the default user, only loopback
/// clients are accepted.
pub fn protected_mode_refuses(protected: bool, default_nopass: bool, peer: IpAddr) -> bool {
    let local = match peer {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    };
    protected && default_nopass && !local
}

/// The NOPERM reply for a refused call.
pub fn noperm_text(user: &str, cmd: &Command, d: &Denied) -> Vec<u8> {
    match d {
        Denied::Command => format!(
            "NOPERM User {user} has no permissions to run the '{}' command",
            cmd.name
        )
        .into_bytes(),
        Denied::Key(_) => b"NOPERM No permissions to access a key".to_vec(),
        Denied::Channel(_) => b"NOPERM No permissions to access a channel".to_vec(),
    }
}

impl Server {
    /// A new connection is authenticated from the start when the default
    /// user needs no password.
    pub fn auth_on_connect(&self) -> bool {
        !self.acl.auth_required()
    }

    /// Refuses nothing when protected mode does not apply to `peer`.
    pub fn protected_mode_refuses(&self, peer: IpAddr) -> bool {
        let nopass = self.acl.default_user().is_some_and(|u| u.nopass);
        protected_mode_refuses(self.cfg.bool(D::PROTECTED_MODE), nopass, peer)
    }

    /// The ACL check of one call; a refusal is logged and returned as the
    /// reply text. `context` is "toplevel" or "multi" (at EXEC).
    #[inline]
    pub fn acl_check(
        &mut self,
        client: &Client,
        cmd: &'static Command,
        args: &[Bytes],
        context: &'static str,
        now_ms: i64,
    ) -> Result<(), Vec<u8>> {
        // Like Redis's fake and master clients, internal ones are not
        // subject to ACL.
        if client.internal() {
            return Ok(());
        }
        let user = client.user.borrow();
        match self.acl.check(&user, cmd, args) {
            Ok(()) => Ok(()),
            Err(d) => Err(self.acl_denied(client, &user, cmd, args, context, now_ms, d)),
        }
    }

    /// Logs a refusal in ACL LOG and gives the NOPERM text.
    #[cold]
    #[allow(clippy::too_many_arguments)]
    fn acl_denied(
        &mut self,
        client: &Client,
        user: &str,
        cmd: &'static Command,
        args: &[Bytes],
        context: &'static str,
        now_ms: i64,
        d: Denied,
    ) -> Vec<u8> {
        let (reason, object): (&'static str, &[u8]) = match &d {
            Denied::Command => ("command", cmd.name.as_bytes()),
            Denied::Key(i) => ("key", &args[*i]),
            Denied::Channel(i) => ("channel", &args[*i]),
        };
        let max = self.cfg.int(D::ACLLOG_MAX_LEN).max(0) as usize;
        self.acl.log_denial(
            reason,
            context,
            object,
            user,
            client.info_line(),
            now_ms,
            max,
        );
        noperm_text(user, cmd, &d)
    }

    /// A failed AUTH or HELLO AUTH, for ACL LOG.
    pub fn log_auth_failure(&mut self, client: &Client, username: &[u8], now_ms: i64) {
        let max = self.cfg.int(D::ACLLOG_MAX_LEN).max(0) as usize;
        let context = if client.multi.borrow().is_some() {
            "multi"
        } else {
            "toplevel"
        };
        let name = String::from_utf8_lossy(username);
        self.acl.log_denial(
            "auth",
            context,
            b"AUTH",
            &name,
            client.info_line(),
            now_ms,
            max,
        );
    }

    /// Connections of a deleted user are closed (after the reply, for the
    /// one that deleted it).
    pub fn kill_clients_of(&mut self, name: &str) {
        for c in self.clients.values() {
            if *c.user.borrow() == name {
                *c.user.borrow_mut() = "default".into();
                c.authenticated.set(false);
                c.kill();
            }
        }
    }

    /// After a user's channel rules changed, its subscribed connections that
    /// lost access to one of their channels or patterns are closed.
    pub fn drop_subscribers_without_access(&mut self, name: &str) {
        let Some(u) = self.acl.users().get(name) else {
            return;
        };
        let ok = |ch: &[u8], literal: bool| {
            std::iter::once(&u.root)
                .chain(u.selectors.iter())
                .any(|s| s.channel_allowed(ch, literal))
        };
        for c in self.clients.values() {
            if *c.user.borrow() != name || !c.in_pubsub() {
                continue;
            }
            let lost = c.subs.borrow().iter().any(|ch| !ok(ch, false))
                || c.ssubs.borrow().iter().any(|ch| !ok(ch, false))
                || c.psubs.borrow().iter().any(|p| !ok(p, true));
            if lost {
                c.kill();
            }
        }
    }

    fn allchannels_default(&self) -> bool {
        self.cfg.str(D::ACL_PUBSUB_DEFAULT) == "allchannels"
    }

    /// Start-up: `user` lines of redis.conf or the ACL file (not both).
    pub fn init_acl(&mut self, conf_users: &[Vec<String>]) -> Result<(), String> {
        let aclfile = self.cfg.str(D::ACLFILE).to_string();
        if !conf_users.is_empty() && !aclfile.is_empty() {
            return Err(BOTH_USERS_AND_ACLFILE.into());
        }
        if !aclfile.is_empty() {
            let text = std::fs::read(&aclfile)
                .map_err(|e| format!("Error loading ACLs, opening file '{aclfile}': {e}"))?;
            let lines = acl::parse_file(&text, &aclfile);
            let all = self.allchannels_default();
            let rp = self.cfg.str(D::REQUIREPASS).to_string();
            self.acl = self.acl.from_lines(&lines, all, &rp).map_err(|e| {
                format!(
                    "Aborting Redis startup because of ACL errors: {}",
                    acl::file_errors_text(&e)
                )
            })?;
            return Ok(());
        }
        for words in conf_users {
            let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
            let Some(name) = words.first() else {
                continue;
            };
            if !acl::user::valid_name(name.as_bytes()) {
                return Err(format!("Error in user declaration '{name}': Usernames can't contain spaces or null characters"));
            }
            let all = self.allchannels_default();
            // The default user line describes it from scratch.
            let mut rules = args[1..].to_vec();
            if name == "default" {
                rules.insert(0, b"reset".to_vec());
            }
            if let Err(e) = self.acl.set_user(name, &rules, all) {
                let detail = match &e {
                    acl::SetError::Rule(op, r) => format!(
                        "Error loading ACL rule '{}' for the user named '{name}': {}",
                        String::from_utf8_lossy(op),
                        r.text()
                    ),
                    acl::SetError::Unmatched(m) => m.clone(),
                };
                return Err(detail);
            }
        }
        Ok(())
    }

    /// ACL LOAD: replaces every user with the file's, or changes nothing.
    /// Connections of the replaced users (all but the default user) are
    /// closed.
    pub fn load_acl_file(&mut self, path: &str) -> Result<(), String> {
        let text = std::fs::read(path)
            .map_err(|e| format!("Error loading ACLs, opening file '{path}': {e}"))?;
        let lines = acl::parse_file(&text, path);
        let all = self.allchannels_default();
        let rp = self.cfg.str(D::REQUIREPASS).to_string();
        let mut new: Acl = self
            .acl
            .from_lines(&lines, all, &rp)
            .map_err(|e| acl::file_errors_text(&e))?;
        new.log = std::mem::take(&mut self.acl.log);
        self.acl = new;
        for c in self.clients.values() {
            if *c.user.borrow() != "default" {
                *c.user.borrow_mut() = "default".into();
                c.authenticated.set(false);
                c.kill();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_mode_decision() {
        let ext: IpAddr = "192.0.2.7".parse().unwrap();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let lo6: IpAddr = "::1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(protected_mode_refuses(true, true, ext));
        assert!(!protected_mode_refuses(true, true, lo));
        assert!(!protected_mode_refuses(true, true, lo6));
        assert!(!protected_mode_refuses(true, true, mapped));
        assert!(!protected_mode_refuses(false, true, ext));
        assert!(!protected_mode_refuses(true, false, ext));
    }
}
