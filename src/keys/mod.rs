//! API keys: who may write, and as what role.
//!
//! A key reads `bsk_<lookup>_<secret>`. The lookup half finds the key's row;
//! the secret half is stored only as a SHA-256 digest and compared in constant
//! time. Keys carry 256 random bits, so a fast hash is enough: there is no
//! password to guess. The key itself is shown once, when it is created.
//! A client address that fails to authenticate too often is refused for a
//! while without a lookup (`throttle`).

pub mod queries;
pub mod throttle;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::HeaderValue;
use actix_web::{web, FromRequest, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use chrono::{DateTime, Utc};

use crate::db::DbPool;
use crate::error::AppError;
use crate::representation::Audience;
use crate::visibility::Viewer;
use throttle::AuthThrottle;

const PREFIX: &str = "bsk";

/// What a key may do. Editors write content and preview drafts; admins may
/// also delete articles and outlets and release old slugs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Editor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Editor => "editor",
            Self::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "editor" => Some(Self::Editor),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// The longest key name the database takes.
const MAX_NAME_CHARS: usize = 100;

/// Checks a new key's name against the database's rule (not blank, at
/// most 100 characters) before it refuses it less clearly.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        Err("a key needs a name that is not blank, e.g. --name desk-editor".into())
    } else if name.chars().count() > MAX_NAME_CHARS {
        Err(format!(
            "a key's name has at most {MAX_NAME_CHARS} characters; this one has {}",
            name.chars().count()
        ))
    } else {
        Ok(())
    }
}

/// A freshly made key: the text to hand over once, and what is stored of it.
pub struct NewKey {
    pub text: String,
    pub lookup: String,
    pub secret_hash: Vec<u8>,
}

impl NewKey {
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut lookup = [0u8; 9];
        let mut secret = [0u8; 32];
        getrandom::fill(&mut lookup)?;
        getrandom::fill(&mut secret)?;
        let lookup = URL_SAFE_NO_PAD.encode(lookup).replace(['-', '_'], "x");
        let secret = URL_SAFE_NO_PAD.encode(secret);
        Ok(Self {
            text: format!("{PREFIX}_{lookup}_{secret}"),
            secret_hash: digest(&secret).to_vec(),
            lookup,
        })
    }
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Splits a presented key into its lookup and secret halves.
fn parse(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix(PREFIX)?.strip_prefix('_')?;
    let (lookup, secret) = rest.split_once('_')?;
    (!lookup.is_empty() && !secret.is_empty()).then_some((lookup, secret))
}

/// True when `secret` hashes to `stored`, in time independent of where they differ.
fn secret_matches(secret: &str, stored: &[u8]) -> bool {
    digest(secret).ct_eq(stored).into()
}

/// The caller behind a valid, unrevoked key.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: i64,
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// Refuses callers below `role` with a 403.
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "this needs an {} key; `{}` is an {} key",
                role.as_str(),
                self.name,
                self.role.as_str()
            )))
        }
    }
}

/// The caller if the request carries a key at all; a key that is present but
/// wrong is still a 401, so a mistyped key never silently reads as public.
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Caller>);

impl MaybeCaller {
    /// Any valid key may preview; everyone else sees what is public at `now`.
    pub fn viewer(&self, now: DateTime<Utc>) -> Viewer {
        match self.0 {
            Some(_) => Viewer::Editor,
            None => Viewer::Public(now),
        }
    }

    pub fn audience(&self) -> Audience {
        match self.0 {
            Some(_) => Audience::Private,
            None => Audience::Public,
        }
    }
}

/// The caller behind the request's key, if it carries one. An address that
/// failed too often lately is refused before its key is read; every 401
/// counts against its address.
async fn authenticate(req: HttpRequest) -> Result<Option<Caller>, AppError> {
    let Some(header) = req.headers().get(actix_web::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let throttle = req
        .app_data::<web::Data<AuthThrottle>>()
        .ok_or_else(|| AppError::Internal("no authentication throttle configured".into()))?;
    let client = throttle.admit(&req)?;
    let caller = check_key(&req, header).await;
    if let Err(AppError::Unauthorized(_)) = caller {
        throttle.failed(client);
    }
    caller.map(Some)
}

async fn check_key(req: &HttpRequest, header: &HeaderValue) -> Result<Caller, AppError> {
    let presented = header
        .to_str()
        .ok()
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| {
            AppError::Unauthorized("the Authorization header must be `Bearer <key>`".into())
        })?;
    let invalid = || AppError::Unauthorized("the key is unknown or revoked".into());
    let (lookup, secret) = parse(presented).ok_or_else(invalid)?;
    let pool = req
        .app_data::<web::Data<DbPool>>()
        .ok_or_else(|| AppError::internal("no database pool configured"))?;
    let mut conn = pool.get().await?;
    let row = queries::find_active(&mut conn, lookup)
        .await?
        .ok_or_else(invalid)?;
    if !secret_matches(secret, &row.secret_hash) {
        return Err(invalid());
    }
    queries::touch(&mut conn, row.id).await?;
    let role = Role::parse(&row.role)
        .ok_or_else(|| AppError::internal(format!("key {} has role {}", row.id, row.role)))?;
    Ok(Caller {
        key_id: row.id,
        name: row.name,
        role,
    })
}

impl FromRequest for MaybeCaller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(req).await.map(MaybeCaller) })
    }
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            authenticate(req).await?.ok_or_else(|| {
                AppError::Unauthorized(
                    "this needs an API key: `Authorization: Bearer <key>`".into(),
                )
            })
        })
    }
}

/// The caller, whose key has the editor's role (or the admin's when
/// `ADMIN`), and the checked path `P` of the resource it writes. The key is
/// checked first, so that a request without one is a 401 whatever its path
/// says.
pub struct Authorized<const ADMIN: bool, P = ()>(pub Caller, pub P);

/// A request by an editor's key (or an admin's).
pub type Editor<P = ()> = Authorized<false, P>;
/// A request by an admin's key: deletions, releasing slugs.
pub type Admin<P = ()> = Authorized<true, P>;

impl<const ADMIN: bool, P> FromRequest for Authorized<ADMIN, P>
where
    P: FromRequest + 'static,
    P::Error: Into<actix_web::Error>,
{
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = Caller::extract(&req).await?;
            caller.require(if ADMIN { Role::Admin } else { Role::Editor })?;
            let path = P::extract(&req).await.map_err(Into::into)?;
            Ok(Self(caller, path))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_parses_and_matches_only_its_own_hash() {
        let key = NewKey::generate().unwrap();
        let (lookup, secret) = parse(&key.text).unwrap();
        assert_eq!(lookup, key.lookup);
        assert!(secret_matches(secret, &key.secret_hash));
        let other = NewKey::generate().unwrap();
        assert!(!secret_matches(secret, &other.secret_hash));
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        for bad in ["", "bsk", "bsk_", "bsk__x", "bsk_x_", "other_a_b"] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }
}
