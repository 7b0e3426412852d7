//! `complyd app ...` and `complyd user ...`: the token service's registry, edited in the data
//! folder's store directly (SQLite in WAL mode lets this run beside a serving complyd).

use crate::cli::{
    AppAddArgs, AppCommand, DataArgs, ListArgs, RemoveArgs, UserAddArgs, UserCommand, UserGrantArgs,
};
use complyd::identity::registry::{self, Application, User};
use complyd::service::{Fidelity, Service, Settings, TokenKey};
use complyd::store::{Store, StoreError};
use serde_json::json;
use std::sync::Arc;

pub(crate) async fn open(data: &DataArgs) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&data.data)?;
    Ok(complyd::store::open(data.store.as_deref(), &data.data).await?)
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Columns padded to their widest cell.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, String::len))
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!("{}", line(header.to_vec()));
    for row in rows {
        println!("{}", line(row.iter().map(String::as_str).collect()));
    }
}

fn app_json(app: &Application) -> serde_json::Value {
    json!({
        "clientId": app.client_id,
        "tenant": app.tenant,
        "name": app.name,
        "objectId": app.object_id,
        "roles": app.roles,
        "redirectUris": app.redirect_uris,
        "secrets": app.secrets.len(),
        "certificates": app.certificates.len(),
    })
}

fn user_json(user: &User) -> serde_json::Value {
    json!({
        "id": user.id,
        "tenant": user.tenant,
        "username": user.username,
        "scopes": user.scopes,
    })
}

fn not_empty(values: Vec<String>) -> Vec<String> {
    values
        .into_iter()
        .filter(|v| !v.trim().is_empty())
        .collect()
}

pub async fn app(command: AppCommand) -> anyhow::Result<()> {
    match command {
        AppCommand::Add(args) => app_add(args).await,
        AppCommand::List(args) => app_list(args).await,
        AppCommand::Remove(args) => remove(args, true).await,
    }
}

pub async fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add(args) => user_add(args).await,
        UserCommand::List(args) => user_list(args).await,
        UserCommand::Remove(args) => user_remove(args).await,
        UserCommand::Grant(args) => user_grant(args).await,
    }
}

/// The service over the data folder's store, for commands that write the directory as
/// `POST /users` does.
pub(crate) fn service(store: Arc<dyn Store>) -> anyhow::Result<Service> {
    let model = odata::Model::intune().map_err(|e| anyhow::anyhow!(e))?;
    let settings = Settings {
        fidelity: Fidelity::Documented,
        page_size: 100,
    };
    Service::new(model, store, settings, TokenKey::derive(b"complyd user"))
        .map_err(|e| anyhow::anyhow!(e))
}

async fn app_add(args: AppAddArgs) -> anyhow::Result<()> {
    let store = open(&args.data).await?;
    let generated = args.generate_secret.then(|| {
        format!(
            "{}~{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
    });
    let secret = args.secret.clone().or(generated.clone());
    let mut certificates = Vec::new();
    for path in &args.certificate {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if complyd::identity::cert::rsa_keys(&pem).is_empty() {
            anyhow::bail!("{}: no RSA certificate in this PEM", path.display());
        }
        certificates.push(pem);
    }
    for uri in &args.redirect_uris {
        let scheme_ok = uri.starts_with("https://") || uri.starts_with("http://");
        if !scheme_ok || uri.contains('#') || uri.len() > 2048 {
            anyhow::bail!(
                "redirect URI {uri}: an absolute http(s) URI without a fragment, at most 2048 characters"
            );
        }
    }
    let app = Application {
        client_id: args
            .client_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        tenant: args.tenant.clone(),
        name: args.name.clone(),
        object_id: uuid::Uuid::new_v4().to_string(),
        secrets: secret.iter().map(|s| registry::hash_secret(s)).collect(),
        certificates,
        roles: not_empty(args.roles),
        redirect_uris: not_empty(args.redirect_uris),
        created: complyd::common::now_unix(),
    };
    match registry::add_app(&store, app.clone()).await {
        Err(StoreError::Conflict) => {
            anyhow::bail!("an app with client id {} exists", app.client_id)
        }
        other => other?,
    }
    let mut out = app_json(&app);
    if let (Some(secret), serde_json::Value::Object(map)) = (generated, &mut out) {
        map.insert("secret".into(), json!(secret));
    }
    print_json(&out)
}

async fn app_list(args: ListArgs) -> anyhow::Result<()> {
    let store = open(&args.data).await?;
    let apps = registry::apps(&store).await?;
    if args.json {
        return print_json(&json!(apps.iter().map(app_json).collect::<Vec<_>>()));
    }
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|a| {
            vec![
                a.client_id.clone(),
                a.tenant.clone(),
                a.name.clone(),
                format!(
                    "{} secret(s), {} cert(s)",
                    a.secrets.len(),
                    a.certificates.len()
                ),
                a.roles.join(","),
            ]
        })
        .collect();
    print_table(
        &["CLIENT ID", "TENANT", "NAME", "CREDENTIALS", "ROLES"],
        &rows,
    );
    Ok(())
}

/// A directory user of the tenant (as `POST /users` makes one) with a password and the scopes
/// given; its id is the `oid` of its tokens.
async fn user_add(args: UserAddArgs) -> anyhow::Result<()> {
    let store = open(&args.data).await?;
    let id = service(store.clone())?
        .add_user(&args.tenant, &args.username, &args.password)
        .await
        .map_err(|e| anyhow::anyhow!("tenant {}: {}", args.tenant, e.message()))?;
    let scopes = not_empty(args.scopes);
    registry::set_scopes(&store, &id, scopes.clone()).await?;
    print_json(&json!({
        "id": id,
        "tenant": args.tenant,
        "username": args.username,
        "scopes": scopes,
    }))
}

/// Removes a user: the directory user and its sign-in record, or a sign-in record alone.
async fn user_remove(args: RemoveArgs) -> anyhow::Result<()> {
    let store = open(&args.data).await?;
    let found = registry::users(&store)
        .await?
        .into_iter()
        .find(|u| u.id == args.id || u.username.eq_ignore_ascii_case(&args.id));
    let Some(user) = found else {
        anyhow::bail!("no user {}", args.id);
    };
    let in_directory = service(store.clone())?
        .remove_user(&user.tenant, &user.id)
        .await
        .map_err(|e| anyhow::anyhow!(e.message()))?;
    if !in_directory {
        registry::remove_user(&store, &user.id).await?;
    }
    print_json(&json!({ "removed": args.id }))
}

/// Sets the delegated permissions a user's tokens carry.
async fn user_grant(args: UserGrantArgs) -> anyhow::Result<()> {
    let store = open(&args.data).await?;
    let scopes = not_empty(args.scopes);
    if !registry::set_scopes(&store, &args.id, scopes.clone()).await? {
        anyhow::bail!("no user {}", args.id);
    }
    print_json(&json!({ "id": args.id, "scopes": scopes }))
}

async fn user_list(args: ListArgs) -> anyhow::Result<()> {
    let store = open(&args.data).await?;
    let users = registry::users(&store).await?;
    if args.json {
        return print_json(&json!(users.iter().map(user_json).collect::<Vec<_>>()));
    }
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.id.clone(),
                u.tenant.clone(),
                u.username.clone(),
                u.scopes.join(","),
            ]
        })
        .collect();
    print_table(&["ID", "TENANT", "USERNAME", "SCOPES"], &rows);
    Ok(())
}

async fn remove(args: RemoveArgs, app: bool) -> anyhow::Result<()> {
    let store = open(&args.data).await?;
    let removed = if app {
        registry::remove_app(&store, &args.id).await?
    } else {
        registry::remove_user(&store, &args.id).await?
    };
    if !removed {
        anyhow::bail!("no {} {}", if app { "app" } else { "user" }, args.id);
    }
    print_json(&json!({ "removed": args.id }))
}
