//! `chatd user set-staff|suspend|unsuspend`, `chatd invite create` and
//! `chatd audit`: moderation from the command line, under the same rules
//! as `/api/admin/`, recorded in the audit log as the command line's. A
//! running server sees each change at its next request (it reads the user
//! afresh for every token).

use std::path::Path;
use std::time::Duration;

use crate::domain::moderation;
use crate::ops::out::{errln, outln};
use crate::storage::admin;
use crate::storage::audit::{self, COMMAND_LINE};

/// The refusal of a domain rule, as a command's error.
fn refused(error: crate::domain::error::Error) -> anyhow::Error {
    anyhow::anyhow!("{}", error.detail())
}

/// `chatd user set-staff NAME on|off`.
pub fn set_staff(data_dir: &Path, username: &str, staff: bool) -> anyhow::Result<()> {
    let mut conn = super::open(data_dir)?;
    let user = admin::set_staff(
        &mut conn,
        username,
        staff,
        COMMAND_LINE,
        |target, active| moderation::check_staff_change(target, staff, active),
    )?
    .ok_or_else(|| anyhow::anyhow!("no user {username}"))?
    .map_err(refused)?;
    let now = if user.is_staff {
        "is staff"
    } else {
        "is no longer staff"
    };
    outln!("{} {now}", user.username);
    Ok(())
}

/// `chatd user suspend NAME [--reason ...]` (`suspend`) and
/// `chatd user unsuspend NAME`.
pub fn suspend(
    data_dir: &Path,
    username: &str,
    suspend: bool,
    reason: Option<&str>,
) -> anyhow::Result<()> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if let Some(reason) = reason {
        anyhow::ensure!(
            reason.chars().count() <= moderation::REASON_MAX,
            "the reason is longer than {} characters",
            moderation::REASON_MAX
        );
    }
    let mut conn = super::open(data_dir)?;
    let user = admin::set_suspended(
        &mut conn,
        username,
        suspend,
        reason,
        COMMAND_LINE,
        |target, active| moderation::check_suspension(None, target, suspend, active),
    )?
    .ok_or_else(|| anyhow::anyhow!("no user {username}"))?
    .map_err(refused)?;
    if suspend {
        outln!(
            "suspended {}; their tokens no longer work and their sockets close",
            user.username
        );
    } else {
        outln!("{} may sign in again", user.username);
    }
    Ok(())
}

/// `chatd invite create [--uses N] [--expires 7d]`: prints the code.
pub fn create_invite(data_dir: &Path, uses: u32, expires: Duration) -> anyhow::Result<()> {
    anyhow::ensure!(
        expires <= moderation::INVITE_EXPIRES_MAX,
        "an invite can be valid for 365 days at most"
    );
    let code = moderation::new_invite_code()?;
    let expires_at =
        crate::storage::timestamp(chrono::Utc::now() + chrono::Duration::from_std(expires)?);
    let mut conn = super::open(data_dir)?;
    admin::create_invite(
        &mut conn,
        &moderation::invite_hash(&code),
        uses,
        &expires_at,
        COMMAND_LINE,
    )?;
    outln!("{code}");
    errln!("invite for {uses} registration(s), valid until {expires_at}; it is not shown again");
    Ok(())
}

/// `chatd audit`: the newest `limit` entries, newest first, one a line,
/// tab-separated: id, timestamp, actor, action, target, detail.
pub fn print_audit(data_dir: &Path, limit: u64) -> anyhow::Result<()> {
    let conn = super::open_read_only(data_dir)?;
    for entry in audit::page(&conn, 0, limit)? {
        outln!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            entry.id,
            entry.created_at,
            entry.actor,
            entry.action,
            entry.target,
            entry.detail.replace(['\t', '\n'], " ")
        );
    }
    Ok(())
}
