//! Key shares and their epochs (see "Epochs" in the crate docs).

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::seal::{self, SealKey, VAULT_ID_LEN};
use crate::{StoredShare, Vault, VaultError, WalletRecord, T_EPOCHS, T_SHARES};

/// The vault's sealing key and id, borrowed apart from its connection so a transaction can
/// seal and open while it runs.
struct Keys<'a> {
    dek: &'a SealKey,
    vault_id: &'a [u8; VAULT_ID_LEN],
}

impl<'a> Keys<'a> {
    fn of(dek: &'a SealKey, vault_id: &'a [u8; VAULT_ID_LEN]) -> Keys<'a> {
        Keys { dek, vault_id }
    }
}

type ShareRow = (String, i64, String, Vec<u8>);

impl Keys<'_> {
    fn share_aad(&self, wallet_id: &str, epoch: u32, public_info: &str) -> Vec<u8> {
        seal::aad(
            self.vault_id,
            T_SHARES,
            &[
                wallet_id.as_bytes(),
                &epoch.to_be_bytes(),
                public_info.as_bytes(),
            ],
        )
    }

    fn epoch_aad(&self, wallet_id: &str) -> Vec<u8> {
        seal::aad(self.vault_id, T_EPOCHS, &[wallet_id.as_bytes()])
    }

    /// The committed epoch of `wallet_id`: its sealed `epochs` row (empty for a holder that
    /// joined with a prepared share and has no committed one yet) or, for a wallet written
    /// before epochs were committed explicitly (schema version 2), its highest share epoch.
    fn committed(&self, conn: &Connection, wallet_id: &str) -> Result<Option<u32>, VaultError> {
        let what = || format!("committed epoch of wallet `{wallet_id}`");
        let sealed: Option<Vec<u8>> = conn
            .query_row(
                "SELECT sealed FROM epochs WHERE wallet_id = ?1",
                [wallet_id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(sealed) = sealed {
            let plain = self
                .dek
                .open(&self.epoch_aad(wallet_id), &sealed)
                .ok_or_else(|| VaultError::Corrupt(what()))?;
            if plain.is_empty() {
                return Ok(None);
            }
            let bytes: [u8; 4] = plain
                .as_slice()
                .try_into()
                .map_err(|_| VaultError::Corrupt(what()))?;
            return Ok(Some(u32::from_be_bytes(bytes)));
        }
        // The `epoch` column is not sealed: the highest one counts only if the share stored
        // under it opens with it (the share's AAD binds its epoch). Found by the
        // `vault_records` fuzz target: with the `epochs` row deleted, an edited column was
        // reported as the committed epoch.
        let top: Option<(i64, String, Vec<u8>)> = conn
            .query_row(
                "SELECT epoch, public_info, sealed FROM shares WHERE wallet_id = ?1
                 ORDER BY epoch DESC LIMIT 1",
                [wallet_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((epoch, public_info, sealed)) = top else {
            return Ok(None);
        };
        let epoch = u32::try_from(epoch).map_err(|_| VaultError::Corrupt(what()))?;
        self.dek
            .open(&self.share_aad(wallet_id, epoch, &public_info), &sealed)
            .ok_or_else(|| VaultError::Corrupt(what()))?;
        Ok(Some(epoch))
    }

    fn set_committed(
        &self,
        conn: &Connection,
        wallet_id: &str,
        epoch: u32,
    ) -> Result<(), VaultError> {
        self.write_epoch_row(conn, wallet_id, &epoch.to_be_bytes())
    }

    /// The sealed `epochs` row: 4 bytes (the committed epoch) or empty (none committed yet).
    fn write_epoch_row(
        &self,
        conn: &Connection,
        wallet_id: &str,
        plain: &[u8],
    ) -> Result<(), VaultError> {
        let sealed = self.dek.seal(&self.epoch_aad(wallet_id), plain)?;
        conn.execute(
            "INSERT INTO epochs (wallet_id, sealed) VALUES (?1, ?2)
             ON CONFLICT (wallet_id) DO UPDATE SET sealed = excluded.sealed",
            params![wallet_id, sealed],
        )?;
        Ok(())
    }

    /// Inserts a share above the committed epoch; returns the committed epoch it found.
    /// [`VaultError::AlreadyExists`] if (wallet, epoch) is present or not above the committed.
    fn insert_share(
        &self,
        conn: &Connection,
        wallet_id: &str,
        epoch: u32,
        share: &[u8],
        public_info: &str,
    ) -> Result<Option<u32>, VaultError> {
        let committed = self.committed(conn, wallet_id)?;
        if committed.is_some_and(|c| epoch <= c) {
            return Err(VaultError::AlreadyExists);
        }
        let sealed = self
            .dek
            .seal(&self.share_aad(wallet_id, epoch, public_info), share)?;
        let inserted = conn.execute(
            "INSERT INTO shares (wallet_id, epoch, public_info, sealed) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (wallet_id, epoch) DO NOTHING",
            params![wallet_id, epoch, public_info, sealed],
        )?;
        if inserted == 0 {
            return Err(VaultError::AlreadyExists);
        }
        Ok(committed)
    }

    fn row_to_share(&self, row: ShareRow) -> Result<StoredShare, VaultError> {
        let (wallet_id, epoch, public_info, sealed) = row;
        let what = || format!("share of wallet `{wallet_id}`");
        let epoch = u32::try_from(epoch).map_err(|_| VaultError::Corrupt(what()))?;
        let share = self
            .dek
            .open(&self.share_aad(&wallet_id, epoch, &public_info), &sealed)
            .ok_or_else(|| VaultError::Corrupt(what()))?;
        Ok(StoredShare {
            wallet_id,
            epoch,
            share,
            public_info,
        })
    }
}

impl Vault {
    fn keys(&self) -> Keys<'_> {
        Keys::of(&self.dek, &self.vault_id)
    }

    /// Stores the share of `wallet_id` at `epoch` and commits that epoch, in one transaction
    /// (key generation stores epoch 0; a restore, the backup's epoch). A share is never
    /// overwritten and epochs only grow: [`VaultError::AlreadyExists`] if that (wallet, epoch)
    /// is present or `epoch` is not above the committed one.
    pub fn put_share(
        &mut self,
        wallet_id: &str,
        epoch: u32,
        share: &[u8],
        public_info: &str,
    ) -> Result<(), VaultError> {
        // Field by field: the transaction below borrows `self.conn` mutably.
        let keys = Keys::of(&self.dek, &self.vault_id);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        keys.insert_share(&tx, wallet_id, epoch, share, public_info)?;
        keys.set_committed(&tx, wallet_id, epoch)?;
        tx.commit()?;
        Ok(())
    }

    /// Stores a *prepared* next epoch of an existing wallet: kept, not signed with, until
    /// [`commit_epoch`](Self::commit_epoch). [`VaultError::NotFound`] if the wallet has no
    /// committed share, [`VaultError::AlreadyExists`] if `epoch` is not above the committed one
    /// or is present.
    pub fn prepare_share(
        &mut self,
        wallet_id: &str,
        epoch: u32,
        share: &[u8],
        public_info: &str,
    ) -> Result<(), VaultError> {
        // Field by field: the transaction below borrows `self.conn` mutably.
        let keys = Keys::of(&self.dek, &self.vault_id);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let committed = keys
            .committed(&tx, wallet_id)?
            .ok_or(VaultError::NotFound)?;
        // Pin the committed epoch before a higher share exists, so it stays the one in force.
        keys.set_committed(&tx, wallet_id, committed)?;
        keys.insert_share(&tx, wallet_id, epoch, share, public_info)?;
        tx.commit()?;
        Ok(())
    }

    /// Stores the *prepared* share of a holder that joins an existing wallet (a replacement or
    /// added signer of a reshare): it holds nothing of `wallet_id` before, and
    /// [`share`](Self::share) returns nothing until [`commit_epoch`](Self::commit_epoch); a
    /// [`discard_prepared`](Self::discard_prepared) leaves no trace of the wallet.
    /// [`VaultError::AlreadyExists`] if this vault holds any share of `wallet_id`.
    pub fn prepare_joining_share(
        &mut self,
        wallet_id: &str,
        epoch: u32,
        share: &[u8],
        public_info: &str,
    ) -> Result<(), VaultError> {
        // Field by field: the transaction below borrows `self.conn` mutably.
        let keys = Keys::of(&self.dek, &self.vault_id);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let held: i64 = tx.query_row(
            "SELECT COUNT(*) FROM shares WHERE wallet_id = ?1",
            [wallet_id],
            |r| r.get(0),
        )?;
        if held > 0 {
            return Err(VaultError::AlreadyExists);
        }
        keys.write_epoch_row(&tx, wallet_id, &[])?;
        keys.insert_share(&tx, wallet_id, epoch, share, public_info)?;
        tx.commit()?;
        Ok(())
    }

    /// Commits the prepared `epoch` of `wallet_id`: from now on [`share`](Self::share) returns
    /// it. [`VaultError::NotFound`] if no share is stored at `epoch`;
    /// [`VaultError::InvalidInput`] if `epoch` is not above the committed one.
    pub fn commit_epoch(&mut self, wallet_id: &str, epoch: u32) -> Result<(), VaultError> {
        // Field by field: the transaction below borrows `self.conn` mutably.
        let keys = Keys::of(&self.dek, &self.vault_id);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let present: Option<i64> = tx
            .query_row(
                "SELECT epoch FROM shares WHERE wallet_id = ?1 AND epoch = ?2",
                params![wallet_id, epoch],
                |r| r.get(0),
            )
            .optional()?;
        if present.is_none() {
            return Err(VaultError::NotFound);
        }
        if keys.committed(&tx, wallet_id)?.is_some_and(|c| epoch <= c) {
            return Err(VaultError::InvalidInput(format!(
                "epoch {epoch} of wallet `{wallet_id}` is not above the committed one"
            )));
        }
        keys.set_committed(&tx, wallet_id, epoch)?;
        tx.commit()?;
        Ok(())
    }

    /// Destroys the prepared (uncommitted) shares of `wallet_id`; returns how many.
    pub fn discard_prepared(&mut self, wallet_id: &str) -> Result<usize, VaultError> {
        // Field by field: the transaction below borrows `self.conn` mutably.
        let keys = Keys::of(&self.dek, &self.vault_id);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = match keys.committed(&tx, wallet_id)? {
            Some(committed) => tx.execute(
                "DELETE FROM shares WHERE wallet_id = ?1 AND epoch > ?2",
                params![wallet_id, committed],
            )?,
            // A joining holder (nothing committed): its shares and epoch row go.
            None => {
                tx.execute("DELETE FROM epochs WHERE wallet_id = ?1", [wallet_id])?;
                tx.execute("DELETE FROM shares WHERE wallet_id = ?1", [wallet_id])?
            }
        };
        tx.commit()?;
        Ok(n)
    }

    /// Destroys every share of `wallet_id` this vault holds — committed, older and prepared —
    /// and its epoch record: for a holder that left the wallet's signer set (the new holders
    /// committed an epoch without it). Returns how many shares were destroyed.
    pub fn destroy_wallet_shares(&mut self, wallet_id: &str) -> Result<usize, VaultError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM epochs WHERE wallet_id = ?1", [wallet_id])?;
        let n = tx.execute("DELETE FROM shares WHERE wallet_id = ?1", [wallet_id])?;
        tx.commit()?;
        Ok(n)
    }

    /// The share of `wallet_id` at its committed epoch.
    pub fn share(&self, wallet_id: &str) -> Result<Option<StoredShare>, VaultError> {
        match self.committed_epoch(wallet_id)? {
            Some(epoch) => match self.share_at(wallet_id, epoch)? {
                Some(s) => Ok(Some(s)),
                None => Err(VaultError::Corrupt(format!(
                    "the committed share of wallet `{wallet_id}` is missing"
                ))),
            },
            None => Ok(None),
        }
    }

    /// The prepared (uncommitted) share of `wallet_id` with the highest epoch, if any.
    pub fn prepared_share(&self, wallet_id: &str) -> Result<Option<StoredShare>, VaultError> {
        // A joining holder has nothing committed: every share it holds is prepared.
        let above = self.committed_epoch(wallet_id)?.map_or(-1, i64::from);
        self.share_query(
            "SELECT wallet_id, epoch, public_info, sealed FROM shares
             WHERE wallet_id = ?1 AND epoch > ?2 ORDER BY epoch DESC LIMIT 1",
            params![wallet_id, above],
        )
    }

    /// The committed epoch of `wallet_id`; `None` for a wallet this vault does not hold.
    pub fn committed_epoch(&self, wallet_id: &str) -> Result<Option<u32>, VaultError> {
        self.keys().committed(&self.conn, wallet_id)
    }

    /// The share of `wallet_id` at exactly `epoch` (committed, prepared or older).
    pub fn share_at(&self, wallet_id: &str, epoch: u32) -> Result<Option<StoredShare>, VaultError> {
        self.share_query(
            "SELECT wallet_id, epoch, public_info, sealed FROM shares
             WHERE wallet_id = ?1 AND epoch = ?2",
            params![wallet_id, epoch],
        )
    }

    fn share_query(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Option<StoredShare>, VaultError> {
        let row: Option<ShareRow> = self
            .conn
            .query_row(sql, args, |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        row.map(|row| self.keys().row_to_share(row)).transpose()
    }

    /// Every wallet with its committed epoch, public info and prepared epoch, ordered by
    /// wallet id. The public info is authenticated (the share's seal is checked, the secret is
    /// not returned).
    pub fn wallets(&self) -> Result<Vec<WalletRecord>, VaultError> {
        let ids: Vec<String> = self
            .conn
            .prepare("SELECT DISTINCT wallet_id FROM shares ORDER BY wallet_id")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(share) = self.share(&id)? else {
                continue;
            };
            let prepared_epoch = self.prepared_share(&id)?.map(|p| p.epoch);
            out.push(WalletRecord {
                wallet_id: share.wallet_id,
                epoch: share.epoch,
                public_info: share.public_info,
                prepared_epoch,
            });
        }
        Ok(out)
    }

    /// Destroys the shares of `wallet_id` with an epoch lower than `epoch` (once the new epoch
    /// is committed and confirmed by all signers). Returns how many were destroyed. Never
    /// destroys the committed share: `epoch` above the committed one is
    /// [`VaultError::InvalidInput`].
    pub fn destroy_shares_before(
        &mut self,
        wallet_id: &str,
        epoch: u32,
    ) -> Result<usize, VaultError> {
        // Field by field: the transaction below borrows `self.conn` mutably.
        let keys = Keys::of(&self.dek, &self.vault_id);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if keys.committed(&tx, wallet_id)?.is_some_and(|c| epoch > c) {
            return Err(VaultError::InvalidInput(format!(
                "epoch {epoch} of wallet `{wallet_id}` is above the committed one"
            )));
        }
        let n = tx.execute(
            "DELETE FROM shares WHERE wallet_id = ?1 AND epoch < ?2",
            params![wallet_id, epoch],
        )?;
        tx.commit()?;
        Ok(n)
    }
}
