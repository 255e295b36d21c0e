//! `paybot chat`: the mock chat in a terminal. Type as one user at a time;
//! see what everyone receives.
//!
//! ```text
//! alice@dm> /start
//!   [alice, dm] Welcome to paybot, @alice! ...
//! alice@dm> :as bob
//! bob@dm> :in party
//! bob@party> /pay @alice 5 for coffee
//! ```

use std::io::Write;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::{DM, Delivery, MockChat, Outgoing};

/// The user the REPL speaks as at first.
pub const REPL_FIRST_USER: &str = "alice";

const HELP: &str = "\
Type a message (e.g. /start, /pay @bob 5 for lunch) to send it.
  :as NAME       speak as NAME (anyone; they exist once they speak)
  :in GROUP      speak in the group chat GROUP
  :dm            speak in your private chat with the bot
  :reply NAME    send the next message as a reply to NAME's message
  :inbox [NAME]  everything NAME (default: you) has received
  :help          this text
  :quit          leave (also Ctrl-D)";

fn show(out: &mut impl Write, deliveries: &[Delivery]) -> std::io::Result<()> {
    if deliveries.is_empty() {
        writeln!(out, "  (no reply)")?;
    }
    for d in deliveries {
        let mut lines = d.text.lines();
        writeln!(
            out,
            "  [{}, {}] {}",
            d.to,
            d.chat,
            lines.next().unwrap_or_default()
        )?;
        for line in lines {
            writeln!(out, "      {line}")?;
        }
    }
    Ok(())
}

/// Runs the REPL until `:quit` or the end of `input`.
pub async fn repl(
    chat: &MockChat,
    input: impl AsyncBufRead + Unpin,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut user = REPL_FIRST_USER.to_owned();
    let mut room = DM.to_owned();
    let mut reply_to: Option<String> = None;
    writeln!(
        out,
        "paybot mock chat. You are {user}, in your DM with the bot. :help for help."
    )?;
    let mut lines = input.lines();
    loop {
        write!(out, "{user}@{room}> ")?;
        out.flush()?;
        let Some(line) = lines.next_line().await? else {
            writeln!(out)?;
            return Ok(());
        };
        let line = line.trim();
        let mut words = line.split_whitespace();
        match words.next() {
            None => continue,
            Some(":quit" | ":q" | ":exit") => return Ok(()),
            Some(":help") => writeln!(out, "{HELP}")?,
            Some(":as") => match words.next() {
                Some(name) => user = name.to_owned(),
                None => writeln!(out, "  usage: :as NAME")?,
            },
            Some(":in") => match words.next() {
                Some(group) => room = group.to_owned(),
                None => writeln!(out, "  usage: :in GROUP")?,
            },
            Some(":dm") => room = DM.to_owned(),
            Some(":reply") => match words.next() {
                Some(name) => reply_to = Some(name.to_owned()),
                None => writeln!(out, "  usage: :reply NAME")?,
            },
            Some(":inbox") => {
                let name = words.next().unwrap_or(&user).to_owned();
                match chat.messages_of(&name) {
                    Ok(messages) => show(out, &messages)?,
                    Err(e) => writeln!(out, "  {e}")?,
                }
            }
            Some(word) if word.starts_with(':') => {
                writeln!(out, "  unknown command {word}; :help lists them")?;
            }
            Some(_) => {
                let sent = chat
                    .send_message(&Outgoing {
                        from: user.clone(),
                        chat: room.clone(),
                        text: line.to_owned(),
                        id: None,
                        reply_to: reply_to.take(),
                    })
                    .await;
                match sent {
                    Ok(sent) => {
                        if sent.deleted.contains(&sent.message) {
                            writeln!(out, "  (the bot deleted your message from {room})")?;
                        }
                        show(out, &sent.deliveries)?;
                    }
                    Err(e) => writeln!(out, "  {e}")?,
                }
            }
        }
    }
}
