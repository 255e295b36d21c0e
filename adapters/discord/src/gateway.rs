//! Gateway mode: serenity's client holds the websocket and hands each
//! `INTERACTION_CREATE` to [`Discord::interact`], as JSON again, so the
//! same conversion reads it as over the interactions endpoint. For
//! deployments with no public URL; no privileged intents are asked for.

use std::sync::Arc;

use serenity::all::{Context, EventHandler, GatewayIntents, Interaction, Ready};
use serenity::client::ClientBuilder;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Discord, convert};

/// Starts and stops the gateway client.
#[derive(Debug)]
pub struct Gateway;

#[derive(Debug)]
enum GatewayError {
    Build(serenity::Error),
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GatewayError::Build(e) => write!(f, "cannot build the gateway client: {e}"),
        }
    }
}

struct Handler(Arc<Discord>);

/// The interaction as Discord sent it, near enough for the conversion:
/// serenity writes each kind's fields but not the `type` its enum stands
/// for, so that is put back.
fn as_json(interaction: &Interaction) -> Option<Vec<u8>> {
    let mut value = serde_json::to_value(interaction).ok()?;
    let kind: u8 = interaction.kind().into();
    value
        .as_object_mut()?
        .insert("type".to_owned(), serde_json::Value::from(kind));
    serde_json::to_vec(&value).ok()
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        tracing::info!(bot = %ready.user.name, "discord gateway ready");
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        let Some(body) = as_json(&interaction) else {
            tracing::error!("cannot read an interaction from the gateway");
            return;
        };
        let Some(envelope) = convert::envelope(&body) else {
            tracing::warn!("gateway interaction without an id or token; ignored");
            return;
        };
        let answer = self.0.interact(&body).await;
        match self
            .0
            .rest
            .callback(envelope.id, &envelope.token, &answer.response)
            .await
        {
            Ok(()) => {
                if let Some(then) = answer.then {
                    then.await;
                }
            }
            Err(error) => {
                tracing::warn!(%error, interaction = envelope.id, "cannot answer an interaction");
                // A deferred core call still finishes (its money moves are
                // idempotent and its notices go through the outbox).
                if let Some(then) = answer.then {
                    then.await;
                }
            }
        }
    }
}

impl Gateway {
    /// Connects to the gateway (its URL from `GET /gateway`) and handles
    /// interactions until `shutdown` changes; reconnects as serenity does.
    pub fn spawn(discord: &Arc<Discord>, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        let discord = Arc::clone(discord);
        tokio::spawn(async move {
            let built = ClientBuilder::new_with_http(
                crate::rest::http_client(&discord.config),
                GatewayIntents::empty(),
            )
            .event_handler(Handler(Arc::clone(&discord)))
            .await
            .map_err(GatewayError::Build);
            let mut client = match built {
                Ok(client) => client,
                Err(error) => {
                    tracing::error!(%error, "discord gateway not started");
                    return;
                }
            };
            let shards = Arc::clone(&client.shard_manager);
            let stopper = tokio::spawn(async move {
                // An error means the sender is gone: stop as well.
                let _ = shutdown.wait_for(|stop| *stop).await;
                shards.shutdown_all().await;
            });
            if let Err(error) = client.start().await {
                tracing::error!(%error, "the discord gateway client stopped");
            }
            stopper.abort();
            tracing::info!("discord gateway stopped");
        })
    }
}
