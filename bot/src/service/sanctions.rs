//! Sanctions screening for the policy point (see
//! [`crate::trust::sanctions`]): the names a user is known by, screened
//! against the stored SDN list through an index cached here and rebuilt
//! when the stored list changes; every hit audited.
//!
//! No list loaded (or screening off in the settings): screening finds
//! nothing, and the first screening of the process logs a warning (paybot
//! also warns at start in production).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use super::{Bot, BotError, Result};
use crate::store::UserId;
use crate::trust::sanctions::{NameSource, SanctionsHit, SanctionsIndex, ScreenedName};
use crate::trust::{Actor, AuditEntry, AuditKind};

/// The index of the stored list, built on first use and rebuilt when the
/// stored list's id changes.
#[derive(Debug, Default)]
pub(crate) struct SanctionsCache {
    index: RwLock<Option<Arc<SanctionsIndex>>>,
    /// The "no list loaded" warning was logged.
    warned: AtomicBool,
}

impl SanctionsCache {
    fn get(&self, list_id: i64) -> Option<Arc<SanctionsIndex>> {
        let guard = self.index.read().ok()?;
        guard
            .as_ref()
            .filter(|index| index.list_id() == list_id)
            .map(Arc::clone)
    }

    fn put(&self, index: Arc<SanctionsIndex>) {
        if let Ok(mut guard) = self.index.write() {
            // Two screenings may rebuild at once: keep the newer list.
            if guard
                .as_ref()
                .is_none_or(|held| held.list_id() <= index.list_id())
            {
                *guard = Some(index);
            }
        }
    }
}

impl Bot {
    /// Screens `names` of `user` against the stored SDN list and returns
    /// the hits, best first (at most
    /// [`crate::trust::sanctions::SCREENING_HITS_MAX`], one per listing).
    /// Each hit is audited ([`AuditKind::ScreeningHit`]: the listing, the
    /// name that matched, the user's name and its source, the score and the
    /// threshold); an audit that cannot be written fails the screening.
    /// Nothing is found when screening is off or no list is loaded.
    pub async fn screen_sanctions(
        &self,
        user: UserId,
        names: &[ScreenedName],
    ) -> Result<Vec<SanctionsHit>> {
        let policy = &self.config.trust.sanctions;
        if !policy.enabled || names.is_empty() {
            return Ok(Vec::new());
        }
        let Some(index) = self.sanctions_index().await? else {
            return Ok(Vec::new());
        };
        // CPU work (tens of milliseconds on the full list): off the async
        // threads.
        let hits = {
            let (index, policy, names) = (Arc::clone(&index), policy.clone(), names.to_vec());
            tokio::task::spawn_blocking(move || index.screen(&policy, &names))
                .await
                .map_err(|e| BotError::Inconsistent(format!("sanctions screening: {e}")))?
        };
        let now_ms = self.ledger.now_ms();
        for hit in &hits {
            let threshold = policy.threshold_for(hit.screened.source());
            let entry = AuditEntry::new(now_ms, Actor::System, AuditKind::ScreeningHit)
                .user(user)
                .subject(format!("sdn:{}", hit.ent_num))
                .detail("list_id", index.list_id())
                .detail("ent_num", hit.ent_num.get())
                .detail("listed_name", hit.name.as_str())
                .detail("matched_name", hit.matched_name.as_str())
                .detail("alt_num", hit.alias)
                .detail("program", hit.program.as_deref())
                .detail("screened_name", hit.screened.name())
                .detail("source", hit.screened.source().as_str())
                .detail("score", format!("{}", hit.score))
                .detail("threshold", format!("{threshold}"));
            self.audit(entry).await?;
        }
        Ok(hits)
    }

    /// The names paybot knows `user` by from chat: the display name of each
    /// of their identities (weak signals), each once.
    pub async fn known_names(&self, user: UserId) -> Result<Vec<ScreenedName>> {
        let mut names: Vec<ScreenedName> = Vec::new();
        for identity in self.store.identities_of(user).await? {
            let name = ScreenedName::new(NameSource::DisplayName, &identity.display_name);
            if !name.name().is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
        Ok(names)
    }

    /// The index of the stored list, rebuilt if the list changed since;
    /// `None` when no list was ever loaded.
    async fn sanctions_index(&self) -> Result<Option<Arc<SanctionsIndex>>> {
        let Some(info) = self.store.sanctions_list_info().await? else {
            if !self.sanctions.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "sanctions screening is on but no SDN list is loaded: screening finds nothing until `paybot sanctions load`"
                );
            }
            return Ok(None);
        };
        if let Some(index) = self.sanctions.get(info.id) {
            return Ok(Some(index));
        }
        let Some((info, list)) = self.store.sanctions_list().await? else {
            return Ok(None);
        };
        let index = tokio::task::spawn_blocking(move || SanctionsIndex::build(info.id, &list))
            .await
            .map_err(|e| BotError::Inconsistent(format!("sanctions index: {e}")))?;
        let index = Arc::new(index);
        tracing::info!(
            list_id = info.id,
            published = %info.published,
            entries = info.entries,
            aliases = info.aliases,
            "sanctions index built"
        );
        self.sanctions.put(Arc::clone(&index));
        Ok(Some(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::sanctions::{EntNum, ListDate, SanctionsList, SdnEntry};

    fn index(list_id: i64) -> Arc<SanctionsIndex> {
        let entry = SdnEntry {
            ent_num: EntNum::new(1).unwrap(),
            name: "QUILLFEATHER, Bartholomew".to_owned(),
            sdn_type: None,
            program: None,
        };
        let list =
            SanctionsList::new(ListDate::new(2026, 1, 1).unwrap(), vec![entry], vec![]).unwrap();
        Arc::new(SanctionsIndex::build(list_id, &list))
    }

    #[test]
    fn the_cache_serves_only_the_list_it_was_built_from_and_keeps_the_newer() {
        let cache = SanctionsCache::default();
        assert!(cache.get(1).is_none());
        cache.put(index(2));
        assert_eq!(cache.get(2).map(|i| i.list_id()), Some(2));
        assert!(cache.get(3).is_none(), "a newer list: rebuild");
        // A slower rebuild of an older list does not replace the newer.
        cache.put(index(1));
        assert_eq!(cache.get(2).map(|i| i.list_id()), Some(2));
        cache.put(index(3));
        assert_eq!(cache.get(3).map(|i| i.list_id()), Some(3));
    }
}
