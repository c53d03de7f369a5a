import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosTimeStamping
import CustosVault

/// How every command signs a checkpoint (ingest, `custos checkpoint --sign`, the daemon's
/// checkpointer): the node's key signs the tree head, and the node's TSA stamps it in the same
/// transaction. The token is kept beside the checkpoint, not as an entry after it, so the new
/// checkpoint covers every entry and the ledger comes to rest.
struct CheckpointSigning {
    let signer: Ed25519NoteSigner
    let stamper: NodeTimeStamper?

    /// The vault's key and its TSA (none for a vault without one).
    init(vault: Vault) throws {
        self.init(signer: try vault.signer(), stamper: try NodeTimeStamper.make(vault: vault))
    }

    init(signer: Ed25519NoteSigner, stamper: NodeTimeStamper?) {
        self.signer = signer
        self.stamper = stamper
    }

    /// Signs and stamps a checkpoint of the ledger's tree; the latest one, unchanged, when the
    /// tree has not grown.
    @discardableResult
    func sign(_ ledger: Ledger, now: String) throws -> SignedNote {
        let stamp = stamper.map { stamper in { (note: SignedNote) throws -> [UInt8] in try stamper.token(over: note) } }
        return try ledger.checkpoint(signer: signer, now: now, stamp: stamp)
    }
}
