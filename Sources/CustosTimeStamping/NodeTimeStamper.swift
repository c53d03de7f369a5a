import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault

/// Stamps with the node's own time-stamping authority: a token over a digest, checked for what
/// it stamped, and the `timestamped` event that records it and carries it into the ledger. One
/// stamper per thread (each holds its own OpenSSL signing context).
///
/// Tokens come from `TimeStampTokenBuilder` for an EC key (the default), else from OpenSSL's
/// TS API (`TimeStampAuthority`); both give the same structure.
public final class NodeTimeStamper {
    let authority: TimeStampAuthority
    /// The same tokens, made without the TS API's overhead (for an EC key).
    let builder: TimeStampTokenBuilder?

    /// The vault's stamper; nil for a vault without a TSA.
    public static func make(vault: Vault) throws -> NodeTimeStamper? {
        guard vault.configuration.timeStampPolicy != nil else { return nil }
        let (authority, builder) = try vault.timeStampSigners()
        return NodeTimeStamper(authority: authority, builder: builder)
    }

    init(authority: TimeStampAuthority, builder: TimeStampTokenBuilder?) {
        self.authority = authority
        self.builder = builder
    }

    /// A token over `imprint` for `subject`: the event to append, the token with it (the ledger
    /// keeps it beside the entry, in the same transaction).
    public func stamp(
        _ subject: TimeStampRecord.Subject, imprint: Hash, item: String, actor: String, now: String
    ) throws -> NewCustodyEvent {
        let (response, info) = try token(over: imprint, of: item)
        let record = TimeStampRecord(
            subject: subject, imprint: imprint, token: OpenSSLSHA256().sha256(response), authority: info.authority,
            policy: info.policy,
            serial: info.serial, genTime: info.genTime)
        return NewCustodyEvent(
            type: .timestamped, item: item, time: now, actor: actor, details: record.details, token: response)
    }

    /// The node's token over a checkpoint: over the SHA-256 of its signed text (the note body).
    /// It is kept beside the checkpoint (`Ledger.checkpoint(signer:now:stamp:)`), not as an entry.
    public func token(over note: SignedNote) throws -> [UInt8] {
        try token(over: OpenSSLSHA256().sha256(Array(note.text.utf8)), of: "checkpoint").response
    }

    /// A token over `imprint`, from the node's own TSA in this process: its answer is checked for
    /// what it stamped (the full verification of every token is `custos verify`'s, and costs five
    /// times the signing).
    private func token(over imprint: Hash, of subject: String) throws -> (response: [UInt8], info: TimeStampInfo) {
        let (response, info) =
            try builder?.stamp(sha256: imprint)
            ?? authority.stamp(try TimeStampRequest.withRandomNonce(sha256: imprint))
        guard info.imprint == imprint.bytes else {
            throw TimeStampFailure(.invalid, authority: TimeStampRecord.nodeSource, "\(subject): the node's TSA stamped another digest")
        }
        return (response, info)
    }
}
