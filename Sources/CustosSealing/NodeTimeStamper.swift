import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault

/// Stamps with the node's own time-stamping authority: a token over a digest, checked against
/// the node's TSA chain before it is kept, stored in the vault, and the `timestamped` event that
/// records it. One stamper per thread (each holds its own OpenSSL signing context).
public final class NodeTimeStamper: @unchecked Sendable {
    let vault: Vault
    let authority: TimeStampAuthority
    let chain: [Certificate]

    /// The vault's stamper; nil for a vault without a TSA.
    public static func make(vault: Vault) throws -> NodeTimeStamper? {
        guard vault.configuration.timeStampPolicy != nil else { return nil }
        return NodeTimeStamper(
            vault: vault, authority: try vault.timeStampAuthority(), chain: try vault.timeStampChain())
    }

    init(vault: Vault, authority: TimeStampAuthority, chain: [Certificate]) {
        self.vault = vault
        self.authority = authority
        self.chain = chain
    }

    /// A token over `imprint` for `subject`, kept in the vault; returns the event to append.
    /// A token that does not check is never kept.
    public func stamp(
        _ subject: TimeStampRecord.Subject, imprint: Hash, item: String, actor: String, now: String,
        durability: Vault.Durability = .immediate
    ) throws -> NewCustodyEvent {
        let request = try TimeStampRequest.withRandomNonce(sha256: imprint)
        let response = try authority.respond(to: request)
        let check = TimeStampVerifier.check(
            response: response, request: request, anchors: chain.suffix(1), intermediates: chain)
        guard check.passed, let info = check.info else {
            throw SealingError(
                .storage, file: item,
                "the node's TSA made a token that does not check: \(check.problems.joined(separator: "; "))")
        }
        let token = try vault.storeToken(response, durability: durability)
        let record = TimeStampRecord(
            subject: subject, imprint: imprint, token: token, authority: info.authority, policy: info.policy,
            serial: info.serial, genTime: info.genTime)
        return NewCustodyEvent(type: .timestamped, item: item, time: now, actor: actor, details: record.details)
    }

    /// The digest a checkpoint is stamped over: its signed note's body (the checkpoint text).
    public static func imprint(ofCheckpoint note: String) throws -> Hash {
        OpenSSLSHA256().sha256(Array(try SignedNote(parsing: note).text.utf8))
    }
}
